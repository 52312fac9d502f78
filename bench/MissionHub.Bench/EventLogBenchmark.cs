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
/// <c>eventlog</c>: appends per second and append latency of the real event log backends with 1, 8 and 64
/// concurrent publishers, next to the raw <c>XADD</c> rate of the same <c>redis-server</c> (issue 2).
/// </summary>
internal static class EventLogBenchmark
{
    public const string Usage = "[--events N] [--publishers 1,8,64] [--backend sqlite|redis|all|memory]";

    private const int RawXaddRequests = 200_000;
    private const int MaxWarmupEvents = 20_000;

    public static async Task<int> RunAsync(string[] args)
    {
        var settings = EventLogSettings.Parse(args);
        var backends = new List<Backend>();
        if (settings.Memory)
        {
            backends.Add(new Backend("memory (no store)", async () =>
            {
                var underTest = new LogUnderTest(new InMemoryEventLog(), () => ValueTask.CompletedTask);
                await InitializeOrDisposeAsync(underTest);
                return underTest;
            }));
        }
        if (settings.Sqlite)
        {
            backends.Add(SqliteBackend("full"));
            backends.Add(SqliteBackend("normal"));
        }

        Console.Error.WriteLine(
            $"eventlog: {settings.Events:N0} events per run, publishers {string.Join(",", settings.Publishers)}, " +
            $"{Environment.ProcessorCount} cores, {(System.Runtime.GCSettings.IsServerGC ? "server" : "workstation")} GC");

        var redis = settings.Redis ? await RedisServerProcess.StartAsync() : null;
        try
        {
            if (redis is not null)
            {
                Console.Error.WriteLine($"redis-server started on 127.0.0.1:{redis.Port}");
                backends.Add(RedisBackend(redis));
            }

            var results = new List<RunResult>();
            foreach (var backend in backends)
            {
                foreach (var publishers in settings.Publishers)
                {
                    var result = await MeasureAsync(backend, publishers, settings.Events);
                    Console.Error.WriteLine(
                        $"  {result.Backend} x{result.Publishers}: {result.EventsPerSecond:N0} events/s, " +
                        $"p50 {result.P50Micros:N0} µs, p99 {result.P99Micros:N0} µs");
                    results.Add(result);
                }
            }

            double? rawXadd = null;
            if (redis is not null)
            {
                rawXadd = await redis.RawXaddRateAsync(RawXaddRequests);
                Console.Error.WriteLine($"  redis-benchmark XADD: {rawXadd:N0} requests/s");
            }

            Console.WriteLine(FormatReport(results, rawXadd));
            return 0;
        }
        finally
        {
            if (redis is not null)
            {
                await redis.DisposeAsync();
            }
        }
    }

    /// <summary>One backend's log on a fresh store (a new SQLite file, a new Redis key prefix) for one run.</summary>
    private sealed record Backend(string Name, Func<Task<LogUnderTest>> CreateAsync);

    private sealed class LogUnderTest(IEventLog log, Func<ValueTask> cleanUp) : IAsyncDisposable
    {
        public IEventLog Log { get; } = log;

        public async ValueTask DisposeAsync()
        {
            try
            {
                await Log.DisposeAsync();
            }
            finally
            {
                await cleanUp();
            }
        }
    }

    private static Backend SqliteBackend(string synchronous) => new($"sqlite (synchronous={synchronous})", async () =>
    {
        var folder = Directory.CreateTempSubdirectory("missionhub-bench-sqlite-").FullName;
        var storage = new StorageOptions
        {
            Provider = StorageOptions.SqliteProvider,
            Sqlite = { Path = Path.Combine(folder, "events.db"), Synchronous = synchronous },
        };
        var log = new SqliteEventLog(
            new SqliteDatabase(Options.Create(storage)), Options.Create(new EventLogOptions()), NullLogger<SqliteEventLog>.Instance);
        var underTest = new LogUnderTest(log, () =>
        {
            SqliteConnection.ClearAllPools();
            Directory.Delete(folder, recursive: true);
            return ValueTask.CompletedTask;
        });
        await InitializeOrDisposeAsync(underTest);
        return underTest;
    });

