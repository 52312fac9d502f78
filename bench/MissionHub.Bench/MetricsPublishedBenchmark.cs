using System.Globalization;
using System.Net.WebSockets;
using System.Text;
using HdrHistogram;

namespace MissionHub.Bench;

/// <summary>
/// <c>metrics-published</c>: what the <c>telemetry.metrics_published</c> event costs each
/// <c>GET /api/telemetry/robots/{robot_id}/metrics</c> (issue 7; target ≤ 50 µs). Two real servers (own processes, fresh
/// storage) run side by side, one with event publishing on and one with <c>MissionHub__Events__PublishingEnabled=false</c>;
/// each has one robot connected over <c>/api/telemetry/ws/{id}</c> that sends a frame a second. For each client count the
/// runs alternate on/off <c>--rounds</c> times so drift on a shared machine hits both alike; the overhead per request is
/// 1e6/rate_on − 1e6/rate_off µs (meaningful at saturation) and the p50 difference (meaningful at 1 client).
/// </summary>
internal static class MetricsPublishedBenchmark
{
    public const string Usage = "[--backend sqlite|redis] [--clients 1,16] [--seconds 5] [--rounds 2]";

    private const string RobotId = "bench-robot";
    private static readonly Uri MetricsUri = new($"/api/telemetry/robots/{RobotId}/metrics", UriKind.Relative);

    public static async Task<int> RunAsync(string[] args)
    {
        var options = BenchArgs.Parse(args, new() { ["backend"] = "sqlite", ["clients"] = "1,16", ["seconds"] = "5", ["rounds"] = "2" });
        var backend = options.Backends is [var single] ? single : throw new ArgumentException("--backend: one of sqlite, redis");
        var seconds = options.Int("seconds");
        var rounds = options.Int("rounds");
        var clientCounts = options.IntList("clients");
        Console.Error.WriteLine($"metrics-published: {backend}, clients {string.Join(",", clientCounts)}, {rounds} x {seconds} s per mode, {Environment.ProcessorCount} cores");

        await using var redis = backend == "redis" ? await RedisServerProcess.StartAsync() : null;
        await using var on = await HubServer.StartAsync(backend, redis);
        await using var off = await HubServer.StartAsync(backend, redis, new Dictionary<string, string> { ["MissionHub__Events__PublishingEnabled"] = "false" });
        using var stop = new CancellationTokenSource();
        var modes = new List<Mode>();
        foreach (var (name, server) in new[] { ("on", on), ("off", off) })
        {
            var handler = new SocketsHttpHandler { MaxConnectionsPerServer = clientCounts.Max(), PooledConnectionLifetime = Timeout.InfiniteTimeSpan };
            var http = new HttpClient(handler) { BaseAddress = server.BaseAddress, Timeout = TimeSpan.FromSeconds(30) };
            var robot = new ClientWebSocket();
            await robot.ConnectAsync(server.WebSocketUri($"/api/telemetry/ws/{RobotId}"), CancellationToken.None);
            modes.Add(new Mode(name, http, robot, KeepSendingAsync(robot, stop.Token)));
            await WaitForMetricsAsync(http);
        }
        try
        {
            await CheckPublishingAsync(modes[0].Http, expected: true);
            await CheckPublishingAsync(modes[1].Http, expected: false);

            var results = new List<Result>();
            foreach (var clients in clientCounts)
            {
                var totals = modes.ToDictionary(m => m.Name, _ => (Requests: 0L, Seconds: 0.0, Latency: new LongHistogram(60L * System.Diagnostics.Stopwatch.Frequency, 3)));
                for (var round = 0; round < rounds; round++)
                {
                    // Alternate which mode goes first, so neither always follows the other.
                    foreach (var mode in round % 2 == 0 ? modes : Enumerable.Reverse(modes))
                    {
                        await HttpLoad.RunAsync(mode.Http, MetricsUri, clients, TimeSpan.FromSeconds(1)); // warm-up
                        var (requests, elapsed, latency) = await HttpLoad.RunAsync(mode.Http, MetricsUri, clients, TimeSpan.FromSeconds(seconds));
                        Console.Error.WriteLine($"  x{clients} publishing {mode.Name}: {requests / elapsed.TotalSeconds:N0} requests/s, p50 {HttpLoad.TicksToMicros(latency.GetValueAtPercentile(50)):N0} µs");
                        var total = totals[mode.Name];
                        total.Latency.Add(latency);
                        totals[mode.Name] = (total.Requests + requests, total.Seconds + elapsed.TotalSeconds, total.Latency);
                    }
                }
                foreach (var mode in modes)
                {
                    var (requests, secs, latency) = totals[mode.Name];
                    results.Add(new Result(clients, mode.Name, requests / secs,
                        HttpLoad.TicksToMicros(latency.GetValueAtPercentile(50)), HttpLoad.TicksToMicros(latency.GetValueAtPercentile(99))));
                }
            }
            await CheckPublishingAsync(modes[1].Http, expected: false);
            Console.WriteLine(FormatReport(backend, seconds, rounds, results));
            return 0;
        }
        finally
        {
            await stop.CancelAsync();
            foreach (var mode in modes)
            {
                try
                {
                    await mode.Sender;
                    await mode.Robot.CloseAsync(WebSocketCloseStatus.NormalClosure, "done", CancellationToken.None);
                }
                catch (Exception ex) when (ex is WebSocketException or OperationCanceledException)
                {
                }
                mode.Robot.Dispose();
                mode.Http.Dispose();
            }
        }
    }

