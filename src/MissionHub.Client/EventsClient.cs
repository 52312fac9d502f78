using System.Runtime.CompilerServices;
using System.Text.Json;

namespace MissionHub.Client;

/// <summary>One item of <see cref="EventsClient.StreamAsync"/>: an event, or a notice that the stream could not resume without a gap.</summary>
/// <param name="EventId">The SSE id, <c>&lt;epoch&gt;:&lt;seq&gt;</c>: pass it back to resume.</param>
/// <param name="Event">The event, or null for a reset.</param>
/// <param name="Reset">Set when the resume point could not be honoured (events may be missing before the next one).</param>
public sealed record EventStreamItem(string? EventId, EventEnvelope? Event, EventStreamReset? Reset);

/// <summary>
/// The event log: <c>GET /api/events</c> (history), <c>GET /api/events/stream</c> (Server-Sent Events, followed
/// across drops without a gap) and <c>GET /api/health</c>.
/// </summary>
public sealed class EventsClient
{
    private readonly ApiTransport _api;

    /// <summary>A client on <paramref name="http"/>, whose <see cref="HttpClient.BaseAddress"/> is the hub.</summary>
    public EventsClient(HttpClient http) => _api = new ApiTransport(http);

    /// <summary>Raised before each reconnect of <see cref="StreamAsync"/> after a drop, with the error and the delay.</summary>
    public event EventHandler<WorkerDisconnectedEventArgs>? Reconnecting;

    /// <summary><c>GET /api/health</c>: liveness, the storage and the log's position.</summary>
    public Task<HubHealth> GetHealthAsync(CancellationToken cancellationToken = default) =>
        _api.GetAsync("api/health", ApiJsonContext.Default.HubHealth, cancellationToken);

    /// <summary><c>GET /api/events</c>: one page of history in seq order, after <paramref name="afterSeq"/>, filtered by type patterns and target.</summary>
    public Task<EventPage> GetAsync(
        long? afterSeq = null, string? type = null, string? target = null, int? limit = null, string? epoch = null,
        CancellationToken cancellationToken = default) =>
        _api.GetAsync(
            ApiTransport.Query("api/events", ("after_seq", afterSeq), ("type", type), ("target", target), ("limit", limit), ("epoch", epoch)),
            ApiJsonContext.Default.EventPage, cancellationToken);

    /// <summary>
    /// Follows <c>GET /api/events/stream</c>: every event (matching <paramref name="type"/> patterns and
    /// <paramref name="target"/>) from <paramref name="lastEventId"/> on (<c>&lt;epoch&gt;:&lt;seq&gt;</c>; null: from now).
    /// When the connection drops or the hub restarts it reconnects with <c>Last-Event-ID</c> (backoff
    /// <paramref name="reconnectMinDelay"/> doubling to 5 s), so nothing is missed and nothing repeats; a resume point the
    /// hub cannot honour yields an item with <see cref="EventStreamItem.Reset"/>. A refusal (4xx) throws.
    /// </summary>
    public async IAsyncEnumerable<EventStreamItem> StreamAsync(
        string? type = null, string? target = null, string? lastEventId = null, TimeSpan? reconnectMinDelay = null,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var minDelay = reconnectMinDelay ?? TimeSpan.FromMilliseconds(200);
        var delay = minDelay;
        var path = ApiTransport.Query("api/events/stream", ("type", type), ("target", target));
        while (!cancellationToken.IsCancellationRequested)
        {
            HttpResponseMessage? response = null;
            ServerSentEventReader? reader = null;
            Exception? dropped = null;
            try
            {
                using var request = new HttpRequestMessage(HttpMethod.Get, ApiTransport.Relative(path));
                request.Headers.Accept.ParseAdd("text/event-stream");
                if (lastEventId is not null)
                {
                    request.Headers.TryAddWithoutValidation("Last-Event-ID", lastEventId);
                }
                response = await _api.Http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
                if ((int)response.StatusCode is >= 400 and < 500)
                {
                    throw await ApiTransport.ToExceptionAsync(response, $"GET /{path}", cancellationToken);
                }
                response.EnsureSuccessStatusCode();
                reader = new ServerSentEventReader(await response.Content.ReadAsStreamAsync(cancellationToken));
            }
            catch (Exception ex) when (ex is HttpRequestException or IOException && !cancellationToken.IsCancellationRequested)
            {
                dropped = ex;
            }
            catch (TaskCanceledException ex) when (!cancellationToken.IsCancellationRequested)
            {
                dropped = ex;
            }

            if (reader is not null)
            {
                using (response)
                using (reader)
                {
                    while (true)
                    {
                        ServerSentEvent? sse;
                        try
                        {
                            sse = await reader.ReadAsync(cancellationToken);
                        }
                        catch (Exception ex) when (ex is HttpRequestException or IOException && !cancellationToken.IsCancellationRequested)
                        {
                            dropped = ex;
                            break;
                        }
                        if (sse is null)
                        {
                            break;
                        }
                        delay = minDelay;
                        if (sse.Event == "reset")
                        {
                            var reset = JsonSerializer.Deserialize(sse.Data, ApiJsonContext.Default.EventStreamReset);
                            yield return new EventStreamItem(sse.Id, null, reset);
                            continue;
                        }
                        var envelope = JsonSerializer.Deserialize(sse.Data, ApiJsonContext.Default.EventEnvelope);
                        if (envelope is null)
                        {
                            continue;
                        }
                        if (sse.Id is not null)
                        {
                            lastEventId = sse.Id;
                        }
                        yield return new EventStreamItem(sse.Id, envelope, null);
                    }
                }
            }
            else
            {
                response?.Dispose();
            }

            if (cancellationToken.IsCancellationRequested)
            {
                yield break;
            }
            Reconnecting?.Invoke(this, new WorkerDisconnectedEventArgs(dropped?.Message ?? "the stream ended", dropped, delay));
            try
            {
                await Task.Delay(delay, cancellationToken);
            }
            catch (OperationCanceledException)
            {
                yield break;
            }
            delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, TimeSpan.FromSeconds(5).Ticks));
        }
    }
}
