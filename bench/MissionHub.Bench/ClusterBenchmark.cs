using System.Diagnostics;
using System.Globalization;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using HdrHistogram;

namespace MissionHub.Bench;

/// <summary>
/// <c>cluster</c> (issue 12): MissionHub on Redis with 1, 2 and 3 server processes sharing one redis-server (16
/// no-op workers x 4 slots and the submitters spread over the processes) — jobs/s end to end, and dispatch latency
/// (submit → <c>job_assigned</c>) at a paced rate — and BullMQ with the same workload on the same redis-server
/// (<c>bench/peers/bullmq</c>), interleaved, for several rounds, with the ratio MissionHub/BullMQ per round. Every
/// MissionHub run checks that each job was completed exactly once at the workers (none lost, none doubled).
/// </summary>
internal static class ClusterBenchmark
{

    public const string Usage = "[--processes 1,2,3] [--rounds 3] [--jobs 20000] [--workers 16] [--slots 4] [--submitters 32] [--warmup 5 (seconds)] [--rate 1000] [--seconds 5] [--bullmq-mode single|bulk] [--submit single|batch] [--backend redis|sqlite]";

    public static async Task<int> RunAsync(string[] args)
    {
        var options = BenchArgs.Parse(args, new()
        {
            ["processes"] = "1,2,3", ["rounds"] = "3", ["jobs"] = "20000", ["workers"] = "16", ["slots"] = "4", ["submitters"] = "32",
            ["warmup"] = "5", ["rate"] = "1000", ["seconds"] = "5", ["bullmq-mode"] = "single", ["submit"] = "single", ["backend"] = "redis",
        });
        var processCounts = options.IntList("processes");
        var rounds = options.Int("rounds");
        var submit = options.Text("submit");
        var backend = options.Text("backend");
        if (submit is not ("single" or "batch") || backend is not ("redis" or "sqlite"))
        {
            throw new ArgumentException("--submit must be single or batch, --backend redis or sqlite");
        }
        if (backend == "sqlite" && processCounts.Any(p => p != 1))
        {
            throw new ArgumentException("--backend sqlite runs one process: pass --processes 1");
        }
        // A batch is POST /api/jobs/batch of 1,000 jobs, like BullMQ's addBulk of 1,000.
        var settings = new RunSettings(options.Int("jobs"), options.Int("workers"), options.Int("slots"), options.Int("submitters"),
            options.Int("warmup"), options.Int("rate"), options.Int("seconds"), submit == "batch" ? 1000 : 1, backend);
        var bullMode = options.Text("bullmq-mode");
        if (bullMode is not ("single" or "bulk"))
        {
            throw new ArgumentException("--bullmq-mode must be single or bulk");
        }

        await using var redis = await RedisServerProcess.StartAsync();
        var peer = BullMqPeer.Find(out var whyNot);
        if (peer is not null && await peer.EnsureInstalledAsync() is { } installProblem)
        {
            (peer, whyNot) = (null, installProblem);
        }
        var nodeVersion = peer is null ? "" : await peer.NodeVersionAsync();
        var redisVersion = await RedisServerProcess.VersionAsync();
        Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"cluster: {settings.Jobs:N0} jobs, {settings.Workers} workers x {settings.Slots} slots, {settings.Submitters} submitters, " +
            $"{(settings.Batch > 1 ? $"batches of {settings.Batch}" : "single submits")}, {settings.Backend}, " +
            $"MissionHub on {string.Join('/', processCounts)} processes, latency at {settings.Rate}/s for {settings.Seconds} s, {rounds} rounds, " +
            $"{Environment.ProcessorCount} cores, load average {RoundStats.LoadAverage()}; {redisVersion}"));
        Console.Error.WriteLine(peer is null ? $"  BullMQ: {whyNot}" : $"  BullMQ peer: node {nodeVersion}, {peer.Folder}, {bullMode} adds");

        var rows = new List<string>();
        var failures = 0;
        for (var round = 1; round <= rounds; round++)
        {
            var hub = new List<(int Processes, HubResult Result)>();
            foreach (var processes in processCounts)
            {
                var result = await RunMissionHubAsync(redis, processes, settings);
                hub.Add((processes, result));
                var verdict = result.Lost == 0 && result.Doubled == 0 ? "every job completed once" : $"FAILED CHECK: {result.Lost} lost, {result.Doubled} doubled";
                if (result.Lost != 0 || result.Doubled != 0)
                {
                    failures++;
                }
                Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"round {round}  missionhub {settings.Backend} x{processes} ({(settings.Batch > 1 ? "batches" : "single submits")}): {result.JobsPerSecond:N0} jobs/s end to end; dispatch at {settings.Rate}/s p50 {result.P50Ms:0.00} ms, " +
                    $"p99 {result.P99Ms:0.00} ms, max {result.MaxMs:0.00} ms; {verdict}; {result.Cpu}"));
            }
            BullMqResult? bull = null;
            if (peer is not null)
            {
                try
                {
                    var redisBefore = redis.ProcessorTime;
                    bull = await peer.RunAsync(redis.Port, settings.Jobs, settings.Workers, settings.Slots, settings.Submitters, bullMode,
                        warmupJobs: 2_000, settings.Rate, settings.Seconds);
                    // Over the whole peer run (warm-up, end to end, paced): BullMQ reports no phase boundaries.
                    var bullRedisUs = (redis.ProcessorTime - redisBefore).TotalMicroseconds / (2_000 + settings.Jobs + settings.Rate * settings.Seconds);
                    Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture,
                        $"round {round}  bullmq {bull.Version} ({bullMode} adds): {bull.JobsPerSecond:N0} jobs/s end to end; add → processor at {settings.Rate}/s " +
                        $"p50 {bull.LatencyP50Ms:0.00} ms, p99 {bull.LatencyP99Ms:0.00} ms, max {bull.LatencyMaxMs:0.00} ms; {bull.Lost} lost, {bull.Doubled} doubled; " +
                        $"redis-server CPU per job {bullRedisUs:0} µs (whole run)"));
                }
                catch (Exception ex) when (ex is InvalidOperationException or TimeoutException or JsonException or KeyNotFoundException)
                {
                    Console.Error.WriteLine($"round {round}  bullmq: run failed: {ex.Message}");
                }
            }
            var ratios = bull is null
                ? "no BullMQ figure"
                : string.Join(", ", hub.Select(h => string.Create(CultureInfo.InvariantCulture, $"x{h.Processes} {h.Result.JobsPerSecond / bull.JobsPerSecond:0.00}")));
            Console.Error.WriteLine($"round {round}  ratio MissionHub/BullMQ jobs/s: {ratios} (target ≥ 1.5); load average {RoundStats.LoadAverage()}");
            foreach (var (processes, result) in hub)
            {
                rows.Add(string.Create(CultureInfo.InvariantCulture,
                    $"| {round} | MissionHub {settings.Backend}, {processes} process{(processes == 1 ? "" : "es")}, {(settings.Batch > 1 ? $"batches of {settings.Batch}" : "single submits")} | {result.JobsPerSecond:N0} | {result.P50Ms:0.00} | {result.P99Ms:0.00} | {result.MaxMs:0.00} | " +
                    $"{result.Lost} / {result.Doubled} | {(bull is null ? "–" : (result.JobsPerSecond / bull.JobsPerSecond).ToString("0.00", CultureInfo.InvariantCulture))} |"));
            }
            if (bull is not null)
            {
                rows.Add(string.Create(CultureInfo.InvariantCulture,
                    $"| {round} | BullMQ {bull.Version} ({bullMode} adds) | {bull.JobsPerSecond:N0} | {bull.LatencyP50Ms:0.00} | {bull.LatencyP99Ms:0.00} | {bull.LatencyMaxMs:0.00} | {bull.Lost} / {bull.Doubled} | 1.00 |"));
            }
        }

        Console.WriteLine($"| round | system | jobs/s end to end | dispatch p50 ms (at {settings.Rate}/s) | p99 ms | max ms | lost / doubled | ratio to BullMQ |");
        Console.WriteLine("| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |");
        rows.ForEach(Console.WriteLine);
        if (peer is null)
        {
            Console.WriteLine($"BullMQ not measured: {whyNot}");
        }
        return failures == 0 ? 0 : 1;
    }

    private sealed record RunSettings(
        int Jobs, int Workers, int Slots, int Submitters, int WarmupSeconds, int Rate, int Seconds, int Batch, string Backend);

    private sealed record HubResult(double JobsPerSecond, double P50Ms, double P99Ms, double MaxMs, int Lost, int Doubled, CpuPerJob Cpu);

    /// <summary>CPU microseconds per job end to end: the MissionHub processes together, redis-server, and the bench's own clients.</summary>
    private sealed record CpuPerJob(double ServerUs, double RedisUs, double BenchUs)
    {
        public override string ToString() => string.Create(CultureInfo.InvariantCulture,
            $"CPU per job: servers {ServerUs:0} µs, redis-server {RedisUs:0} µs, bench clients {BenchUs:0} µs");
    }

    /// <summary>The CPU the processes had used when the measured run started.</summary>
    private sealed record CpuShares(HubServer[] Servers, RedisServerProcess Redis, TimeSpan ServersAt, TimeSpan RedisAt, TimeSpan BenchAt)
    {
        public static CpuShares Start(HubServer[] servers, RedisServerProcess redis) =>
            new(servers, redis, Sum(servers), redis.ProcessorTime, Process.GetCurrentProcess().TotalProcessorTime);

        public CpuPerJob PerJob(int jobs) => new(
            (Sum(Servers) - ServersAt).TotalMicroseconds / jobs,
            (Redis.ProcessorTime - RedisAt).TotalMicroseconds / jobs,
            (Process.GetCurrentProcess().TotalProcessorTime - BenchAt).TotalMicroseconds / jobs);

        private static TimeSpan Sum(HubServer[] servers) => servers.Aggregate(TimeSpan.Zero, (total, s) => total + s.ProcessorTime);
    }

    private static async Task<HubResult> RunMissionHubAsync(RedisServerProcess redis, int processes, RunSettings settings)
    {
        // One deployment: every process on the same Redis with the same key prefix.
        var shared = new Dictionary<string, string> { ["MissionHub__Storage__Redis__KeyPrefix"] = $"benchcluster{Guid.NewGuid():N}:" };
        var servers = await Task.WhenAll(Enumerable.Range(0, processes).Select(_ => HubServer.StartAsync(settings.Backend, redis, shared)));
        var addresses = servers.Select(s => s.BaseAddress).ToArray();
        var pool = new BenchWorkerPool(servers, settings.Workers, settings.Slots);
        try
        {
            await pool.StartAsync();

            // Warm-up at full load (tiered compilation of every process), then the measured run.
            var warmed = await SubmitSpreadAsync(addresses, int.MaxValue, settings.Submitters, TimeSpan.FromSeconds(settings.WarmupSeconds), settings.Batch);
            await pool.WaitForCompletionsAsync(warmed);
            pool.Reset(track: true);
            var cpu = CpuShares.Start(servers, redis);
            var clock = Stopwatch.StartNew();
            var submitted = await SubmitSpreadAsync(addresses, settings.Jobs, settings.Submitters, Timeout.InfiniteTimeSpan, settings.Batch);
            var done = await pool.TryWaitForCompletionsAsync(submitted);
            var throughput = submitted / clock.Elapsed.TotalSeconds;
            var cpuPerJob = cpu.PerJob(submitted);
            var (distinct, doubled) = pool.CheckOnce();
            var lost = submitted - distinct;
            if (!done)
            {
                Console.Error.WriteLine($"  x{processes}: only {pool.Completed} of {submitted} jobs completed; {await DescribeAsync(addresses)}");
            }

            // Latency: paced submissions, round-robin over the processes; each job carries its submit time.
            pool.Reset(track: false);
            pool.Latency = new LongHistogram(60 * Stopwatch.Frequency, 3);
            var clients = addresses.Select(a => new HttpClient { BaseAddress = a }).ToArray();
            try
            {
                var total = settings.Rate * settings.Seconds;
                var pacing = Stopwatch.StartNew();
                var inFlight = new List<Task>(total);
                for (var i = 0; i < total; i++)
                {
                    var wait = TimeSpan.FromSeconds((double)i / settings.Rate) - pacing.Elapsed;
                    if (wait > TimeSpan.FromMilliseconds(1))
                    {
                        await Task.Delay(wait);
                    }
                    inFlight.Add(SubmitOneAsync(clients[i % clients.Length], Stopwatch.GetTimestamp()));
                }
                await Task.WhenAll(inFlight);
                if (!await pool.TryWaitForCompletionsAsync(total))
                {
                    Console.Error.WriteLine($"  x{processes}: paced run: only {pool.Completed} of {total} jobs completed; {await DescribeAsync(addresses)}");
                    lost += (int)(total - pool.Completed);
                }
            }
            finally
            {
                foreach (var client in clients)
                {
                    client.Dispose();
                }
            }
            var latency = pool.Latency;
            double Ms(long value) => value * 1000.0 / Stopwatch.Frequency;
            return new HubResult(throughput, Ms(latency.GetValueAtPercentile(50)), Ms(latency.GetValueAtPercentile(99)), Ms(latency.GetMaxValue()), lost, doubled, cpuPerJob);
        }
        finally
        {
            await pool.DisposeAsync();
            foreach (var server in servers)
            {
                await server.DisposeAsync();
            }
        }
    }

    /// <summary>What each process says it holds, to tell a stuck hub from a stuck worker.</summary>
    private static async Task<string> DescribeAsync(Uri[] addresses)
    {
        var text = new StringBuilder();
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        foreach (var address in addresses)
        {
            try
            {
                var pending = await http.GetStringAsync(new Uri(address, "/api/jobs?status=pending&limit=1"));
                var assigned = await http.GetStringAsync(new Uri(address, "/api/jobs?status=assigned&limit=1"));
                text.Append(CultureInfo.InvariantCulture, $"{address.Port}: pending {Truncate(pending)} assigned {Truncate(assigned)}; ");
            }
            catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException)
            {
                text.Append(CultureInfo.InvariantCulture, $"{address.Port}: {ex.Message}; ");
            }
        }
        return text.ToString();
    }

    private static string Truncate(string text) => text.Length <= 300 ? text : text[..300] + "…";

    /// <summary>
    /// Concurrent raw keep-alive submitters, submitter <c>s</c> on process <c>s mod N</c>, each sending one job per
    /// request or <paramref name="batch"/> jobs per <c>POST /api/jobs/batch</c>; returns how many jobs were accepted.
    /// </summary>
    private static async Task<int> SubmitSpreadAsync(Uri[] addresses, int count, int submitters, TimeSpan limit, int batch)
    {
        const string Job = """{"job_type":"bench","payload":{"t":0}}""";
        byte[] Request(Uri address, int jobs) => jobs == 1 && batch == 1
            ? RawHttpConnection.JsonPost(address, "/api/jobs", Job)
            : RawHttpConnection.JsonPost(address, "/api/jobs/batch", "{\"jobs\":[" + string.Join(',', Enumerable.Repeat(Job, jobs)) + "]}");
        var full = addresses.Select(a => Request(a, batch)).ToArray();
        long next = 0;
        var submitted = 0;
        var clock = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, submitters).Select(async s =>
        {
            var target = s % addresses.Length;
            using var connection = await RawHttpConnection.OpenAsync(addresses[target]);
            while (limit == Timeout.InfiniteTimeSpan || clock.Elapsed < limit)
            {
                var first = Interlocked.Add(ref next, batch) - batch;
                if (first >= count)
                {
                    break;
                }
                var jobs = (int)Math.Min(batch, count - first);
                var status = await connection.SendAsync(jobs == batch ? full[target] : Request(addresses[target], jobs));
                if (status != 201)
                {
                    throw new InvalidOperationException($"submitting {jobs} job(s) answered {status}");
                }
                Interlocked.Add(ref submitted, jobs);
            }
        }));
        return submitted;
    }

    private static async Task SubmitOneAsync(HttpClient http, long stamp)
    {
        using var content = new StringContent(
            "{\"job_type\":\"bench\",\"payload\":{\"t\":" + stamp.ToString(CultureInfo.InvariantCulture) + "}}", Encoding.UTF8, "application/json");
        using var response = await http.PostAsync(new Uri("/api/jobs", UriKind.Relative), content);
        response.EnsureSuccessStatusCode();
    }

    /// <summary>
    /// No-op workers on raw WebSockets, worker <c>i</c> on process <c>i mod N</c>: each completes a job the moment it
    /// arrives, and (when tracking) counts completions per job id, to prove every job was done exactly once.
    /// </summary>
}