    /// <summary>A frame a second, like a slow robot, so the robot never hits the heartbeat timeout during the runs.</summary>
    private static async Task KeepSendingAsync(ClientWebSocket robot, CancellationToken cancellationToken)
    {
        var frame = Encoding.UTF8.GetBytes("""{"cpu_usage":42.5,"memory_usage":61.0,"network_latency_ms":12.0,"battery_percentage":87.0}""");
        try
        {
            while (!cancellationToken.IsCancellationRequested)
            {
                await robot.SendAsync(frame, WebSocketMessageType.Text, true, cancellationToken);
                await Task.Delay(TimeSpan.FromSeconds(1), cancellationToken);
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
    }

    private static async Task WaitForMetricsAsync(HttpClient http)
    {
        for (var attempt = 0; attempt < 100; attempt++)
        {
            using var response = await http.GetAsync(MetricsUri);
            if (response.IsSuccessStatusCode)
            {
                return;
            }
            await Task.Delay(50);
        }
        throw new TimeoutException($"{MetricsUri} did not answer 200 within 5 s of the robot's first frame");
    }

    /// <summary>The event log holds <c>telemetry.metrics_published</c> events only where publishing is on.</summary>
    private static async Task CheckPublishingAsync(HttpClient http, bool expected)
    {
        var events = await http.GetStringAsync(new Uri("/api/events?type=telemetry.metrics_published", UriKind.Relative));
        if (events.Contains("telemetry.metrics_published", StringComparison.Ordinal) != expected)
        {
            throw new InvalidOperationException($"expected {(expected ? "some" : "no")} telemetry.metrics_published events, the log answered: {events[..Math.Min(300, events.Length)]}");
        }
    }

    private static string FormatReport(string backend, int seconds, int rounds, IReadOnlyList<Result> results)
    {
        var report = new StringBuilder();
        report.AppendLine(CultureInfo.InvariantCulture,
            $"GET /api/telemetry/robots/{{robot_id}}/metrics, {backend}, publishing on vs off, {rounds} alternating runs x {seconds} s per mode and client count");
        report.AppendLine();
        report.AppendLine("| clients | publishing | requests/s | p50 µs | p99 µs |");
        report.AppendLine("| ---: | --- | ---: | ---: | ---: |");
        foreach (var r in results)
        {
            report.AppendLine(CultureInfo.InvariantCulture, $"| {r.Clients} | {r.Mode} | {r.RequestsPerSecond:N0} | {r.P50Micros:N0} | {r.P99Micros:N0} |");
        }
        report.AppendLine();
        report.AppendLine("| clients | µs per request, 1e6/rate on − 1e6/rate off | p50 on − p50 off, µs |");
        report.AppendLine("| ---: | ---: | ---: |");
        foreach (var group in results.GroupBy(r => r.Clients))
        {
            var withEvent = group.Single(r => r.Mode == "on");
            var without = group.Single(r => r.Mode == "off");
            report.AppendLine(CultureInfo.InvariantCulture,
                $"| {group.Key} | {1e6 / withEvent.RequestsPerSecond - 1e6 / without.RequestsPerSecond:N1} | {withEvent.P50Micros - without.P50Micros:N0} |");
        }
        return report.ToString();
    }

    private sealed record Mode(string Name, HttpClient Http, ClientWebSocket Robot, Task Sender);

    private sealed record Result(int Clients, string Mode, double RequestsPerSecond, double P50Micros, double P99Micros);
}
