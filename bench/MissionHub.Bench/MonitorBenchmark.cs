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
/// WebSockets, deliveries per second at saturation, and the bytes on the wire a monitor receives for a 100-job workload
/// compared with a full-state snapshot every 2 s. Latency and saturation run round by round against a bare Kestrel
/// fan-out in this process (<see cref="RawFanOutServer"/>) with the same clients, so each round prints MissionHub's
/// share of what the machine can do at that moment. Every monitor checks delivery is exact (<see cref="BenchMonitor"/>);
/// a violation fails the run.
/// </summary>
internal static class MonitorBenchmark
{
    public const string Usage =
        "[--rates 1000,5000] [--monitors 1,10,50] [--seconds 5] [--rounds 3] [--saturation-events 10000] [--saturation-monitors 50] " +
        "[--traffic-seconds 30] [--progress-every-ms 100,300] [--batch-max-events 100] [--batch-max-delay-ms 250] [--sections latency,saturation,traffic]";

    private static readonly TimeSpan DeliveryTimeout = TimeSpan.FromSeconds(60);

    public static async Task<int> RunAsync(string[] args)
    {
        var options = BenchArgs.Parse(args, new()
        {
            ["rates"] = "1000,5000", ["monitors"] = "1,10,50", ["seconds"] = "5", ["rounds"] = "3", ["traffic-seconds"] = "30",
            ["backend"] = "sqlite", ["progress-every-ms"] = "100,300", ["saturation-events"] = "10000", ["saturation-monitors"] = "50",
            ["batch-max-events"] = "100", ["batch-max-delay-ms"] = "250", ["sections"] = "latency,saturation,traffic",
        });
        var rates = options.IntList("rates");
        var monitorCounts = options.IntList("monitors");
        var seconds = options.Int("seconds");
        var rounds = options.Int("rounds");
        var sections = options.Text("sections").Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries).ToHashSet();
        Console.Error.WriteLine($"monitor: rates {string.Join(",", rates)}/s, monitors {string.Join(",", monitorCounts)}, {seconds} s each, {rounds} rounds, {Environment.ProcessorCount} cores, load {RoundStats.LoadAverage()}");

        await using var hub = await InProcessHub.StartAsync();
        await using var raw = await RawFanOutServer.StartAsync();
        var failures = new List<string>();
        var hubTarget = new FanOutTarget("MissionHub", hub.WebSocketUri, payload => _ = hub.Publisher.PublishAsync("mission.bench", "missions_service", null, payload).AsTask(),
            payload => hub.Publisher.PublishAsync("mission.bench", "missions_service", null, payload).AsTask());
        var rawTarget = new FanOutTarget("raw", raw.WebSocketUri, raw.Publish, payload =>
        {
            raw.Publish(payload);
            return Task.CompletedTask;
        });

        // One short untimed pass through both servers: the first round must not pay for JIT and connection set-up.
        var warmupFailures = new List<string>();
        await MeasureLatencyAsync(rawTarget, 1000, 2, 1, warmupFailures);
        await MeasureLatencyAsync(hubTarget, 1000, 2, 1, warmupFailures);
        await MeasureSaturationAsync(rawTarget, 1000, 2, warmupFailures);
        await MeasureSaturationAsync(hubTarget, 1000, 2, warmupFailures);
        failures.AddRange(warmupFailures.Select(f => "warm-up: " + f));

