using System.Text;

namespace MissionHub.Client;

/// <summary>One Server-Sent Event: <c>id</c>, <c>event</c> and <c>data</c> (lines joined with '\n').</summary>
public sealed record ServerSentEvent(string? Id, string Event, string Data);

/// <summary>
/// Reads a <c>text/event-stream</c> body event by event (WHATWG rules: fields, multi-line data, comments).
/// Comments (keep-alives) are counted rather than returned.
/// </summary>
public sealed class ServerSentEventReader(Stream stream) : IDisposable
{
    private readonly StreamReader _reader = new(stream, Encoding.UTF8);

    /// <summary>Comment lines seen so far (the server's keep-alives).</summary>
    public int CommentCount { get; private set; }

    /// <summary>The last <c>id</c> seen, to send back as <c>Last-Event-ID</c> on reconnect.</summary>
    public string? LastEventId { get; private set; }

    /// <summary>The next event, or null at the end of the stream.</summary>
    public async Task<ServerSentEvent?> ReadAsync(CancellationToken cancellationToken = default)
    {
        string eventType = "message";
        var data = new StringBuilder();
        var hasData = false;
        while (await _reader.ReadLineAsync(cancellationToken) is { } line)
        {
            if (line.Length == 0)
            {
                if (hasData)
                {
                    return new ServerSentEvent(LastEventId, eventType, data.ToString());
                }
                eventType = "message";
                continue;
            }
            if (line[0] == ':')
            {
                CommentCount++;
                continue;
            }
            var colon = line.IndexOf(':', StringComparison.Ordinal);
            var field = colon < 0 ? line : line[..colon];
            var value = colon < 0 ? "" : line[(colon + 1)..];
            if (value.StartsWith(' '))
            {
                value = value[1..];
            }
            switch (field)
            {
                case "id":
                    LastEventId = value;
                    break;
                case "event":
                    eventType = value;
                    break;
                case "data":
                    if (hasData)
                    {
                        data.Append('\n');
                    }
                    data.Append(value);
                    hasData = true;
                    break;
            }
        }
        return null;
    }

    /// <summary>Disposes the underlying reader and stream.</summary>
    public void Dispose() => _reader.Dispose();
}
