using System.Text.Json;
using Microsoft.Data.Sqlite;
using MissionHub.Missions;

namespace MissionHub.Storage.Sqlite;

/// <summary>
/// Missions in the embedded SQLite file. Every write is one <c>BEGIN IMMEDIATE</c> transaction that changes the
/// mission, its counters in <c>mission_stats</c> and its log together. Writers of this process take turns on a
/// semaphore so they queue fairly instead of spinning in SQLite's busy handler; the busy timeout only covers
/// the event log's writer and other processes.
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

    public async Task<bool> CreateAsync(Mission mission, MissionLogEntry initialLog, CancellationToken cancellationToken)
    {
        using var turn = await database.WaitForWriteTurnAsync(cancellationToken);
        await using var connection = await database.OpenAsync(cancellationToken);
        using var transaction = connection.BeginTransaction(deferred: false);
        using (var insert = Command(connection, transaction, """
            INSERT INTO missions (id, name, description, data, status, created_at, updated_at)
            VALUES ($id, $name, $description, $data, $status, $created_at, $updated_at)
            ON CONFLICT(id) DO NOTHING
            """))
        {
            insert.Parameters.AddWithValue("$id", mission.Id);
            insert.Parameters.AddWithValue("$name", mission.Name);
            insert.Parameters.AddWithValue("$description", (object?)mission.Description ?? DBNull.Value);
            insert.Parameters.AddWithValue("$data", mission.Data.GetRawText());
            insert.Parameters.AddWithValue("$status", mission.Status.ToWire());
            insert.Parameters.AddWithValue("$created_at", mission.CreatedAt);
            insert.Parameters.AddWithValue("$updated_at", mission.UpdatedAt);
            if (await insert.ExecuteNonQueryAsync(cancellationToken) == 0)
            {
                return false; // the transaction rolls back on dispose; nothing was written
            }
        }
        await CountAsync(connection, transaction, mission.Status, +1, mission.CreatedAt, cancellationToken);
        await InsertLogAsync(connection, transaction, mission.Id, initialLog, cancellationToken);
        transaction.Commit();
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

    public async Task<StatusChange> ChangeStatusAsync(string id, MissionStatus to, double at, CancellationToken cancellationToken)
    {
        using var turn = await database.WaitForWriteTurnAsync(cancellationToken);
        await using var connection = await database.OpenAsync(cancellationToken);
        // IMMEDIATE: the read of the current status and the write are one step; no other writer comes between.
        using var transaction = connection.BeginTransaction(deferred: false);
        var mission = await GetAsync(connection, transaction, id, cancellationToken);
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

        using (var update = Command(connection, transaction,
            "UPDATE missions SET status = $status, updated_at = $at WHERE id = $id"))
        {
            update.Parameters.AddWithValue("$status", to.ToWire());
            update.Parameters.AddWithValue("$at", at);
            update.Parameters.AddWithValue("$id", id);
            await update.ExecuteNonQueryAsync(cancellationToken);
        }
        await CountAsync(connection, transaction, from, -1, at, cancellationToken);
        await CountAsync(connection, transaction, to, +1, at, cancellationToken);
        await InsertLogAsync(connection, transaction, id, MissionLogEntries.StatusChanged(from, to, at), cancellationToken);
        transaction.Commit();
        return new StatusChange(StatusChangeOutcome.Changed, mission with { Status = to, UpdatedAt = at }, from);
    }

    public async Task<bool> AppendLogAsync(string id, MissionLogEntry entry, CancellationToken cancellationToken)
    {
        using var turn = await database.WaitForWriteTurnAsync(cancellationToken);
        await using var connection = await database.OpenAsync(cancellationToken);
        using var transaction = connection.BeginTransaction(deferred: false);
        if (!await ExistsAsync(connection, transaction, id, cancellationToken))
        {
            return false;
        }
        await InsertLogAsync(connection, transaction, id, entry, cancellationToken);
        transaction.Commit();
        return true;
    }

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

    private static async Task CountAsync(
        SqliteConnection connection, SqliteTransaction transaction, MissionStatus status, int delta, double at,
        CancellationToken cancellationToken)
    {
        using var update = Command(connection, transaction,
            "UPDATE mission_stats SET count = count + $delta, updated_at = $at WHERE status = $status");
        update.Parameters.AddWithValue("$delta", delta);
        update.Parameters.AddWithValue("$at", at);
        update.Parameters.AddWithValue("$status", status.ToWire());
        await update.ExecuteNonQueryAsync(cancellationToken);
    }

    private static async Task InsertLogAsync(
        SqliteConnection connection, SqliteTransaction transaction, string id, MissionLogEntry entry,
        CancellationToken cancellationToken)
    {
        using var insert = Command(connection, transaction, """
            INSERT INTO mission_log (mission_id, idx, ts, level, message, data)
            SELECT $id, COALESCE(MAX(idx) + 1, 0), $ts, $level, $message, $data FROM mission_log WHERE mission_id = $id
            """);
        insert.Parameters.AddWithValue("$id", id);
        insert.Parameters.AddWithValue("$ts", entry.Timestamp);
        insert.Parameters.AddWithValue("$level", entry.Level);
        insert.Parameters.AddWithValue("$message", entry.Message);
        insert.Parameters.AddWithValue("$data", (object?)entry.Data?.GetRawText() ?? DBNull.Value);
        await insert.ExecuteNonQueryAsync(cancellationToken);
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
