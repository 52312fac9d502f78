using System.Text.Json;
using Microsoft.AspNetCore.Http.HttpResults;

namespace MissionHub.Infrastructure;

/// <summary>
/// Reads a request body that must be one JSON object, refusing what is not with a problem that names
/// <c>body</c>, so malformed input never reaches a handler (nor becomes a plain, unexplained 400).
/// </summary>
public static class JsonBody
{
    public static async Task<(JsonElement Body, ProblemHttpResult? Problem)> ReadObjectAsync(
        HttpRequest request, int maxBytes, CancellationToken cancellationToken)
    {
        if (request.ContentLength > maxBytes)
        {
            return (default, Problems.Invalid("body", $"the request body is larger than {maxBytes} bytes"));
        }
        using var buffer = new MemoryStream();
        var chunk = new byte[8192];
        int read;
        while ((read = await request.Body.ReadAsync(chunk, cancellationToken)) > 0)
        {
            if (buffer.Length + read > maxBytes)
            {
                return (default, Problems.Invalid("body", $"the request body is larger than {maxBytes} bytes"));
            }
            buffer.Write(chunk, 0, read);
        }
        if (buffer.Length == 0)
        {
            return (default, Problems.Invalid("body", "the request needs a JSON object body"));
        }
        try
        {
            using var document = JsonDocument.Parse(buffer.GetBuffer().AsMemory(0, (int)buffer.Length));
            if (document.RootElement.ValueKind != JsonValueKind.Object)
            {
                return (default, Problems.Invalid("body", $"the body must be a JSON object, not {Describe(document.RootElement.ValueKind)}"));
            }
            return (document.RootElement.Clone(), null);
        }
        catch (JsonException ex)
        {
            return (default, Problems.Invalid("body", $"the body is not valid JSON: {ex.Message}"));
        }
    }

    /// <summary>"a string", "an array", … for error messages.</summary>
    public static string Describe(JsonValueKind kind) => kind switch
    {
        JsonValueKind.Object => "an object",
        JsonValueKind.Array => "an array",
        JsonValueKind.String => "a string",
        JsonValueKind.Number => "a number",
        JsonValueKind.True or JsonValueKind.False => "a boolean",
        JsonValueKind.Null => "null",
        _ => "nothing",
    };
}
