using System.Text.Json;
using Microsoft.Data.Sqlite;
using MissionHub.Events;
using MissionHub.Hub;
using MissionHub.Schedules;

namespace MissionHub.Storage.Sqlite;

/// <summary>
/// Schedules in the SQLite file: one row per schedule (the whole schedule as JSON, and its next run in an indexed column
/// while unpaused). Every step is one write transaction of the shared writer, with its events, and a tick's job is
/// submitted in that same transaction.
/// </summary>
public sealed class SqliteScheduleStore(SqliteDatabase database, TimeProvider time) : IScheduleStore
{
    private const string UpsertSql = """
        INSERT INTO schedules (id, doc, next_run_at) VALUES ($id, $doc, $next)
        ON CONFLICT(id) DO UPDATE SET doc = excluded.doc, next_run_at = excluded.next_run_at
        """;

    public async Task InitializeAsync(CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        using var create = connection.CreateCommand();
        create.CommandText = """
            CREATE TABLE IF NOT EXISTS schedules (id TEXT PRIMARY KEY, doc TEXT NOT NULL, next_run_at REAL);
            CREATE INDEX IF NOT EXISTS ix_schedules_next ON schedules(next_run_at) WHERE next_run_at IS NOT NULL;
            """;
        await create.ExecuteNonQueryAsync(cancellationToken);
    }

    public Task<ScheduleCreation> CreateAsync(Schedule schedule, int maxSchedules, CancellationToken cancellationToken = default)
    {
        var meta = HubEvents.CurrentMeta();
        return database.Writer.WriteAsync(write =>
        {
            if (Find(write, schedule.Id) is not null)
            {
                return ScheduleCreation.IdTaken;
            }
            if ((long)write.Command("SELECT COUNT(*) FROM schedules").ExecuteScalar()! >= maxSchedules)
            {
                return ScheduleCreation.LimitReached;
            }
            Save(write, schedule);
            Emit(write, ScheduleEvents.CreatedEvent(schedule, schedule.CreatedAt, meta));
            return ScheduleCreation.Created;
        }, cancellationToken);
    }

    public async Task<Schedule?> GetAsync(string id, CancellationToken cancellationToken = default) =>
        await ReadAsync("SELECT doc FROM schedules WHERE id = $id", [("$id", id)], cancellationToken) is [var schedule] ? schedule : null;

    public Task<IReadOnlyList<Schedule>> ListAsync(string? afterId, int limit, CancellationToken cancellationToken = default) =>
        ReadAsync("SELECT doc FROM schedules WHERE $after IS NULL OR id > $after ORDER BY id LIMIT $limit",
            [("$after", (object?)afterId ?? DBNull.Value), ("$limit", limit)], cancellationToken);

