using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Json;
using HdrHistogram;

namespace MissionHub.Bench;

/// <summary>
/// <c>timing</c>: how punctual time-driven work is. Delayed jobs: N jobs with <c>run_at</c> spread over a window,
/// submitted in batches ahead of it; each job's lateness is its arrival at a no-op worker minus its <c>run_at</c>.
/// Schedules: S schedules whose cron names the same second; the time from that second to the last job's arrival.
/// </summary>
internal static class TimingBenchmark
{
    public const string Usage = "[--backend sqlite|redis|all] [--jobs 100000] [--window 10 (seconds)] [--schedules 10000] [--workers 16] [--slots 16]";

    public static async Task<int> RunAsync(string[] args)
    {
        var options = BenchArgs.Parse(args, new()
        {
            ["backend"] = "all", ["jobs"] = "100000", ["window"] = "10", ["schedules"] = "10000", ["workers"] = "16", ["slots"] = "16",
        });
        var jobs = options.Int("jobs");
        var window = options.Int("window");
        var schedules = options.Int("schedules");
        Console.Error.WriteLine($"timing: {jobs:N0} delayed jobs over {window} s, {schedules:N0} schedules due in one second, {Environment.ProcessorCount} cores");
        await using var redis = options.Backends.Contains("redis") ? await RedisServerProcess.StartAsync() : null;
        var rows = new List<string>();
        foreach (var backend in options.Backends)
        {
            await using var server = await HubServer.StartAsync(backend, backend == "redis" ? redis : null,
                new Dictionary<string, string> { ["MissionHub__Schedules__MaxSchedules"] = (schedules + 10).ToString(CultureInfo.InvariantCulture) });
            using var http = new HttpClient { BaseAddress = server.BaseAddress, Timeout = TimeSpan.FromMinutes(5) };
            await using var pool = new BenchWorkerPool([server], options.Int("workers"), options.Int("slots"));
            await pool.StartAsync();

            var (p50, p99, max) = await DelayedAsync(http, pool, jobs, window);
            Console.Error.WriteLine($"  {backend}: delayed lateness p50 {p50} ms, p99 {p99} ms, max {max} ms");
            pool.Reset(track: false);
            var (created, toLast) = await SchedulesAsync(http, pool, schedules);
            Console.Error.WriteLine($"  {backend}: {schedules:N0} schedules ({created:0.0} s to create): tick to last job_assigned {toLast:0} ms");
            rows.Add($"| {backend} | {jobs:N0} over {window} s | {p50} | {p99} | {max} | {schedules:N0} | {toLast:0} |");
        }
        Console.WriteLine("| backend | delayed jobs | lateness p50 ms | lateness p99 ms | max ms | schedules due in one second | tick to last job_assigned ms |");
        Console.WriteLine("| --- | --- | ---: | ---: | ---: | ---: | ---: |");
        rows.ForEach(Console.WriteLine);
        return 0;
    }

    /// <summary>
    /// Submits the jobs (1,000 per batch) with run_at from a few seconds after the last batch is expected to be stored;
    /// each job's payload carries its run_at as a Stopwatch stamp, so the pool records lateness on arrival.
    /// </summary>
    private static async Task<(string P50, string P99, string Max)> DelayedAsync(HttpClient http, BenchWorkerPool pool, int jobs, int window)
    {
        pool.Latency = new LongHistogram(600 * Stopwatch.Frequency, 3);
        // Leave time to store them all first: about 20 s per 100,000 here, plus a margin.
        var lead = 5.0 + jobs / 5000.0;
        var startUnix = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() / 1000.0 + lead;
        var startStamp = Stopwatch.GetTimestamp() + (long)(lead * Stopwatch.Frequency);
        var submitClock = Stopwatch.StartNew();
        var batches = Enumerable.Range(0, (jobs + 999) / 1000).ToList();
        await Parallel.ForEachAsync(batches, new ParallelOptions { MaxDegreeOfParallelism = 4 }, async (b, token) =>
        {
            var batch = Enumerable.Range(b * 1000, Math.Min(1000, jobs - b * 1000)).Select(i =>
            {
                var offset = (double)i / jobs * window;
                return new { job_type = "bench", run_at = startUnix + offset, payload = new { t = startStamp + (long)(offset * Stopwatch.Frequency) } };
            }).ToArray();
            using var response = await http.PostAsJsonAsync("/api/jobs/batch", new { jobs = batch }, token);
            response.EnsureSuccessStatusCode();
        });
        Console.Error.WriteLine($"  stored {jobs:N0} delayed jobs in {submitClock.Elapsed.TotalSeconds:0.0} s (the first is due {lead:0.0} s after the start)");
        if (submitClock.Elapsed.TotalSeconds > lead)
        {
            Console.Error.WriteLine("  warning: storing took longer than the lead; the first jobs were due before they were stored");
        }
        await pool.WaitForCompletionsAsync(jobs);
        var latency = pool.Latency;
        string Ms(long value) => (value * 1000.0 / Stopwatch.Frequency).ToString("0.00", CultureInfo.InvariantCulture);
        var result = (Ms(latency.GetValueAtPercentile(50)), Ms(latency.GetValueAtPercentile(99)), Ms(latency.GetMaxValue()));
        pool.Latency = null;
        return result;
    }

    /// <summary>Creates the schedules with a cron naming one second well after they are all stored, then times that tick's jobs.</summary>
    private static async Task<(double CreateSeconds, double TickToLastMs)> SchedulesAsync(HttpClient http, BenchWorkerPool pool, int count)
    {
        var lead = 10 + count / 1000;
        var tick = DateTimeOffset.FromUnixTimeSeconds(DateTimeOffset.UtcNow.ToUnixTimeSeconds() + lead);
        var cron = $"{tick.Second} {tick.Minute} {tick.Hour} {tick.Day} {tick.Month} *";
        var clock = Stopwatch.StartNew();
        await Parallel.ForEachAsync(Enumerable.Range(0, count), new ParallelOptions { MaxDegreeOfParallelism = 8 }, async (i, token) =>
        {
            using var response = await http.PostAsJsonAsync("/api/schedules",
                new { id = $"bench-{i}", cron, job = new { job_type = "bench", payload = new { t = 0 } } }, token);
            response.EnsureSuccessStatusCode();
        });
        var created = clock.Elapsed.TotalSeconds;
        if (DateTimeOffset.UtcNow >= tick)
        {
            Console.Error.WriteLine("  warning: creating the schedules took longer than the lead; their tick had passed");
        }
        await pool.WaitForCompletionsAsync(count);
        return (created, (DateTimeOffset.UtcNow - tick).TotalMilliseconds);
    }
}
