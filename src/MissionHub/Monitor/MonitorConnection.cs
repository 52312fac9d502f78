using System.Net.WebSockets;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using System.Threading.Channels;
using MissionHub.Events;
using MissionHub.Infrastructure;
using MissionHub.Infrastructure.Sockets;

namespace MissionHub.Monitor;

/// <summary>
/// One monitor's protocol (<c>/ws/monitor</c>, spec 003 §2/§5) on the shared <see cref="SocketShell"/>: snapshot,
/// subscription, heartbeats and resync. Events reach it through an <see cref="EventFeed"/> (the log, then live), so
/// nothing between its snapshot and its stream is lost or doubled. Its queue is bounded in bytes over every frame: a
/// monitor that does not read is never waited for; once the queue holds <see cref="MonitorOptions.MaxQueuedBytes"/> its
/// events are counted as missed, it is told so, and it resyncs from its last seq; a snapshot or answer that would take
/// the queue past <see cref="MonitorOptions.MaxSendQueueBytes"/> closes it with 1008.
/// </summary>
internal sealed partial class MonitorConnection(
    WebSocket socket, EventBus bus, MonitorState state, MonitorOptions options, TimeProvider time, ILogger logger) : ISocketProtocol, IDisposable
{
    /// <summary>The longest <c>monitor_id</c> accepted; it is logged and echoed.</summary>
    public const int MaxMonitorIdLength = 128;

    private static readonly string[] KnownTypes = ["monitor_connect", "subscribe", "monitor_subscribe", "heartbeat", "resync_request"];

    private readonly SocketShell _shell = new(socket, new SocketShellOptions
    {
        // An oversized frame is read to its end and answered with an error: the monitor stays connected.
        MaxFrameBytes = options.MaxFrameBytes,
        SkipOversized = true,
        LivenessTimeout = options.IdleTimeout,
        MaxQueuedBytes = options.MaxSendQueueBytes,
    }, time);

    private string? _monitorId;
    private bool _connected;
    private string _epoch = "";
    private long _position;
    private MonitorSubscription? _subscription;
    private CancellationTokenSource? _delivery;
    private Task _delivering = Task.CompletedTask;

    // Touched by the delivery loop and read by heartbeat answers.
    private long _missed;
    private long _deliveredSeq;
    private volatile bool _missing;
    private int _overflowLogged;

    public async Task RunAsync(CancellationToken requestAborted) => await _shell.RunAsync(this, requestAborted);

    public void Dispose()
    {
        _shell.Dispose();
        _delivery?.Dispose();
    }

    async ValueTask ISocketProtocol.EndedAsync(SocketEnd end)
    {
        await StopDeliveryAsync();
        LogClosed(logger, _monitorId ?? "?", end.Kind switch
        {
            SocketEndKind.PeerClosed => "client_close",
            SocketEndKind.Aborted => "server_shutdown",
            SocketEndKind.LivenessExpired => "idle_timeout",
            SocketEndKind.Lost => "connection_lost",
            _ => end.Reason ?? end.Kind.ToString(),
        });
    }

    ValueTask ISocketProtocol.HandleAsync(ReadOnlyMemory<byte> frame, CancellationToken cancellationToken) => new(HandleAsync(frame));

    private async Task HandleAsync(ReadOnlyMemory<byte> frame)
    {
        if (!ProtocolFrame.TryParse(frame, out var document, out var type, out var errorCode, out var errorMessage))
        {
            SendError(errorCode, errorMessage);
            return;
        }
        using (document)
        {
            var message = document.RootElement;
            if (message.TryGetProperty("monitor_id", out var id) && id.ValueKind != JsonValueKind.Null)
            {
                if (id.ValueKind != JsonValueKind.String || id.GetString()!.Length is 0 or > MaxMonitorIdLength)
                {
                    SendError("invalid_field", $"monitor_id must be a string of 1 to {MaxMonitorIdLength} characters");
                    return;
                }
                _monitorId = id.GetString();
            }
            switch (type)
            {
                case "monitor_connect":
                    await ConnectAsync(message);
                    return;
                case "heartbeat":
                    Send(new HeartbeatAck("heartbeat_ack", _monitorId, Now(), Interlocked.Read(ref _missed), Interlocked.Read(ref _deliveredSeq)),
                        MonitorJsonContext.Default.HeartbeatAck);
                    return;
                case "subscribe":
                    await SubscribeAsync(message, "topics");
                    return;
                case "monitor_subscribe":
                    // Spec 003 §2's handshake names the topics `subscriptions`; `topics` is taken too, as in subscribe.
                    await SubscribeAsync(message, message.TryGetProperty("subscriptions", out _) ? "subscriptions" : "topics");
                    return;
                case "resync_request":
                    await ResyncAsync(message);
                    return;
                default:
                    SendError("unknown_type", $"unknown message type '{(type.Length > 100 ? type[..100] : type)}'; valid types: {string.Join(", ", KnownTypes)}");
                    return;
            }
        }
    }

    private async Task ConnectAsync(JsonElement message)
    {
        await StopDeliveryAsync();
        _connected = true;
        var wantsState = !message.TryGetProperty("request_full_state", out var flag) || flag.ValueKind != JsonValueKind.False;
        var (data, epoch, seq) = state.Snapshot();
        _epoch = epoch;
        _position = seq;
        Interlocked.Exchange(ref _deliveredSeq, seq);
        if (wantsState)
        {
            Send(new FullStateSnapshot("full_state_snapshot", data, epoch, seq, Now()), MonitorJsonContext.Default.FullStateSnapshot);
        }
        else
        {
            Send(new SubscribedMessage("monitor_connected", _subscription?.Topics ?? [], seq, _subscription?.Batching is not null),
                MonitorJsonContext.Default.SubscribedMessage);
        }
        LogConnected(logger, _monitorId ?? "?", epoch, seq);
        if (_subscription is not null)
        {
            StartDelivery(_position, _epoch, resync: false);
        }
    }

    private async Task SubscribeAsync(JsonElement message, string topicsProperty)
    {
        if (!_connected)
        {
            SendError("not_connected", "send monitor_connect before subscribe");
            return;
        }
        var (subscription, code, error) = MonitorSubscription.Parse(message, topicsProperty: topicsProperty);
        if (subscription is null)
        {
            SendError(code!, error!);
            return;
        }
        var from = await StopDeliveryAsync();
        Use(subscription);
        Send(new SubscribedMessage("subscribed", subscription.Topics, from, subscription.Batching is not null), MonitorJsonContext.Default.SubscribedMessage);
        StartDelivery(from, _epoch, resync: false);
    }

    private async Task ResyncAsync(JsonElement message)
    {
        if (!_connected)
        {
            SendError("not_connected", "send monitor_connect before resync_request");
            return;
        }
        var (subscription, code, error) = MonitorSubscription.Parse(message, _subscription);
        if (subscription is null)
        {
            SendError(code!, error!);
            return;
        }
        long from;
        var epoch = bus.Log.Epoch;
        if (message.TryGetProperty("last_seq", out var seqElement))
        {
            if (seqElement.ValueKind != JsonValueKind.Number || !seqElement.TryGetInt64(out from) || from < 0)
            {
                SendError("invalid_field", "last_seq must be a whole number of 0 or more");
                return;
            }
            if (message.TryGetProperty("epoch", out var epochElement))
            {
                if (epochElement.ValueKind != JsonValueKind.String)
                {
                    SendError("invalid_field", "epoch must be the epoch string of a snapshot or resync_data");
                    return;
                }
                epoch = epochElement.GetString()!;
            }
        }
        else if (message.TryGetProperty("last_event_timestamp", out var tsElement))
        {
            if (tsElement.ValueKind != JsonValueKind.Number || !tsElement.TryGetDouble(out var ms) || ms < 0)
            {
                SendError("invalid_field", "last_event_timestamp must be Unix milliseconds");
                return;
            }
            // Events after that millisecond; a resume by last_seq is exact, this is the spec's best effort.
            var page = await bus.Log.ReadAsync(new EventQuery(Since: (Math.Floor(ms) + 1) / 1000.0, Limit: 1) { FromOldestRetained = true });
            if (!page.Recovered)
            {
                await StopDeliveryAsync();
                Use(subscription);
                SendRaw(MonitorFrames.ResyncData([], false, page.Epoch, page.LastSeq, true, Now(), page.Reason));
                return;
            }
            from = page.Events.Count > 0 ? page.Events[0].Seq - 1 : page.LastSeq;
        }
        else
        {
            SendError("invalid_field", "resync_request needs last_seq (with epoch) or last_event_timestamp");
            return;
        }
        await StopDeliveryAsync();
        Use(subscription);
        StartDelivery(from, epoch, resync: true);
    }

    private void Use(MonitorSubscription subscription)
    {
        _subscription = subscription;
        _shell.EventBatching = subscription.Batching is { } batching
            ? new EventBatching(MonitorFrames.Batch, batching.MaxEvents, batching.MaxDelay)
            : null;
    }

    private void StartDelivery(long from, string epoch, bool resync)
    {
        var subscription = _subscription!;
        _delivery = new CancellationTokenSource();
        _missing = false;
        Interlocked.Exchange(ref _missed, 0);
        Interlocked.Exchange(ref _deliveredSeq, from);
        _position = from;
        var token = _delivery.Token;
        _delivering = Task.Run(() => DeliverAsync(subscription, from, epoch, resync, token), CancellationToken.None);
    }

    /// <summary>Stops the delivery loop; returns the seq up to which it delivered.</summary>
    private async Task<long> StopDeliveryAsync()
    {
        if (_delivery is not null)
        {
            await _delivery.CancelAsync();
            await _delivering;
            _delivery.Dispose();
            _delivery = null;
            _position = Interlocked.Read(ref _deliveredSeq);
        }
        return _position;
    }

    private async Task DeliverAsync(MonitorSubscription subscription, long from, string epoch, bool resync, CancellationToken cancellationToken)
    {
        using var feed = bus.OpenFeed(subscription.Filter, from, epoch);
        try
        {
            while (!cancellationToken.IsCancellationRequested)
            {
                var before = feed.Cursor;
                var batch = await feed.NextAsync(options.HeartbeatInterval, cancellationToken);
                if (batch.Count > 0 && subscription.NeedsJobAttributes)
                {
                    await state.WaitUntilAppliedAsync(batch[^1].Seq, cancellationToken);
                }
                if (resync)
                {
                    if (feed.LastBatchFromLog)
                    {
                        var chunks = Chunks(Matching(batch, subscription)).ToList();
                        for (var i = 0; i < chunks.Count; i++)
                        {
                            // A replay waits for the monitor to take what it was sent: bounded memory, however long the gap.
                            await _shell.WaitUntilQueuedAtMostAsync(options.MaxQueuedBytes / 2, cancellationToken);
                            // last_seq promises that every matching event up to it has been sent: the batch's end only with its last chunk.
                            var lastSeq = i == chunks.Count - 1 ? feed.Cursor : chunks[i][^1].Seq;
                            var data = MonitorFrames.ResyncData([.. chunks[i].Select(c => c.Frame)], true, feed.Epoch, lastSeq, done: false, Now(), null);
                            _shell.TrySendReplay(data);
                        }
                        Interlocked.Exchange(ref _deliveredSeq, feed.Cursor);
                        if (!feed.IsLive)
                        {
                            continue;
                        }
                    }
                    // Caught up: the resync is complete and live events follow. A live batch is sent after this
                    // marker, so the marker's last_seq is where the feed stood before that batch.
                    SendRaw(MonitorFrames.ResyncData([], true, feed.Epoch, feed.LastBatchFromLog ? feed.Cursor : before, done: true, Now(), null));
                    resync = false;
                    if (feed.LastBatchFromLog)
                    {
                        continue;
                    }
                }
                if (batch.Count == 0)
                {
                    if (subscription.WantsHeartbeat)
                    {
                        Send(new ServerHeartbeat("heartbeat", Now(), feed.Cursor), MonitorJsonContext.Default.ServerHeartbeat);
                    }
                    continue;
                }
                foreach (var evt in batch)
                {
                    if (subscription.Matches(evt, state))
                    {
                        Offer(evt);
                    }
                }
                if (!_missing)
                {
                    Interlocked.Exchange(ref _deliveredSeq, feed.Cursor);
                }
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
        catch (EventLogResetException reset)
        {
            // Not a silent gap: tell the monitor to take a fresh snapshot.
            SendRaw(MonitorFrames.ResyncData([], false, reset.Epoch, bus.Log.LastSeq, done: true, Now(), reset.Reason));
        }
        catch (Exception ex) when (ex is ObjectDisposedException or ChannelClosedException)
        {
        }
    }

    /// <summary>Resync chunks bounded by count and by a quarter of the queue's bytes.</summary>
    private IEnumerable<List<(long Seq, byte[] Frame)>> Chunks(List<(long Seq, byte[] Frame)> frames)
    {
        var chunk = new List<(long Seq, byte[] Frame)>();
        var bytes = 0;
        foreach (var frame in frames)
        {
            if (chunk.Count > 0 && (chunk.Count >= options.ResyncChunkSize || bytes + frame.Frame.Length > options.MaxQueuedBytes / 4))
            {
                yield return chunk;
                chunk = [];
                bytes = 0;
            }
            chunk.Add(frame);
            bytes += frame.Frame.Length;
        }
        if (chunk.Count > 0)
        {
            yield return chunk;
        }
    }

    private List<(long Seq, byte[] Frame)> Matching(IReadOnlyList<CharterEvent> batch, MonitorSubscription subscription) =>
        [.. batch.Where(e => subscription.Matches(e, state)).Select(e => (e.Seq, MonitorFrames.Render(e)))];

    /// <summary>Queues one event, or counts it as missed once the monitor is too far behind.</summary>
    private void Offer(CharterEvent evt)
    {
        var frame = MonitorFrames.Render(evt);
        if (_missing)
        {
            Interlocked.Increment(ref _missed);
            state.CountMissed();
            return;
        }
        if (!_shell.TryQueueEvent(frame, options.MaxQueuedBytes))
        {
            // From here on nothing is delivered until the monitor resyncs: no gaps it could mistake for a quiet hub.
            _missing = true;
            Interlocked.Increment(ref _missed);
            state.CountMissed();
            LogFellBehind(logger, _monitorId ?? "?", evt.Seq);
            Send(new EventsMissedNotice("events_missed", 1, evt.Seq,
                    $"this monitor fell behind; events from seq {evt.Seq} were not sent: send resync_request with last_seq {evt.Seq - 1}"),
                MonitorJsonContext.Default.EventsMissedNotice);
            return;
        }
    }

    private void Send<T>(T message, JsonTypeInfo<T> info) => SendRaw(JsonSerializer.SerializeToUtf8Bytes(message, info));

    private void SendRaw(byte[] frame)
    {
        if (!_shell.TrySend(frame) && _shell.Overflowed && Interlocked.Exchange(ref _overflowLogged, 1) == 0)
        {
            LogOverflowed(logger, _monitorId ?? "?", _shell.MaxQueuedBytes);
        }
    }


    public void SendError(string code, string message)
    {
        LogRefused(logger, _monitorId ?? "?", code, message);
        Send(new MonitorError("error", code, message), MonitorJsonContext.Default.MonitorError);
    }

    private long Now() => time.GetUtcNow().ToUnixTimeMilliseconds();

    [LoggerMessage(EventId = 4101, Level = LogLevel.Information, Message = "Monitor {MonitorId} connected at epoch {Epoch} seq {Seq}")]
    private static partial void LogConnected(ILogger logger, string monitorId, string epoch, long seq);

    [LoggerMessage(EventId = 4102, Level = LogLevel.Information, Message = "Monitor {MonitorId} closed: {Reason}")]
    private static partial void LogClosed(ILogger logger, string monitorId, string reason);

    [LoggerMessage(EventId = 4103, Level = LogLevel.Warning, Message = "Monitor {MonitorId} fell behind at seq {Seq}; its events are counted as missed until it resyncs")]
    private static partial void LogFellBehind(ILogger logger, string monitorId, long seq);

    [LoggerMessage(EventId = 4105, Level = LogLevel.Warning, Message = "Monitor {MonitorId} does not read: its send queue would pass {Bound} bytes; closing it with 1008")]
    private static partial void LogOverflowed(ILogger logger, string monitorId, long bound);

    [LoggerMessage(EventId = 4104, Level = LogLevel.Information, Message = "Refused a frame from monitor {MonitorId}: {Code} ({Detail})")]
    private static partial void LogRefused(ILogger logger, string monitorId, string code, string detail);
}
