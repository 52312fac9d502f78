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
        var (document, problem, field) = await ReadDocumentAsync(request, maxBytes, cancellationToken);
        if (document is null)
        {
            return (default, Problems.Invalid(field, problem!));
        }
        using (document)
        {
            return (document.RootElement.Clone(), null);
        }
    }

    /// <summary>
    /// The body as a JSON document whose root is an object (the caller disposes it), or what is wrong with the
    /// body, as a sentence about <paramref name="request"/>'s field it names (<c>body</c> unless one field is at fault).
    /// </summary>
    public static async Task<(JsonDocument? Document, string? Problem, string Field)> ReadDocumentAsync(
        HttpRequest request, int maxBytes, CancellationToken cancellationToken)
    {
        var tooLarge = $"the request body is larger than {maxBytes} bytes";
        if (request.ContentLength > maxBytes)
        {
            return (null, tooLarge, "body");
        }
        using var buffer = new MemoryStream();
        var chunk = new byte[8192];
        int read;
        while ((read = await request.Body.ReadAsync(chunk, cancellationToken)) > 0)
        {
            if (buffer.Length + read > maxBytes)
            {
                return (null, tooLarge, "body");
            }
            buffer.Write(chunk, 0, read);
        }
        if (buffer.Length == 0)
        {
            return (null, "the request body is empty; send a JSON object", "body");
        }
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(buffer.GetBuffer().AsMemory(0, (int)buffer.Length));
        }
        catch (JsonException ex)
        {
            return (null, $"the request body is not valid JSON: {ex.Message}", "body");
        }
        if (document.RootElement.ValueKind != JsonValueKind.Object)
        {
            var kind = Describe(document.RootElement.ValueKind);
            document.Dispose();
            return (null, $"the request body must be a JSON object, not {kind}", "body");
        }
        if (JsonText.FindInvalidString(buffer.GetBuffer().AsSpan(0, (int)buffer.Length), document.RootElement) is { } field)
        {
            document.Dispose();
            return (null, $"{field} holds an escaped lone surrogate (such as \\ud800), which is not text; send valid UTF-16 escapes", field);
        }
        return (document, null, "body");
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
