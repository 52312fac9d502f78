using System.Globalization;

namespace MissionHub.Tests.Faults;

/// <summary>
/// An SSE client of <c>/api/events/stream</c> that reconnects with <c>Last-Event-ID</c> whenever its stream ends,
/// and checks what it receives: within an epoch every seq follows the one before (no gap, nothing twice), and a
/// lost log is announced with a <c>reset</c> event (<c>recovered: false</c>) rather than skipped silently.
/// </summary>
public sealed class SseFollower : IAsyncDisposable
{
    private readonly Func<HttpClient> _client;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _run;
    private readonly List<string> _gaps = [];
    private string? _lastEventId;
    private string? _epoch;
    private long _seq;
    private long _received;
    private long _reconnects;
    private long _resets;

    public SseFollower(Func<HttpClient> client)
    {
        _client = client;
        _run = Task.Run(RunAsync);
    }

    public long Received => Interlocked.Read(ref _received);

    public long Reconnects => Interlocked.Read(ref _reconnects);

    /// <summary><c>reset</c> events: the server said the log was lost (<c>recovered: false</c>).</summary>
    public long Resets => Interlocked.Read(ref _resets);

    public long LastSeq => Interlocked.Read(ref _seq);

    public IReadOnlyList<string> Gaps
    {
        get
        {
            lock (_gaps)
            {
                return [.. _gaps];
            }
        }
    }

    public override string ToString() => $"SSE: {Received} events, {Reconnects} reconnects, {Resets} resets, {Gaps.Count} gaps";

    private async Task RunAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            try
            {
                var client = _client();
                var (response, reader) = await client.OpenEventStreamAsync(lastEventId: _lastEventId, cancellationToken: _stop.Token);
                using (response)
                using (reader)
                {
                    while (await reader.ReadAsync(_stop.Token) is { } message)
                    {
                        Take(message.Id, message.Event);
                    }
                }
            }
            catch (Exception ex) when (ex is HttpRequestException or IOException or InvalidOperationException or TaskCanceledException && !_stop.IsCancellationRequested)
            {
            }
            catch (OperationCanceledException)
            {
                return;
            }
            Interlocked.Increment(ref _reconnects);
            try
            {
                await Task.Delay(100, _stop.Token); // reconnect pacing, as the stream's "retry:" asks
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    private void Take(string? id, string type)
    {
        if (id is null || id.Split(':') is not [var epoch, var seqText] || !long.TryParse(seqText, CultureInfo.InvariantCulture, out var seq))
        {
            return;
        }
        _lastEventId = id;
        if (type == "reset")
        {
            Interlocked.Increment(ref _resets);
            _epoch = epoch;
            Interlocked.Exchange(ref _seq, seq);
            return;
        }
        Interlocked.Increment(ref _received);
        if (_epoch == epoch && seq != _seq + 1)
        {
            lock (_gaps)
            {
                _gaps.Add($"after seq {_seq} came {seq} (epoch {epoch})");
            }
        }
        else if (_epoch is not null && _epoch != epoch)
        {
            lock (_gaps)
            {
                _gaps.Add($"epoch changed from {_epoch} to {epoch} without a reset event");
            }
        }
        _epoch = epoch;
        Interlocked.Exchange(ref _seq, seq);
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        await _run;
        _stop.Dispose();
    }
}
