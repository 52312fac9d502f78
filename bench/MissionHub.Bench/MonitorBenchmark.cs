using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using HdrHistogram;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using MissionHub.Events;
using MissionHub.Hub;
using MissionHub.Missions;
using MissionHub.Monitor;
using MissionHub.Storage;

namespace MissionHub.Bench;

/// <summary>
/// <c>monitor</c>: publish → monitor delivery latency at fixed event rates with 1, 10 and 50 monitors on real
/// WebSockets (issue 6), and the bytes a monitor receives for a low-churn 100-job workload compared with the
/// spec's baseline of a full-state snapshot every 2 s. The server runs in this process (Kestrel on loopback)
/// so events can be published at an exact rate and each carries its publish time.
/// </summary>
internal static class MonitorBenchmark
{
    public const string Usage = "[--rates 1000,5000] [--monitors 1,10,50] [--seconds 5] [--traffic-seconds 60] [--progress-every-ms 100,300]";

    public static async Task<int> RunAsync(string[] args)
    {
        var options = BenchArgs.Parse(args, new() { ["rates"] = "1000,5000", ["monitors"] = "1,10,50", ["seconds"] = "5", ["traffic-seconds"] = "60", ["backend"] = "sqlite", ["progress-every-ms"] = "100,300" });
        var rates = options.IntList("rates");
        var monitorCounts = options.IntList("monitors");
        var seconds = options.Int("seconds");
        Console.Error.WriteLine($"monitor: rates {string.Join(",", rates)}/s, monitors {string.Join(",", monitorCounts)}, {seconds} s each, {Environment.ProcessorCount} cores");

        await using var hub = await InProcessHub.StartAsync();
        var rows = new List<string>();
        foreach (var rate in rates)
        {
            foreach (var count in monitorCounts)
            {
                var latency = new LongHistogram(60 * Stopwatch.Frequency, 3); // Stopwatch ticks
                var monitors = new List<BenchMonitor>();
                for (var i = 0; i < count; i++)
                {
                    monitors.Add(await BenchMonitor.ConnectAsync(hub.WebSocketUri, ["missions"], latency));
                }
                var total = rate * seconds;
                var clock = Stopwatch.StartNew();
                for (var i = 0; i < total; i++)
                {
                    var due = TimeSpan.FromSeconds((double)i / rate);
                    if (due - clock.Elapsed > TimeSpan.FromMilliseconds(1))
                    {
                        await Task.Delay(due - clock.Elapsed);
                    }
                    // Not awaited one by one: the publisher runs at the offered rate, as real features would.
                    _ = hub.Publisher.PublishAsync("mission.bench", "missions_service", null,
                        JsonSerializer.SerializeToElement(new Dictionary<string, long> { ["t"] = Stopwatch.GetTimestamp(), ["n"] = i })).AsTask();
                }
                var expected = (long)total * count;
                var deadline = Stopwatch.StartNew();
                while (monitors.Sum(m => m.Received) < expected && deadline.Elapsed < TimeSpan.FromSeconds(60))
                {
                    await Task.Delay(50);
                }
                var delivered = monitors.Sum(m => m.Received);
                string Ms(double value) => (value * 1000.0 / Stopwatch.Frequency).ToString("0.00", CultureInfo.InvariantCulture);
                var row = $"| {rate:N0} | {count} | {delivered:N0} / {expected:N0} | {Ms(latency.GetValueAtPercentile(50))} | {Ms(latency.GetValueAtPercentile(99))} | {Ms(latency.GetMaxValue())} |";
                Console.Error.WriteLine("  " + row);
                rows.Add(row);
                foreach (var monitor in monitors)
                {
                    await monitor.DisposeAsync();
                }
            }
        }

        Console.WriteLine("| events/s | monitors | delivered | p50 ms | p99 ms | max ms |");
        Console.WriteLine("| ---: | ---: | ---: | ---: | ---: | ---: |");
        rows.ForEach(Console.WriteLine);
        Console.WriteLine();
        Console.WriteLine("| workload | duration | bytes to the monitor (events) | full snapshot every 2 s (baseline) | saving |");
        Console.WriteLine("| --- | ---: | ---: | ---: | ---: |");
        foreach (var every in options.IntList("progress-every-ms"))
        {
            await MeasureTrafficAsync(hub, TimeSpan.FromSeconds(options.Int("traffic-seconds")), TimeSpan.FromMilliseconds(every));
        }
        return 0;
    }

