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
/// concurrent publishers, each round run right after its backend's raw ceiling (<see cref="RawEventLogBaselines"/>)
/// so the ratio of the two is measured on the same machine at the same moment; the raw <c>XADD</c> rate of the same
/// <c>redis-server</c> stays as a reference line.
/// </summary>
internal static class EventLogBenchmark
{
    public const string Usage = "[--events N] [--publishers 1,8,64] [--backend sqlite|redis|all|memory] [--rounds 3]";

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
                    // Raw, MissionHub, raw, MissionHub…: both see the same machine, whatever else runs on it meanwhile.
                    for (var round = 1; round <= settings.Rounds; round++)
                    {
                        var raw = backend.RawAsync is { } rawAsync ? await rawAsync(publishers, settings.Events) : null;
                        var result = await MeasureAsync(backend, publishers, settings.Events) with
                        {
                            Round = round, RawEventsPerSecond = raw?.SameBatch, RawMaxBatchEventsPerSecond = raw?.MaxBatch,
                        };
                        Console.Error.WriteLine(
                            $"  {result.Backend} x{result.Publishers} round {round}: {result.EventsPerSecond:N0} events/s, " +
                            $"p50 {result.P50Micros:N0} µs, p99 {result.P99Micros:N0} µs" +
                            (raw is { } r ? $"; raw {r.SameBatch:N0}/s, ratio {result.EventsPerSecond / r.SameBatch:0.00}" : "") +
                            (raw?.MaxBatch is { } m ? $"; raw at batch {new EventLogOptions().MaxBatchSize} {m:N0}/s, ratio {result.EventsPerSecond / m:0.00}" : "") +
                            $" (load {RoundStats.LoadAverage()})");
                        results.Add(result);
                    }
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
    /// <summary>The raw ceiling at MissionHub's batch size, and (SQLite) at the log's largest batch, MaxBatchSize.</summary>
    private sealed record RawRates(double SameBatch, double? MaxBatch);

    private sealed record Backend(string Name, Func<Task<LogUnderTest>> CreateAsync)
    {
        /// <summary>The bare ceiling of this backend for (publishers, events), in events/s; null when there is none.</summary>
        public Func<int, int, Task<RawRates>>? RawAsync { get; init; }
    }

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

    /// <summary>
    /// With one batch in flight and every publisher waiting on its append, SQLite commits batches of up to one event
    /// per publisher (at most <c>MaxBatchSize</c>); the raw insert uses that batch size.
    /// </summary>
    private static int SqliteRawBatch(int publishers) => Math.Min(publishers, new EventLogOptions().MaxBatchSize);

    /// <summary>Redis keeps up to 4 scripts in flight (RedisEventLog), so batches of about publishers / 4.</summary>
    private const int RedisBatchesInFlight = 4;

