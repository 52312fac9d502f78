using System.Diagnostics;
using System.Collections.Concurrent;
using System.Net.WebSockets;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using System.Threading.Channels;

namespace MissionHub.Client;

/// <summary>
/// A worker on the hub's <c>/ws/worker</c> protocol (DESIGN.md §4): registers, sends heartbeats, runs a handler per
/// assigned job (up to <see cref="WorkerClientOptions.MaxConcurrentJobs"/> at once) and reports the outcome, and
/// reconnects with backoff when the connection drops.
/// </summary>
/// <remarks>
/// Every frame after registration goes through one queue drained by one writer, so sends never overlap.
/// A handler still running when the connection drops keeps running; its outcome is sent once the worker is back
/// (the hub hands a restarted worker its jobs back; if the job went to someone else, the hub answers
/// <c>job_not_held</c>, which shows up in <see cref="ErrorReceived"/>).
/// </remarks>
[System.Diagnostics.CodeAnalysis.SuppressMessage("Reliability", "CA1001", Justification = "The SemaphoreSlim never creates its wait handle; nothing to release.")]
public sealed partial class WorkerClient
{
    private static readonly byte[] HeartbeatFrame =
        JsonSerializer.SerializeToUtf8Bytes(new HeartbeatMessage("heartbeat"), MissionHubClientJsonContext.Default.HeartbeatMessage);

    private readonly WorkerClientOptions _options;
    private readonly Channel<Outbound> _outbound;
    private readonly ConcurrentDictionary<string, RunningJob> _running = new(StringComparer.Ordinal);
    private readonly SemaphoreSlim _slots;
    private Outbound? _unsent;
    private int _started;
    private int _connection;
    private int _state = (int)WorkerState.NotStarted;
    private long _completed;
    private long _failed;
    private long _cancelled;
    private long _registrations;
    private long _errors;

    /// <summary>A worker with <paramref name="options"/>; it connects when <see cref="RunAsync"/> runs.</summary>
    public WorkerClient(WorkerClientOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        _options = options;
        _slots = new SemaphoreSlim(options.MaxConcurrentJobs, options.MaxConcurrentJobs);
        _outbound = Channel.CreateBounded<Outbound>(new BoundedChannelOptions(Math.Max(256, options.MaxConcurrentJobs * 16))
        {
            SingleReader = true,
            FullMode = BoundedChannelFullMode.Wait,
        });
    }

    /// <summary>Raised on every state change (from a background thread).</summary>
    public event EventHandler<WorkerStateChangedEventArgs>? StateChanged;

    /// <summary>Raised for each <c>error</c> frame the hub sends.</summary>
    public event EventHandler<WorkerErrorEventArgs>? ErrorReceived;

    /// <summary>Raised when a connection attempt fails or a connection drops, before the backoff wait.</summary>
    public event EventHandler<WorkerDisconnectedEventArgs>? Disconnected;

    /// <summary>The options the worker runs with.</summary>
    public WorkerClientOptions Options => _options;

    /// <summary>Where the worker is: connecting, registered, stopped, …</summary>
    public WorkerState State => (WorkerState)Volatile.Read(ref _state);

    /// <summary>Jobs whose handler returned and whose <c>job_completed</c> was queued.</summary>
    public long JobsCompleted => Interlocked.Read(ref _completed);

    /// <summary>Jobs whose handler threw and whose <c>job_failed</c> was queued.</summary>
    public long JobsFailed => Interlocked.Read(ref _failed);

    /// <summary>Jobs the hub cancelled (<c>job_cancelled</c>: a cancel request or a timeout) while the handler ran.</summary>
    public long JobsCancelled => Interlocked.Read(ref _cancelled);

    /// <summary>Handlers running now.</summary>
    public int JobsRunning => _running.Count;

    /// <summary>Successful registrations: 1 after the first connection, +1 per reconnect.</summary>
    public long Registrations => Interlocked.Read(ref _registrations);

    /// <summary><c>error</c> frames received.</summary>
    public long ErrorsReceived => Interlocked.Read(ref _errors);

