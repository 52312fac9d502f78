using System.Text.Json;

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
        if (request.ContentLength > MaxBodyBytes)
        {
            return (null, TooLarge());
        }
        using var buffer = new MemoryStream();
        var chunk = new byte[16 * 1024];
        int read;
        while ((read = await request.Body.ReadAsync(chunk, cancellationToken)) > 0)
        {
            if (buffer.Length + read > MaxBodyBytes)
            {
                return (null, TooLarge());
            }
            buffer.Write(chunk, 0, read);
        }
        if (buffer.Length == 0)
        {
            return (null, MissionError.Invalid("body", "the request body is empty; send a JSON object"));
        }
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(buffer.GetBuffer().AsMemory(0, (int)buffer.Length));
        }
        catch (JsonException ex)
        {
            return (null, MissionError.Invalid("body", $"the request body is not valid JSON: {ex.Message}"));
        }
        if (document.RootElement.ValueKind != JsonValueKind.Object)
        {
            document.Dispose();
            return (null, MissionError.Invalid("body", "the request body must be a JSON object"));
        }
        return (document, null);
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

    private static MissionError TooLarge() =>
        MissionError.Invalid("body", $"the request body is larger than {MaxBodyBytes / 1024} KiB");
}
