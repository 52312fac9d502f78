using System.Globalization;
using System.Net.WebSockets;
using System.Threading.Channels;

using MissionHub.Storage;

namespace MissionHub.Infrastructure.Sockets;

/// <summary>What a socket protocol plugs into <see cref="SocketShell"/>: its frames, its error frame, its farewell.</summary>
internal interface ISocketProtocol
{
    /// <summary>Handles one text frame. The liveness deadline does not run meanwhile: a slow store is not a silent client.</summary>
    ValueTask HandleAsync(ReadOnlyMemory<byte> frame, CancellationToken cancellationToken);

    /// <summary>Queues the protocol's <c>error</c> frame (for frames the shell refuses: binary, oversized).</summary>
    void SendError(string code, string message);

    /// <summary>The client is gone or going: runs after the last frame was handled, before the close handshake.</summary>
    ValueTask EndedAsync(SocketEnd end);
}

public enum SocketEndKind
{
    /// <summary>The client sent a close frame.</summary>
    PeerClosed,

    /// <summary>The server closed it (<see cref="SocketShell.Close"/>) with <see cref="SocketEnd.Reason"/>.</summary>
    ServerClosed,

    /// <summary>Nothing arrived within the liveness deadline.</summary>
    LivenessExpired,

    /// <summary>A frame over the size limit, refused by closing with 1009.</summary>
    FrameTooLarge,

    /// <summary>The outbound queue would have passed its byte bound: closed with 1008.</summary>
    SendQueueFull,

    /// <summary>The request was aborted (server shutdown, or the host noticed the client vanish).</summary>
    Aborted,

    /// <summary>The connection dropped without a close handshake.</summary>
    Lost,
}

public readonly record struct SocketEnd(SocketEndKind Kind, string? Reason = null);

/// <summary>
/// How consecutive event frames are written as one: <paramref name="Build"/> makes the frame from up to
/// <paramref name="MaxEvents"/> of them; after the first, the writer waits up to <paramref name="MaxDelay"/> for more
/// (zero: only what is already queued). A control frame ends the batch, so order is kept.
/// </summary>
internal sealed record EventBatching(Func<List<byte[]>, byte[]> Build, int MaxEvents, TimeSpan MaxDelay);

/// <summary>The limits of one socket kind; every one of them comes from that kind's validated options.</summary>
public sealed record SocketShellOptions
{
    /// <summary>Largest frame accepted from the client.</summary>
    public required int MaxFrameBytes { get; init; }

    /// <summary>True: an oversized frame is read to its end and answered with <c>frame_too_large</c>; false: closed with 1009.</summary>
    public bool SkipOversized { get; init; }

    /// <summary>Silence from the client for this long (while the server is not busy with its frame) ends the connection.</summary>
    public required TimeSpan LivenessTimeout { get; init; }

    /// <summary>Bytes queued for the client, every frame counted; a frame that would pass it closes the socket with 1008.</summary>
    public required long MaxQueuedBytes { get; init; }

    /// <summary>Frames queued for the client; past it the socket closes as for the byte bound.</summary>
    public int MaxQueuedFrames { get; init; } = int.MaxValue;

    /// <summary>How long the close handshake (and a send stuck behind a client that does not read) may take.</summary>
    public TimeSpan CloseTimeout { get; init; } = TimeSpan.FromSeconds(2);
}

/// <summary>
/// The machinery every MissionHub socket shares, so each protocol is only its frames: a receive loop that reads one
/// frame at a time under a size limit; a liveness deadline that runs only while the server waits for the client; one
/// outbound queue, bounded in bytes over every frame, drained by one writer so nothing ever waits on a client; and the
/// close handshake with its timeout.
/// </summary>
internal sealed class SocketShell : IDisposable
{
    private readonly WebSocket _socket;
    private readonly SocketShellOptions _options;
    private readonly TimeProvider _time;
    private readonly Channel<OutFrame> _outbound = Channel.CreateUnbounded<OutFrame>(new UnboundedChannelOptions { SingleReader = true });
    private readonly CancellationTokenSource _receiveStop = new();
    private readonly Lock _closing = new();
    private TaskCompletionSource _drained = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private long _queuedBytes;
    private int _queuedFrames;
    private int _liveness; // 0 idle, 1 waiting for the client, 2 expired
    private SocketEndKind? _endKind;
    private string? _closeReason;
    private WebSocketCloseStatus _closeStatus = WebSocketCloseStatus.NormalClosure;
    private bool _discardQueued;

    public SocketShell(WebSocket socket, SocketShellOptions options, TimeProvider time)
    {
        _socket = socket;
        _options = options;
        _time = time;
    }

    /// <summary>Bytes waiting in the outbound queue (or being written).</summary>
    public long QueuedBytes => Interlocked.Read(ref _queuedBytes);

