using System.Text.Json;
using Microsoft.Data.Sqlite;
using MissionHub.Events;
using MissionHub.Infrastructure;
using MissionHub.Missions;

namespace MissionHub.Storage.Sqlite;

/// <summary>
/// Missions in the embedded SQLite file. Every write runs on the file's one writer thread inside its transaction and
/// changes the mission, its counters in <c>mission_stats</c>, its log and the event log's table together: the change
/// and its event commit as one, or neither does.
/// </summary>
public sealed class SqliteMissionStore(SqliteDatabase database) : IMissionStore
{
    private const string Schema = """
        CREATE TABLE IF NOT EXISTS missions (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            id TEXT NOT NULL UNIQUE,
            name TEXT NOT NULL,
            description TEXT,
            data TEXT NOT NULL,
            status TEXT NOT NULL,
            created_at REAL NOT NULL,
            updated_at REAL NOT NULL);
        CREATE INDEX IF NOT EXISTS ix_missions_status_seq ON missions(status, seq);
        CREATE INDEX IF NOT EXISTS ix_missions_updated ON missions(updated_at, id);
        CREATE TABLE IF NOT EXISTS mission_log (
            mission_id TEXT NOT NULL,
            idx INTEGER NOT NULL,
            ts REAL NOT NULL,
            level TEXT NOT NULL,
            message TEXT NOT NULL,
            data TEXT,
            PRIMARY KEY (mission_id, idx)) WITHOUT ROWID;
        CREATE TABLE IF NOT EXISTS mission_stats (
            status TEXT PRIMARY KEY,
            count INTEGER NOT NULL,
            updated_at REAL) WITHOUT ROWID;
        CREATE TABLE IF NOT EXISTS mission_idempotency (
            key TEXT PRIMARY KEY,
            mission_id TEXT NOT NULL,
            fingerprint TEXT NOT NULL,
            expires_at REAL NOT NULL) WITHOUT ROWID;
        CREATE INDEX IF NOT EXISTS ix_mission_idempotency_expires ON mission_idempotency(expires_at);
        INSERT OR IGNORE INTO mission_stats (status, count) VALUES
            ('PENDING', 0), ('RUNNING', 0), ('COMPLETED', 0), ('FAILED', 0), ('CANCELLED', 0);
        """;

    private const string MissionColumns = "seq, id, name, description, data, status, created_at, updated_at";


    public async Task InitializeAsync(CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        using var transaction = connection.BeginTransaction(deferred: false);
        using var create = Command(connection, transaction, Schema);
        await create.ExecuteNonQueryAsync(cancellationToken);
        transaction.Commit();
    }

    public Task<bool> CreateAsync(Mission mission, MissionLogEntry initialLog, CharterEvent created, CancellationToken cancellationToken) =>
        database.Writer.WriteAsync(write => Create(write, mission, initialLog, created));

    public Task<OnceCreate> CreateOnceAsync(
        Mission mission, MissionLogEntry initialLog, CharterEvent created, IdempotencyClaim claim, CancellationToken cancellationToken) =>
        database.Writer.WriteAsync(write =>
        {
            // Keys whose window ended go a few at a time, so the table holds about a window's worth of keys.
            var expire = write.Command(
                "DELETE FROM mission_idempotency WHERE key IN (SELECT key FROM mission_idempotency WHERE expires_at <= $now LIMIT 16)", "$now");
            expire.Parameters[0].Value = mission.CreatedAt;
            expire.ExecuteNonQuery();
            var known = write.Command("SELECT mission_id, fingerprint FROM mission_idempotency WHERE key = $key", "$key");
            known.Parameters[0].Value = claim.Key;
            using (var reader = known.ExecuteReader())
            {
                if (reader.Read())
                {
                    return new OnceCreate(false, reader.GetString(0), reader.GetString(1));
                }
            }
            if (!Create(write, mission, initialLog, created))
            {
                return new OnceCreate(false);
            }
            var remember = write.Command(
                "INSERT INTO mission_idempotency (key, mission_id, fingerprint, expires_at) VALUES ($key, $id, $fingerprint, $expires)",
                "$key", "$id", "$fingerprint", "$expires");
            remember.Parameters[0].Value = claim.Key;
            remember.Parameters[1].Value = mission.Id;
            remember.Parameters[2].Value = claim.Fingerprint;
            remember.Parameters[3].Value = claim.ExpiresAt;
            remember.ExecuteNonQuery();
            return new OnceCreate(true);
        });