    public async Task<long> CountAsync(CancellationToken cancellationToken = default)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT COUNT(*) FROM schedules";
        return (long)(await command.ExecuteScalarAsync(cancellationToken))!;
    }

    public Task<bool> DeleteAsync(string id, CancellationToken cancellationToken = default)
    {
        var meta = HubEvents.CurrentMeta();
        return database.Writer.WriteAsync(write =>
        {
            var delete = write.Command("DELETE FROM schedules WHERE id = $id", "$id");
            delete.Parameters[0].Value = id;
            if (delete.ExecuteNonQuery() == 0)
            {
                return false;
            }
            Emit(write, ScheduleEvents.DeletedEvent(id, Now(), meta));
            return true;
        }, cancellationToken);
    }

    public Task<Schedule?> SetPausedAsync(string id, bool paused, double? nextRunAt, CancellationToken cancellationToken = default)
    {
        var meta = HubEvents.CurrentMeta();
        return database.Writer.WriteAsync(write =>
        {
            if (Find(write, id) is not { } current || current.Paused == paused)
            {
                return Find(write, id);
            }
            var now = Now();
            var after = current with { Paused = paused, NextRunAt = paused ? null : nextRunAt };
            Save(write, after);
            Emit(write, paused ? ScheduleEvents.PausedEvent(id, now, meta) : ScheduleEvents.ResumedEvent(after, now, meta));
            return after;
        }, cancellationToken);
    }

    public Task<IReadOnlyList<ScheduleStep>> TickAsync(IReadOnlyList<ScheduleTick> ticks, double now, CancellationToken cancellationToken = default)
    {
        var meta = HubEvents.CurrentMeta();
        return database.Writer.WriteAsync<IReadOnlyList<ScheduleStep>>(write => [.. ticks.Select(tick => Tick(write, tick, now, meta))], cancellationToken);
    }

    private static ScheduleStep Tick(SqliteWriteContext write, ScheduleTick tick, double now, EventMeta meta)
    {
        if (Find(write, tick.ScheduleId) is not { } current || current.Paused || current.NextRunAt != tick.Tick)
        {
            return new ScheduleStep(ScheduleStepOutcome.Stale, Find(write, tick.ScheduleId));
        }
        if (tick.Job is null || current.Overlap == ScheduleOverlap.Skip && IsUnfinished(write, current.LastRun?.JobId))
        {
            var reason = tick.Job is null ? ScheduleEvents.SkippedMissed : ScheduleEvents.SkippedOverlap;
            var skipped = ScheduleEvents.AfterSkipped(current, tick.Tick, tick.NextRunAt, reason, tick.Missed);
            Save(write, skipped);
            Emit(write, ScheduleEvents.SkippedEvent(skipped, now, meta));
            return new ScheduleStep(ScheduleStepOutcome.Skipped, skipped);
        }
        return Fire(write, current, tick.Tick, tick.NextRunAt, tick.Job, ScheduleEvents.TriggerCron, tick.NodeId, now, meta);
    }

    public Task<ScheduleStep> TriggerAsync(string id, Job job, double now, string nodeId, CancellationToken cancellationToken = default)
    {
        var meta = HubEvents.CurrentMeta();
        return database.Writer.WriteAsync(write => Find(write, id) is { } current
            ? Fire(write, current, now, null, job, ScheduleEvents.TriggerManual, nodeId, now, meta)
            : new ScheduleStep(ScheduleStepOutcome.NotFound, null), cancellationToken);
    }

    private static ScheduleStep Fire(
        SqliteWriteContext write, Schedule current, double tick, double? nextRunAt, Job job, string trigger, string nodeId, double now, EventMeta meta)
    {
        var submitted = SqliteJobStore.Submit(write, job, meta).Job;
        var fired = ScheduleEvents.AfterFired(current, tick, nextRunAt, submitted.Id, trigger, nodeId, now);
        Save(write, fired);
        Emit(write, ScheduleEvents.FiredEvent(fired, now, meta));
        return new ScheduleStep(ScheduleStepOutcome.Fired, fired, submitted);
    }

    public Task<IReadOnlyList<Schedule>> DueAsync(double now, int max, CancellationToken cancellationToken = default) =>
        ReadAsync("SELECT doc FROM schedules WHERE next_run_at IS NOT NULL AND next_run_at <= $now ORDER BY next_run_at LIMIT $max",
            [("$now", now), ("$max", max)], cancellationToken);

    public async Task<double?> NextDueAsync(CancellationToken cancellationToken = default)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT MIN(next_run_at) FROM schedules WHERE next_run_at IS NOT NULL";
        return await command.ExecuteScalarAsync(cancellationToken) is double next ? next : null;
    }

    private static bool IsUnfinished(SqliteWriteContext write, string? jobId)
    {
        if (jobId is null)
        {
            return false;
        }
        var status = write.Command("SELECT status FROM jobs WHERE id = $id", "$id");
        status.Parameters[0].Value = jobId;
        return status.ExecuteScalar() is string current && !JobStatus.IsFinal(current);
    }

    private static Schedule? Find(SqliteWriteContext write, string id)
    {
        var find = write.Command("SELECT doc FROM schedules WHERE id = $id", "$id");
        find.Parameters[0].Value = id;
        return find.ExecuteScalar() is string doc ? Parse(doc) : null;
    }

    private static void Save(SqliteWriteContext write, Schedule schedule)
    {
        var upsert = write.Command(UpsertSql, "$id", "$doc", "$next");
        upsert.Parameters[0].Value = schedule.Id;
        upsert.Parameters[1].Value = ScheduleEvents.Json(schedule);
        upsert.Parameters[2].Value = (object?)schedule.NextRunAt ?? DBNull.Value;
        upsert.ExecuteNonQuery();
    }

    private double Now() => EventBus.UnixSeconds(time.GetUtcNow());

    private static void Emit(SqliteWriteContext write, CharterEvent draft) => SqliteEventLog.Insert(write, [draft]);

    private static Schedule Parse(string doc) => JsonSerializer.Deserialize(doc, ScheduleJsonContext.Default.Schedule)!;

    private async Task<IReadOnlyList<Schedule>> ReadAsync(string sql, (string Name, object Value)[] parameters, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        foreach (var (name, value) in parameters)
        {
            command.Parameters.AddWithValue(name, value);
        }
        var schedules = new List<Schedule>();
        using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            schedules.Add(Parse(reader.GetString(0)));
        }
        return schedules;
    }

}