    private static Backend RedisBackend(RedisServerProcess server) => new("redis", async () =>
    {
        var storage = new StorageOptions
        {
            Provider = StorageOptions.RedisProvider,
            Redis = { Configuration = server.Configuration, KeyPrefix = $"bench:{Guid.NewGuid():N}:" },
        };
        var options = Options.Create(storage);
        var connection = new RedisConnection(options, NullLogger<RedisConnection>.Instance);
        var keys = new RedisKeys(options);
        var log = new RedisEventLog(connection, keys, Options.Create(new EventLogOptions()), NullLogger<RedisEventLog>.Instance);
        var underTest = new LogUnderTest(log, async () =>
        {
            try
            {
                // Free the server's memory for the next run; the raw XADD figure comes last.
                var db = await connection.GetDatabaseAsync();
                await db.KeyDeleteAsync(
                [
                    keys.EventStream, keys.EventSeq, keys.EventEpoch, keys.EventFirstSeq,
                    keys.EventTimeIndex, keys.EventTimeIndexLast, keys.EventTrimmedThrough,
                ]);
            }
            finally
            {
                await connection.DisposeAsync();
            }
        });
        await InitializeOrDisposeAsync(underTest);
        return underTest;
    });

    private static async Task InitializeOrDisposeAsync(LogUnderTest underTest)
    {
        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            await underTest.Log.InitializeAsync(timeout.Token);
        }
        catch
        {
            await underTest.DisposeAsync();
            throw;
        }
    }

    private static async Task<RunResult> MeasureAsync(Backend backend, int publishers, int events)
    {
        await using var underTest = await backend.CreateAsync();
        var log = underTest.Log;
        var warmup = Math.Min(Math.Max(events / 10, publishers), MaxWarmupEvents);
        await AppendConcurrentlyAsync(log, publishers, warmup);

        GC.Collect();
        GC.WaitForPendingFinalizers();
        var firstSeq = log.LastSeq + 1;
        var started = Stopwatch.GetTimestamp();
        var publisherResults = await AppendConcurrentlyAsync(log, publishers, events);
        var elapsed = Stopwatch.GetElapsedTime(started);

        var latency = new LongHistogram(MaxLatencyTicks, 3);
        long count = 0, seqSum = 0, minSeq = long.MaxValue, maxSeq = long.MinValue;
        foreach (var p in publisherResults)
        {
            latency.Add(p.Latency);
            count += p.Count;
            seqSum += p.SeqSum;
            minSeq = Math.Min(minSeq, p.MinSeq);
            maxSeq = Math.Max(maxSeq, p.MaxSeq);
        }
        // Cheap sanity check that the log still hands out gap-free seqs: exactly the range firstSeq..firstSeq+events-1.
        var lastSeq = firstSeq + events - 1;
        if (count != events || minSeq != firstSeq || maxSeq != lastSeq || seqSum != (firstSeq + lastSeq) * events / 2)
        {
            throw new InvalidOperationException(
                $"{backend.Name} x{publishers}: appends returned seqs {minSeq}..{maxSeq} (count {count}), expected {firstSeq}..{lastSeq}");
        }

        return new RunResult(
            backend.Name,
            publishers,
            events / elapsed.TotalSeconds,
            TicksToMicros(latency.GetValueAtPercentile(50)),
            TicksToMicros(latency.GetValueAtPercentile(99)));
    }

    private static readonly long MaxLatencyTicks = 60 * Stopwatch.Frequency;

    private static double TicksToMicros(long ticks) => ticks * 1_000_000.0 / Stopwatch.Frequency;

    /// <summary><paramref name="publishers"/> tasks each await <c>AppendAsync</c> in a loop until <paramref name="events"/> are appended.</summary>
    private static async Task<PublisherResult[]> AppendConcurrentlyAsync(IEventLog log, int publishers, int events)
    {
        var quota = new Quota(events);
        var tasks = new Task<PublisherResult>[publishers];
        for (var i = 0; i < publishers; i++)
        {
            var publisher = i;
            tasks[i] = Task.Run(() => PublishAsync(log, publisher, quota));
        }
        return await Task.WhenAll(tasks);
    }

    private static async Task<PublisherResult> PublishAsync(IEventLog log, int publisher, Quota quota)
    {
        var result = new PublisherResult(new LongHistogram(MaxLatencyTicks, 3));
        var meta = new EventMeta($"bench-{publisher.ToString(CultureInfo.InvariantCulture)}");
        var target = $"mission_bench{publisher.ToString(CultureInfo.InvariantCulture)}";
        // Bounded: the quota hands out exactly as many appends as the run has events.
        while (quota.TryTake())
        {
            var draft = new CharterEvent
            {
                Id = Guid.NewGuid().ToString(),
                Type = "mission.status_changed",
                Source = "missions_service",
                Target = target,
                Timestamp = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() / 1000.0,
                Payload = SamplePayload,
                Meta = meta,
            };
            var started = Stopwatch.GetTimestamp();
            var appended = await log.AppendAsync(draft);
            result.Latency.RecordValue(Math.Min(Stopwatch.GetTimestamp() - started, MaxLatencyTicks));
            result.Add(appended.Seq);
        }
        return result;
    }

    private static readonly JsonElement SamplePayload = ParseSample(
        """{"mission_id":"m-0001","old_status":"PENDING","new_status":"RUNNING","changed_by":"bench"}""");

    private static JsonElement ParseSample(string json)
    {
        using var document = JsonDocument.Parse(json);
        return document.RootElement.Clone();
    }

    private static string FormatReport(IReadOnlyList<RunResult> results, double? rawXadd)
    {
        var report = new System.Text.StringBuilder();
        report.AppendLine("| backend | publishers | events/s | p50 µs | p99 µs |");
        report.AppendLine("| --- | ---: | ---: | ---: | ---: |");
        foreach (var r in results)
        {
            report.AppendLine(CultureInfo.InvariantCulture,
                $"| {r.Backend} | {r.Publishers} | {r.EventsPerSecond:N0} | {r.P50Micros:N0} | {r.P99Micros:N0} |");
        }
        if (rawXadd is { } raw)
        {
            report.AppendLine();
            report.AppendLine(CultureInfo.InvariantCulture,
                $"Raw XADD (`redis-benchmark -P 16 -n {RawXaddRequests} -q XADD bench:raw '*' f v`, same redis-server): {raw:N0} requests/s");
            var redisTop = results.Where(r => r.Backend == "redis").MaxBy(r => r.Publishers);
            if (redisTop is not null)
            {
                var ratio = redisTop.EventsPerSecond / raw;
                report.AppendLine(CultureInfo.InvariantCulture,
                    $"Redis@{redisTop.Publishers} / raw XADD = {ratio:0.00} (target ≥ 0.50: {(ratio >= 0.5 ? "met" : "missed")})");
            }
        }
        foreach (var sqlite in results.Where(r => r.Backend.StartsWith("sqlite", StringComparison.Ordinal)).GroupBy(r => r.Backend))
        {
            var top = sqlite.MaxBy(r => r.Publishers)!;
            report.AppendLine(CultureInfo.InvariantCulture,
                $"{top.Backend}@{top.Publishers}: {top.EventsPerSecond:N0} events/s (target ≥ 100,000: {(top.EventsPerSecond >= 100_000 ? "met" : "missed")})");
        }
        return report.ToString();
    }

    private sealed record RunResult(string Backend, int Publishers, double EventsPerSecond, double P50Micros, double P99Micros);

    private sealed class PublisherResult(LongHistogram latency)
    {
        public LongHistogram Latency { get; } = latency;

        public long Count { get; private set; }

        public long SeqSum { get; private set; }

        public long MinSeq { get; private set; } = long.MaxValue;

        public long MaxSeq { get; private set; } = long.MinValue;

        public void Add(long seq)
        {
            Count++;
            SeqSum += seq;
            MinSeq = Math.Min(MinSeq, seq);
            MaxSeq = Math.Max(MaxSeq, seq);
        }
    }

    /// <summary>Hands out exactly N appends across all publishers.</summary>
    private sealed class Quota(int total)
    {
        private int _left = total;

        public bool TryTake() => Interlocked.Decrement(ref _left) >= 0;
    }
}