    private static bool Create(SqliteWriteContext write, Mission mission, MissionLogEntry initialLog, CharterEvent created)
    {
        var insert = write.Command("""
            INSERT INTO missions (id, name, description, data, status, created_at, updated_at)
            VALUES ($id, $name, $description, $data, $status, $created_at, $updated_at)
            ON CONFLICT(id) DO NOTHING
            """, "$id", "$name", "$description", "$data", "$status", "$created_at", "$updated_at");
        var p = insert.Parameters;
        p[0].Value = mission.Id;
        p[1].Value = mission.Name;
        p[2].Value = (object?)mission.Description ?? DBNull.Value;
        p[3].Value = mission.Data.GetRawText();
        p[4].Value = mission.Status.ToWire();
        p[5].Value = mission.CreatedAt;
        p[6].Value = mission.UpdatedAt;
        if (insert.ExecuteNonQuery() == 0)
        {
            return false; // nothing was written
        }
        Count(write, mission.Status, +1, mission.CreatedAt);
        InsertLog(write, mission.Id, initialLog);
        SqliteEventLog.Insert(write, [created]);
        return true;
    }

    public async Task<Mission?> GetAsync(string id, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        return await GetAsync(connection, null, id, cancellationToken);
    }

    public async Task<MissionListing> ListAsync(MissionStatus? status, long? before, int limit, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        using var select = Command(connection, null, $"""
            SELECT {MissionColumns} FROM missions
            WHERE ($status IS NULL OR status = $status) AND ($before IS NULL OR seq < $before)
            ORDER BY seq DESC LIMIT $limit
            """);
        select.Parameters.AddWithValue("$status", (object?)status?.ToWire() ?? DBNull.Value);
        select.Parameters.AddWithValue("$before", (object?)before ?? DBNull.Value);
        select.Parameters.AddWithValue("$limit", limit + 1);
        var missions = new List<Mission>(Math.Min(limit + 1, 64));
        long lastSeq = 0;
        await using (var reader = await select.ExecuteReaderAsync(cancellationToken))
        {
            while (await reader.ReadAsync(cancellationToken))
            {
                if (missions.Count == limit)
                {
                    return new MissionListing(missions, lastSeq);
                }
                lastSeq = reader.GetInt64(0);
                missions.Add(ReadMission(reader));
            }
        }
        return new MissionListing(missions, null);
    }

    public Task<StatusChange> ChangeStatusAsync(
        string id, MissionStatus to, double at, Func<MissionStatus, CharterEvent> changed, CancellationToken cancellationToken) =>
        // On the writer: the read of the current status and the write are one step; no other writer comes between.
        database.Writer.WriteAsync(write =>
        {
            var select = write.Command($"SELECT {MissionColumns} FROM missions WHERE id = $id", "$id");
            select.Parameters[0].Value = id;
            Mission? mission;
            using (var reader = select.ExecuteReader())
            {
                mission = reader.Read() ? ReadMission(reader) : null;
            }
            if (mission is null)
            {
                return StatusChange.NotFound;
            }
            var from = mission.Status;
            if (from == to)
            {
                return new StatusChange(StatusChangeOutcome.Unchanged, mission, from);
            }
            if (!MissionStatuses.CanChange(from, to))
            {
                return new StatusChange(StatusChangeOutcome.Refused, mission, from);
            }
            var update = write.Command("UPDATE missions SET status = $status, updated_at = $at WHERE id = $id", "$status", "$at", "$id");
            update.Parameters[0].Value = to.ToWire();
            update.Parameters[1].Value = at;
            update.Parameters[2].Value = id;
            update.ExecuteNonQuery();
            Count(write, from, -1, at);
            Count(write, to, +1, at);
            InsertLog(write, id, MissionLogEntries.StatusChanged(from, to, at));
            SqliteEventLog.Insert(write, [changed(from)]);
            return new StatusChange(StatusChangeOutcome.Changed, mission with { Status = to, UpdatedAt = at }, from);
        });

    public Task<LogAppend> AppendLogAsync(string id, MissionLogEntry entry, CharterEvent appended, int maxEntries, CancellationToken cancellationToken) =>
        database.Writer.WriteAsync(write =>
        {
            var exists = write.Command("SELECT 1 FROM missions WHERE id = $id", "$id");
            exists.Parameters[0].Value = id;
            if (exists.ExecuteScalar() is null)
            {
                return LogAppend.NoSuchMission;
            }
            // Entries are numbered from 0 without gaps: the next index is the count (read from the primary key).
            var next = write.Command("SELECT COALESCE(MAX(idx) + 1, 0) FROM mission_log WHERE mission_id = $id", "$id");
            next.Parameters[0].Value = id;
            if ((long)next.ExecuteScalar()! >= maxEntries)
            {
                return LogAppend.Full;
            }
            InsertLog(write, id, entry);
            SqliteEventLog.Insert(write, [appended]);
            return LogAppend.Appended;
        });

