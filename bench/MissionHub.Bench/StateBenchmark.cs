using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using HdrHistogram;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using MissionHub.Events;
using MissionHub.Storage;
using MissionHub.Storage.Redis;
using MissionHub.Storage.Sqlite;

namespace MissionHub.Bench;

/// <summary>
/// <c>state</c>: <c>GET /api/state?at_seq=</c> at random seqs of a long log. The log is filled first through the real
/// event log (a hub workload: jobs submitted, assigned, run, completed or failed by 20 workers, missions changing, robots
/// publishing metrics), then the server starts on it, its checkpoint writer catches up, and requests are timed.
/// </summary>
internal static class StateBenchmark
{
    public const string Usage = "[--events 1000000] [--requests 500] [--clients 1,4] [--checkpoint-every 2000] [--backend sqlite|redis|all]";

    public static async Task<int> RunAsync(string[] args)
    {
        var options = BenchArgs.Parse(args, new()
        {
            ["events"] = "1000000", ["requests"] = "500", ["clients"] = "1,4", ["checkpoint-every"] = "2000", ["backend"] = "sqlite",
        });
        var events = options.Int("events");
        var requests = options.Int("requests");
        var every = options.Int("checkpoint-every");
        Console.Error.WriteLine($"state: {events:N0} events, checkpoint every {every:N0}, {requests} requests per run, {Environment.ProcessorCount} cores, load {LoadAverage()}");
        var rows = new List<string>();
        foreach (var backend in options.Backends)
        {
            var redis = backend == "redis" ? await RedisServerProcess.StartAsync() : null;
            var folder = Directory.CreateTempSubdirectory("missionhub-bench-state-").FullName;
            try
            {
                var prefix = $"benchstate{Guid.NewGuid():N}:";
                var storage = new StorageOptions
                {
                    Provider = backend,
                    Sqlite = { Path = Path.Combine(folder, "state.db"), Synchronous = "normal" },
                    Redis = { Configuration = redis?.Configuration ?? "", KeyPrefix = prefix },
                };
                var seeding = Stopwatch.StartNew();
                await SeedAsync(storage, events);
                Console.Error.WriteLine($"  {backend}: {events:N0} events appended in {seeding.Elapsed.TotalSeconds:N1} s");

                var settings = new Dictionary<string, string>
                {
                    ["MissionHub__History__CheckpointEvery"] = every.ToString(CultureInfo.InvariantCulture),
                    ["MissionHub__Events__MaxEvents"] = (events * 2L).ToString(CultureInfo.InvariantCulture),
                    ["MissionHub__Storage__Sqlite__Path"] = storage.Sqlite.Path,
                    ["MissionHub__Storage__Redis__KeyPrefix"] = prefix,
                };
                await using var server = await HubServer.StartAsync(backend, redis, settings);
                using var client = new HttpClient { BaseAddress = server.BaseAddress, Timeout = TimeSpan.FromMinutes(2) };
                var catchUp = Stopwatch.StartNew();
                long last;
                // The writer's progress from /metrics (asking /api/state for it would rebuild the state at every poll).
                while (true)
                {
                    last = (await GetAsync(client, "/api/health")).GetProperty("last_seq").GetInt64();
                    if (await CheckpointSeqAsync(client) >= last / every * every)
                    {
                        break;
                    }
                    await Task.Delay(500);
                }
                var caughtUpIn = catchUp.Elapsed;
                Console.Error.WriteLine($"  {backend}: checkpoints caught up with seq {last:N0} in {catchUp.Elapsed.TotalSeconds:N1} s");
                if (!storage.UsesRedis)
                {
                    await using var file = new SqliteConnection($"Data Source={storage.Sqlite.Path};Mode=ReadOnly");
                    await file.OpenAsync();
                    using var size = file.CreateCommand();
                    size.CommandText = "SELECT COUNT(*), COALESCE(AVG(LENGTH(state)), 0) FROM state_checkpoints";
                    using var reader = await size.ExecuteReaderAsync();
                    await reader.ReadAsync();
                    Console.Error.WriteLine($"  {backend}: {reader.GetInt64(0):N0} checkpoints stored, {reader.GetDouble(1) / 1024:N0} KiB each on average");
                }
                // What a rebuild costs with nothing to replay, and with a whole interval to replay.
                var atCheckpoint = await MeasureAsync(client, last, Math.Min(requests, 100), 1, seq => seq / every * every + 1);
                var intervalAfter = await MeasureAsync(client, last, Math.Min(requests, 100), 1, seq => Math.Min(last, seq / every * every + every - 1));
                foreach (var clients in options.IntList("clients"))
                {
                    var latency = await MeasureAsync(client, last, requests, clients, seq => seq);
                    var row = $"| {backend} | {events:N0} | {every:N0} | {clients} | {requests} | {Ms(latency.GetValueAtPercentile(50))} | " +
                        $"{Ms(latency.GetValueAtPercentile(99))} | {Ms(latency.GetMaxValue())} | {Ms(atCheckpoint.GetValueAtPercentile(50))} | " +
                        $"{Ms(intervalAfter.GetValueAtPercentile(50))} | {caughtUpIn.TotalSeconds:N0} s | {LoadAverage()} |";
                    Console.Error.WriteLine("  " + row);
                    rows.Add(row);
                }
            }
            finally
            {
                if (redis is not null)
                {
                    await redis.DisposeAsync();
                }
                SqliteConnection.ClearAllPools();
                Directory.Delete(folder, recursive: true);
            }
        }
        Console.WriteLine("| backend | events | checkpoint every | clients | requests | p50 ms | p99 ms | max ms | p50 ms, 1 event after a checkpoint | p50 ms, a whole interval after | checkpoint catch-up | load (1/5/15 min) |");
        Console.WriteLine("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |");
        rows.ForEach(Console.WriteLine);
        return 0;
    }

