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
        """;

    private const string InsertSql = """
        INSERT INTO events (seq, id, type, source, target, ts, payload, correlation_id, version, traceparent, actor)
        VALUES ($seq, $id, $type, $source, $target, $ts, $payload, $correlation_id, $version, $traceparent, $actor)
        """;

    private const string SetLastSeqSql =
        "INSERT INTO event_log_meta (key, value) VALUES ('last_seq', $v) ON CONFLICT(key) DO UPDATE SET value = excluded.value";

    /// <summary>Events deleted per transaction by retention.</summary>
    private const int TrimChunk = 1000;

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

        _epoch = await GetMetaAsync(connection, "epoch", cancellationToken) ?? "";
        if (_epoch.Length == 0)
        {
            // A new file (or one whose log was lost): a new epoch, so old resume points are refused.
            _epoch = NewEpochId();
            await SetMetaAsync(connection, "epoch", _epoch, cancellationToken);
        }

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

        return (_epoch, lastSeq, minSeq ?? lastSeq + 1);
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
        }
        var setLastSeq = write.Command(SetLastSeqSql, "$v");
        setLastSeq.Parameters[0].Value = committed[^1].Seq.ToString(CultureInfo.InvariantCulture);
        setLastSeq.ExecuteNonQuery();
        return committed;
    }

    protected override async Task<EventPage> ReadCoreAsync(EventQuery query, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        // One read transaction: the position and the rows come from the same snapshot.
        using var transaction = connection.BeginTransaction(deferred: true);
        using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = """
            SELECT
              (SELECT value FROM event_log_meta WHERE key = 'epoch'),
              (SELECT COALESCE(MAX(seq), 0) FROM events),
              (SELECT CAST(value AS INTEGER) FROM event_log_meta WHERE key = 'last_seq'),
              (SELECT MIN(seq) FROM events),
              (SELECT CAST(value AS REAL) FROM event_log_meta WHERE key = 'trimmed_through_ts')
            """;
        string epoch;
        long lastSeq, firstSeq;
        double trimmedThrough;
        using (var reader = await command.ExecuteReaderAsync(cancellationToken))
        {
            await reader.ReadAsync(cancellationToken);
            epoch = reader.GetString(0);
            lastSeq = Math.Max(reader.GetInt64(1), reader.IsDBNull(2) ? 0 : reader.GetInt64(2));
            firstSeq = reader.IsDBNull(3) ? lastSeq + 1 : reader.GetInt64(3);
            trimmedThrough = reader.IsDBNull(4) ? double.NegativeInfinity : reader.GetDouble(4);
        }

        if (query.WhyNotRecoverable(epoch, firstSeq, lastSeq, trimmedThrough) is { } why)
        {
            return new EventPage(epoch, false, [], lastSeq, firstSeq, lastSeq, why);
        }

        var afterSeq = query.EffectiveAfterSeq(firstSeq);
        var sql = new StringBuilder("SELECT seq, id, type, source, target, ts, payload, correlation_id, version, traceparent, actor FROM events WHERE seq > $after");
        command.Parameters.Clear();
        command.Parameters.AddWithValue("$after", afterSeq);
        var filter = query.EffectiveFilter;
        if (!filter.MatchesAllTypes)
        {
            sql.Append(" AND (");
            for (var i = 0; i < filter.Patterns.Count; i++)
            {
                // Patterns are validated to letters, digits, '_', '.', '-' and a trailing '*': GLOB-safe.
                sql.Append(i == 0 ? "" : " OR ").Append("type GLOB $t").Append(i);
                command.Parameters.AddWithValue("$t" + i.ToString(CultureInfo.InvariantCulture), filter.Patterns[i]);
            }
            sql.Append(')');
        }
        if (filter.Target is not null)
        {
            sql.Append(" AND target = $target");
            command.Parameters.AddWithValue("$target", filter.Target);
        }
        if (query.Since is { } since)
        {
            sql.Append(" AND seq >= COALESCE((SELECT MIN(seq) FROM events WHERE ts >= $since), $last + 1) AND ts >= $since");
            command.Parameters.AddWithValue("$since", since);
            command.Parameters.AddWithValue("$last", lastSeq);
        }
        sql.Append(" ORDER BY seq LIMIT $limit");
        command.Parameters.AddWithValue("$limit", query.Limit);
        command.CommandText = sql.ToString();

        var events = new List<CharterEvent>(Math.Min(query.Limit, 256));
        using (var reader = await command.ExecuteReaderAsync(cancellationToken))
        {
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
        }
        var next = events.Count == query.Limit ? events[^1].Seq : lastSeq;
        return new EventPage(epoch, true, events, next, firstSeq, lastSeq);
    }

    public override async Task<long> TrimAsync(long? maxEvents, TimeSpan? maxAge, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        long keepFrom = 0;
        if (maxEvents is { } max)
        {
            keepFrom = LastSeq - max + 1;
        }
        if (maxAge is { } age)
        {
            using var byAge = connection.CreateCommand();
            byAge.CommandText = "SELECT COALESCE((SELECT MIN(seq) FROM events WHERE ts >= $cutoff), (SELECT COALESCE(MAX(seq), 0) + 1 FROM events))";
            byAge.Parameters.AddWithValue("$cutoff", DateTimeOffset.UtcNow.Subtract(age).ToUnixTimeMilliseconds() / 1000.0);
            keepFrom = Math.Max(keepFrom, (long)(await byAge.ExecuteScalarAsync(cancellationToken))!);
        }
        if (keepFrom <= FirstSeq)
        {
            return 0;
        }

        long removed = 0;
        while (true)
        {
            // Small chunks: the writer never waits long for the lock.
            if (removed > 0)
            {
                await Task.Yield(); // between chunks, so writes queued for the turn go first
            }
            using var turn = await database.WaitForWriteTurnAsync(cancellationToken);
            using var transaction = (SqliteTransaction)await connection.BeginTransactionAsync(cancellationToken);
            using var chunk = connection.CreateCommand();
            chunk.Transaction = transaction;
            chunk.CommandText = "SELECT MAX(seq), MAX(ts) FROM (SELECT seq, ts FROM events WHERE seq < $keep ORDER BY seq LIMIT $chunk)";
            chunk.Parameters.AddWithValue("$keep", keepFrom);
            chunk.Parameters.AddWithValue("$chunk", TrimChunk);
            long chunkEnd;
            double chunkTs;
            using (var reader = await chunk.ExecuteReaderAsync(cancellationToken))
            {
                await reader.ReadAsync(cancellationToken);
                if (reader.IsDBNull(0))
                {
                    break;
                }
                chunkEnd = reader.GetInt64(0);
                chunkTs = reader.GetDouble(1);
            }
            chunk.CommandText = """
                INSERT INTO event_log_meta (key, value) VALUES ('trimmed_through_ts', $ts)
                  ON CONFLICT(key) DO UPDATE SET value = MAX(CAST(value AS REAL), CAST(excluded.value AS REAL));
                """;
            chunk.Parameters.Clear();
            chunk.Parameters.AddWithValue("$ts", chunkTs);
            await chunk.ExecuteNonQueryAsync(cancellationToken);
            chunk.CommandText = "DELETE FROM events WHERE seq <= $end";
            chunk.Parameters.Clear();
            chunk.Parameters.AddWithValue("$end", chunkEnd);
            removed += await chunk.ExecuteNonQueryAsync(cancellationToken);
            await transaction.CommitAsync(cancellationToken);
        }
        FirstSeq = keepFrom;
        return removed;
    }

    protected override ValueTask DisposeCoreAsync() => ValueTask.CompletedTask;


    private static JsonElement ParsePayload(string json)
    {
        using var document = JsonDocument.Parse(json);
        return document.RootElement.Clone();
    }

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

    private static async Task<string?> GetMetaAsync(SqliteConnection connection, string key, CancellationToken cancellationToken)
    {
        using var command = connection.CreateCommand();
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
