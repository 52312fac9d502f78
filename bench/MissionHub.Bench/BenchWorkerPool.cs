using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using HdrHistogram;

namespace MissionHub.Bench;

/// <summary>
/// No-op workers on raw WebSockets, spread over one or more hub processes: they complete every job at once, count
/// completions (per job id when tracking, to find a job completed twice) and record submit → job_assigned latency.
/// </summary>
internal sealed class BenchWorkerPool(HubServer[] servers, int count, int slots) : IAsyncDisposable
{
    /// <summary>The one job type the bench workers take and the bench submits.</summary>
    public static readonly string[] JobTypes = ["bench"];

    private readonly List<ClientWebSocket> _sockets = [];
    private readonly List<Task> _loops = [];
    private readonly CancellationTokenSource _stop = new();
    private readonly ConcurrentDictionary<string, int> _perJob = new(StringComparer.Ordinal);
    private volatile bool _track;
    private long _completed;
    private TaskCompletionSource _progress = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public LongHistogram? Latency { get; set; }

    public long Completed => Interlocked.Read(ref _completed);

    public void Reset(bool track)
    {
        _perJob.Clear();
        _track = track;
        Interlocked.Exchange(ref _completed, 0);
    }

    /// <summary>Distinct jobs completed, and how many of them were completed more than once.</summary>
    public (int Distinct, int Doubled) CheckOnce() => (_perJob.Count, _perJob.Count(p => p.Value > 1));

    public async Task StartAsync()
    {
        for (var i = 0; i < count; i++)
        {
            var socket = new ClientWebSocket();
            await socket.ConnectAsync(servers[i % servers.Length].WebSocketUri("/ws/worker"), CancellationToken.None);
            await SendAsync(socket, JsonSerializer.Serialize(new
            {
                type = "worker_register", worker_id = $"bench-{i}", capabilities = new { job_types = JobTypes, max_concurrent_jobs = slots },
            }));
            _sockets.Add(socket);
            _loops.Add(Task.Run(() => RunAsync(socket)));
        }
    }

    public async Task WaitForCompletionsAsync(long target)
    {
        if (!await TryWaitForCompletionsAsync(target))
        {
            throw new TimeoutException($"only {Completed} of {target} jobs completed");
        }
    }

    /// <summary>Waits until <paramref name="target"/> completions; false after 30 s without progress (or 5 min in all).</summary>
    public async Task<bool> TryWaitForCompletionsAsync(long target)
    {
        var deadline = Stopwatch.StartNew();
        while (Completed < target)
        {
            var progress = Volatile.Read(ref _progress).Task;
            if (Completed >= target)
            {
                break;
            }
            if (await Task.WhenAny(progress, Task.Delay(TimeSpan.FromSeconds(30))) != progress || deadline.Elapsed > TimeSpan.FromMinutes(5))
            {
                return false;
            }
        }
        return true;
    }

    private async Task RunAsync(ClientWebSocket socket)
    {
        var buffer = new byte[64 * 1024];
        try
        {
            while (!_stop.IsCancellationRequested)
            {
                var result = await socket.ReceiveAsync(buffer.AsMemory(), _stop.Token);
                var received = result.Count;
                while (!result.EndOfMessage)
                {
                    result = await socket.ReceiveAsync(buffer.AsMemory(received), _stop.Token);
                    received += result.Count;
                }
                if (result.MessageType == WebSocketMessageType.Close)
                {
                    return;
                }
                var arrived = Stopwatch.GetTimestamp();
                using var frame = JsonDocument.Parse(buffer.AsMemory(0, received));
                if (frame.RootElement.GetProperty("type").GetString() != "job_assigned")
                {
                    continue;
                }
                var job = frame.RootElement.GetProperty("job");
                var id = job.GetProperty("id").GetString()!;
                var stamp = job.GetProperty("payload").GetProperty("t").GetInt64();
                if (stamp != 0 && Latency is { } latency)
                {
                    lock (latency)
                    {
                        latency.RecordValue(Math.Max(0, arrived - stamp));
                    }
                }
                await SendAsync(socket, $"{{\"type\":\"job_completed\",\"job_id\":\"{id}\",\"result\":null}}");
                if (_track)
                {
                    _perJob.AddOrUpdate(id, 1, (_, n) => n + 1);
                }
                Interlocked.Increment(ref _completed);
                Interlocked.Exchange(ref _progress, new(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or WebSocketException)
        {
        }
        catch (Exception ex)
        {
            Console.Error.WriteLine($"  bench worker failed: {ex}");
            throw;
        }
    }

    private static Task SendAsync(ClientWebSocket socket, string text) =>
        socket.SendAsync(Encoding.UTF8.GetBytes(text), WebSocketMessageType.Text, true, CancellationToken.None);

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        foreach (var socket in _sockets)
        {
            socket.Abort();
            socket.Dispose();
        }
        await Task.WhenAll(_loops);
        _stop.Dispose();
    }
}