    public long MaxQueuedBytes => _options.MaxQueuedBytes;

    /// <summary>Set once a frame would have taken the queue past its bound (the socket is closing with 1008).</summary>
    public bool Overflowed
    {
        get
        {
            lock (_closing)
            {
                return _endKind == SocketEndKind.SendQueueFull;
            }
        }
    }

    /// <summary>Set once the server decided to close: frames from the client are no longer handed to the protocol.</summary>
    public bool Closing => Volatile.Read(ref _closeReason) is not null;

    /// <summary>When set, consecutive queued event frames are written as one frame it builds (the monitor's <c>event_batch</c>).</summary>
    public EventBatching? EventBatching
    {
        get => Volatile.Read(ref _eventBatching);
        set => Volatile.Write(ref _eventBatching, value);
    }

    private EventBatching? _eventBatching;

    /// <summary>Queues a frame. If it would take the queue past its bound, the socket is closed with 1008 instead; false then.</summary>
    public bool TrySend(byte[] frame) => Enqueue(new OutFrame(frame, OutKind.Control));

    /// <summary>
    /// Queues an event frame if the queue stays within <paramref name="shedAtBytes"/>; false (and nothing closed) when it
    /// would not, so the protocol can count the event as missed.
    /// </summary>
    public bool TryQueueEvent(byte[] frame, long shedAtBytes)
    {
        if (Interlocked.Read(ref _queuedBytes) + frame.Length > Math.Min(shedAtBytes, _options.MaxQueuedBytes))
        {
            return false;
        }
        return Enqueue(new OutFrame(frame, OutKind.Event));
    }

    /// <summary>Queues a replayed event (never batched); past the bound it closes as <see cref="TrySend"/> does.</summary>
    public bool TrySendReplay(byte[] frame) => Enqueue(new OutFrame(frame, OutKind.Replay));

    /// <summary>Waits until at most <paramref name="bytes"/> are queued (a replay paces itself to the client this way).</summary>
    public async Task WaitUntilQueuedAtMostAsync(long bytes, CancellationToken cancellationToken)
    {
        while (Interlocked.Read(ref _queuedBytes) > bytes)
        {
            var signal = Volatile.Read(ref _drained).Task;
            if (Interlocked.Read(ref _queuedBytes) <= bytes)
            {
                return;
            }
            await signal.WaitAsync(cancellationToken);
        }
    }

    /// <summary>
    /// Closes after the frames queued before (so the client learns why, e.g. <c>replaced</c>): the close frame carries
    /// <paramref name="reason"/>, and the client gets the close timeout to answer it. The first reason wins.
    /// </summary>
    public void Close(string reason, WebSocketCloseStatus status = WebSocketCloseStatus.NormalClosure) =>
        BeginClose(SocketEndKind.ServerClosed, reason, status, discardQueued: false);

    /// <summary>Reads and handles frames until the connection ends, then closes it; returns how it ended.</summary>
    public async Task<SocketEnd> RunAsync(ISocketProtocol protocol, CancellationToken requestAborted)
    {
        var sending = SendLoopAsync();
        var end = await ReceiveLoopAsync(protocol, requestAborted);
        await protocol.EndedAsync(end);
        _outbound.Writer.TryComplete();
        if (end.Kind is SocketEndKind.Aborted or SocketEndKind.Lost or SocketEndKind.LivenessExpired)
        {
            _socket.Abort(); // nobody to say goodbye to; a send stuck on the client must not hold the request
        }
        else
        {
            // A close already sent by the writer is not sent again; a stuck send makes this time out and abort.
            await CloseOutputAsync(end.Reason ?? "bye");
            await DrainUntilPeerClosesAsync();
        }
        // The writer ends once the queue is drained; a client that does not read gets the close timeout, then the abort.
        if (await Task.WhenAny(sending, Task.Delay(_options.CloseTimeout, _time, CancellationToken.None)) != sending)
        {
            _socket.Abort();
        }
        await sending;
        if (_socket.State is not (WebSocketState.Closed or WebSocketState.Aborted))
        {
            _socket.Abort();
        }
        return end;
    }

    private bool Enqueue(OutFrame frame)
    {
        if (Closing)
        {
            return false;
        }
        var bytes = Interlocked.Add(ref _queuedBytes, frame.Bytes.Length);
        var frames = Interlocked.Increment(ref _queuedFrames);
        if (bytes > _options.MaxQueuedBytes || frames > _options.MaxQueuedFrames)
        {
            Released(frame.Bytes.Length);
            BeginClose(SocketEndKind.SendQueueFull,
                string.Create(CultureInfo.InvariantCulture, $"send queue over {_options.MaxQueuedBytes} bytes"),
                WebSocketCloseStatus.PolicyViolation, discardQueued: true);
            return false;
        }
        if (!_outbound.Writer.TryWrite(frame))
        {
            Released(frame.Bytes.Length);
            return false;
        }
        return true;
    }