        if (sections.Contains("latency"))
        {
            var rows = new List<string>();
            var summary = new List<string>();
            foreach (var rate in rates)
            {
                foreach (var count in monitorCounts)
                {
                    var ratios = new List<double>();
                    var hubP99 = new List<double>();
                    var rawP99 = new List<double>();
                    for (var round = 1; round <= rounds; round++)
                    {
                        // Raw first, then MissionHub: both on the machine as it is in this minute.
                        var r = await MeasureLatencyAsync(rawTarget, rate, count, seconds, failures);
                        var h = await MeasureLatencyAsync(hubTarget, rate, count, seconds, failures);
                        var ratio = h.P99Ms / r.P99Ms;
                        ratios.Add(ratio);
                        hubP99.Add(h.P99Ms);
                        rawP99.Add(r.P99Ms);
                        var row = Invariant($"| {rate:N0} | {count} | {round} | {h.Delivered:N0} / {h.Expected:N0} | {h.P50Ms:0.00} | {h.P99Ms:0.00} | {h.MaxMs:0.00} | {r.Delivered:N0} / {r.Expected:N0} | {r.P50Ms:0.00} | {r.P99Ms:0.00} | {r.MaxMs:0.00} | {ratio:0.00} | {h.MissedNotices} / {h.Recovered:N0} | {RoundStats.LoadAverage()} |");
                        Console.Error.WriteLine("  " + row);
                        rows.Add(row);
                    }
                    var median = RoundStats.Median(ratios);
                    summary.Add(Invariant($"| {rate:N0} | {count} | {RoundStats.Median(hubP99):0.00} | {RoundStats.Median(rawP99):0.00} | {median:0.00} | {string.Join(", ", ratios.Select(x => x.ToString("0.00", System.Globalization.CultureInfo.InvariantCulture)))} |{(rate == 5000 && count == 50 ? $" ≤ 1.7: {(median <= 1.7 ? "met" : "missed")}" : "")} |"));
                }
            }
            Console.WriteLine("Latency, publish → monitor, per round (raw = bare Kestrel fan-out, same clients, same frame size):");
            Console.WriteLine();
            Console.WriteLine("| events/s | monitors | round | hub delivered | hub p50 ms | hub p99 ms | hub max ms | raw delivered | raw p50 ms | raw p99 ms | raw max ms | hub p99 / raw p99 | hub misses / recovered | load |");
            Console.WriteLine("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |");
            rows.ForEach(Console.WriteLine);
            Console.WriteLine();
            Console.WriteLine("| events/s | monitors | hub p99 ms (median) | raw p99 ms (median) | p99 ratio (median of rounds) | every round | target |");
            Console.WriteLine("| ---: | ---: | ---: | ---: | ---: | --- | --- |");
            summary.ForEach(Console.WriteLine);
            Console.WriteLine();
        }

        if (sections.Contains("saturation"))
        {
            var events = options.Int("saturation-events");
            var count = options.Int("saturation-monitors");
            var ratios = new List<double>();
            Console.WriteLine($"Saturation: {events:N0} events published as fast as the publisher goes, {count} monitors; deliveries/s until every monitor has every event:");
            Console.WriteLine();
            Console.WriteLine("| round | hub deliveries/s | raw deliveries/s | hub / raw | hub misses / recovered | load |");
            Console.WriteLine("| ---: | ---: | ---: | ---: | ---: | --- |");
            for (var round = 1; round <= rounds; round++)
            {
                var r = await MeasureSaturationAsync(rawTarget, events, count, failures);
                var h = await MeasureSaturationAsync(hubTarget, events, count, failures);
                ratios.Add(h.DeliveriesPerSecond / r.DeliveriesPerSecond);
                var row = Invariant($"| {round} | {h.DeliveriesPerSecond:N0} | {r.DeliveriesPerSecond:N0} | {ratios[^1]:0.00} | {h.MissedNotices} / {h.Recovered:N0} | {RoundStats.LoadAverage()} |");
                Console.Error.WriteLine("  saturation " + row);
                Console.WriteLine(row);
            }
            var median = RoundStats.Median(ratios);
            Console.WriteLine();
            Console.WriteLine(Invariant($"Saturation hub / raw, median of rounds: {median:0.00} (target ≥ 0.40: {(median >= 0.4 ? "met" : "missed")})"));
            Console.WriteLine();
        }

        if (sections.Contains("traffic"))
        {
            var batching = new { max_events = options.Int("batch-max-events"), max_delay_ms = options.Int("batch-max-delay-ms") };
            MonitorMode[] modes =
            [
                MonitorMode.Plain,
                new("deflate", true, null),
                new($"batching {batching.max_events}/{batching.max_delay_ms} ms", false, batching),
                new($"batching {batching.max_events}/{batching.max_delay_ms} ms + deflate", true, batching),
            ];
            Console.WriteLine("Traffic: bytes on the wire to each monitor (counted under the WebSocket), all modes on the same workload at once; baseline: the plain monitor's snapshot on the wire every 2 s:");
            Console.WriteLine();
            Console.WriteLine("| workload | duration | mode | wire bytes to the monitor | snapshot on the wire | baseline (snapshot every 2 s) | saving | events | load |");
            Console.WriteLine("| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | --- |");
            foreach (var every in options.IntList("progress-every-ms"))
            {
                await MeasureTrafficAsync(hub, TimeSpan.FromSeconds(options.Int("traffic-seconds")), TimeSpan.FromMilliseconds(every), modes, failures);
            }
            Console.WriteLine();
        }

