using System.Net.WebSockets;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using System.Threading.Channels;
using MissionHub.Events;
using MissionHub.Infrastructure;

namespace MissionHub.Monitor;

/// <summary>
/// One monitor's WebSocket (<c>/ws/monitor</c>, spec 003 §2/§5): snapshot, subscription, heartbeats and
/// resync. Events reach it through an <see cref="EventFeed"/> (the log, then live), so nothing between its
/// snapshot and its stream is lost or doubled. Its outbound queue is bounded in bytes: a monitor that does
/// not read is never waited for; past the bound its events are counted as missed, it is told so, and it
/// resyncs from its last seq.
/// </summary>
internal sealed partial class MonitorConnection(
    WebSocket socket, EventBus bus, MonitorState state, MonitorOptions options, TimeProvider time, ILogger logger) : IDisposable
{
    private static readonly string[] KnownTypes = ["monitor_connect", "subscribe", "monitor_subscribe", "heartbeat", "resync_request"];

    private readonly Channel<OutFrame> _outbound = Channel.CreateUnbounded<OutFrame>(new UnboundedChannelOptions { SingleReader = true });
    private readonly CancellationTokenSource _closed = new();
    private long _queuedEventBytes;
    private TaskCompletionSource _drained = new(TaskCreationOptions.RunContinuationsAsynchronously);
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

    public async Task RunAsync(CancellationToken requestAborted)
    {
        var sending = SendLoopAsync();
        try
        {
            await ReceiveLoopAsync(requestAborted);
        }
        finally
        {
            await StopDeliveryAsync();
            _outbound.Writer.TryComplete();
            await sending;
            await CloseAsync();
        }
    }

    public void Dispose()
    {
        _closed.Dispose();
        _delivery?.Dispose();
    }

    private async Task ReceiveLoopAsync(CancellationToken requestAborted)
    {
        // An oversized frame is read to its end and answered with an error: the monitor stays connected.
        using var reader = new WebSocketFrameReader(socket, options.MaxFrameBytes, skipOversized: true);
        using var receive = CancellationTokenSource.CreateLinkedTokenSource(requestAborted, _closed.Token);
        receive.CancelAfter(options.IdleTimeout);
        try
        {
            while (true)
            {
                var kind = await reader.ReadAsync(receive.Token);
                if (kind == FrameKind.Close)
                {
                    return;
                }
                receive.CancelAfter(options.IdleTimeout);
                switch (kind)
                {
                    case FrameKind.TooLarge:
                        SendError("frame_too_large", $"frames from monitors are limited to {options.MaxFrameBytes} bytes");
                        break;
                    case FrameKind.Binary:
                        SendError("unsupported_frame", "frames must be JSON text, not binary");
                        break;
                    default:
                        await HandleAsync(reader.Frame);
                        break;
                }
            }
        }
        catch (OperationCanceledException)
        {
            LogClosed(logger, _monitorId ?? "?", requestAborted.IsCancellationRequested ? "server_shutdown" : "idle_timeout");
        }
        catch (WebSocketException)
        {
            LogClosed(logger, _monitorId ?? "?", "connection_lost");
        }
    }

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
            if (message.TryGetProperty("monitor_id", out var id) && id.ValueKind == JsonValueKind.String)
            {
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
                case "subscribe" or "monitor_subscribe":
                    await SubscribeAsync(message);
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
            Send(new SubscribedMessage("monitor_connected", _subscription?.Topics ?? [], seq, _subscription?.Batching ?? false),
                MonitorJsonContext.Default.SubscribedMessage);
        }
        LogConnected(logger, _monitorId ?? "?", epoch, seq);
        if (_subscription is not null)
        {
            StartDelivery(_position, _epoch, resync: false);
        }
    }

    private async Task SubscribeAsync(JsonElement message)
    {
        if (!_connected)
        {
            SendError("not_connected", "send monitor_connect before subscribe");
            return;
        }
        var (subscription, code, error) = MonitorSubscription.Parse(message);
        if (subscription is null)
        {
            SendError(code!, error!);
            return;
        }
        var from = await StopDeliveryAsync();
        _subscription = subscription;
        Send(new SubscribedMessage("subscribed", subscription.Topics, from, subscription.Batching), MonitorJsonContext.Default.SubscribedMessage);
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
                _subscription = subscription;
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
        _subscription = subscription;
        StartDelivery(from, epoch, resync: true);
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
                            await WaitForRoomAsync(cancellationToken);
                            // last_seq promises that every matching event up to it has been sent: the batch's end only with its last chunk.
                            var lastSeq = i == chunks.Count - 1 ? feed.Cursor : chunks[i][^1].Seq;
                            var data = MonitorFrames.ResyncData([.. chunks[i].Select(c => c.Frame)], true, feed.Epoch, lastSeq, done: false, Now(), null);
                            Interlocked.Add(ref _queuedEventBytes, data.Length);
                            _outbound.Writer.TryWrite(new OutFrame(data, IsEvent: true, IsReplay: true));
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

    private async Task WaitForRoomAsync(CancellationToken cancellationToken)
    {
        while (Interlocked.Read(ref _queuedEventBytes) > options.MaxQueuedBytes / 2)
        {
            var signal = Volatile.Read(ref _drained).Task;
            if (Interlocked.Read(ref _queuedEventBytes) <= options.MaxQueuedBytes / 2)
            {
                return;
            }
            await signal.WaitAsync(cancellationToken);
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
        if (Interlocked.Read(ref _queuedEventBytes) + frame.Length > options.MaxQueuedBytes)
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
        Interlocked.Add(ref _queuedEventBytes, frame.Length);
        _outbound.Writer.TryWrite(new OutFrame(frame, IsEvent: true));
    }

    private async Task SendLoopAsync()
    {
        var reader = _outbound.Reader;
        var batch = new List<byte[]>();
        try
        {
            while (await reader.WaitToReadAsync())
            {
                while (reader.TryRead(out var frame))
                {
                    if (frame.IsEvent && !frame.IsReplay && _subscription?.Batching == true)
                    {
                        batch.Add(frame.Bytes);
                        Released(frame.Bytes.Length);
                        if (reader.TryPeek(out var next) && next.IsEvent && !next.IsReplay && batch.Count < 1000)
                        {
                            continue;
                        }
                        await WriteAsync(MonitorFrames.Batch(batch));
                        batch.Clear();
                        continue;
                    }
                    await WriteAsync(frame.Bytes);
                    if (frame.IsEvent)
                    {
                        Released(frame.Bytes.Length);
                    }
                }
            }
        }
        catch (Exception ex) when (ex is WebSocketException or OperationCanceledException or ObjectDisposedException)
        {
            await _closed.CancelAsync();
        }
    }

    private void Released(int bytes)
    {
        Interlocked.Add(ref _queuedEventBytes, -bytes);
        Interlocked.Exchange(ref _drained, new(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();
    }

    private async ValueTask WriteAsync(byte[] frame)
    {
        if (socket.State == WebSocketState.Open)
        {
            await socket.SendAsync(frame.AsMemory(), WebSocketMessageType.Text, endOfMessage: true, _closed.Token);
        }
    }

    private void Send<T>(T message, JsonTypeInfo<T> info) => SendRaw(JsonSerializer.SerializeToUtf8Bytes(message, info));

    private void SendRaw(byte[] frame) => _outbound.Writer.TryWrite(new OutFrame(frame, IsEvent: false));

    private void SendError(string code, string message)
    {
        LogRefused(logger, _monitorId ?? "?", code, message);
        Send(new MonitorError("error", code, message), MonitorJsonContext.Default.MonitorError);
    }

    private async Task CloseAsync()
    {
        if (socket.State is WebSocketState.Open or WebSocketState.CloseReceived)
        {
            try
            {
                using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(2));
                await socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "bye", timeout.Token);
            }
            catch (Exception ex) when (ex is WebSocketException or OperationCanceledException)
            {
            }
        }
    }

    private long Now() => time.GetUtcNow().ToUnixTimeMilliseconds();

    private readonly record struct OutFrame(byte[] Bytes, bool IsEvent, bool IsReplay = false);

    [LoggerMessage(EventId = 4101, Level = LogLevel.Information, Message = "Monitor {MonitorId} connected at epoch {Epoch} seq {Seq}")]
    private static partial void LogConnected(ILogger logger, string monitorId, string epoch, long seq);

    [LoggerMessage(EventId = 4102, Level = LogLevel.Information, Message = "Monitor {MonitorId} closed: {Reason}")]
    private static partial void LogClosed(ILogger logger, string monitorId, string reason);

    [LoggerMessage(EventId = 4103, Level = LogLevel.Warning, Message = "Monitor {MonitorId} fell behind at seq {Seq}; its events are counted as missed until it resyncs")]
    private static partial void LogFellBehind(ILogger logger, string monitorId, long seq);

    [LoggerMessage(EventId = 4104, Level = LogLevel.Information, Message = "Refused a frame from monitor {MonitorId}: {Code} ({Detail})")]
    private static partial void LogRefused(ILogger logger, string monitorId, string code, string detail);
}