    private void BeginClose(SocketEndKind kind, string reason, WebSocketCloseStatus status, bool discardQueued)
    {
        lock (_closing)
        {
            if (_closeReason is not null)
            {
                return;
            }
            _endKind = kind;
            _closeStatus = status;
            _discardQueued = discardQueued;
            Volatile.Write(ref _closeReason, reason);
        }
        _outbound.Writer.TryWrite(new OutFrame([], OutKind.Close));
        if (discardQueued)
        {
            // The client is not reading: give the write in progress the close timeout, then stop listening.
            StopReceivingAfter(_options.CloseTimeout);
        }
    }

    private void StopReceivingAfter(TimeSpan delay)
    {
        try
        {
            _receiveStop.CancelAfter(delay);
        }
        catch (ObjectDisposedException)
        {
            // Already ended.
        }
    }

    private async Task<SocketEnd> ReceiveLoopAsync(ISocketProtocol protocol, CancellationToken requestAborted)
    {
        using var reader = new WebSocketFrameReader(_socket, _options.MaxFrameBytes, _options.SkipOversized);
        using var receive = CancellationTokenSource.CreateLinkedTokenSource(requestAborted, _receiveStop.Token);
        using var deadline = _time.CreateTimer(_ => Expire(receive), null, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        try
        {
            while (true)
            {
                // The deadline runs only while the server waits for the client, never while it handles a frame.
                Volatile.Write(ref _liveness, 1);
                deadline.Change(_options.LivenessTimeout, Timeout.InfiniteTimeSpan);
                var kind = await reader.ReadAsync(receive.Token);
                deadline.Change(Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
                if (Interlocked.Exchange(ref _liveness, 0) == 2)
                {
                    return EndedByServer() ?? new SocketEnd(SocketEndKind.LivenessExpired);
                }
                if (kind == FrameKind.Close)
                {
                    return EndedByServer() ?? new SocketEnd(SocketEndKind.PeerClosed);
                }
                if (Closing)
                {
                    continue; // only the client's answer to our close matters now
                }
                switch (kind)
                {
                    case FrameKind.TooLarge when _options.SkipOversized:
                        protocol.SendError("frame_too_large", FrameLimit());
                        break;
                    case FrameKind.TooLarge:
                        BeginClose(SocketEndKind.FrameTooLarge, FrameLimit(), WebSocketCloseStatus.MessageTooBig, discardQueued: true);
                        return EndedByServer()!.Value;
                    case FrameKind.Binary:
                        protocol.SendError("unsupported_frame", "frames must be JSON text, not binary");
                        break;
                    default:
                        try
                        {
                            await protocol.HandleAsync(reader.Frame, receive.Token);
                        }
                        catch (Exception ex) when (StorageStatus.IsUnavailable(ex))
                        {
                            // The frame may or may not have reached storage. A close naming the cause (not an abort)
                            // tells the client why; it reconnects, and storage settles what the frame left undone.
                            protocol.SendError("storage_unavailable", "storage did not take this frame; reconnect and send it again");
                            BeginClose(SocketEndKind.ServerClosed, "storage_unavailable", WebSocketCloseStatus.InternalServerError, discardQueued: false);
                            return EndedByServer()!.Value;
                        }
                        break;
                }
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or WebSocketException or IOException or ObjectDisposedException)
        {
            // Checked in this order: cancelling a receive aborts the socket, which can also signal requestAborted.
            if (EndedByServer() is { } closed)
            {
                return closed;
            }
            if (Volatile.Read(ref _liveness) == 2)
            {
                return new SocketEnd(SocketEndKind.LivenessExpired);
            }
            return requestAborted.IsCancellationRequested ? new SocketEnd(SocketEndKind.Aborted) : new SocketEnd(SocketEndKind.Lost);
        }
    }

    private string FrameLimit() => string.Create(CultureInfo.InvariantCulture, $"frames are limited to {_options.MaxFrameBytes} bytes");

    private SocketEnd? EndedByServer()
    {
        lock (_closing)
        {
            return _closeReason is { } reason ? new SocketEnd(_endKind!.Value, reason) : null;
        }
    }

    private void Expire(CancellationTokenSource receive)
    {
        if (Interlocked.CompareExchange(ref _liveness, 2, 1) != 1)
        {
            return; // the frame arrived first, or the server is handling one
        }
        try
        {
            receive.Cancel();
        }
        catch (ObjectDisposedException)
        {
            // The loop ended meanwhile.
        }
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
                    if (frame.Kind == OutKind.Close)
                    {
                        await CloseOutputAsync(Volatile.Read(ref _closeReason)!);
                        // The client's answering close ends the reader; stopping it sooner would abort the socket and could
                        // drop the close frame (and its reason) on the way out.
                        StopReceivingAfter(_options.CloseTimeout);
                        continue;
                    }
                    if (_socket.State != WebSocketState.Open || (Closing && Volatile.Read(ref _discardQueued)))
                    {
                        Released(frame.Bytes.Length);
                        continue;
                    }
                    if (frame.Kind == OutKind.Event && EventBatching is { } batching)
                    {
                        batch.Add(frame.Bytes);
                        await GatherEventsAsync(reader, batch, batching);
                        var bytes = batch.Sum(b => b.Length);
                        await _socket.SendAsync(batching.Build(batch), WebSocketMessageType.Text, endOfMessage: true, CancellationToken.None);
                        Released(bytes, batch.Count);
                        batch.Clear();
                        continue;
                    }
                    await _socket.SendAsync(frame.Bytes, WebSocketMessageType.Text, endOfMessage: true, CancellationToken.None);
                    Released(frame.Bytes.Length);
                }
            }
        }
        catch (Exception ex) when (ex is WebSocketException or OperationCanceledException or ObjectDisposedException or IOException)
        {
            // The socket broke under the write: the reader notices as soon as it is stopped.
            StopReceivingAfter(TimeSpan.Zero);
        }
    }