    /// <summary>
    /// Connects, registers and runs <paramref name="handler"/> for each assigned job until
    /// <paramref name="cancellationToken"/> is cancelled, reconnecting whenever the connection drops. The handler's
    /// result becomes <c>job_completed</c>'s <c>result</c>; an exception becomes <c>job_failed</c> with its message.
    /// On cancellation, running handlers' tokens are cancelled, they get <see cref="WorkerClientOptions.ShutdownTimeout"/>
    /// to finish, queued outcomes are sent and the socket is closed with a close handshake; then this returns.
    /// Throws <see cref="WorkerRegistrationException"/> if the hub refuses the registration itself.
    /// A client runs once.
    /// </summary>
    public async Task RunAsync(Func<JobContext, CancellationToken, Task<JsonElement?>> handler, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(handler);
        if (Interlocked.Exchange(ref _started, 1) == 1)
        {
            throw new InvalidOperationException("a WorkerClient runs once; create a new one to run again");
        }
        var transport = new ReconnectingSocket(_options.WorkerSocketUri, _options.ApiKey, _options.ConfigureSocket,
            failures => _options.ReconnectDelay(failures, Random.Shared.NextDouble()));
        try
        {
            await transport.RunAsync(
                (connection, stop) =>
                {
                    SetState(WorkerState.Connecting);
                    return RunConnectionAsync(connection, handler, stop);
                },
                (attempt, delay) =>
                {
                    SetState(WorkerState.WaitingToReconnect);
                    Raise(Disconnected, new WorkerDisconnectedEventArgs(attempt.Reason, attempt.Exception, delay));
                },
                cancellationToken);
        }
        finally
        {
            // Stopped while disconnected (or refused): the hub requeues what we held; just let the handlers go.
            SetState(WorkerState.Stopping);
            _outbound.Writer.TryComplete();
            await WaitForHandlersAsync(cancel: true);
            SetState(WorkerState.Stopped);
        }
    }

    private async Task<Attempt> RunConnectionAsync(
        SocketConnection socket, Func<JobContext, CancellationToken, Task<JsonElement?>> handler, CancellationToken stopping)
    {
        try
        {
            using (var connecting = CancellationTokenSource.CreateLinkedTokenSource(stopping))
            {
                connecting.CancelAfter(_options.ConnectTimeout);
                await socket.ConnectAsync(connecting.Token);
                // The jobs whose handlers still run (a reconnect): the hub keeps them with this worker instead of requeueing them.
                var register = new WorkerRegisterMessage("worker_register", _options.WorkerId,
                    new WorkerCapabilitiesMessage(_options.JobTypes, _options.MaxConcurrentJobs), [.. _running.Keys]);
                // The writer is not running yet, so this is still the only sender.
                await socket.SendAsync(Serialize(register, MissionHubClientJsonContext.Default.WorkerRegisterMessage), connecting.Token);
                await WaitForRegisteredAsync(socket, connecting.Token);
            }
        }
        catch (WorkerRegistrationException)
        {
            await socket.CloseAsync("registration refused");
            throw;
        }
        catch (OperationCanceledException ex) when (!stopping.IsCancellationRequested)
        {
            return new Attempt(false, "timed out connecting or registering", ex);
        }
        catch (OperationCanceledException)
        {
            await socket.CloseAsync("worker stopping");
            return new Attempt(false, "stopping");
        }
        catch (Exception ex)
        {
            // Refused, reset, a proxy answering HTML, a garbled frame: all worth another attempt after the backoff.
            return new Attempt(false, $"could not connect: {ex.Message}", ex);
        }

        var connection = Interlocked.Increment(ref _connection);
        Interlocked.Increment(ref _registrations);
        SetState(WorkerState.Registered);

        using var writerStop = new CancellationTokenSource();
        var writing = WriteLoopAsync(socket, connection, writerStop.Token);
        var reading = ReadLoopAsync(socket, handler, stopping);
        var stopped = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using (stopping.Register(() => stopped.TrySetResult()))
        {
            await Task.WhenAny(reading, stopped.Task);
        }

        if (!reading.IsCompleted)
        {
            // Shutdown: let handlers finish (their tokens are cancelled), flush their outcomes, then close.
            SetState(WorkerState.Stopping);
            await WaitForHandlersAsync(cancel: true);
            _outbound.Writer.TryComplete();
            if (await Task.WhenAny(writing, Task.Delay(_options.ShutdownTimeout, CancellationToken.None)) != writing)
            {
                socket.Abort();
            }
            await socket.CloseAsync("worker stopping");
            if (await Task.WhenAny(reading, Task.Delay(_options.ShutdownTimeout, CancellationToken.None)) != reading)
            {
                socket.Abort();
            }
            await reading;
            await writerStop.CancelAsync();
            await writing;
            return new Attempt(true, "stopping");
        }

        var (reason, exception) = await reading;
        await writerStop.CancelAsync();
        await writing;
        if (socket.State == WebSocketState.CloseReceived)
        {
            await socket.CloseAsync("bye");
        }
        return new Attempt(true, reason, exception);
    }