        if (failures.Count > 0)
        {
            Console.WriteLine("DELIVERY NOT EXACT:");
            failures.ForEach(f => Console.WriteLine("  " + f));
            Console.Error.WriteLine($"monitor: {failures.Count} exactness violation(s); the run FAILED");
            return 1;
        }
        Console.WriteLine("Delivery exact in every run: each monitor saw every event once, in seq order (misses, if any, reported by the hub and recovered by resync).");
        return 0;
    }

    private static string Invariant(FormattableString text) => FormattableString.Invariant(text);

    /// <summary>Where the monitors connect and how an event is published: fire-and-forget at a rate, or awaited.</summary>
    private sealed record FanOutTarget(string Name, Uri Uri, Action<JsonElement> Publish, Func<JsonElement, Task> PublishAwaited);

    private sealed record LatencyResult(long Delivered, long Expected, double P50Ms, double P99Ms, double MaxMs, long MissedNotices, long Recovered);

    private static JsonElement Payload(int n) =>
        JsonSerializer.SerializeToElement(new Dictionary<string, long> { ["t"] = Stopwatch.GetTimestamp(), ["n"] = n });

    private static async Task<LatencyResult> MeasureLatencyAsync(FanOutTarget target, int rate, int count, int seconds, List<string> failures)
    {
        var latency = new LongHistogram(60 * Stopwatch.Frequency, 3); // Stopwatch ticks
        var total = rate * seconds;
        var monitors = new List<BenchMonitor>();
        for (var i = 0; i < count; i++)
        {
            monitors.Add(await BenchMonitor.ConnectAsync(target.Uri, ["missions"], MonitorMode.Plain, latency, total, monitorId: $"bench-{i}"));
        }
        await Task.Delay(200); // let every subscribe land before the clock starts
        var clock = Stopwatch.StartNew();
        for (var i = 0; i < total; i++)
        {
            var due = TimeSpan.FromSeconds((double)i / rate);
            if (due - clock.Elapsed > TimeSpan.FromMilliseconds(1))
            {
                await Task.Delay(due - clock.Elapsed);
            }
            // Not awaited one by one: the publisher runs at the offered rate, as real features would.
            target.Publish(Payload(i));
        }
        var expected = (long)total * count;
        await WaitForDeliveriesAsync(monitors, expected);
        Check($"{target.Name} latency {rate}/s x{count}", monitors, total, failures);
        static double Ms(double ticks) => ticks * 1000.0 / Stopwatch.Frequency;
        var result = new LatencyResult(monitors.Sum(m => m.Received), expected, Ms(latency.GetValueAtPercentile(50)), Ms(latency.GetValueAtPercentile(99)),
            Ms(latency.GetMaxValue()), monitors.Sum(m => m.MissedNotices), monitors.Sum(m => m.Recovered));
        foreach (var monitor in monitors)
        {
            await monitor.DisposeAsync();
        }
        return result;
    }

    private sealed record SaturationResult(double DeliveriesPerSecond, long MissedNotices, long Recovered);

    private static async Task<SaturationResult> MeasureSaturationAsync(FanOutTarget target, int events, int count, List<string> failures)
    {
        var monitors = new List<BenchMonitor>();
        for (var i = 0; i < count; i++)
        {
            monitors.Add(await BenchMonitor.ConnectAsync(target.Uri, ["missions"], MonitorMode.Plain, null, events, monitorId: $"sat-{i}"));
        }
        await Task.Delay(200);
        var clock = Stopwatch.StartNew();
        var inFlight = new List<Task>(256);
        for (var i = 0; i < events; i++)
        {
            // A bounded number of publishes in flight: as fast as the publishing side goes, without an unbounded backlog.
            inFlight.Add(target.PublishAwaited(Payload(i)));
            if (inFlight.Count == 256)
            {
                await Task.WhenAll(inFlight);
                inFlight.Clear();
                await Task.Yield();
            }
        }
        await Task.WhenAll(inFlight);
        var expected = (long)events * count;
        await WaitForDeliveriesAsync(monitors, expected);
        var elapsed = clock.Elapsed;
        Check($"{target.Name} saturation x{count}", monitors, events, failures);
        var result = new SaturationResult(monitors.Sum(m => m.Received) / elapsed.TotalSeconds, monitors.Sum(m => m.MissedNotices), monitors.Sum(m => m.Recovered));
        foreach (var monitor in monitors)
        {
            await monitor.DisposeAsync();
        }
        return result;
    }

    private static async Task WaitForDeliveriesAsync(List<BenchMonitor> monitors, long expected)
    {
        var deadline = Stopwatch.StartNew();
        while (monitors.Sum(m => m.Received) < expected && deadline.Elapsed < DeliveryTimeout && monitors.All(m => m.Violations.Count == 0))
        {
            await Task.Delay(5);
        }
    }

    /// <summary>Every monitor must have every one of <paramref name="events"/> exactly once, in seq order.</summary>
    private static void Check(string run, List<BenchMonitor> monitors, int events, List<string> failures)
    {
        for (var i = 0; i < monitors.Count; i++)
        {
            var monitor = monitors[i];
            foreach (var violation in monitor.Violations)
            {
                failures.Add($"{run}, monitor {i}: {violation}");
            }
            if (monitor.Unseen() is > 0 and var unseen)
            {
                failures.Add($"{run}, monitor {i}: {unseen} of {events} events never arrived within {DeliveryTimeout.TotalSeconds:0} s (missed notices {monitor.MissedNotices})");
            }
        }
    }

    /// <summary>
    /// 100 jobs held by 10 workers; one progress report every <paramref name="progressEvery"/> (round-robin over the jobs)
    /// and one job finishing (and a new one arriving) every 50 reports. One monitor per mode watches it at once.
    /// </summary>
    private static async Task MeasureTrafficAsync(InProcessHub hub, TimeSpan duration, TimeSpan progressEvery, MonitorMode[] modes, List<string> failures)
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

        var monitors = new List<BenchMonitor>();
        foreach (var mode in modes)
        {
            monitors.Add(await BenchMonitor.ConnectAsync(hub.WebSocketUri, ["workers", "jobs", "system_stats"], mode, keepSeqs: true, monitorId: "traffic-" + mode.Name.Replace(' ', '-')));
        }
        await Task.Delay(200);
        monitors.ForEach(m => m.ResetBytes());
        var clock = Stopwatch.StartNew();
        var tick = 0;
        var next = 0;
        while (clock.Elapsed < duration)
        {
            await Task.Delay(progressEvery);
            tick++;
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
        // Let the batching monitors' last batch (max delay) and the last events arrive, then compare what each saw.
        var settle = Stopwatch.StartNew();
        while (settle.Elapsed < TimeSpan.FromSeconds(10)
            && (settle.Elapsed < TimeSpan.FromSeconds(1) || monitors.Select(m => m.Received).Distinct().Count() > 1))
        {
            await Task.Delay(100);
        }
        var perSecond = 1000.0 / progressEvery.TotalMilliseconds;
        var workload = Invariant($"100 active jobs, 10 workers, {perSecond:0.#} progress/s, 1 completion + 1 submission per {50 / perSecond:0} s");
        var baselineSnapshot = monitors[0].SnapshotWireBytes;
        var baseline = baselineSnapshot * (duration.TotalSeconds / 2);
        var reference = monitors[0].Seqs;
        for (var i = 0; i < monitors.Count; i++)
        {
            var monitor = monitors[i];
            var bytes = monitor.WireBytes;
            Console.WriteLine(Invariant(
                $"| {workload} | {duration.TotalSeconds:0} s | {modes[i].Name} | {bytes:N0} | {monitor.SnapshotWireBytes:N0} | {baseline:N0} ({baselineSnapshot:N0} B x {duration.TotalSeconds / 2:0}) | {100 * (1 - bytes / baseline):0.0} % | {monitor.Received:N0} | {RoundStats.LoadAverage()} |"));
            foreach (var violation in monitor.Violations)
            {
                failures.Add($"traffic {modes[i].Name}: {violation}");
            }
            // Same subscription, same hub: every mode must have seen exactly the same events.
            if (!monitor.Seqs.SequenceEqual(reference))
            {
                failures.Add($"traffic {modes[i].Name}: saw {monitor.Seqs.Count} events, {modes[0].Name} saw {reference.Count}; the seq lists differ");
            }
        }
        foreach (var monitor in monitors)
        {
            await monitor.DisposeAsync();
        }
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
