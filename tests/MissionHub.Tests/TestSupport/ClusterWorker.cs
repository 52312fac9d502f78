using System.Collections.Concurrent;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;

namespace MissionHub.Tests.TestSupport;

/// <summary>
/// A worker of a <see cref="ServerCluster"/> that behaves as a real one should across a process crash: it heartbeats,
/// works on each job for a few milliseconds (reporting progress on some, so both <c>assigned</c> and
/// <c>running</c> jobs are in flight), and when its socket dies it reconnects to the next live process under the
/// same <c>worker_id</c>, listing the jobs it is still working on as <c>held_jobs</c>, and finishes them there.
/// A completion that may not have arrived (sent just before the process died) is not retried: the hub either
/// re-sends the job or requeues it (DESIGN §6), and this worker simply does what it is handed. So a job is listed
/// as held exactly while no completion of it has gone out: sending a completion and forgetting the job is one step
/// against taking the list, or a completion lost with a dying socket could be listed as still being worked on.
/// </summary>
public sealed class ClusterWorker : IAsyncDisposable
{
    private readonly Func<int, Uri> _address;
    private readonly string? _apiKey;
    private readonly string[] _jobTypes;
    private readonly int _slots;
    private readonly int _maxWorkMs;
    private readonly CancellationTokenSource _stop = new();
    private readonly ConcurrentDictionary<string, byte> _held = new();
    private readonly SemaphoreSlim _heldLock = new(1, 1);
    private readonly Task _run;
    private int _home;
    private Connection? _current;
    private TaskCompletionSource<Connection> _connected = NewGate();
    private long _completionsSent;
    private long _notHeld;
    private long _reconnects;
    private long _assignments;

    public ClusterWorker(ServerCluster cluster, string workerId, int homeIndex, string[] jobTypes, int slots = 4, int maxWorkMs = 5)
        : this(cluster.LiveAddress, workerId, homeIndex, jobTypes, slots, maxWorkMs)
    {
    }

    /// <summary>
    /// A worker of whatever server <paramref name="address"/> names (it throws <see cref="InvalidOperationException"/>
    /// while none runs), sending <paramref name="apiKey"/> as <c>X-Api-Key</c> when given.
    /// </summary>
    public ClusterWorker(Func<int, Uri> address, string workerId, int homeIndex, string[] jobTypes, int slots = 4, int maxWorkMs = 5, string? apiKey = null)
    {
        _address = address;
        _apiKey = apiKey;
        WorkerId = workerId;
        _home = homeIndex;
        _jobTypes = jobTypes;
        _slots = slots;
        _maxWorkMs = maxWorkMs;
        _run = Task.Run(RunAsync);
    }

    public string WorkerId { get; }

    public long CompletionsSent => Interlocked.Read(ref _completionsSent);

    /// <summary><c>job_not_held</c> answers: a completion for a job the hub had already taken back.</summary>
    public long NotHeldErrors => Interlocked.Read(ref _notHeld);

    public long Reconnects => Interlocked.Read(ref _reconnects);

    public long Assignments => Interlocked.Read(ref _assignments);

    public int Holding => _held.Count;

    /// <summary>Registered on some process now (not between a lost socket and the next <c>registered</c>).</summary>
    public bool IsRegistered => Volatile.Read(ref _connected).Task.IsCompleted;

    /// <summary>The process this worker is registered on, if it is.</summary>
    public Uri? ConnectedTo => Volatile.Read(ref _current)?.Server;

    /// <summary>Waits until the worker is registered (on whichever process).</summary>
    public Task WaitUntilRegisteredAsync(TimeSpan timeout) => Volatile.Read(ref _connected).Task.WaitAsync(timeout);