    private async Task WaitForRegisteredAsync(SocketConnection socket, CancellationToken cancellationToken)
    {
        while (true)
        {
            var frame = await socket.ReceiveAsync(cancellationToken)
                ?? throw new WebSocketException(WebSocketError.ConnectionClosedPrematurely,
                    $"the hub closed the socket before registering ({socket.CloseDescription})");
            using var document = JsonDocument.Parse(frame);
            var message = document.RootElement;
            switch (TypeOf(message))
            {
                case "registered":
                    return;
                case "error":
                    var (code, text) = ErrorOf(message);
                    Interlocked.Increment(ref _errors);
                    Raise(ErrorReceived, new WorkerErrorEventArgs(code, text));
                    throw new WorkerRegistrationException(code, text);
            }
        }
    }

    private async Task<(string Reason, Exception? Exception)> ReadLoopAsync(
        SocketConnection socket, Func<JobContext, CancellationToken, Task<JsonElement?>> handler, CancellationToken stopping)
    {
        try
        {
            // Never cancelled by token: cancelling a receive aborts a ClientWebSocket. Shutdown closes the socket instead.
            while (await socket.ReceiveAsync(CancellationToken.None) is { } frame)
            {
                Dispatch(frame, handler, stopping);
            }
            return ($"the hub closed the connection ({socket.CloseDescription})", null);
        }
        catch (Exception ex) when (ex is WebSocketException or IOException or ObjectDisposedException or OperationCanceledException)
        {
            return ($"the connection was lost: {ex.Message}", ex);
        }
    }