/// <summary>
/// Options of the <c>eventlog</c> benchmark. <c>--backend all</c> is SQLite and Redis; <c>memory</c> (the
/// group-commit machinery without a store) runs only when asked for.
/// </summary>
internal sealed record EventLogSettings(int Events, IReadOnlyList<int> Publishers, bool Sqlite, bool Redis, bool Memory)
{
    public static EventLogSettings Parse(IReadOnlyList<string> args)
    {
        var events = 200_000;
        int[] publishers = [1, 8, 64];
        var backend = "all";
        for (var i = 0; i < args.Count; i++)
        {
            var name = args[i];
            if (i + 1 >= args.Count)
            {
                throw new ArgumentException($"{name} needs a value");
            }
            var value = args[++i];
            switch (name)
            {
                case "--events":
                    events = PositiveInt(name, value);
                    break;
                case "--publishers":
                    publishers = value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                        .Select(p => PositiveInt(name, p)).ToArray();
                    if (publishers.Length == 0)
                    {
                        throw new ArgumentException("--publishers needs a comma-separated list such as 1,8,64");
                    }
                    break;
                case "--backend":
                    backend = value.ToLowerInvariant();
                    if (backend is not ("sqlite" or "redis" or "all" or "memory"))
                    {
                        throw new ArgumentException($"--backend is '{value}'; valid values: sqlite, redis, all, memory");
                    }
                    break;
                default:
                    throw new ArgumentException($"unknown option '{name}'");
            }
        }
        return new EventLogSettings(
            events, publishers, Sqlite: backend is "sqlite" or "all", Redis: backend is "redis" or "all", Memory: backend is "memory");
    }

    private static int PositiveInt(string name, string value) =>
        int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n > 0
            ? n
            : throw new ArgumentException($"{name} is '{value}'; it must be a positive whole number");
}