    /// <summary>Each client asks for random seqs of the whole log, one request at a time; every answer must be the seq asked.</summary>
    private static async Task<LongHistogram> MeasureAsync(HttpClient client, long last, int requests, int clients, Func<long, long> pick)
    {
        var all = new LongHistogram(60 * Stopwatch.Frequency, 3);
        var next = -1;
        var perClient = await Task.WhenAll(Enumerable.Range(0, clients).Select(c => Task.Run(async () =>
        {
            var random = new Random(c + 1);
            var latency = new LongHistogram(60 * Stopwatch.Frequency, 3);
            while (Interlocked.Increment(ref next) < requests)
            {
                var seq = pick(random.NextInt64(1, last + 1));
                var started = Stopwatch.GetTimestamp();
                var state = await GetAsync(client, $"/api/state?at_seq={seq}");
                latency.RecordValue(Stopwatch.GetTimestamp() - started);
                if (state.GetProperty("seq").GetInt64() != seq)
                {
                    throw new InvalidOperationException($"asked for seq {seq}, got {state.GetProperty("seq")}");
                }
            }
            return latency;
        })));
        foreach (var latency in perClient)
        {
            all.Add(latency);
        }
        return all;
    }

    private static async Task<long> CheckpointSeqAsync(HttpClient client)
    {
        const string Gauge = "missionhub_history_checkpoint_seq";
        var metrics = await client.GetStringAsync(new Uri("/metrics", UriKind.Relative));
        // "name{labels} value": the value follows the labels.
        var line = metrics.Split('\n').FirstOrDefault(l => l.StartsWith(Gauge + "{", StringComparison.Ordinal) || l.StartsWith(Gauge + " ", StringComparison.Ordinal));
        return line is null ? 0 : (long)double.Parse(line[(line.LastIndexOf('}') + 1)..].Trim().Split(' ')[0], CultureInfo.InvariantCulture);
    }

    private static async Task<JsonElement> GetAsync(HttpClient client, string path)
    {
        using var response = await client.GetAsync(new Uri(path, UriKind.Relative));
        var body = await response.Content.ReadAsStringAsync();
        if (!response.IsSuccessStatusCode)
        {
            throw new InvalidOperationException($"GET {path} answered {(int)response.StatusCode}: {body}");
        }
        return JsonDocument.Parse(body).RootElement.Clone();
    }

    /// <summary>Appends the workload through the backend's own event log, in order, a window of appends in flight.</summary>
    private static async Task SeedAsync(StorageOptions storage, int count)
    {
        var eventOptions = Options.Create(new EventLogOptions());
        await using var log = storage.UsesRedis
            ? (IEventLog)new RedisEventLog(new RedisConnection(Options.Create(storage), NullLogger<RedisConnection>.Instance),
                new RedisKeys(Options.Create(storage)), eventOptions, NullLogger<RedisEventLog>.Instance)
            : new SqliteEventLog(new SqliteDatabase(Options.Create(storage)), eventOptions, NullLogger<SqliteEventLog>.Instance);
        await log.InitializeAsync(CancellationToken.None);
        var inFlight = new Queue<Task<CharterEvent>>();
        foreach (var draft in HubWorkload.Events(count, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() / 1000.0 - 3600))
        {
            // Queued in call order, so seqs follow the workload's causal order.
            inFlight.Enqueue(log.AppendAsync(draft));
            if (inFlight.Count >= 4096)
            {
                await inFlight.Dequeue();
            }
        }
        await Task.WhenAll(inFlight);
    }

    private static string Ms(long ticks) => (ticks * 1000.0 / Stopwatch.Frequency).ToString("N1", CultureInfo.InvariantCulture);

    private static string LoadAverage() =>
        File.Exists("/proc/loadavg") ? string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3)) : "n/a";
}
