using System.Diagnostics;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using HdrHistogram;

namespace MissionHub.Bench;

/// <summary>
/// <c>hub</c>: jobs submitted over HTTP and completed by no-op workers over real WebSockets, end to end,
/// and dispatch latency (submit → <c>job_assigned</c> at the worker) at a fixed rate (issue 4).
/// </summary>
internal static class HubBenchmark
{

    public const string Usage = "[--backend sqlite|redis|all] [--jobs N] [--submitters 32] [--warmup 10 (seconds)] [--workers 16] [--slots 4] [--rate 1000] [--seconds 5]";

    public static async Task<int> RunAsync(string[] args)
    {
        var options = BenchArgs.Parse(args, new()
        {
            ["backend"] = "all", ["jobs"] = "20000", ["submitters"] = "32", ["warmup"] = "10", ["workers"] = "16", ["slots"] = "4", ["rate"] = "1000", ["seconds"] = "5",
        });
        var jobs = options.Int("jobs");
        var submitters = options.Int("submitters");
        var warmup = options.Int("warmup");
        var workers = options.Int("workers");
        var slots = options.Int("slots");
        var rate = options.Int("rate");
        var seconds = options.Int("seconds");
        Console.Error.WriteLine($"hub: {jobs:N0} jobs, {workers} workers x {slots} slots, latency at {rate}/s for {seconds} s, {Environment.ProcessorCount} cores");

        await using var redis = options.Backends.Contains("redis") ? await RedisServerProcess.StartAsync() : null;
        var rows = new List<string>();
        foreach (var backend in options.Backends)
        {
            await using var server = await HubServer.StartAsync(backend, backend == "redis" ? redis : null);
            using var http = new HttpClient { BaseAddress = server.BaseAddress };
            var pool = new BenchWorkerPool([server], workers, slots);
            await pool.StartAsync();

            // Throughput: concurrent submitters, all jobs, until the workers have completed every one.
            // Warm-up at full load until tiered compilation has settled (it takes the server ~8 s here).
            var warmed = await SubmitConcurrentlyAsync(server.BaseAddress, int.MaxValue, submitters, TimeSpan.FromSeconds(warmup));
            await pool.WaitForCompletionsAsync(warmed);
            pool.Reset(track: false);
            var clock = Stopwatch.StartNew();
            await SubmitConcurrentlyAsync(server.BaseAddress, jobs, submitters, Timeout.InfiniteTimeSpan);
            await pool.WaitForCompletionsAsync(jobs);
            var throughput = jobs / clock.Elapsed.TotalSeconds;
            Console.Error.WriteLine($"  {backend}: {throughput:N0} jobs/s end to end");

            // Latency: paced submissions; each job carries its submit time, the worker measures on arrival.
            pool.Reset(track: false);
            // Stopwatch ticks, not TimeSpan ticks: a value past the highest trackable one throws.
            pool.Latency = new LongHistogram(60 * Stopwatch.Frequency, 3);
            var total = rate * seconds;
            var pacing = Stopwatch.StartNew();
            var inFlight = new List<Task>(total);
            for (var i = 0; i < total; i++)
            {
                var due = TimeSpan.FromSeconds((double)i / rate);
                var wait = due - pacing.Elapsed;
                if (wait > TimeSpan.FromMilliseconds(1))
                {
                    await Task.Delay(wait);
                }
                inFlight.Add(SubmitOneAsync(http, Stopwatch.GetTimestamp()));
            }
            await Task.WhenAll(inFlight);
            try
            {
                await pool.WaitForCompletionsAsync(total);
            }
            catch (TimeoutException)
            {
                // What the hub says it holds, to tell a stuck broker from a stuck worker.
                foreach (var path in new[] { "/api/supervisor/agents", "/api/jobs?status=pending&limit=2", "/api/jobs?status=assigned&limit=3" })
                {
                    Console.Error.WriteLine($"  {path}: {await http.GetStringAsync(new Uri(path, UriKind.Relative))}");
                }
                throw;
            }
            var latency = pool.Latency;
            string Ms(double percentile) => (latency.GetValueAtPercentile(percentile) * 1000.0 / Stopwatch.Frequency).ToString("0.00", System.Globalization.CultureInfo.InvariantCulture);
            var max = (latency.GetMaxValue() * 1000.0 / Stopwatch.Frequency).ToString("0.00", System.Globalization.CultureInfo.InvariantCulture);
            Console.Error.WriteLine($"  {backend}: dispatch at {rate}/s p50 {Ms(50)} ms, p99 {Ms(99)} ms, max {max} ms");
            rows.Add($"| {backend} | {workers} x {slots} | {throughput:N0} | {rate:N0} | {Ms(50)} | {Ms(99)} | {max} |");
            await pool.DisposeAsync();
        }

        Console.WriteLine("| backend | workers x slots | jobs/s end to end | paced rate (jobs/s) | dispatch p50 ms | dispatch p99 ms | max ms |");
        Console.WriteLine("| --- | --- | ---: | ---: | ---: | ---: | ---: |");
        rows.ForEach(Console.WriteLine);
        return 0;
    }

    /// <summary>
    /// Submits up to <paramref name="count"/> jobs from concurrent submitters, each on its own keep-alive connection
    /// with a ready-made request (as cheap as wrk), stopping early after <paramref name="limit"/>; returns how many.
    /// </summary>
    private static async Task<int> SubmitConcurrentlyAsync(Uri baseAddress, int count, int submitters, TimeSpan limit)
    {
        var request = RawHttpConnection.JsonPost(baseAddress, "/api/jobs", """{"job_type":"bench","payload":{"t":0}}""");
        var next = 0;
        var submitted = 0;
        var clock = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, submitters).Select(async _ =>
        {
            using var connection = await RawHttpConnection.OpenAsync(baseAddress);
            while ((limit == Timeout.InfiniteTimeSpan || clock.Elapsed < limit) && Interlocked.Increment(ref next) <= count)
            {
                var status = await connection.SendAsync(request);
                if (status != 201)
                {
                    throw new InvalidOperationException($"POST /api/jobs answered {status}");
                }
                Interlocked.Increment(ref submitted);
            }
        }));
        return submitted;
    }

    private static async Task SubmitOneAsync(HttpClient http, long stamp)
    {
        // A sized body, as JobsClient sends it: no chunked encoding to pay for on either side.
        using var content = new StringContent(
            "{\"job_type\":\"bench\",\"payload\":{\"t\":" + stamp.ToString(System.Globalization.CultureInfo.InvariantCulture) + "}}",
            Encoding.UTF8, "application/json");
        using var response = await http.PostAsync("/api/jobs", content);
        response.EnsureSuccessStatusCode();
    }

    /// <summary>No-op workers on raw WebSockets: complete every job the moment it arrives.</summary>
}
