using System.Buffers;
using System.Globalization;
using System.IO.Pipelines;
using System.Text;
using System.Text.Json;

namespace MissionHub.Events;

/// <summary>
/// Writes the event stream as Server-Sent Events. Written by hand rather than with
/// <c>TypedResults.ServerSentEvents</c> because the stream needs comment keep-alives and writes each
/// event's already-serialized bytes instead of serializing per client.
/// </summary>
internal sealed class EventStreamResult(EventBus bus, EventFilter filter, EventStreamPosition? resumeFrom, TimeSpan keepAlive)
    : IResult
{
    private static readonly byte[] KeepAliveComment = ": keep-alive\n\n"u8.ToArray();

    public async Task ExecuteAsync(HttpContext httpContext)
    {
        var response = httpContext.Response;
        // End with the request, or as soon as the server begins to shut down (clients reconnect with Last-Event-ID).
        var stopping = httpContext.RequestServices.GetRequiredService<IHostApplicationLifetime>().ApplicationStopping;
        using var streaming = CancellationTokenSource.CreateLinkedTokenSource(httpContext.RequestAborted, stopping);
        var cancellationToken = streaming.Token;
        // Fix the start before the client sees a byte: anything published after the headers arrive is delivered.
        var log = bus.Log;
        var start = resumeFrom ?? new EventStreamPosition(log.Epoch, log.LastSeq);
        response.ContentType = "text/event-stream";
        response.Headers.CacheControl = "no-cache";
        response.Headers["X-Accel-Buffering"] = "no";
        var writer = response.BodyWriter;
        writer.Write("retry: 1000\n\n"u8);
        await writer.FlushAsync(cancellationToken);

        try
        {
            while (!cancellationToken.IsCancellationRequested)
            {
                using var feed = bus.OpenFeed(filter, start.Seq, start.Epoch);
                try
                {
                    await PumpAsync(feed, writer, cancellationToken);
                    return; // the client went away
                }
                catch (EventLogResetException reset)
                {
                    // Never a silent gap: say so, then follow the log from its head.
                    var head = new EventStreamPosition(log.Epoch, log.LastSeq);
                    var notice = new EventStreamReset(false, head.Epoch, head.Seq, reset.Reason);
                    WriteEvent(writer, head.ToString(), "reset", JsonSerializer.SerializeToUtf8Bytes(notice, EventsJsonContext.Default.EventStreamReset));
                    await writer.FlushAsync(cancellationToken);
                    start = head;
                }
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // The client went away.
        }
    }

    private async Task PumpAsync(EventFeed feed, PipeWriter writer, CancellationToken cancellationToken)
    {
        while (true)
        {
            var batch = await feed.NextAsync(keepAlive, cancellationToken);
            if (batch.Count == 0)
            {
                writer.Write(KeepAliveComment);
            }
            foreach (var evt in batch)
            {
                WriteEvent(writer, string.Create(CultureInfo.InvariantCulture, $"{feed.Epoch}:{evt.Seq}"), evt.Type, evt.ToUtf8Json().Span);
            }
            var flush = await writer.FlushAsync(cancellationToken);
            if (flush.IsCompleted || flush.IsCanceled)
            {
                return;
            }
        }
    }

    private static void WriteEvent(PipeWriter writer, string id, string type, ReadOnlySpan<byte> json)
    {
        writer.Write("id: "u8);
        Encoding.UTF8.GetBytes(id, writer);
        writer.Write("\nevent: "u8);
        Encoding.UTF8.GetBytes(type, writer);
        writer.Write("\ndata: "u8);
        writer.Write(json); // compact JSON never contains a raw newline
        writer.Write("\n\n"u8);
    }
}
