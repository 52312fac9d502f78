using System.Text.Json;
using MissionHub.Infrastructure;

namespace MissionHub.Missions;

/// <summary>
/// Reads a request body as JSON by hand, so that a malformed body or a field of the wrong type is answered
/// with a problem naming it (the default minimal-API binding answers a bare 400).
/// </summary>
internal static class MissionRequestReader
{
    /// <summary>Comfortably above the largest valid request (64 KiB of data plus 10,000 characters of message).</summary>
    public const int MaxBodyBytes = 1024 * 1024;

    public static async Task<(JsonDocument? Body, MissionError? Error)> ReadAsync(HttpRequest request, CancellationToken cancellationToken)
    {
        var (document, problem, field) = await JsonBody.ReadDocumentAsync(request, MaxBodyBytes, cancellationToken);
        return document is null ? (null, MissionError.Invalid(field, problem!)) : (document, null);
    }

    /// <summary>
    /// A string property: absent or null gives null; any other kind gives null and, unless an earlier field
    /// was already wrong, sets <paramref name="error"/> naming this field.
    /// </summary>
    public static string? GetString(JsonElement body, string field, ref MissionError? error)
    {
        if (!body.TryGetProperty(field, out var property) || property.ValueKind == JsonValueKind.Null)
        {
            return null;
        }
        if (property.ValueKind != JsonValueKind.String)
        {
            error ??= MissionError.Invalid(field, $"{field} must be a string, not {property.ValueKind.ToString().ToLowerInvariant()}");
            return null;
        }
        return property.GetString();
    }

    /// <summary>Any JSON value (kept as a detached copy); absent gives null. Its shape is the service's to judge.</summary>
    public static JsonElement? GetValue(JsonElement body, string field) =>
        body.TryGetProperty(field, out var property) ? property.Clone() : null;
}