    /// <summary>
    /// 100 jobs held by 10 workers; one progress report every <paramref name="progressEvery"/> (round-robin over the jobs)
    /// and one job finishing (and a new one arriving) every 50 reports.
    /// </summary>
    private static async Task MeasureTrafficAsync(InProcessHub hub, TimeSpan duration, TimeSpan progressEvery)
    {
        var run = Guid.NewGuid().ToString("N")[..6];
        var broker = hub.Services.GetRequiredService<JobHub>();
        var workers = new List<ClientWebSocket>();
        for (var w = 0; w < 10; w++)
        {
            var socket = new ClientWebSocket();
            await socket.ConnectAsync(hub.WorkerUri, CancellationToken.None);
            await SendAsync(socket, $"{{\"type\":\"worker_register\",\"worker_id\":\"traffic-{run}-{w}\",\"capabilities\":{{\"job_types\":[\"traffic{run}\"],\"max_concurrent_jobs\":10}}}}");
            workers.Add(socket);
        }
        for (var j = 0; j < 100; j++)
        {
            await broker.SubmitAsync(new NewJob("traffic" + run, 0, JsonSerializer.SerializeToElement(new { j }), null, 3, null));
        }
        var assigned = new List<(ClientWebSocket Socket, string JobId)>();
        foreach (var socket in workers)
        {
            var buffer = new byte[16 * 1024];
            while (assigned.Count(a => a.Socket == socket) < 10)
            {
                var result = await socket.ReceiveAsync(buffer, CancellationToken.None);
                using var frame = JsonDocument.Parse(buffer.AsMemory(0, result.Count));
                if (frame.RootElement.GetProperty("type").GetString() == "job_assigned")
                {
                    assigned.Add((socket, frame.RootElement.GetProperty("job").GetProperty("id").GetString()!));
                }
            }
        }

        await using var monitor = await BenchMonitor.ConnectAsync(hub.WebSocketUri, ["workers", "jobs", "system_stats"], null);
        var snapshotBytes = monitor.SnapshotBytes;
        monitor.ResetBytes();
        var clock = Stopwatch.StartNew();
        var tick = 0;
        var next = 0;
        while (clock.Elapsed < duration)
        {
            await Task.Delay(progressEvery);
            tick++;
            // 100 jobs x one progress report per 10 s = 1 progress per 100 ms.
            var (socket, jobId) = assigned[tick % assigned.Count];
            await SendAsync(socket, $"{{\"type\":\"job_progress\",\"job_id\":\"{jobId}\",\"progress\":{(tick % 10) / 10.0:0.0}}}");
            if (tick % 50 == 0)
            {
                var index = next++ % assigned.Count;
                var done = assigned[index];
                await SendAsync(done.Socket, $"{{\"type\":\"job_completed\",\"job_id\":\"{done.JobId}\",\"result\":null}}");
                var submitted = await broker.SubmitAsync(new NewJob("traffic" + run, 0, JsonSerializer.SerializeToElement(new { index }), null, 3, null));
                assigned[index] = (done.Socket, submitted.Job.Id); // the freed slot takes it
            }
        }
        var eventBytes = monitor.Bytes;
        var baseline = snapshotBytes * (duration.TotalSeconds / 2);
        var perSecond = 1000.0 / progressEvery.TotalMilliseconds;
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"| 100 active jobs, 10 workers, {perSecond:0.#} progress/s, 1 completion + 1 submission per {50 / perSecond:0} s | {duration.TotalSeconds:0} s | {eventBytes:N0} | {baseline:N0} ({snapshotBytes:N0} B x {duration.TotalSeconds / 2:0}) | {100 * (1 - eventBytes / baseline):0.0} % |"));
        // Leave nothing behind for the next run's snapshot.
        foreach (var (_, jobId) in assigned)
        {
            await broker.CancelAsync(jobId);
        }
        foreach (var socket in workers)
        {
            socket.Abort();
            socket.Dispose();
        }
    }

    private static Task SendAsync(ClientWebSocket socket, string text) =>
        socket.SendAsync(Encoding.UTF8.GetBytes(text), WebSocketMessageType.Text, true, CancellationToken.None);

    /// <summary>A raw monitor: snapshot, subscribe, then count bytes and (when given a histogram) measure latency from each event's publish time.</summary>
    private sealed class BenchMonitor : IAsyncDisposable
    {
        private readonly ClientWebSocket _socket;
        private readonly LongHistogram? _latency;
        private readonly Task _loop;
        private long _received;
        private long _bytes;

        private BenchMonitor(ClientWebSocket socket, LongHistogram? latency, long snapshotBytes)
        {
            _socket = socket;
            _latency = latency;
            SnapshotBytes = snapshotBytes;
            _loop = Task.Run(RunAsync);
        }

        public long Received => Interlocked.Read(ref _received);

        public long Bytes => Interlocked.Read(ref _bytes);

        public long SnapshotBytes { get; }

        public void ResetBytes() => Interlocked.Exchange(ref _bytes, 0);

        public static async Task<BenchMonitor> ConnectAsync(Uri uri, string[] topics, LongHistogram? latency)
        {
            var socket = new ClientWebSocket();
            await socket.ConnectAsync(uri, CancellationToken.None);
            await SendAsync(socket, "{\"type\":\"monitor_connect\",\"monitor_id\":\"bench\",\"request_full_state\":true}");
            var buffer = new byte[4 * 1024 * 1024];
            var count = 0;
            WebSocketReceiveResult result;
            do
            {
                result = await socket.ReceiveAsync(new ArraySegment<byte>(buffer, count, buffer.Length - count), CancellationToken.None);
                count += result.Count;
            }
            while (!result.EndOfMessage);
            await SendAsync(socket, JsonSerializer.Serialize(new { type = "subscribe", topics }));
            return new BenchMonitor(socket, latency, count);
        }

        private async Task RunAsync()
        {
            var buffer = new byte[1024 * 1024];
            try
            {
                while (true)
                {
                    var count = 0;
                    ValueWebSocketReceiveResult result;
                    do
                    {
                        result = await _socket.ReceiveAsync(buffer.AsMemory(count), CancellationToken.None);
                        count += result.Count;
                    }
                    while (!result.EndOfMessage);
                    if (result.MessageType == WebSocketMessageType.Close)
                    {
                        return;
                    }
                    var arrived = Stopwatch.GetTimestamp();
                    Interlocked.Add(ref _bytes, count);
                    if (_latency is null)
                    {
                        continue;
                    }
                    using var frame = JsonDocument.Parse(buffer.AsMemory(0, count));
                    if (frame.RootElement.GetProperty("type").GetString() != "mission.bench")
                    {
                        continue;
                    }
                    var published = frame.RootElement.GetProperty("payload").GetProperty("t").GetInt64();
                    lock (_latency)
                    {
                        _latency.RecordValue(Math.Max(0, arrived - published));
                    }
                    Interlocked.Increment(ref _received);
                }
            }
            catch (Exception ex) when (ex is WebSocketException or OperationCanceledException or ObjectDisposedException)
            {
            }
        }

        public async ValueTask DisposeAsync()
        {
            _socket.Abort();
            await _loop;
            _socket.Dispose();
        }
    }

    /// <summary>The server composed as Program.cs does, on Kestrel at a free loopback port.</summary>
    private sealed class InProcessHub : IAsyncDisposable
    {
        private readonly WebApplication _app;
        private readonly string _folder;

        private InProcessHub(WebApplication app, string folder, Uri baseAddress)
        {
            _app = app;
            _folder = folder;
            WebSocketUri = new UriBuilder(baseAddress) { Scheme = "ws", Path = "/ws/monitor" }.Uri;
            WorkerUri = new UriBuilder(baseAddress) { Scheme = "ws", Path = "/ws/worker" }.Uri;
        }

        public Uri WebSocketUri { get; }

        public Uri WorkerUri { get; }

        public IServiceProvider Services => _app.Services;

        public IEventPublisher Publisher => _app.Services.GetRequiredService<IEventPublisher>();

        public static async Task<InProcessHub> StartAsync()
        {
            var folder = Directory.CreateTempSubdirectory("missionhub-bench-monitor-").FullName;
            var builder = WebApplication.CreateBuilder(new WebApplicationOptions { EnvironmentName = "Production", ContentRootPath = folder });
            builder.Logging.ClearProviders();
            builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
            {
                ["MissionHub:Storage:Sqlite:Path"] = Path.Combine(folder, "bench.db"),
                ["MissionHub:Storage:Sqlite:Synchronous"] = "normal",
                ["MissionHub:Monitor:MaxQueuedBytes"] = "16777216",
                ["MissionHub:Metrics:AggregateAtStart"] = "false",
            });
            builder.WebHost.UseKestrel(kestrel => kestrel.Listen(IPAddress.Loopback, 0));
            builder.AddMissionHub();
            var app = builder.Build();
            app.MapMissionHub();
            await app.StartAsync();
            var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
            return new InProcessHub(app, folder, new Uri(address));
        }

        public async ValueTask DisposeAsync()
        {
            await _app.StopAsync();
            await _app.DisposeAsync();
            try
            {
                Directory.Delete(_folder, recursive: true);
            }
            catch (IOException)
            {
            }
        }
    }
}
