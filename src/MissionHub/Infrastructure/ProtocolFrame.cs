using System.Diagnostics.CodeAnalysis;
using System.Text.Json;

namespace MissionHub.Infrastructure;

/// <summary>
/// The envelope every MissionHub socket protocol shares: one JSON object per frame with a string <c>type</c>.
/// Parsing refuses anything else with the error code and message to send back.
/// </summary>
public static class ProtocolFrame
{
    public static bool TryParse(
        ReadOnlyMemory<byte> frame,
        [NotNullWhen(true)] out JsonDocument? document,
        [NotNullWhen(true)] out string? type,
        [NotNullWhen(false)] out string? errorCode,
        [NotNullWhen(false)] out string? errorMessage)
    {
        document = null;
        type = null;
        try
        {
            document = JsonDocument.Parse(frame);
        }
        catch (JsonException ex)
        {
            (errorCode, errorMessage) = ("malformed_json", $"the frame is not valid JSON: {ex.Message}");
            return false;
        }
        var root = document.RootElement;
        if (JsonText.FindInvalidString(frame.Span, root) is { } field)
        {
            // Refused here, once for every protocol: a handler reading this string would throw.
            document.Dispose();
            document = null;
            (errorCode, errorMessage) = ("invalid_message", $"{field} holds an escaped lone surrogate (such as \\ud800), which is not text");
            return false;
        }
        if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("type", out var typeElement) || typeElement.ValueKind != JsonValueKind.String)
        {
            document.Dispose();
            document = null;
            (errorCode, errorMessage) = ("invalid_message", "a frame must be a JSON object with a string 'type'");
            return false;
        }
        type = typeElement.GetString()!;
        (errorCode, errorMessage) = (null, null);
        return true;
    }
}