    private static TaskCompletionSource<Connection> NewGate() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    private async Task RunAsync()
    {
        var heartbeat = Task.Run(HeartbeatAsync);
        while (!_stop.IsCancellationRequested)
        {
            Uri address;
            try
            {
                address = _address(_home);
            }
            catch (InvalidOperationException)
            {
                await BackoffAsync();
                continue;
            }
            var socket = new ClientWebSocket();
            if (_apiKey is not null)
            {
                socket.Options.SetRequestHeader("X-Api-Key", _apiKey);
            }
            var connection = new Connection(socket, address);
            try
            {
                using (var connectTimeout = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token))
                {
                    connectTimeout.CancelAfter(TimeSpan.FromSeconds(5));
                    await socket.ConnectAsync(new Uri(address, "/ws/worker").ToWs(), connectTimeout.Token);
                }
                string[] held;
                await _heldLock.WaitAsync(_stop.Token);
                try
                {
                    held = _held.Keys.ToArray();
                }
                finally
                {
                    _heldLock.Release();
                }
                var capabilities = new { job_types = _jobTypes, max_concurrent_jobs = _slots };
                object register = held.Length == 0
                    ? new { type = "worker_register", worker_id = WorkerId, capabilities }
                    : new { type = "worker_register", worker_id = WorkerId, capabilities, held_jobs = held };
                await connection.SendAsync(JsonSerializer.Serialize(register));
                await ReceiveAsync(connection);
            }
            catch (Exception ex) when (ex is WebSocketException or OperationCanceledException or IOException or HttpRequestException)
            {
            }
            finally
            {
                Interlocked.CompareExchange(ref _current, null, connection);
                if (Volatile.Read(ref _connected).Task.IsCompleted)
                {
                    Volatile.Write(ref _connected, NewGate());
                }
                socket.Abort();
                socket.Dispose();
            }
            if (!_stop.IsCancellationRequested)
            {
                Interlocked.Increment(ref _reconnects);
                _home++;
                await BackoffAsync();
            }
        }
        await heartbeat;
    }

    private async Task BackoffAsync()
    {
        // A retry pause between connection attempts (a refused connect returns at once), not a wait for a condition.
        try
        {
            await Task.Delay(50, _stop.Token);
        }
        catch (OperationCanceledException)
        {
        }
    }

    private async Task ReceiveAsync(Connection connection)
    {
        var buffer = new byte[256 * 1024];
        while (!_stop.IsCancellationRequested)
        {
            var count = 0;
            ValueWebSocketReceiveResult result;
            do
            {
                result = await connection.Socket.ReceiveAsync(buffer.AsMemory(count), _stop.Token);
                count += result.Count;
            }
            while (!result.EndOfMessage);
            if (result.MessageType == WebSocketMessageType.Close)
            {
                return;
            }
            using var frame = JsonDocument.Parse(buffer.AsMemory(0, count));
            var root = frame.RootElement;
            switch (root.GetProperty("type").GetString())
            {
                case "registered":
                    Volatile.Write(ref _current, connection);
                    Volatile.Read(ref _connected).TrySetResult(connection);
                    break;
                case "job_assigned":
                    Interlocked.Increment(ref _assignments);
                    var jobId = root.GetProperty("job").GetProperty("id").GetString()!;
                    if (_held.TryAdd(jobId, 0))
                    {
                        _ = Task.Run(() => WorkAsync(jobId));
                    }
                    break;
                case "job_cancelled":
                    _held.TryRemove(root.GetProperty("job_id").GetString()!, out _);
                    break;
                case "error" when root.TryGetProperty("code", out var code) && code.GetString() == "job_not_held":
                    Interlocked.Increment(ref _notHeld);
                    break;
            }
        }
    }

    private async Task WorkAsync(string jobId)
    {
        try
        {
            var reportsProgress = (jobId.GetHashCode(StringComparison.Ordinal) & 1) == 0;
            if (reportsProgress && Volatile.Read(ref _current) is { } connection)
            {
                await TrySendAsync(connection, $"{{\"type\":\"job_progress\",\"job_id\":\"{jobId}\",\"progress\":0.5}}");
            }
            if (_maxWorkMs > 0)
            {
                await Task.Delay(Random.Shared.Next(0, _maxWorkMs + 1), _stop.Token);
            }
            while (_held.ContainsKey(jobId))
            {
                var target = await Volatile.Read(ref _connected).Task.WaitAsync(_stop.Token);
                await _heldLock.WaitAsync(_stop.Token);
                try
                {
                    if (await TrySendAsync(target, $"{{\"type\":\"job_completed\",\"job_id\":\"{jobId}\",\"result\":{{\"by\":\"{WorkerId}\"}}}}"))
                    {
                        _held.TryRemove(jobId, out _);
                        Interlocked.Increment(ref _completionsSent);
                        return;
                    }
                }
                finally
                {
                    _heldLock.Release();
                }
                // That socket died under the send: finish the job on the next connection.
                await Task.Yield();
                if (ReferenceEquals(Volatile.Read(ref _current), target))
                {
                    await BackoffAsync();
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    private async Task HeartbeatAsync()
    {
        using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(500));
        try
        {
            while (await timer.WaitForNextTickAsync(_stop.Token))
            {
                if (Volatile.Read(ref _current) is { } connection)
                {
                    await TrySendAsync(connection, "{\"type\":\"heartbeat\"}");
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    private static async Task<bool> TrySendAsync(Connection connection, string text)
    {
        try
        {
            await connection.SendAsync(text);
            return true;
        }
        catch (Exception ex) when (ex is WebSocketException or ObjectDisposedException or InvalidOperationException or IOException)
        {
            return false;
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        Volatile.Read(ref _current)?.Socket.Abort();
        await _run;
        _stop.Dispose();
    }

    private sealed class Connection(ClientWebSocket socket, Uri server)
    {
        private readonly SemaphoreSlim _sendLock = new(1, 1);

        public ClientWebSocket Socket { get; } = socket;

        public Uri Server { get; } = server;

        public async Task SendAsync(string text)
        {
            await _sendLock.WaitAsync();
            try
            {
                using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
                await Socket.SendAsync(Encoding.UTF8.GetBytes(text), WebSocketMessageType.Text, true, timeout.Token);
            }
            finally
            {
                _sendLock.Release();
            }
        }
    }
}
