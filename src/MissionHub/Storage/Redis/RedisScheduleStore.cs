using System.Globalization;
using System.Text.Json;
using MissionHub.Events;
using MissionHub.Hub;
using MissionHub.Schedules;
using StackExchange.Redis;

namespace MissionHub.Storage.Redis;

/// <summary>
/// Schedules in Redis, shared by every process on it: each change is one call of <see cref="RedisScheduleScript"/>,
/// which also appends its events (and, for a tick that fires, the job and its <c>job_submitted</c>).
/// </summary>
public sealed class RedisScheduleStore(RedisConnection connection, RedisKeys keys, RedisStepEvents steps, TimeProvider time) : IScheduleStore
{
    public Task InitializeAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public async Task<ScheduleCreation> CreateAsync(Schedule schedule, int maxSchedules, CancellationToken cancellationToken = default)
    {
        var created = JsonSerializer.Serialize(new ScheduleCreatedPayload(schedule.Id, schedule), ScheduleJsonContext.Default.ScheduleCreatedPayload);
        var result = await RunAsync("create", schedule.CreatedAt,
            [schedule.Id, ScheduleEvents.Json(schedule), schedule.Overlap, Num(schedule.NextRunAt), created, maxSchedules], cancellationToken);
        return (int)result switch
        {
            1 => ScheduleCreation.Created,
            2 => ScheduleCreation.LimitReached,
            _ => ScheduleCreation.IdTaken,
        };
    }

    public async Task<Schedule?> GetAsync(string id, CancellationToken cancellationToken = default)
    {
        var db = await connection.GetDatabaseAsync(cancellationToken);
        var entries = await db.HashGetAllAsync(keys.Hub("schedule:" + id));
        return entries.Length == 0 ? null : FromFields(entries.Select(e => (e.Name.ToString(), e.Value.ToString())));
    }

    public async Task<IReadOnlyList<Schedule>> ListAsync(string? afterId, int limit, CancellationToken cancellationToken = default)
    {
        var db = await connection.GetDatabaseAsync(cancellationToken);
        var ids = await db.SortedSetRangeByValueAsync(keys.Hub("schedules"), afterId ?? default(RedisValue), default,
            afterId is null ? Exclude.None : Exclude.Start, Order.Ascending, 0, limit);
        return await LoadAsync(db, ids);
    }

    public async Task<long> CountAsync(CancellationToken cancellationToken = default) =>
        await (await connection.GetDatabaseAsync(cancellationToken)).SortedSetLengthAsync(keys.Hub("schedules"));

    public async Task<bool> DeleteAsync(string id, CancellationToken cancellationToken = default)
    {
        var payload = JsonSerializer.Serialize(new ScheduleDeletedPayload(id), ScheduleJsonContext.Default.ScheduleDeletedPayload);
        return (int)await RunAsync("delete", null, [id, payload], cancellationToken) == 1;
    }

    public async Task<Schedule?> SetPausedAsync(string id, bool paused, double? nextRunAt, CancellationToken cancellationToken = default)
    {
        var payload = paused
            ? JsonSerializer.Serialize(new SchedulePausedPayload(id), ScheduleJsonContext.Default.SchedulePausedPayload)
            : JsonSerializer.Serialize(new ScheduleResumedPayload(id, nextRunAt), ScheduleJsonContext.Default.ScheduleResumedPayload);
        var parts = (RedisResult[])(await RunAsync("pause", null, [id, paused ? "1" : "0", Num(nextRunAt), payload], cancellationToken))!;
        return (int)parts[0] == 0 ? null : ParseSchedule(parts[1]);
    }

    public async Task<IReadOnlyList<ScheduleStep>> TickAsync(IReadOnlyList<ScheduleTick> ticks, double now, CancellationToken cancellationToken = default)
    {
        if (ticks.Count == 0)
        {
            return [];
        }
        var args = new List<RedisValue>(1 + ticks.Count * RedisScheduleScript.TickArgs) { ticks.Count };
        foreach (var tick in ticks)
        {
            args.AddRange([tick.ScheduleId, Num(tick.Tick), Num(tick.NextRunAt), tick.Job is null ? "0" : "1"]);
            args.AddRange(tick.Job is { } job ? RedisJobStore.SubmitArgs(job) : Enumerable.Repeat((RedisValue)"", RedisScheduleScript.SubmitArgs));
            var run = new ScheduleRun(tick.Tick, now, tick.Job?.Id ?? "", ScheduleEvents.TriggerCron, tick.NodeId);
            var fired = new ScheduleFiredPayload(tick.ScheduleId, run.JobId, tick.Tick, run.Trigger, tick.NextRunAt, tick.NodeId);
            var skip = new ScheduleSkip(tick.Tick, tick.Job is null ? ScheduleEvents.SkippedMissed : ScheduleEvents.SkippedOverlap, tick.Missed);
            var skipped = new ScheduleSkippedPayload(tick.ScheduleId, tick.Tick, skip.Reason, skip.Missed, tick.NextRunAt);
            args.AddRange([
                JsonSerializer.Serialize(run, ScheduleJsonContext.Default.ScheduleRun),
                JsonSerializer.Serialize(fired, ScheduleJsonContext.Default.ScheduleFiredPayload),
                JsonSerializer.Serialize(skip, ScheduleJsonContext.Default.ScheduleSkip),
                JsonSerializer.Serialize(skipped, ScheduleJsonContext.Default.ScheduleSkippedPayload),
                Math.Max(1, tick.Missed),
            ]);
        }
        var results = (RedisResult[])(await RunAsync("tick", now, [.. args], cancellationToken))!;
        return [.. results.Select(Step)];
    }