    private void Dispatch(ReadOnlyMemory<byte> frame, Func<JobContext, CancellationToken, Task<JsonElement?>> handler, CancellationToken stopping)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(frame);
        }
        catch (JsonException ex)
        {
            Raise(ErrorReceived, new WorkerErrorEventArgs("client_malformed_frame", $"the hub sent a frame that is not JSON: {ex.Message}"));
            return;
        }
        using (document)
        {
            var message = document.RootElement;
            switch (TypeOf(message))
            {
                case "job_assigned" when message.TryGetProperty("job", out var jobElement):
                    var job = jobElement.Deserialize(MissionHubClientJsonContext.Default.AssignedJobMessage);
                    if (job is { Id.Length: > 0 })
                    {
                        StartJob(job with { Payload = job.Payload.Clone() }, handler, stopping);
                    }
                    return;
                case "job_cancelled" when message.TryGetProperty("job_id", out var idElement) && idElement.GetString() is { } jobId:
                    if (_running.TryGetValue(jobId, out var running))
                    {
                        running.CancelledByHub = true;
                        running.Context.Finish(); // the hub no longer holds it: further progress would only be refused
                        running.Cancel();
                    }
                    return;
                case "error":
                    var (code, text) = ErrorOf(message);
                    Interlocked.Increment(ref _errors);
                    Raise(ErrorReceived, new WorkerErrorEventArgs(code, text));
                    return;
                default:
                    return; // "registered" again, or a message type from a newer hub.
            }
        }
    }

    private async Task WriteLoopAsync(SocketConnection socket, int connection, CancellationToken stop)
    {
        var reader = _outbound.Reader;
        var nextHeartbeat = DateTime.UtcNow + _options.HeartbeatInterval;
        Outbound? sending = null;
        try
        {
            // An outcome whose send failed when the last connection dropped goes first.
            if (Interlocked.Exchange(ref _unsent, null) is { } carried)
            {
                sending = carried;
                await socket.SendAsync(carried.Frame, stop);
                sending = null;
            }
            while (true)
            {
                var wait = nextHeartbeat - DateTime.UtcNow;
                if (wait <= TimeSpan.Zero)
                {
                    await socket.SendAsync(HeartbeatFrame, stop);
                    nextHeartbeat = DateTime.UtcNow + _options.HeartbeatInterval;
                    continue;
                }
                bool more;
                using (var timer = CancellationTokenSource.CreateLinkedTokenSource(stop))
                {
                    timer.CancelAfter(wait);
                    try
                    {
                        more = await reader.WaitToReadAsync(timer.Token);
                    }
                    catch (OperationCanceledException) when (!stop.IsCancellationRequested)
                    {
                        continue; // time for a heartbeat
                    }
                }
                if (!more)
                {
                    return; // shutting down and drained
                }
                while (reader.TryRead(out var frame))
                {
                    if (frame.Connection != 0 && frame.Connection != connection)
                    {
                        continue; // progress from before a reconnect: stale, and the hub may not hold the job any more
                    }
                    sending = frame;
                    await socket.SendAsync(frame.Frame, stop);
                    sending = null;
                }
            }
        }
        catch (Exception ex) when (ex is WebSocketException or IOException or ObjectDisposedException or OperationCanceledException)
        {
            if (sending is { Connection: 0 })
            {
                Volatile.Write(ref _unsent, sending); // an outcome: keep it for the next connection
            }
            socket.Abort(); // wakes the reader if it has not noticed yet
        }
    }

    internal ValueTask SendProgressAsync(string jobId, double progress, CancellationToken cancellationToken)
    {
        if (State != WorkerState.Registered)
        {
            return ValueTask.CompletedTask; // nobody to tell; the next report after reconnecting will
        }
        var frame = Serialize(new JobProgressMessage("job_progress", jobId, progress), MissionHubClientJsonContext.Default.JobProgressMessage);
        return EnqueueAsync(new Outbound(frame, Volatile.Read(ref _connection)), cancellationToken);
    }

    private async ValueTask EnqueueAsync(Outbound frame, CancellationToken cancellationToken = default)
    {
        try
        {
            await _outbound.Writer.WriteAsync(frame, cancellationToken);
        }
        catch (ChannelClosedException)
        {
            // Stopped: the frame has nowhere to go.
        }
    }

    private void SetState(WorkerState state)
    {
        var old = (WorkerState)Interlocked.Exchange(ref _state, (int)state);
        if (old != state)
        {
            Raise(StateChanged, new WorkerStateChangedEventArgs(old, state));
        }
    }

    private void Raise<T>(EventHandler<T>? handler, T args)
    {
        try
        {
            handler?.Invoke(this, args);
        }
        catch (Exception)
        {
            // A subscriber's bug must not take the worker down.
        }
    }

    private static string? TypeOf(JsonElement message) =>
        message.ValueKind == JsonValueKind.Object && message.TryGetProperty("type", out var type) && type.ValueKind == JsonValueKind.String
            ? type.GetString()
            : null;

    private static (string Code, string Message) ErrorOf(JsonElement message) =>
        (message.TryGetProperty("code", out var code) && code.ValueKind == JsonValueKind.String ? code.GetString()! : "unknown",
         message.TryGetProperty("message", out var text) && text.ValueKind == JsonValueKind.String ? text.GetString()! : "");

    private static byte[] Serialize<T>(T message, JsonTypeInfo<T> type) => JsonSerializer.SerializeToUtf8Bytes(message, type);

    /// <summary>A queued frame. <see cref="Connection"/> 0 = an outcome, sent on whichever connection comes; otherwise progress for that connection only.</summary>
    private sealed record Outbound(byte[] Frame, int Connection);
}