    public async Task<MissionLogSlice?> ReadLogAsync(string id, long from, int limit, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        using var transaction = connection.BeginTransaction(deferred: true);
        if (!await ExistsAsync(connection, transaction, id, cancellationToken))
        {
            return null;
        }
        using var select = Command(connection, transaction, """
            SELECT idx, ts, level, message, data FROM mission_log
            WHERE mission_id = $id AND idx >= $from ORDER BY idx LIMIT $limit
            """);
        select.Parameters.AddWithValue("$id", id);
        select.Parameters.AddWithValue("$from", from);
        select.Parameters.AddWithValue("$limit", limit + 1);
        var entries = new List<MissionLogEntry>();
        await using var reader = await select.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            if (entries.Count == limit)
            {
                return new MissionLogSlice(entries, reader.GetInt64(0));
            }
            entries.Add(new MissionLogEntry(
                reader.GetDouble(1),
                reader.GetString(2),
                reader.GetString(3),
                reader.IsDBNull(4) ? null : ParseJson(reader.GetString(4))));
        }
        return new MissionLogSlice(entries, null);
    }

    public async Task<MissionStats> GetStatsAsync(CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        using var select = Command(connection, null, "SELECT status, count, updated_at FROM mission_stats");
        var counts = MissionStatuses.All.ToDictionary(s => s.ToWire(), _ => 0L);
        double? lastUpdated = null;
        await using var reader = await select.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            counts[reader.GetString(0)] = reader.GetInt64(1);
            if (!reader.IsDBNull(2))
            {
                lastUpdated = Math.Max(lastUpdated ?? 0, reader.GetDouble(2));
            }
        }
        return new MissionStats(counts.Values.Sum(), counts, lastUpdated);
    }

    public async Task<IReadOnlyList<MissionChange>> ListChangedAsync(double since, string? afterId, int limit, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        using var select = Command(connection, null, """
            SELECT id, status, created_at, updated_at FROM missions
            WHERE (updated_at, id) > ($since, $after) ORDER BY updated_at, id LIMIT $limit
            """);
        select.Parameters.AddWithValue("$since", since);
        select.Parameters.AddWithValue("$after", afterId ?? "");
        select.Parameters.AddWithValue("$limit", limit);
        var changes = new List<MissionChange>();
        await using var reader = await select.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            changes.Add(new MissionChange(reader.GetString(0), MissionStatuses.Parse(reader.GetString(1)), reader.GetDouble(2), reader.GetDouble(3)));
        }
        return changes;
    }

    private static async Task<Mission?> GetAsync(
        SqliteConnection connection, SqliteTransaction? transaction, string id, CancellationToken cancellationToken)
    {
        using var select = Command(connection, transaction, $"SELECT {MissionColumns} FROM missions WHERE id = $id");
        select.Parameters.AddWithValue("$id", id);
        await using var reader = await select.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken) ? ReadMission(reader) : null;
    }

    private static async Task<bool> ExistsAsync(
        SqliteConnection connection, SqliteTransaction transaction, string id, CancellationToken cancellationToken)
    {
        using var select = Command(connection, transaction, "SELECT 1 FROM missions WHERE id = $id");
        select.Parameters.AddWithValue("$id", id);
        return await select.ExecuteScalarAsync(cancellationToken) is not null;
    }

    private static void Count(SqliteWriteContext write, MissionStatus status, int delta, double at)
    {
        var update = write.Command("UPDATE mission_stats SET count = count + $delta, updated_at = $at WHERE status = $status", "$delta", "$at", "$status");
        update.Parameters[0].Value = delta;
        update.Parameters[1].Value = at;
        update.Parameters[2].Value = status.ToWire();
        update.ExecuteNonQuery();
    }

    private static void InsertLog(SqliteWriteContext write, string id, MissionLogEntry entry)
    {
        var insert = write.Command("""
            INSERT INTO mission_log (mission_id, idx, ts, level, message, data)
            SELECT $id, COALESCE(MAX(idx) + 1, 0), $ts, $level, $message, $data FROM mission_log WHERE mission_id = $id
            """, "$id", "$ts", "$level", "$message", "$data");
        var p = insert.Parameters;
        p[0].Value = id;
        p[1].Value = entry.Timestamp;
        p[2].Value = entry.Level;
        p[3].Value = entry.Message;
        p[4].Value = (object?)entry.Data?.GetRawText() ?? DBNull.Value;
        insert.ExecuteNonQuery();
    }

    private static Mission ReadMission(SqliteDataReader reader) => new(
        Id: reader.GetString(1),
        Name: reader.GetString(2),
        Description: reader.IsDBNull(3) ? null : reader.GetString(3),
        Data: ParseJson(reader.GetString(4)),
        Status: MissionStatuses.Parse(reader.GetString(5)),
        CreatedAt: reader.GetDouble(6),
        UpdatedAt: reader.GetDouble(7));

    private static JsonElement ParseJson(string text)
    {
        using var document = JsonDocument.Parse(text);
        return document.RootElement.Clone();
    }

    private static SqliteCommand Command(SqliteConnection connection, SqliteTransaction? transaction, string sql)
    {
        var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = sql;
        return command;
    }
}
