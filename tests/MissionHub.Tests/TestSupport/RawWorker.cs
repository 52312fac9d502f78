using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using System.Threading.Channels;
using Microsoft.AspNetCore.Mvc.Testing;

namespace MissionHub.Tests.TestSupport;

/// <summary>
/// A worker speaking the raw <c>/ws/worker</c> protocol over a real WebSocket to the test host, for tests
/// that need to send exact (or wrong) frames and see exactly what comes back.
/// </summary>
public sealed class RawWorker : IAsyncDisposable
{
    private readonly WebSocket _socket;
    private readonly Channel<JsonElement> _frames = Channel.CreateUnbounded<JsonElement>();
    private readonly Task _pump;
    private readonly SemaphoreSlim _sendLock = new(1, 1);
    private TaskCompletionSource _reading = CompletedGate();
    private CancellationTokenSource? _heartbeats;

    private RawWorker(WebSocket socket)
    {
        _socket = socket;
        _pump = Task.Run(PumpAsync);
    }

    /// <summary>Stops reading the socket (after the frame in progress), so the server's sends back up as a stalled client's would.</summary>
    public void PauseReading() => Volatile.Write(ref _reading, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));

    public void ResumeReading() => Volatile.Read(ref _reading).TrySetResult();

    private static TaskCompletionSource CompletedGate()
    {
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        gate.SetResult();
        return gate;
    }

    /// <summary>How the hub closed the socket, once it has.</summary>
    public WebSocketCloseStatus? CloseStatus { get; private set; }

    /// <summary>The close description (reason) the hub gave, once it has closed the socket.</summary>
    public string? CloseDescription { get; private set; }

    // One reader drains the socket into a queue, so tests can wait with timeouts without cancelling a
    // receive (which would abort a ClientWebSocket).
    private async Task PumpAsync()
    {
        var buffer = new byte[4 * 1024 * 1024];
        try
        {
            while (true)
            {
                var count = 0;
                WebSocketReceiveResult result;
                await Volatile.Read(ref _reading).Task;
                do
                {
                    result = await _socket.ReceiveAsync(new ArraySegment<byte>(buffer, count, buffer.Length - count), CancellationToken.None);
                    count += result.Count;
                }
                while (!result.EndOfMessage);
                if (result.MessageType == WebSocketMessageType.Close)
                {
                    CloseStatus = result.CloseStatus;
                    CloseDescription = result.CloseStatusDescription;
                    break;
                }
                _frames.Writer.TryWrite(JsonDocument.Parse(buffer.AsMemory(0, count)).RootElement.Clone());
            }
        }
        catch (Exception ex) when (ex is WebSocketException or ObjectDisposedException or OperationCanceledException)
        {
        }
        _frames.Writer.TryComplete();
    }

    public WebSocket Socket => _socket;

    /// <summary>Connects to <paramref name="path"/> (the worker socket by default; monitors use this class too).</summary>
    public static async Task<RawWorker> ConnectAsync<T>(WebApplicationFactory<T> factory, string path = "/ws/worker") where T : class
    {
        var baseAddress = factory is MissionHubFactory hub ? hub.BaseAddress : factory.Server.BaseAddress;
        var socket = new ClientWebSocket();
        await socket.ConnectAsync(new Uri(baseAddress, path).ToWs(), CancellationToken.None);
        return new RawWorker(socket);
    }

    /// <summary>Connects to <paramref name="path"/> of a server that is not a test host (a <see cref="ServerProcess"/>).</summary>
    public static async Task<RawWorker> ConnectAsync(Uri baseAddress, string path = "/ws/worker")
    {
        var socket = new ClientWebSocket();
        using var cancel = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        await socket.ConnectAsync(new Uri(baseAddress, path).ToWs(), cancel.Token);
        return new RawWorker(socket);
    }

    /// <summary>
    /// Connects to a server process and registers, listing <paramref name="heldJobs"/> when given (DESIGN §6:
    /// jobs this worker still works on after a reconnect); returns once <c>registered</c> arrives.
    /// </summary>
    public static async Task<RawWorker> RegisterAsync(
        Uri baseAddress, string workerId, string[] jobTypes, int slots = 1, IReadOnlyCollection<string>? heldJobs = null)
    {
        var worker = await ConnectAsync(baseAddress);
        var capabilities = new { job_types = jobTypes, max_concurrent_jobs = slots };
        await worker.SendAsync(heldJobs is null
            ? new { type = "worker_register", worker_id = workerId, capabilities }
            : new { type = "worker_register", worker_id = workerId, capabilities, held_jobs = heldJobs });
        var registered = await worker.ReceiveTypeAsync("registered");
        Assert.Equal(workerId, registered.GetProperty("worker_id").GetString());
        return worker;
    }

    /// <summary>Sends <c>heartbeat</c> every <paramref name="interval"/> until <see cref="StopHeartbeats"/> or disposal.</summary>
    public void StartHeartbeats(TimeSpan interval)
    {
        StopHeartbeats();
        var stop = new CancellationTokenSource();
        _heartbeats = stop;
        _ = Task.Run(async () =>
        {
            using var timer = new PeriodicTimer(interval);
            try
            {
                while (await timer.WaitForNextTickAsync(stop.Token))
                {
                    await SendAsync(new { type = "heartbeat" });
                }
            }
            catch (Exception ex) when (ex is OperationCanceledException or WebSocketException or ObjectDisposedException or InvalidOperationException)
            {
            }
        });
    }

    /// <summary>Stops the heartbeats: from now on this worker sends nothing unless told to (a hung worker).</summary>
    public void StopHeartbeats()
    {
        _heartbeats?.Cancel();
        _heartbeats?.Dispose();
        _heartbeats = null;
    }

    /// <summary>Connects and registers; returns once <c>registered</c> arrives.</summary>
    public static async Task<RawWorker> RegisterAsync<T>(WebApplicationFactory<T> factory, string workerId, string[] jobTypes, int slots = 1)
        where T : class
    {
        var worker = await ConnectAsync(factory);
        await worker.SendAsync(new { type = "worker_register", worker_id = workerId, capabilities = new { job_types = jobTypes, max_concurrent_jobs = slots } });
        var registered = await worker.ReceiveAsync();
        Assert.Equal("registered", registered.GetProperty("type").GetString());
        Assert.Equal(workerId, registered.GetProperty("worker_id").GetString());
        return worker;
    }

    public Task SendAsync(object message) => SendTextAsync(JsonSerializer.Serialize(message));

    public async Task SendBinaryAsync(byte[] bytes) =>
        await _socket.SendAsync(bytes, WebSocketMessageType.Binary, true, CancellationToken.None);

    /// <summary>The next frame, which must be an <c>error</c>; returns its code.</summary>
    public async Task<string> ReceiveErrorCodeAsync(string because, TimeSpan? timeout = null)
    {
        var frame = await ReceiveAsync(timeout);
        Assert.True(frame.GetProperty("type").GetString() == "error", $"expected an error frame for {because}, got {frame}");
        Assert.False(string.IsNullOrWhiteSpace(frame.GetProperty("message").GetString()), $"the error for {because} must say what is wrong");
        return frame.GetProperty("code").GetString()!;
    }

    public async Task SendTextAsync(string text)
    {
        // One send at a time: heartbeats run beside the test's own frames.
        await _sendLock.WaitAsync();
        try
        {
            await _socket.SendAsync(Encoding.UTF8.GetBytes(text), WebSocketMessageType.Text, true, CancellationToken.None);
        }
        finally
        {
            _sendLock.Release();
        }
    }

    /// <summary>The next frame as JSON; fails the test after <paramref name="timeout"/> (default 10 s).</summary>
    public async Task<JsonElement> ReceiveAsync(TimeSpan? timeout = null)
    {
        using var cancel = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(10));
        try
        {
            return await _frames.Reader.ReadAsync(cancel.Token);
        }
        catch (ChannelClosedException)
        {
            throw new InvalidOperationException($"the hub closed the socket ({CloseStatus?.ToString() ?? "no close frame"})");
        }
    }

    /// <summary>Waits until the hub has closed the socket; returns its close status.</summary>
    public async Task<WebSocketCloseStatus?> WaitForCloseAsync(TimeSpan? timeout = null)
    {
        await _pump.WaitAsync(timeout ?? TimeSpan.FromSeconds(10));
        return CloseStatus;
    }

    /// <summary>The next frame of the given type, skipping others (e.g. cancellations when waiting for an assignment).</summary>
    public async Task<JsonElement> ReceiveTypeAsync(string type, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(10));
        while (true)
        {
            var left = deadline - DateTime.UtcNow;
            var frame = await ReceiveAsync(left > TimeSpan.Zero ? left : TimeSpan.Zero);
            if (frame.GetProperty("type").GetString() == type)
            {
                return frame;
            }
        }
    }

    /// <summary>Receives the next <c>job_assigned</c> and returns its job.</summary>
    public async Task<JsonElement> ReceiveJobAsync(TimeSpan? timeout = null) =>
        (await ReceiveTypeAsync("job_assigned", timeout)).GetProperty("job");

    /// <summary>Like <see cref="ReceiveJobAsync"/>, but a timeout fails with a message saying what was expected.</summary>
    public async Task<JsonElement> ExpectJobAsync(TimeSpan timeout, string what)
    {
        try
        {
            return await ReceiveJobAsync(timeout);
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException($"no job_assigned within {timeout.TotalSeconds:0.#} s: expected {what}");
        }
    }

    /// <summary>Asserts nothing arrives within <paramref name="quiet"/>.</summary>
    public async Task AssertNothingReceivedAsync(TimeSpan quiet)
    {
        using var cancel = new CancellationTokenSource(quiet);
        try
        {
            var frame = await _frames.Reader.ReadAsync(cancel.Token);
            Assert.Fail($"expected no frame but got: {frame}");
        }
        catch (OperationCanceledException)
        {
        }
    }

    public Task CompleteAsync(string jobId, object? result = null) => SendAsync(new { type = "job_completed", job_id = jobId, result });

    public Task FailAsync(string jobId, string error) => SendAsync(new { type = "job_failed", job_id = jobId, error });

    public Task ProgressAsync(string jobId, double progress) => SendAsync(new { type = "job_progress", job_id = jobId, progress });

    /// <summary>Drops the connection without a close handshake, as a crashed worker would.</summary>
    public void Kill() => _socket.Abort();

    public async ValueTask DisposeAsync()
    {
        StopHeartbeats();
        if (_socket.State == WebSocketState.Open)
        {
            // Only the close is sent here: the pump stays the socket's one reader until the hub's close arrives. (CloseAsync
            // would read too, and two readers split a frame between them.)
            try
            {
                using var cancel = new CancellationTokenSource(TimeSpan.FromSeconds(2));
                await _socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "bye", cancel.Token);
                await _pump.WaitAsync(TimeSpan.FromSeconds(2));
            }
            catch (Exception ex) when (ex is WebSocketException or OperationCanceledException or TimeoutException or InvalidOperationException)
            {
            }
        }
        _socket.Dispose();
        await _pump;
        _sendLock.Dispose();
    }
}

internal static class SocketExtensions
{
    public static Uri ToWs(this Uri uri) => new UriBuilder(uri) { Scheme = uri.Scheme == "https" ? "wss" : "ws" }.Uri;

}