    private static Backend SqliteBackend(string synchronous) => new Backend($"sqlite (synchronous={synchronous})", async () =>
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
    })
    {
        RawAsync = (publishers, events) => Task.Run(() =>
        {
            var warmup = WarmupEvents(events, publishers);
            var maxBatch = new EventLogOptions().MaxBatchSize;
            var same = RawEventLogBaselines.SqliteBatchedInsert(warmup, events, SqliteRawBatch(publishers), synchronous, SamplePayload.GetRawText());
            double? max = SqliteRawBatch(publishers) < maxBatch
                ? RawEventLogBaselines.SqliteBatchedInsert(warmup, events, maxBatch, synchronous, SamplePayload.GetRawText())
                : null;
            return new RawRates(same, max);
        }),
    };

    private static Backend RedisBackend(RedisServerProcess server) => new Backend("redis", async () =>
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
    })
    {
        RawAsync = async (publishers, events) =>
        {
            var inFlight = Math.Min(RedisBatchesInFlight, publishers);
            return new RawRates(await RawEventLogBaselines.RedisLuaAppendAsync(
                server.Configuration, events, (publishers + inFlight - 1) / inFlight, inFlight, SampleEnvelope()), null);
        },
    };

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
        var warmup = WarmupEvents(events, publishers);
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

    private static int WarmupEvents(int events, int publishers) => Math.Min(Math.Max(events / 10, publishers), MaxWarmupEvents);

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

    /// <summary>The envelope RedisEventLog stores for one of this benchmark's drafts (its size is what the raw script writes).</summary>
    private static byte[] SampleEnvelope() => JsonSerializer.SerializeToUtf8Bytes(new CharterEvent
    {
        Id = Guid.NewGuid().ToString(),
        Type = "mission.status_changed",
        Source = "missions_service",
        Target = "mission_bench12",
        Timestamp = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() / 1000.0,
        Payload = SamplePayload,
        Meta = new EventMeta("bench-12"),
    }, EventsJsonContext.Default.CharterEvent);

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
        report.AppendLine("| backend | publishers | round | events/s | raw events/s (same batch) | MissionHub / raw | raw at batch 1024 | MissionHub / raw@1024 | p50 µs | p99 µs |");
        report.AppendLine("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
        foreach (var r in results)
        {
            report.AppendLine(CultureInfo.InvariantCulture,
                $"| {r.Backend} | {r.Publishers} | {r.Round} | {r.EventsPerSecond:N0} | {r.RawEventsPerSecond?.ToString("N0", CultureInfo.InvariantCulture) ?? "–"} | {r.Ratio?.ToString("0.00", CultureInfo.InvariantCulture) ?? "–"} | {r.RawMaxBatchEventsPerSecond?.ToString("N0", CultureInfo.InvariantCulture) ?? "–"} | {r.MaxBatchRatio?.ToString("0.00", CultureInfo.InvariantCulture) ?? "–"} | {r.P50Micros:N0} | {r.P99Micros:N0} |");
        }
        report.AppendLine();
        report.AppendLine("Medians over the rounds (the ratio is the median of each round's ratio):");
        report.AppendLine();
        report.AppendLine("| backend | publishers | events/s | raw events/s | MissionHub / raw | target | MissionHub / raw@1024 |");
        report.AppendLine("| --- | ---: | ---: | ---: | ---: | --- | ---: |");
        var top = results.Max(r => r.Publishers);
        foreach (var group in results.GroupBy(r => (r.Backend, r.Publishers)))
        {
            var rawRounds = group.Where(r => r.Ratio is not null).ToList();
            var ratio = rawRounds.Count > 0 ? RoundStats.Median(rawRounds.Select(r => r.Ratio!.Value)) : (double?)null;
            var target = ratio is { } value && group.Key.Publishers == top && top >= 64
                ? $"≥ 0.50: {(value >= 0.5 ? "met" : "missed")}"
                : "";
            report.AppendLine(CultureInfo.InvariantCulture,
                $"| {group.Key.Backend} | {group.Key.Publishers} | {RoundStats.Median(group.Select(r => r.EventsPerSecond)):N0} | " +
                $"{(rawRounds.Count > 0 ? RoundStats.Median(rawRounds.Select(r => r.RawEventsPerSecond!.Value)).ToString("N0", CultureInfo.InvariantCulture) : "–")} | " +
                $"{ratio?.ToString("0.00", CultureInfo.InvariantCulture) ?? "–"} | {target} | " +
                $"{(group.Any(r => r.MaxBatchRatio is not null) ? RoundStats.Median(group.Where(r => r.MaxBatchRatio is not null).Select(r => r.MaxBatchRatio!.Value)).ToString("0.00", CultureInfo.InvariantCulture) : "–")} |");
        }
        report.AppendLine();
        report.AppendLine("Raw baselines: SQLite, one thread inserting the same rows into the same table and indexes, one transaction per " +
            "batch of one row per publisher (what SqliteEventLog commits when every publisher waits on its append), and per 1024 rows (MaxBatchSize), same PRAGMAs; Redis, a Lua INCRBY + XADD per batch of publishers / 4 (4 scripts in flight, as RedisEventLog), same envelope size.");
        if (rawXadd is { } raw)
        {
            report.AppendLine();
            report.AppendLine(CultureInfo.InvariantCulture,
                $"Reference: raw XADD (`redis-benchmark -P 16 -n {RawXaddRequests} -q XADD bench:raw '*' f v`, same redis-server, after the rounds): {raw:N0} requests/s");
        }
        return report.ToString();
    }

    private sealed record RunResult(string Backend, int Publishers, double EventsPerSecond, double P50Micros, double P99Micros)
    {
        public int Round { get; init; } = 1;

        public double? RawEventsPerSecond { get; init; }

        public double? RawMaxBatchEventsPerSecond { get; init; }

        public double? Ratio => RawEventsPerSecond is { } raw ? EventsPerSecond / raw : null;

        public double? MaxBatchRatio => RawMaxBatchEventsPerSecond is { } raw ? EventsPerSecond / raw : null;
    }

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
internal sealed record EventLogSettings(int Events, IReadOnlyList<int> Publishers, bool Sqlite, bool Redis, bool Memory, int Rounds)
{
    public static EventLogSettings Parse(IReadOnlyList<string> args)
    {
        var events = 200_000;
        int[] publishers = [1, 8, 64];
        var backend = "all";
        var rounds = 3;
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
                case "--rounds":
                    rounds = PositiveInt(name, value);
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
            events, publishers, Sqlite: backend is "sqlite" or "all", Redis: backend is "redis" or "all", Memory: backend is "memory", Rounds: rounds);
    }

    private static int PositiveInt(string name, string value) =>
        int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n > 0
            ? n
            : throw new ArgumentException($"{name} is '{value}'; it must be a positive whole number");
}