    /// <summary>
    /// Adds the event frames that follow to <paramref name="batch"/>, up to the batch's size: those already queued, then
    /// those that arrive within its delay of the first. Stops at the first frame that is not an event.
    /// </summary>
    private async ValueTask GatherEventsAsync(ChannelReader<OutFrame> reader, List<byte[]> batch, EventBatching batching)
    {
        var started = _time.GetTimestamp();
        while (batch.Count < batching.MaxEvents)
        {
            if (reader.TryPeek(out var next))
            {
                if (next.Kind != OutKind.Event || !reader.TryRead(out next))
                {
                    return;
                }
                batch.Add(next.Bytes);
                continue;
            }
            var left = batching.MaxDelay - _time.GetElapsedTime(started);
            if (left <= TimeSpan.Zero)
            {
                return;
            }
            using var wait = new CancellationTokenSource(left, _time);
            try
            {
                if (!await reader.WaitToReadAsync(wait.Token))
                {
                    return;
                }
            }
            catch (OperationCanceledException) when (wait.IsCancellationRequested)
            {
                return;
            }
        }
    }

    /// <summary>
    /// The rest of the close handshake once our close is out: what the client still sends (the rest of an oversized frame,
    /// frames it sent before it saw our close) is read and dropped until its close arrives, within the close timeout.
    /// Closing with bytes unread would make TCP send a reset, which can destroy our close frame before the client reads it.
    /// </summary>
    private async Task DrainUntilPeerClosesAsync()
    {
        if (_socket.State != WebSocketState.CloseSent)
        {
            return;
        }
        var buffer = System.Buffers.ArrayPool<byte>.Shared.Rent(4096);
        try
        {
            using var timeout = new CancellationTokenSource(_options.CloseTimeout, _time);
            while (_socket.State == WebSocketState.CloseSent
                && (await _socket.ReceiveAsync(buffer.AsMemory(), timeout.Token)).MessageType != WebSocketMessageType.Close)
            {
            }
        }
        catch (Exception ex) when (ex is WebSocketException or OperationCanceledException or IOException or ObjectDisposedException or InvalidOperationException)
        {
            // The client went away or did not answer in time: the abort below ends it.
        }
        finally
        {
            System.Buffers.ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>Sends the close frame once, within the close timeout; a timeout aborts the socket (and any stuck send).</summary>
    private async Task CloseOutputAsync(string reason)
    {
        if (_socket.State is not (WebSocketState.Open or WebSocketState.CloseReceived))
        {
            return;
        }
        WebSocketCloseStatus status;
        lock (_closing)
        {
            status = _closeStatus;
        }
        try
        {
            using var timeout = new CancellationTokenSource(_options.CloseTimeout, _time);
            await _socket.CloseOutputAsync(status, reason, timeout.Token);
        }
        catch (Exception ex) when (ex is WebSocketException or OperationCanceledException or IOException or ObjectDisposedException or InvalidOperationException)
        {
            // The client is gone or not reading (the socket is aborted), or the other side of the shell closed it first.
        }
    }

    private void Released(long bytes, int frames = 1)
    {
        Interlocked.Add(ref _queuedBytes, -bytes);
        Interlocked.Add(ref _queuedFrames, -frames);
        Interlocked.Exchange(ref _drained, new(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();
    }

    public void Dispose() => _receiveStop.Dispose();

    private enum OutKind
    {
        Control,
        Event,
        Replay,
        Close,
    }

    private readonly record struct OutFrame(byte[] Bytes, OutKind Kind);
}
