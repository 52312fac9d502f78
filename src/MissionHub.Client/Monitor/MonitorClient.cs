using System.Net.WebSockets;
using System.Runtime.CompilerServices;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;

[assembly: InternalsVisibleTo("MissionHub.Tests")]

namespace MissionHub.Client;

/// <summary>
/// A monitor of <c>/ws/monitor</c> (spec 003 §2 and §5) that keeps a local copy of the hub's state: a
/// <c>full_state_snapshot</c>, then every subscribed event applied once, in seq order. It heartbeats, and
/// resyncs by itself — from its last applied seq when the server says it missed events, and after every
/// reconnect (with backoff), across server restarts too; when the server cannot replay the gap
/// (<c>recovered: false</c>) it takes a fresh snapshot instead. Call <see cref="RunAsync"/> once.
/// </summary>
public sealed class MonitorClient : IAsyncDisposable
{
    private readonly MonitorClientOptions _options;
    private readonly Uri _endpoint;
    private readonly Lock _lock = new();
    private readonly MonitorStateStore _store;
    private readonly CancellationTokenSource _stop = new();
    private readonly ReconnectingSocket _transport;
    private Task _running = Task.CompletedTask;
    private int _started;
    private TaskCompletionSource _reading = Open();

    // Guarded by _lock.
    private string? _epoch;
    private long _lastSeq;
    private bool _hasState;

    // Touched only by the receive loop (and read elsewhere as flags).
    private volatile bool _resyncing;
    private volatile bool _live;
    private bool _subscribed;

    private long _eventsApplied;
    private long _duplicatesIgnored;
    private long _resyncs;
    private long _snapshots;
    private long _reconnects;
    private long _missedReported;

