using System.Globalization;
using System.Text;
using System.Text.Json;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Options;
using MissionHub.Events;

namespace MissionHub.Storage.Sqlite;

/// <summary>
/// The event log in the embedded SQLite file. Each group of appends is committed by the file's one writer thread
/// (<see cref="SqliteWriter"/>), in the same transaction as whatever else is waiting (job rows); with
/// <c>synchronous=FULL</c> an append has reached the disk when it returns.
/// </summary>
public sealed class SqliteEventLog(SqliteDatabase database, IOptions<EventLogOptions> options, ILogger<SqliteEventLog> logger)
    : GroupCommitEventLog(options.Value.MaxBatchSize, maxBatchesInFlight: 1, options.Value.RecentEventsInMemory, logger, options.Value.RecentEventsMaxBytes)
{
    private const string Schema = """
        CREATE TABLE IF NOT EXISTS event_log_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        CREATE TABLE IF NOT EXISTS events (
            seq INTEGER PRIMARY KEY,
            id TEXT NOT NULL,
            type TEXT NOT NULL,
            source TEXT NOT NULL,
            target TEXT,
            ts REAL NOT NULL,
            payload TEXT NOT NULL,
            correlation_id TEXT,
            version TEXT NOT NULL,
            traceparent TEXT,
            actor TEXT);
        CREATE INDEX IF NOT EXISTS ix_events_ts ON events(ts);
        CREATE INDEX IF NOT EXISTS ix_events_type ON events(type, seq);
        CREATE INDEX IF NOT EXISTS ix_events_target ON events(target, seq, type) WHERE target IS NOT NULL;
        CREATE TABLE IF NOT EXISTS event_types (type TEXT PRIMARY KEY) WITHOUT ROWID;
        CREATE TABLE IF NOT EXISTS event_removed (type TEXT PRIMARY KEY, seq INTEGER NOT NULL, ts REAL NOT NULL) WITHOUT ROWID;
        """;

    // Every event type ever written (a handful), so a type prefix becomes a few index lookups instead of a scan.
    private const string InsertTypeSql = "INSERT OR IGNORE INTO event_types (type) VALUES ($type)";

    // How many events the table holds, kept in each commit: retention's count of the default class is this minus the rules'.
    private const string AddCountSql = "UPDATE event_log_meta SET value = CAST(value AS INTEGER) + $n WHERE key = 'count'";

    /// <summary>Most rows one filtered read examines before it answers with what it found and where to continue.</summary>
    private const int ChunkSize = 5000;

    private const string InsertSql = """
        INSERT INTO events (seq, id, type, source, target, ts, payload, correlation_id, version, traceparent, actor)
        VALUES ($seq, $id, $type, $source, $target, $ts, $payload, $correlation_id, $version, $traceparent, $actor)
        """;

    private const string SetLastSeqSql =
        "INSERT INTO event_log_meta (key, value) VALUES ('last_seq', $v) ON CONFLICT(key) DO UPDATE SET value = excluded.value";

    /// <summary>Events deleted per transaction by retention.</summary>

    private string _epoch = "";

    public override string Provider => StorageOptions.SqliteProvider;

    protected override async Task<(string Epoch, long LastSeq, long FirstSeq)> OpenAsync(CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        using (var create = connection.CreateCommand())
        {
            create.CommandText = Schema;
            await create.ExecuteNonQueryAsync(cancellationToken);
        }
        await AddTraceparentColumnAsync(connection, cancellationToken);
        using (var columns = connection.CreateCommand())
        {
            // Files from before meta.actor existed get the column (NULL for their events).
            columns.CommandText = "SELECT COUNT(*) FROM pragma_table_info('events') WHERE name = 'actor'";
            if (Convert.ToInt64(await columns.ExecuteScalarAsync(cancellationToken), CultureInfo.InvariantCulture) == 0)
            {
                columns.CommandText = "ALTER TABLE events ADD COLUMN actor TEXT";
                await columns.ExecuteNonQueryAsync(cancellationToken);
            }
        }

        using (var chains = connection.CreateCommand())
        {
            // After the column migrations: one action's events (GET /api/events/chain) are found by index, not by a scan.
            chains.CommandText = """
                CREATE INDEX IF NOT EXISTS ix_events_correlation ON events(correlation_id, seq) WHERE correlation_id IS NOT NULL;
                CREATE INDEX IF NOT EXISTS ix_events_traceparent ON events(traceparent, seq) WHERE traceparent IS NOT NULL;
                """;
            await chains.ExecuteNonQueryAsync(cancellationToken);
        }

        _epoch = await GetMetaAsync(connection, "epoch", cancellationToken) ?? "";
        if (_epoch.Length == 0)
        {
            // A new file (or one whose log was lost): a new epoch, so old resume points are refused.
            _epoch = NewEpochId();
            await SetMetaAsync(connection, "epoch", _epoch, cancellationToken);
        }

        await MigrateBookkeepingAsync(connection, cancellationToken);

        using var position = connection.CreateCommand();
        position.CommandText = """
            SELECT COALESCE(MAX(seq), 0), MIN(seq) FROM events;
            """;
        long maxSeq;
        long? minSeq;
        using (var reader = await position.ExecuteReaderAsync(cancellationToken))
        {
            await reader.ReadAsync(cancellationToken);
            maxSeq = reader.GetInt64(0);
            minSeq = reader.IsDBNull(1) ? null : reader.GetInt64(1);
        }
        var storedLast = long.Parse(await GetMetaAsync(connection, "last_seq", cancellationToken) ?? "0", CultureInfo.InvariantCulture);
        var lastSeq = Math.Max(maxSeq, storedLast);
        database.Writer.StartSeqsAt(lastSeq + 1);
        // Events written beside a change (job steps) reach the readers the moment their transaction commits.
        database.Writer.EventsCommitted = AnnounceStepEvents;

        Removed = await ReadRemovedAsync(connection, null, cancellationToken);
        return (_epoch, lastSeq, minSeq ?? lastSeq + 1);
    }

    /// <summary>
    /// Files from before the count, the type list and the removal marks existed get them, once: the count and the types
    /// from the rows, and whatever was trimmed before (by seq, of unknown types) as a mark for every type.
    /// </summary>
    private static async Task MigrateBookkeepingAsync(SqliteConnection connection, CancellationToken cancellationToken)
    {
        if (await GetMetaAsync(connection, "count", cancellationToken) is not null)
        {
            return;
        }
        using var transaction = connection.BeginTransaction();
        using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = """
            INSERT OR IGNORE INTO event_types (type) SELECT DISTINCT type FROM events;
            INSERT INTO event_removed (type, seq, ts)
              SELECT '*',
                COALESCE((SELECT MIN(seq) FROM events) - 1, (SELECT CAST(value AS INTEGER) FROM event_log_meta WHERE key = 'last_seq'), 0),
                COALESCE((SELECT CAST(value AS REAL) FROM event_log_meta WHERE key = 'trimmed_through_ts'), -1e300)
              WHERE (SELECT MIN(seq) FROM events) > 1
                 OR (NOT EXISTS (SELECT 1 FROM events) AND EXISTS (SELECT 1 FROM event_log_meta WHERE key = 'trimmed_through_ts'))
              ON CONFLICT(type) DO NOTHING;
            INSERT INTO event_log_meta (key, value) VALUES ('count', (SELECT COUNT(*) FROM events));
            """;
        await command.ExecuteNonQueryAsync(cancellationToken);
        await transaction.CommitAsync(cancellationToken);
    }

    protected override async Task<(string Epoch, CharterEvent[] Events)> CommitBatchAsync(
        IReadOnlyList<CharterEvent> drafts, CancellationToken cancellationToken)
    {
        // What follows the commit (the ring, the signal, completing each append) is short and never blocks, so it runs
        // on the writer thread; the next batch is often queued from there before the writer looks for more work.
        var committed = await database.Writer.WriteAsync(write => Insert(write, drafts), continueOnWriter: true);
        return (_epoch, committed);
    }

    /// <summary>Everything a commit of the file's writer made durable: this log's batches and job steps' events alike.</summary>
    private void AnnounceStepEvents(IReadOnlyList<CharterEvent> committed)
    {
        CountAppended(committed.Count);
        AnnounceCommitted(committed);
    }

    protected override bool CountsOwnBatches => false;

    /// <summary>
    /// Writes events inside the caller's transaction, with the next seqs of the log: a job step writes its change and
    /// its events in one commit. The seqs are the writer's, so they are gap-free whoever writes.
    /// </summary>
    internal static CharterEvent[] Insert(SqliteWriteContext write, IReadOnlyList<CharterEvent> drafts)
    {
        if (drafts.Count == 0)
        {
            return [];
        }
        var insert = write.Command(InsertSql, "$seq", "$id", "$type", "$source", "$target", "$ts", "$payload", "$correlation_id", "$version", "$traceparent", "$actor");
        var p = insert.Parameters;
        var committed = new CharterEvent[drafts.Count];
        for (var i = 0; i < drafts.Count; i++)
        {
            var evt = write.Sequence(drafts[i]);
            p[0].Value = evt.Seq;
            p[1].Value = evt.Id;
            p[2].Value = evt.Type;
            p[3].Value = evt.Source;
            p[4].Value = (object?)evt.Target ?? DBNull.Value;
            p[5].Value = evt.Timestamp;
            p[6].Value = evt.Payload.GetRawText();
            p[7].Value = (object?)evt.Meta.CorrelationId ?? DBNull.Value;
            p[8].Value = evt.Meta.Version;
            p[9].Value = (object?)evt.Meta.Traceparent ?? DBNull.Value;
            p[10].Value = (object?)evt.Meta.Actor ?? DBNull.Value;
            insert.ExecuteNonQuery();
            committed[i] = evt;
            if (i == 0 || evt.Type != committed[i - 1].Type)
            {
                var insertType = write.Command(InsertTypeSql, "$type");
                insertType.Parameters[0].Value = evt.Type;
                insertType.ExecuteNonQuery();
            }
        }
        var addCount = write.Command(AddCountSql, "$n");
        addCount.Parameters[0].Value = committed.Length;
        addCount.ExecuteNonQuery();
        var setLastSeq = write.Command(SetLastSeqSql, "$v");
        setLastSeq.Parameters[0].Value = committed[^1].Seq.ToString(CultureInfo.InvariantCulture);
        setLastSeq.ExecuteNonQuery();
        return committed;
    }

    protected override async Task<EventPage> ReadCoreAsync(EventQuery query, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        // One read transaction: the position, the removal marks and the rows come from the same snapshot.
        using var transaction = connection.BeginTransaction(deferred: true);
        using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = """
            SELECT
              (SELECT value FROM event_log_meta WHERE key = 'epoch'),
              (SELECT COALESCE(MAX(seq), 0) FROM events),
              (SELECT CAST(value AS INTEGER) FROM event_log_meta WHERE key = 'last_seq'),
              (SELECT MIN(seq) FROM events)
            """;
        string epoch;
        long lastSeq, firstSeq;
        using (var reader = await command.ExecuteReaderAsync(cancellationToken))
        {
            await reader.ReadAsync(cancellationToken);
            epoch = reader.GetString(0);
            lastSeq = Math.Max(reader.GetInt64(1), reader.IsDBNull(2) ? 0 : reader.GetInt64(2));
            firstSeq = reader.IsDBNull(3) ? lastSeq + 1 : reader.GetInt64(3);
        }
        var removed = await ReadRemovedAsync(connection, transaction, cancellationToken);
        Removed = removed;

        if (query.WhyNotRecoverable(epoch, firstSeq, lastSeq, removed) is { } why)
        {
            return new EventPage(epoch, false, [], lastSeq, firstSeq, lastSeq, why);
        }

        var afterSeq = query.EffectiveAfterSeq(firstSeq);
        command.Parameters.Clear();
        command.Parameters.AddWithValue("$after", afterSeq);
        command.Parameters.AddWithValue("$limit", query.Limit);
        // Rows from the first second at or after 'since' on (the ts index finds it), and of course at or after it.
        var since = "";
        if (query.Since is { } sinceValue)
        {
            since = " AND seq >= COALESCE((SELECT MIN(seq) FROM events WHERE ts >= $since), $last + 1) AND ts >= $since";
            command.Parameters.AddWithValue("$since", sinceValue);
            command.Parameters.AddWithValue("$last", lastSeq);
        }
        var filter = query.EffectiveFilter;
        List<CharterEvent> events;
        long? cappedAt = null;
        if (filter.Target is not null && !filter.MatchesAllTypes)
        {
            (events, cappedAt) = await ReadTargetAndTypesAsync(command, filter, since, query.Limit, cancellationToken);
        }
        else
        {
            command.CommandText = await SelectMatchingAsync(command, filter, since, cancellationToken) is { } sql
                ? $"SELECT {Columns} FROM events WHERE {sql} ORDER BY seq LIMIT $limit"
                : null;
            events = command.CommandText is null ? [] : await ReadEventsAsync(command, cancellationToken);
        }
        if (cappedAt is { } capped)
        {
            return new EventPage(epoch, true, events, capped, firstSeq, lastSeq, ScanCapped: true);
        }
        var next = events.Count == query.Limit ? events[^1].Seq : lastSeq;
        return new EventPage(epoch, true, events, next, firstSeq, lastSeq);
    }

    internal const string Columns = "seq, id, type, source, target, ts, payload, correlation_id, version, traceparent, actor";

    /// <summary>
    /// The condition that picks, through an index, every event after <c>$after</c> that <paramref name="filter"/> matches
    /// (its target or its types, never both), or null if no stored type matches. A type prefix becomes the stored types it
    /// matches, each read in seq order from the type index up to the page size.
    /// </summary>
    private static async Task<string?> SelectMatchingAsync(SqliteCommand command, EventFilter filter, string since, CancellationToken cancellationToken)
    {
        if (filter.Target is not null)
        {
            command.Parameters.AddWithValue("$target", filter.Target);
            return "target = $target AND seq > $after" + since;
        }
        if (filter.MatchesAllTypes)
        {
            return "seq > $after" + since;
        }
        var types = await MatchingTypesAsync(command, filter, cancellationToken);
        if (types.Count == 0)
        {
            return null;
        }
        var perType = new StringBuilder();
        for (var i = 0; i < types.Count; i++)
        {
            var name = "$t" + i.ToString(CultureInfo.InvariantCulture);
            command.Parameters.AddWithValue(name, types[i]);
            perType.Append(i == 0 ? "" : " UNION ALL ")
                .Append("SELECT seq FROM (SELECT seq FROM events WHERE type = ").Append(name)
                .Append(" AND seq > $after").Append(since).Append(" ORDER BY seq LIMIT $limit)");
        }
        return types.Count == 1 ? $"type = $t0 AND seq > $after{since}" : $"seq IN ({perType})";
    }

    /// <summary>The stored event types <paramref name="filter"/>'s patterns match.</summary>
    private static async Task<List<string>> MatchingTypesAsync(SqliteCommand command, EventFilter filter, CancellationToken cancellationToken)
    {
        using var lookup = command.Connection!.CreateCommand();
        lookup.Transaction = command.Transaction;
        var sql = new StringBuilder("SELECT type FROM event_types WHERE ");
        for (var i = 0; i < filter.Patterns.Count; i++)
        {
            // Patterns are validated to letters, digits, '_', '.', '-' and a trailing '*': GLOB-safe.
            sql.Append(i == 0 ? "" : " OR ").Append("type GLOB $p").Append(i);
            lookup.Parameters.AddWithValue("$p" + i.ToString(CultureInfo.InvariantCulture), filter.Patterns[i]);
        }
        lookup.CommandText = sql.ToString();
        var types = new List<string>();
        using var reader = await lookup.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            types.Add(reader.GetString(0));
        }
        return types;
    }

    /// <summary>
    /// A target and types: the target's events in seq order from the target index, their types checked as they come, at
    /// most <see cref="EventQuery.MaxScanned"/> of them; returns the seq it stopped at if it stopped there.
    /// </summary>
    private static async Task<(List<CharterEvent> Events, long? CappedAt)> ReadTargetAndTypesAsync(
        SqliteCommand command, EventFilter filter, string since, int limit, CancellationToken cancellationToken)
    {
        command.Parameters.AddWithValue("$target", filter.Target);
        command.Parameters.AddWithValue("$cap", EventQuery.MaxScanned);
        command.CommandText = $"SELECT seq, type FROM events WHERE target = $target AND seq > $after{since} ORDER BY seq LIMIT $cap";
        var matching = new List<long>();
        var examined = 0;
        var lastExamined = 0L;
        using (var reader = await command.ExecuteReaderAsync(cancellationToken))
        {
            while (matching.Count < limit && await reader.ReadAsync(cancellationToken))
            {
                examined++;
                lastExamined = reader.GetInt64(0);
                if (filter.Matches(reader.GetString(1), filter.Target))
                {
                    matching.Add(lastExamined);
                }
            }
        }
        List<CharterEvent> events = [];
        if (matching.Count > 0)
        {
            command.Parameters.Clear();
            command.CommandText = $"SELECT {Columns} FROM events WHERE seq IN ({string.Join(',', matching)}) ORDER BY seq";
            events = await ReadEventsAsync(command, cancellationToken);
        }
        return (events, matching.Count < limit && examined == EventQuery.MaxScanned ? lastExamined : null);
    }

    internal static async Task<List<CharterEvent>> ReadEventsAsync(SqliteCommand command, CancellationToken cancellationToken)
    {
        var events = new List<CharterEvent>();
        using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            events.Add(new CharterEvent
            {
                Seq = reader.GetInt64(0),
                Id = reader.GetString(1),
                Type = reader.GetString(2),
                Source = reader.GetString(3),
                Target = reader.IsDBNull(4) ? null : reader.GetString(4),
                Timestamp = reader.GetDouble(5),
                Payload = ParsePayload(reader.GetString(6)),
                Meta = new EventMeta(reader.IsDBNull(7) ? null : reader.GetString(7), reader.GetString(8))
                {
                    Traceparent = reader.IsDBNull(9) ? null : reader.GetString(9),
                    Actor = reader.IsDBNull(10) ? null : reader.GetString(10),
                },
            });
        }
        return events;
    }

    private static async Task<RetentionMarks> ReadRemovedAsync(SqliteConnection connection, SqliteTransaction? transaction, CancellationToken cancellationToken)
    {
        using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = "SELECT type, seq, ts FROM event_removed";
        var marks = new Dictionary<string, RemovedThrough>(StringComparer.Ordinal);
        using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            marks[reader.GetString(0)] = new RemovedThrough(reader.GetInt64(1), reader.GetDouble(2));
        }
        return marks.Count == 0 ? RetentionMarks.None : new RetentionMarks(marks);
    }

    /// <summary>
    /// Each rule's events are trimmed among themselves (by their count and age), then the events no rule holds by the
    /// default limits. Every chunk records, in its own transaction, the newest seq and time it removed of each type.
    /// </summary>
    public override async Task<long> TrimAsync(EventRetentionPolicy policy, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(policy);
        await using var connection = await database.OpenAsync(cancellationToken);
        var now = DateTimeOffset.UtcNow;
        long removed = 0;
        long inRules = 0;
        var rules = policy.Rules.Select((rule, r) => ClassSql.Of(rule.Types, r)).ToList();
        for (var r = 0; r < rules.Count; r++)
        {
            removed += await RemoveAsync(connection, rules[r], policy.Rules[r], await CountAsync(connection, rules[r], cancellationToken), now, cancellationToken);
            inRules += await CountAsync(connection, rules[r], cancellationToken);
        }
        var total = long.Parse(await GetMetaAsync(connection, "count", cancellationToken) ?? "0", CultureInfo.InvariantCulture);
        removed += await RemoveAsync(connection, ClassSql.NoneOf(rules), policy.Default, total - inRules, now, cancellationToken);
        if (removed > 0)
        {
            using var position = connection.CreateCommand();
            position.CommandText = "SELECT COALESCE(MIN(seq), $next) FROM events";
            position.Parameters.AddWithValue("$next", LastSeq + 1);
            FirstSeq = (long)(await position.ExecuteScalarAsync(cancellationToken))!;
            Removed = await ReadRemovedAsync(connection, null, cancellationToken);
        }
        return removed;
    }

    /// <summary>Removes the oldest events of one class beyond its count, then those older than its age, chunk by chunk.</summary>
    private async Task<long> RemoveAsync(
        SqliteConnection connection, ClassSql inClass, EventRetentionClass retention, long count, DateTimeOffset now, CancellationToken cancellationToken)
    {
        long removed = 0;
        var excess = retention.MaxEvents is { } max ? count - max : 0;
        while (excess > 0 && await RemoveChunkAsync(connection, inClass, null, (int)Math.Min(excess, ChunkSize), cancellationToken) is var n and > 0)
        {
            removed += n;
            excess -= n;
        }
        if (retention.AgeCutoff(now) is { } cutoff)
        {
            while (await RemoveChunkAsync(connection, inClass, cutoff, ChunkSize, cancellationToken) is var n and > 0)
            {
                removed += n;
            }
        }
        return removed;
    }

    /// <summary>Removes the oldest <paramref name="size"/> events of the class (older than <paramref name="cutoff"/> if given).</summary>
    private async Task<long> RemoveChunkAsync(SqliteConnection connection, ClassSql inClass, double? cutoff, int size, CancellationToken cancellationToken)
    {
        // Small chunks: the writer never waits long for the lock.
        using var turn = await database.WaitForWriteTurnAsync(cancellationToken);
        using var transaction = (SqliteTransaction)await connection.BeginTransactionAsync(cancellationToken);
        using var command = connection.CreateCommand();
        command.Transaction = transaction;
        var chunk = $"seq IN (SELECT seq FROM events WHERE {inClass.Condition}{(cutoff is null ? "" : " AND ts < $cutoff")} ORDER BY seq LIMIT $size)";
        command.CommandText = $"""
            INSERT INTO event_removed (type, seq, ts) SELECT type, MAX(seq), MAX(ts) FROM events WHERE {chunk} GROUP BY type
              ON CONFLICT(type) DO UPDATE SET seq = MAX(seq, excluded.seq), ts = MAX(ts, excluded.ts);
            DELETE FROM events WHERE {chunk};
            UPDATE event_log_meta SET value = CAST(value AS INTEGER) - changes() WHERE key = 'count';
            """;
        command.Parameters.AddWithValue("$size", size);
        if (cutoff is { } c)
        {
            command.Parameters.AddWithValue("$cutoff", c);
        }
        inClass.Bind(command);
        // The DELETE's count (changes() in the UPDATE after it) comes back as the difference in the stored count.
        var before = long.Parse(await GetMetaAsync(connection, "count", cancellationToken, transaction) ?? "0", CultureInfo.InvariantCulture);
        await command.ExecuteNonQueryAsync(cancellationToken);
        var after = long.Parse(await GetMetaAsync(connection, "count", cancellationToken, transaction) ?? "0", CultureInfo.InvariantCulture);
        await transaction.CommitAsync(cancellationToken);
        return before - after;
    }

    private static async Task<long> CountAsync(SqliteConnection connection, ClassSql inClass, CancellationToken cancellationToken)
    {
        using var command = connection.CreateCommand();
        command.CommandText = $"SELECT COUNT(*) FROM events WHERE {inClass.Condition}";
        inClass.Bind(command);
        return (long)(await command.ExecuteScalarAsync(cancellationToken))!;
    }

    /// <summary>A retention class as SQL: a condition on <c>type</c> with its patterns as parameters.</summary>
    private sealed record ClassSql(string Condition, IReadOnlyList<(string Name, string Pattern)> Patterns)
    {
        // Patterns are validated to letters, digits, '_', '.', '-' and a trailing '*': GLOB-safe, and on the type index.
        public static ClassSql Of(EventFilter types, int rule)
        {
            var patterns = types.Patterns.Select((p, i) => (string.Create(CultureInfo.InvariantCulture, $"$r{rule}p{i}"), p)).ToList();
            return new ClassSql($"({string.Join(" OR ", patterns.Select(p => $"type GLOB {p.Item1}"))})", patterns);
        }

        public static ClassSql NoneOf(IReadOnlyList<ClassSql> rules) => rules.Count == 0
            ? new ClassSql("1", [])
            : new ClassSql($"NOT ({string.Join(" OR ", rules.Select(r => r.Condition))})", [.. rules.SelectMany(r => r.Patterns)]);

        public void Bind(SqliteCommand command)
        {
            foreach (var (name, pattern) in Patterns)
            {
                command.Parameters.AddWithValue(name, pattern);
            }
        }
    }

    protected override ValueTask DisposeCoreAsync() => ValueTask.CompletedTask;


    // One copy of the payload, not a pooled document and then a clone of it: replays read thousands per request.
    private static JsonElement ParsePayload(string json) => JsonElement.Parse(json);

    /// <summary>A file written before events carried <c>meta.traceparent</c> gets the column (null for its old events).</summary>
    private static async Task AddTraceparentColumnAsync(SqliteConnection connection, CancellationToken cancellationToken)
    {
        using var columns = connection.CreateCommand();
        columns.CommandText = "SELECT COUNT(*) FROM pragma_table_info('events') WHERE name = 'traceparent'";
        if (Convert.ToInt64(await columns.ExecuteScalarAsync(cancellationToken), CultureInfo.InvariantCulture) == 0)
        {
            using var alter = connection.CreateCommand();
            alter.CommandText = "ALTER TABLE events ADD COLUMN traceparent TEXT";
            await alter.ExecuteNonQueryAsync(cancellationToken);
        }
    }

    private static async Task<string?> GetMetaAsync(
        SqliteConnection connection, string key, CancellationToken cancellationToken, SqliteTransaction? transaction = null)
    {
        using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = "SELECT value FROM event_log_meta WHERE key = $key";
        command.Parameters.AddWithValue("$key", key);
        return (string?)await command.ExecuteScalarAsync(cancellationToken);
    }

    private static async Task SetMetaAsync(SqliteConnection connection, string key, string value, CancellationToken cancellationToken)
    {
        using var command = connection.CreateCommand();
        command.CommandText = "INSERT INTO event_log_meta (key, value) VALUES ($key, $value) ON CONFLICT(key) DO UPDATE SET value = excluded.value";
        command.Parameters.AddWithValue("$key", key);
        command.Parameters.AddWithValue("$value", value);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }
}