    public async Task<ScheduleStep> TriggerAsync(string id, Job job, double now, string nodeId, CancellationToken cancellationToken = default)
    {
        var run = new ScheduleRun(now, now, job.Id, ScheduleEvents.TriggerManual, nodeId);
        var current = await GetAsync(id, cancellationToken);
        var fired = new ScheduleFiredPayload(id, job.Id, now, run.Trigger, current?.NextRunAt, nodeId);
        RedisValue[] args =
        [
            id, .. RedisJobStore.SubmitArgs(job),
            JsonSerializer.Serialize(run, ScheduleJsonContext.Default.ScheduleRun),
            JsonSerializer.Serialize(fired, ScheduleJsonContext.Default.ScheduleFiredPayload),
        ];
        return Step(await RunAsync("trigger", now, args, cancellationToken));
    }

    public async Task<IReadOnlyList<Schedule>> DueAsync(double now, int max, CancellationToken cancellationToken = default)
    {
        var db = await connection.GetDatabaseAsync(cancellationToken);
        var ids = await db.SortedSetRangeByScoreAsync(keys.Hub("schedules:due"), double.NegativeInfinity, now, take: max);
        return await LoadAsync(db, ids);
    }

    public async Task<double?> NextDueAsync(CancellationToken cancellationToken = default)
    {
        var db = await connection.GetDatabaseAsync(cancellationToken);
        var first = await db.SortedSetRangeByRankWithScoresAsync(keys.Hub("schedules:due"), 0, 0);
        return first.Length == 0 ? null : first[0].Score;
    }

    private async Task<IReadOnlyList<Schedule>> LoadAsync(IDatabase db, RedisValue[] ids)
    {
        var batch = db.CreateBatch();
        var reads = ids.Select(id => batch.HashGetAllAsync(keys.Hub("schedule:" + id))).ToArray();
        batch.Execute();
        return [.. (await Task.WhenAll(reads)).Where(e => e.Length > 0).Select(e => FromFields(e.Select(f => (f.Name.ToString(), f.Value.ToString()))))];
    }

    private static ScheduleStep Step(RedisResult result)
    {
        var parts = (RedisResult[])result!;
        var schedule = ((RedisResult[])parts[1]!).Length == 0 ? null : ParseSchedule(parts[1]);
        var job = ((RedisResult[])parts[2]!).Length == 0 ? null : RedisJobStore.ParseJob(parts[2]);
        return parts[0].ToString() switch
        {
            "fired" => new ScheduleStep(ScheduleStepOutcome.Fired, schedule, job),
            "skipped" => new ScheduleStep(ScheduleStepOutcome.Skipped, schedule),
            "not_found" => new ScheduleStep(ScheduleStepOutcome.NotFound, null),
            _ => new ScheduleStep(ScheduleStepOutcome.Stale, schedule),
        };
    }

    private static Schedule ParseSchedule(RedisResult flat)
    {
        var items = (RedisResult[])flat!;
        var pairs = new List<(string, string)>(items.Length / 2);
        for (var i = 0; i + 1 < items.Length; i += 2)
        {
            pairs.Add((items[i].ToString(), items[i + 1].ToString()));
        }
        return FromFields(pairs);
    }

    /// <summary>The definition as stored at creation, with the state the steps keep in their own fields.</summary>
    private static Schedule FromFields(IEnumerable<(string Name, string Value)> pairs)
    {
        var f = pairs.ToDictionary(p => p.Name, p => p.Value, StringComparer.Ordinal);
        string? Text(string name) => f.TryGetValue(name, out var v) && v.Length > 0 ? v : null;
        var definition = JsonSerializer.Deserialize(f["def"], ScheduleJsonContext.Default.Schedule)!;
        return definition with
        {
            Paused = Text("paused") == "1",
            NextRunAt = Text("next") is { } next ? double.Parse(next, CultureInfo.InvariantCulture) : null,
            Fired = long.Parse(Text("fired") ?? "0", CultureInfo.InvariantCulture),
            Skipped = long.Parse(Text("skipped") ?? "0", CultureInfo.InvariantCulture),
            LastRun = Text("last_run") is { } run ? JsonSerializer.Deserialize(run, ScheduleJsonContext.Default.ScheduleRun) : null,
            LastSkip = Text("last_skip") is { } skip ? JsonSerializer.Deserialize(skip, ScheduleJsonContext.Default.ScheduleSkip) : null,
        };
    }

    private static RedisValue Num(double? value) => value is { } v ? RedisJobStore.Num(v) : "";

    private Task<RedisResult> RunAsync(string step, double? at, RedisValue[] stepArgs, CancellationToken cancellationToken) =>
        steps.RunAsync(RedisScheduleScript.Step, keys.Hub("").ToString(), step, at ?? EventBus.UnixSeconds(time.GetUtcNow()), stepArgs, cancellationToken);
}
