using System.Runtime.InteropServices;
using System.Text.Json;

namespace MissionHub.Hub;

/// <summary>
/// Which job results travel inline (events, the monitor snapshot) and which stay in storage only. A result larger
/// than <see cref="HubOptions.MaxInlineResultBytes"/> is replaced by <c>"result": null, "result_truncated": true,
/// "result_ref": "/api/jobs/{id}"</c>, so memory held for events and monitors never depends on what workers return;
/// <c>GET /api/jobs/{id}</c> still answers with the whole result.
/// </summary>
public static class JobResults
{
    /// <summary>Where the whole result is read.</summary>
    public static string Ref(string jobId) => "/api/jobs/" + jobId;

    public static bool IsInline(JsonElement? result, int maxBytes) =>
        result is not { ValueKind: not (JsonValueKind.Undefined or JsonValueKind.Null) } value || Utf8Length(value) <= maxBytes;

    /// <summary>The result's UTF-8 JSON length, without copying it.</summary>
    public static int Utf8Length(JsonElement value) => JsonMarshal.GetRawUtf8Value(value).Length;
}