    /// <summary>A monitor client with <paramref name="options"/>; nothing connects until it is run.</summary>
    public MonitorClient(MonitorClientOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.HeartbeatInterval <= TimeSpan.Zero || options.ReceiveTimeout <= TimeSpan.Zero)
        {
            throw new ArgumentException("HeartbeatInterval and ReceiveTimeout must be positive", nameof(options));
        }
        _options = options;
        _endpoint = ToEndpoint(options.Server);
        _store = new MonitorStateStore(Math.Max(0, options.RecentFinishedKept));
        _transport = new ReconnectingSocket(_endpoint, options.ApiKey, options.ConfigureSocket, Backoff);
    }

    /// <summary>Raised after the state changed (snapshot or events), on the client's receive loop: keep handlers short.</summary>
    public event EventHandler<MonitorStateChangedEventArgs>? StateChanged;

    /// <summary>Raised when the server reports that this monitor missed events: the count of an <c>events_missed</c> notice or heartbeat ack. A resync follows.</summary>
    public event EventHandler<long>? MissedReported;

    /// <summary>Raised for each event applied, in seq order, each seq once; before <see cref="StateChanged"/> for it.</summary>
    public event EventHandler<MonitorEventAppliedEventArgs>? EventApplied;

    /// <summary>The seq up to which this client's state is complete (snapshot seq or last event applied).</summary>
    public long LastSeq
    {
        get
        {
            lock (_lock)
            {
                return _lastSeq;
            }
        }
    }

    /// <summary>The event log's epoch of the state, or null before the first snapshot.</summary>
    public string? Epoch
    {
        get
        {
            lock (_lock)
            {
                return _epoch;
            }
        }
    }

    /// <summary>Connected, holding a state, and not catching up: events arrive live.</summary>
    public bool IsLive => _live && !_resyncing;

    /// <summary>The hub has confirmed the current subscription (<c>subscribed</c>): events from here on reach this client.</summary>
    public bool IsSubscribed => Volatile.Read(ref _subscribed);

    /// <summary>Events applied to the local state so far.</summary>
    public long EventsApplied => Interlocked.Read(ref _eventsApplied);

    /// <summary>Events received at or below <see cref="LastSeq"/> and so not applied again.</summary>
    public long DuplicatesIgnored => Interlocked.Read(ref _duplicatesIgnored);

    /// <summary><c>resync_request</c>s sent (after a reconnect or a reported miss).</summary>
    public long Resyncs => Interlocked.Read(ref _resyncs);

    /// <summary>Full snapshots taken (the first one, and one per unrecoverable gap).</summary>
    public long Snapshots => Interlocked.Read(ref _snapshots);

    /// <summary>Connections lost and retried.</summary>
    public long Reconnects => Interlocked.Read(ref _reconnects);

    /// <summary>Times the server said this monitor missed events (<c>events_missed</c> or a heartbeat ack with misses).</summary>
    public long MissedReports => Interlocked.Read(ref _missedReported);

    /// <summary>The last <c>error</c> frame from the server (<c>code: message</c>) or why the last connection ended, if any.</summary>
    public string? LastError { get; private set; }

    /// <summary>A copy of the current state, consistent as of <see cref="MonitorStateSnapshot.LastSeq"/>.</summary>
    public MonitorStateSnapshot GetState()
    {
        lock (_lock)
        {
            return _store.Copy(_epoch, _lastSeq);
        }
    }

    /// <summary>Connects, follows the server and reconnects until <paramref name="cancellationToken"/> is cancelled or the client is disposed.</summary>
    public Task RunAsync(CancellationToken cancellationToken = default)
    {
        if (Interlocked.Exchange(ref _started, 1) != 0)
        {
            throw new InvalidOperationException("RunAsync may be called once per MonitorClient");
        }
        _running = RunCoreAsync(cancellationToken);
        return _running;
    }

    /// <summary>Closes the socket and stops reconnecting.</summary>
    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        try
        {
            await _running;
        }
        catch (OperationCanceledException)
        {
        }
        _stop.Dispose();
    }

    /// <summary>Drops the connection as a network failure would (tests): the client reconnects and resyncs.</summary>
    internal void AbortConnection() => _transport.Abort();

    /// <summary>Stops reading the socket after the frame in progress, as a stalled monitor would (tests); heartbeats still go out.</summary>
    internal void PauseReading() => Volatile.Write(ref _reading, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));

    internal void ResumeReading() => Volatile.Read(ref _reading).TrySetResult();

    private static TaskCompletionSource Open()
    {
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        gate.SetResult();
        return gate;
    }

    private async Task RunCoreAsync(CancellationToken cancellationToken)
    {
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _stop.Token);
        await _transport.RunAsync(AttemptAsync, (_, _) => Interlocked.Increment(ref _reconnects), linked.Token);
        cancellationToken.ThrowIfCancellationRequested();
    }

    /// <summary>Doubles per failed attempt from the minimum up to the maximum, with jitter (half to all of it).</summary>
    private TimeSpan Backoff(int failures)
    {
        var ceiling = Math.Min(_options.ReconnectMaxDelay.TotalMilliseconds,
            _options.ReconnectMinDelay.TotalMilliseconds * Math.Pow(2, Math.Min(failures - 1, 20)));
        return TimeSpan.FromMilliseconds(ceiling * (0.5 + (Random.Shared.NextDouble() / 2)));
    }

    private async Task<Attempt> AttemptAsync(SocketConnection socket, CancellationToken stop)
    {
        var received = false;
        try
        {
            await socket.ConnectAsync(stop);
            received = await SessionAsync(socket, stop);
            return new Attempt(received, "closed by the server");
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            throw;
        }
        catch (Exception ex)
        {
            // Lost, refused, timed out or a frame it could not use (a handler's exception too): reconnect and resync.
            LastError = $"{ex.GetType().Name}: {ex.Message}";
            return new Attempt(received, LastError, ex);
        }
        finally
        {
            _live = false;
            Volatile.Write(ref _subscribed, false);
        }
    }

    /// <summary>One connection: handshake (snapshot, or resync from where the state is), then frames until it ends. True if anything was received.</summary>
    private async Task<bool> SessionAsync(SocketConnection socket, CancellationToken stop)
    {
        using var session = CancellationTokenSource.CreateLinkedTokenSource(stop);
        bool hasState;
        lock (_lock)
        {
            hasState = _hasState;
        }
        // Frames are handled in order by the server, so the resync can follow monitor_connect at once.
        await SendAsync(socket, new MonitorConnectMessage("monitor_connect", _options.MonitorId, !hasState, Now()),
            MonitorClientJsonContext.Default.MonitorConnectMessage, session.Token);
        if (hasState)
        {
            await RequestResyncAsync(socket, session.Token);
        }
        var heartbeats = HeartbeatLoopAsync(socket, session.Token);
        var received = false;
        try
        {
            while (true)
            {
                await Volatile.Read(ref _reading).Task.WaitAsync(session.Token);
                ReadOnlyMemory<byte>? frame;
                using (var timeout = CancellationTokenSource.CreateLinkedTokenSource(session.Token))
                {
                    timeout.CancelAfter(_options.ReceiveTimeout);
                    frame = await socket.ReceiveAsync(timeout.Token);
                }
                if (frame is not { } message)
                {
                    return received;
                }
                received = true;
                await HandleAsync(socket, message, session.Token);
            }
        }
        finally
        {
            await session.CancelAsync();
            try
            {
                await heartbeats;
            }
            catch (Exception ex) when (ex is OperationCanceledException or WebSocketException or ObjectDisposedException)
            {
            }
        }
    }

    private async Task HeartbeatLoopAsync(SocketConnection socket, CancellationToken cancellationToken)
    {
        using var timer = new PeriodicTimer(_options.HeartbeatInterval);
        while (await timer.WaitForNextTickAsync(cancellationToken))
        {
            await SendAsync(socket, new MonitorHeartbeatMessage("heartbeat", _options.MonitorId, Now()), MonitorClientJsonContext.Default.MonitorHeartbeatMessage, cancellationToken);
        }
    }

    private async Task HandleAsync(SocketConnection socket, ReadOnlyMemory<byte> frame, CancellationToken cancellationToken)
    {
        using var document = JsonDocument.Parse(frame);
        var message = document.RootElement;
        var type = message.TryGetProperty("type", out var t) && t.ValueKind == JsonValueKind.String ? t.GetString()! : "";
        switch (type)
        {
            case "full_state_snapshot":
            {
                var snapshot = JsonSerializer.Deserialize(message, MonitorClientJsonContext.Default.FullStateSnapshotMessage)!;
                long seq;
                lock (_lock)
                {
                    _store.Load(snapshot.Data);
                    _epoch = snapshot.Epoch;
                    _lastSeq = seq = snapshot.Seq;
                    _hasState = true;
                }
                Interlocked.Increment(ref _snapshots);
                _resyncing = false;
                _live = true;
                StateChanged?.Invoke(this, new MonitorStateChangedEventArgs(MonitorStateChange.Snapshot, seq, 0, resyncDone: false));
                // The subscription starts at the snapshot's seq: nothing between them is lost or doubled.
                await SendAsync(socket, new SubscribeMessage("subscribe", _options.MonitorId, _options.Topics, Filters(), _options.Batching, Now()),
                    MonitorClientJsonContext.Default.SubscribeMessage, cancellationToken);
                return;
            }
            case "subscribed":
                // Every matching event up to this seq came before this message.
                AdvanceTo(message, "seq");
                Volatile.Write(ref _subscribed, true);
                return;
            case "monitor_connected":
                _live = true;
                return;
            case "event_batch":
                ApplyEvents(message.GetProperty("events"), MonitorStateChange.Events, resyncDone: false);
                return;
            case "resync_data":
            {
                if (!message.GetProperty("recovered").GetBoolean())
                {
                    // The gap cannot be replayed (older than retention, or another epoch): start over from a snapshot.
                    await SendAsync(socket, new MonitorConnectMessage("monitor_connect", _options.MonitorId, true, Now()),
                        MonitorClientJsonContext.Default.MonitorConnectMessage, cancellationToken);
                    return;
                }
                var done = message.TryGetProperty("done", out var d) && d.ValueKind == JsonValueKind.True;
                ApplyEvents(message.GetProperty("events"), MonitorStateChange.Resync, done);
                if (done)
                {
                    lock (_lock)
                    {
                        if (message.TryGetProperty("epoch", out var epoch) && epoch.ValueKind == JsonValueKind.String)
                        {
                            _epoch = epoch.GetString();
                        }
                    }
                    AdvanceTo(message, "last_seq");
                    _resyncing = false;
                }
                return;
            }
            case "events_missed":
                Interlocked.Increment(ref _missedReported);
                MissedReported?.Invoke(this, message.TryGetProperty("count", out var count) && count.ValueKind == JsonValueKind.Number ? count.GetInt64() : 1);
                if (!_resyncing)
                {
                    await RequestResyncAsync(socket, cancellationToken);
                }
                return;
            case "heartbeat_ack":
                if (message.TryGetProperty("events_missed", out var missed) && missed.ValueKind == JsonValueKind.Number && missed.GetInt64() > 0)
                {
                    MissedReported?.Invoke(this, missed.GetInt64());
                    if (!_resyncing)
                    {
                        Interlocked.Increment(ref _missedReported);
                        await RequestResyncAsync(socket, cancellationToken);
                    }
                }
                return;
            case "heartbeat":
                return;
            case "error":
                LastError = $"{(message.TryGetProperty("code", out var code) ? code.ToString() : "?")}: {(message.TryGetProperty("message", out var text) ? text.ToString() : "")}";
                return;
            default:
                if (message.TryGetProperty("seq", out _))
                {
                    ApplyOne(message, out _);
                    var seq = LastSeq;
                    StateChanged?.Invoke(this, new MonitorStateChangedEventArgs(MonitorStateChange.Events, seq, 1, resyncDone: false));
                }
                return;
        }
    }

    private async Task RequestResyncAsync(SocketConnection socket, CancellationToken cancellationToken)
    {
        string epoch;
        long seq;
        lock (_lock)
        {
            epoch = _epoch ?? "";
            seq = _lastSeq;
        }
        _resyncing = true;
        Interlocked.Increment(ref _resyncs);
        await SendAsync(socket, new ResyncRequestMessage("resync_request", _options.MonitorId, seq, epoch, _options.Topics, Filters(), _options.Batching, Now()),
            MonitorClientJsonContext.Default.ResyncRequestMessage, cancellationToken);
    }

    private void ApplyEvents(JsonElement events, MonitorStateChange change, bool resyncDone)
    {
        var applied = 0;
        foreach (var evt in events.EnumerateArray())
        {
            if (ApplyOne(evt, out _))
            {
                applied++;
            }
        }
        if (applied > 0 || resyncDone)
        {
            StateChanged?.Invoke(this, new MonitorStateChangedEventArgs(change, LastSeq, applied, resyncDone));
        }
    }

    /// <summary>Applies one event unless its seq is already covered; returns whether it was applied.</summary>
    private bool ApplyOne(JsonElement evt, out long seq)
    {
        seq = evt.GetProperty("seq").GetInt64();
        var type = evt.TryGetProperty("type", out var t) && t.ValueKind == JsonValueKind.String ? t.GetString()! : "";
        lock (_lock)
        {
            if (seq <= _lastSeq)
            {
                Interlocked.Increment(ref _duplicatesIgnored);
                return false;
            }
            // Hub events come flat; Charter envelopes of other topics (with a payload) change no job or worker.
            if (!evt.TryGetProperty("payload", out _) || !evt.TryGetProperty("source", out _))
            {
                _store.Apply(type, evt);
            }
            _lastSeq = seq;
        }
        Interlocked.Increment(ref _eventsApplied);
        EventApplied?.Invoke(this, new MonitorEventAppliedEventArgs(seq, type, evt));
        return true;
    }

    private void AdvanceTo(JsonElement message, string property)
    {
        if (message.TryGetProperty(property, out var value) && value.ValueKind == JsonValueKind.Number)
        {
            var seq = value.GetInt64();
            lock (_lock)
            {
                _lastSeq = Math.Max(_lastSeq, seq);
            }
        }
    }

    private FiltersMessage? Filters() => _options.Filters is { } f
        ? new FiltersMessage(f.JobTypes, f.WorkerIds, f.PriorityRange is { } range ? [range.Min, range.Max] : null)
        : null;

    private static Task SendAsync<T>(SocketConnection socket, T message, JsonTypeInfo<T> info, CancellationToken cancellationToken) =>
        socket.SendAsync(JsonSerializer.SerializeToUtf8Bytes(message, info), cancellationToken);

    private static long Now() => DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();

    private static Uri ToEndpoint(Uri server)
    {
        if (server.Scheme is "ws" or "wss")
        {
            return server;
        }
        if (server.Scheme is not ("http" or "https"))
        {
            throw new ArgumentException($"the server address must be http(s):// or ws(s)://, not {server.Scheme}://", nameof(server));
        }
        var builder = new UriBuilder(server) { Scheme = server.Scheme == "https" ? "wss" : "ws" };
        if (builder.Path.Length <= 1)
        {
            builder.Path = "/ws/monitor";
        }
        return builder.Uri;
    }
}
