using System.Diagnostics;
using System.Globalization;
using Microsoft.Data.Sqlite;
using StackExchange.Redis;

namespace MissionHub.Bench;

/// <summary>
/// The physical ceilings the event log benchmark compares MissionHub with, run in the same process between its
/// measurements: a bare batched INSERT into a WAL file, and a bare Lua INCRBY + XADD script. Each writes rows of the
/// same size in batches of the size MissionHub commits at that many publishers, and nothing else: no queue, no
/// per-append completion, no ring of recent events, no bookkeeping rows.
/// </summary>
internal static class RawEventLogBaselines
{
    /// <summary>The table and indexes of <c>SqliteEventLog</c>'s events: the same rows cost the same B-tree work.</summary>
    private const string SqliteSchema = """
        CREATE TABLE events (
            seq INTEGER PRIMARY KEY, id TEXT NOT NULL, type TEXT NOT NULL, source TEXT NOT NULL, target TEXT,
            ts REAL NOT NULL, payload TEXT NOT NULL, correlation_id TEXT, version TEXT NOT NULL, traceparent TEXT, actor TEXT);
        CREATE INDEX ix_events_ts ON events(ts);
        CREATE INDEX ix_events_type ON events(type, seq);
        CREATE INDEX ix_events_target ON events(target, seq, type) WHERE target IS NOT NULL;
        """;

    private const string SqliteInsert = """
        INSERT INTO events (seq, id, type, source, target, ts, payload, correlation_id, version, traceparent, actor)
        VALUES ($seq, $id, $type, $source, $target, $ts, $payload, NULL, '1.0', NULL, NULL)
        """;

    /// <summary>
    /// Inserts <paramref name="warmup"/> rows, then times <paramref name="events"/> more on one thread, <paramref name="batchSize"/> per transaction, with the
    /// PRAGMAs every MissionHub connection uses (WAL, the given <c>synchronous</c>, the writer's checkpoint interval).
    /// Returns rows per second.
    /// </summary>
    public static double SqliteBatchedInsert(int warmup, int events, int batchSize, string synchronous, string payload)
    {
        var folder = Directory.CreateTempSubdirectory("missionhub-bench-rawsqlite-").FullName;
        try
        {
            using var connection = new SqliteConnection(new SqliteConnectionStringBuilder
            {
                DataSource = Path.Combine(folder, "raw.db"),
                Pooling = false,
            }.ToString());
            connection.Open();
            using (var setup = connection.CreateCommand())
            {
                // As SqliteDatabase and SqliteWriter set them.
                setup.CommandText = $"PRAGMA journal_mode=WAL; PRAGMA synchronous={synchronous.ToUpperInvariant()}; PRAGMA busy_timeout=5000; PRAGMA wal_autocheckpoint=10000;" + SqliteSchema;
                setup.ExecuteNonQuery();
            }
            using var insert = connection.CreateCommand();
            insert.CommandText = SqliteInsert;
            var seq = insert.Parameters.Add("$seq", SqliteType.Integer);
            var id = insert.Parameters.Add("$id", SqliteType.Text);
            var type = insert.Parameters.Add("$type", SqliteType.Text);
            var source = insert.Parameters.Add("$source", SqliteType.Text);
            var target = insert.Parameters.Add("$target", SqliteType.Text);
            var ts = insert.Parameters.Add("$ts", SqliteType.Real);
            var body = insert.Parameters.Add("$payload", SqliteType.Text);
            type.Value = "mission.status_changed";
            source.Value = "missions_service";
            body.Value = payload;
            // The rows are made before the clock starts: what is timed is SQLite's work alone, on one thread.
            var total = warmup + events;
            var ids = new string[total];
            var targets = new string[64];
            for (var i = 0; i < total; i++)
            {
                ids[i] = Guid.NewGuid().ToString();
            }
            for (var i = 0; i < targets.Length; i++)
            {
                targets[i] = "mission_bench" + i.ToString(CultureInfo.InvariantCulture);
            }
            var timestamp = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() / 1000.0;
            void InsertRows(int from, int to)
            {
                for (var next = from; next < to;)
                {
                    using var transaction = connection.BeginTransaction(deferred: false);
                    insert.Transaction = transaction;
                    for (var i = 0; i < batchSize && next < to; i++, next++)
                    {
                        seq.Value = next + 1L;
                        id.Value = ids[next];
                        target.Value = targets[next % targets.Length];
                        ts.Value = timestamp + next / 100_000.0;
                        insert.ExecuteNonQuery();
                    }
                    transaction.Commit();
                }
            }
            // As MissionHub's run, the timed rows go into a table that already holds the warm-up's.
            InsertRows(0, warmup);
            var started = Stopwatch.GetTimestamp();
            InsertRows(warmup, total);
            return events / Stopwatch.GetElapsedTime(started).TotalSeconds;
        }
        finally
        {
            try
            {
                Directory.Delete(folder, recursive: true);
            }
            catch (IOException)
            {
                // A leftover temp folder is harmless.
            }
        }
    }

