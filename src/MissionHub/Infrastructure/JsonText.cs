using System.Text.Json;

namespace MissionHub.Infrastructure;

/// <summary>
/// Finds strings that valid JSON can carry but .NET cannot turn into text: an escaped lone surrogate such as
/// <c>"\ud800"</c> passes <see cref="JsonDocument.Parse(ReadOnlyMemory{byte}, JsonDocumentOptions)"/> yet makes
/// <see cref="JsonElement.GetString"/> throw, which a handler would turn into a 500.
/// </summary>
public static class JsonText
{
    /// <summary>
    /// The path of the first string or property name in <paramref name="json"/>'s document that is not valid UTF-16
    /// (e.g. <c>name</c>, <c>data.tags[2]</c>), or null if every one is.
    /// </summary>
    public static string? FindInvalidString(ReadOnlySpan<byte> json, JsonElement root) =>
        // Only an escape of a surrogate can produce one: the bytes themselves are valid UTF-8, the parser checked.
        MayHoldSurrogateEscape(json) ? FindInvalid(root, "") : null;

    private static bool MayHoldSurrogateEscape(ReadOnlySpan<byte> json)
    {
        for (var i = json.IndexOf((byte)'\\'); i >= 0 && i + 3 < json.Length; i = NextBackslash(json, i + 1))
        {
            if (json[i + 1] == 'u' && (json[i + 2] | 0x20) == 'd' && json[i + 3] is (>= (byte)'8' and <= (byte)'9') or (>= (byte)'a' and <= (byte)'f') or (>= (byte)'A' and <= (byte)'F'))
            {
                return true;
            }
        }
        return false;
    }

    private static int NextBackslash(ReadOnlySpan<byte> json, int from)
    {
        var next = json[from..].IndexOf((byte)'\\');
        return next < 0 ? -1 : from + next;
    }

    private static string? FindInvalid(JsonElement element, string path)
    {
        switch (element.ValueKind)
        {
            case JsonValueKind.String:
                return IsText(element) ? null : (path.Length == 0 ? "body" : path);
            case JsonValueKind.Array:
                var index = 0;
                foreach (var item in element.EnumerateArray())
                {
                    if (FindInvalid(item, $"{path}[{index++}]") is { } found)
                    {
                        return found;
                    }
                }
                return null;
            case JsonValueKind.Object:
                foreach (var property in element.EnumerateObject())
                {
                    string name;
                    try
                    {
                        name = property.Name;
                    }
                    catch (InvalidOperationException)
                    {
                        return path.Length == 0 ? "body" : path;
                    }
                    if (FindInvalid(property.Value, path.Length == 0 ? name : $"{path}.{name}") is { } found)
                    {
                        return found;
                    }
                }
                return null;
            default:
                return null;
        }
    }

    private static bool IsText(JsonElement element)
    {
        try
        {
            _ = element.GetString();
            return true;
        }
        catch (InvalidOperationException)
        {
            return false;
        }
    }
}