    // What a gap-free seq costs at the least: one counter and one stream entry per event, ids taken from the counter.
    private const string RawAppendScript = """
        local n = tonumber(ARGV[1])
        local last = redis.call('INCRBY', KEYS[1], n)
        local first = last - n + 1
        for i = 0, n - 1 do
          redis.call('XADD', KEYS[2], string.format('%d-0', first + i), 't', ARGV[2 + i * 2], 'e', ARGV[3 + i * 2])
        end
        return first
        """;

    /// <summary>
    /// Appends <paramref name="events"/> entries with <paramref name="inFlight"/> script calls outstanding, each of
    /// <paramref name="batchSize"/> entries whose envelope is <paramref name="envelope"/> (the size MissionHub writes).
    /// Checks the seqs handed out are exactly 1..events. Returns entries per second.
    /// </summary>
    public static async Task<double> RedisLuaAppendAsync(string configuration, int events, int batchSize, int inFlight, byte[] envelope)
    {
        await using var connection = await ConnectionMultiplexer.ConnectAsync(configuration);
        var db = connection.GetDatabase();
        var prefix = $"bench:raw:{Guid.NewGuid():N}:";
        RedisKey[] keys = [prefix + "seq", prefix + "stream"];
        await db.ScriptEvaluateAsync(RawAppendScript, keys, [0]); // loads the script: the timed calls run EVALSHA
        try
        {
            var remaining = events;
            long seqSum = 0;
            var started = Stopwatch.GetTimestamp();
            async Task CallerAsync()
            {
                while (true)
                {
                    var take = Math.Min(batchSize, Interlocked.Add(ref remaining, -batchSize) + batchSize);
                    if (take <= 0)
                    {
                        return;
                    }
                    var args = new RedisValue[1 + take * 2];
                    args[0] = take;
                    for (var i = 0; i < take; i++)
                    {
                        args[1 + i * 2] = (DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() / 1000.0).ToString("R", CultureInfo.InvariantCulture);
                        args[2 + i * 2] = envelope;
                    }
                    var first = (long)await db.ScriptEvaluateAsync(RawAppendScript, keys, args);
                    Interlocked.Add(ref seqSum, take * first + (long)take * (take - 1) / 2);
                }
            }
            await Task.WhenAll(Enumerable.Range(0, inFlight).Select(_ => Task.Run(CallerAsync)));
            var rate = events / Stopwatch.GetElapsedTime(started).TotalSeconds;
            if (seqSum != (long)events * (events + 1) / 2)
            {
                throw new InvalidOperationException($"raw Lua append handed out seqs summing to {seqSum}, expected 1..{events}");
            }
            return rate;
        }
        finally
        {
            await db.KeyDeleteAsync(keys);
        }
    }
}
