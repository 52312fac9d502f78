using System.Collections.Concurrent;
using Microsoft.Extensions.Options;
using MissionHub.Events;
using MissionHub.Hub;

namespace MissionHub.Schedules;

public sealed class ScheduleOptions
{
    public const string Section = "MissionHub:Schedules";

    /// <summary>Most schedules one hub keeps; a create beyond it is refused (409). Checked before the create, so creates racing at the limit may pass it by a few.</summary>
    public int MaxSchedules { get; set; } = 100_000;

    /// <summary>
    /// A tick not fired within this long of its time (no process was running, or all were stalled) counts as missed:
    /// skipped, or fired once for all missed ticks with <c>catch_up: one</c>.
    /// </summary>
    public TimeSpan MisfireTolerance { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>Ticks carried out per storage step when many schedules fall due at once.</summary>
    public int TicksPerStep { get; set; } = 500;
}

/// <summary>
/// The schedules' operations as the API and the runner see them: each is one atomic step in storage (with its events
/// and, for a fire, its job), followed by the job hub's wake-up for the job it fired.
/// </summary>
public sealed partial class ScheduleService(
    IScheduleStore store, JobHub hub, IHubSignals signals, IOptions<ScheduleOptions> options, TimeProvider time, ILogger<ScheduleService> logger)
{
    private readonly ConcurrentDictionary<(string Cron, string TimeZone), CronTimes> _times = new();

    /// <summary>Fires when a schedule here was created or resumed, so the runner re-reads the earliest next run.</summary>
    public event Action? Changed;

    public ScheduleOptions Options => options.Value;

    public double Now() => EventBus.UnixSeconds(time.GetUtcNow());

    /// <summary>The cron of a stored schedule (valid: it was checked when the schedule was created).</summary>
    public CronTimes TimesOf(Schedule schedule) =>
        _times.GetOrAdd((schedule.Cron, schedule.TimeZone), key =>
            CronTimes.TryParse(key.Cron, key.TimeZone, out var times, out _, out var error)
                ? times
                : throw new InvalidOperationException($"schedule '{schedule.Id}': {error}"));

    /// <summary>Stores the schedule with its first next run after now, unless its id is taken or the hub holds <see cref="ScheduleOptions.MaxSchedules"/>.</summary>
    public async Task<(ScheduleCreation Outcome, Schedule Schedule)> CreateAsync(Schedule definition, CronTimes times)
    {
        var now = Now();
        var schedule = definition with { CreatedAt = now, NextRunAt = times.NextAfter(now) };
        var outcome = await store.CreateAsync(schedule, Options.MaxSchedules, CancellationToken.None);
        if (outcome == ScheduleCreation.Created)
        {
            LogCreated(logger, schedule.Id, schedule.Cron, schedule.TimeZone, schedule.Job.JobType);
            Changed?.Invoke();
        }
        return (outcome, schedule);
    }

    public async Task<Schedule?> SetPausedAsync(string id, bool paused)
    {
        var current = await store.GetAsync(id, CancellationToken.None);
        if (current is null)
        {
            return null;
        }
        // Resumed, a schedule runs from the next tick after now: ticks that passed while it was paused are not caught up.
        var next = paused ? null : TimesOf(current).NextAfter(Now());
        var after = await store.SetPausedAsync(id, paused, next, CancellationToken.None);
        if (!paused)
        {
            Changed?.Invoke();
        }
        return after;
    }

    /// <summary>Fires the schedule's job now, outside its cron.</summary>
    public async Task<ScheduleStep> TriggerAsync(string id)
    {
        var current = await store.GetAsync(id, CancellationToken.None);
        if (current is null)
        {
            return new ScheduleStep(ScheduleStepOutcome.NotFound, null);
        }
        var now = Now();
        var step = await store.TriggerAsync(id, JobHub.NewPending(current.Job.ToNewJob(id), now), now, signals.NodeId, CancellationToken.None);
        if (step.Job is { } job)
        {
            hub.Announce(job);
        }
        return step;
    }

    public Task<bool> DeleteAsync(string id) => store.DeleteAsync(id, CancellationToken.None);

    /// <summary>
    /// Carries out every tick due by now, <see cref="ScheduleOptions.TicksPerStep"/> per storage step, and returns how
    /// many fired. A tick another process took first is left to it.
    /// </summary>
    public async Task<int> RunDueAsync(CancellationToken cancellationToken)
    {
        var fired = 0;
        var batch = Math.Max(1, options.Value.TicksPerStep);
        while (!cancellationToken.IsCancellationRequested)
        {
            var now = Now();
            var due = await store.DueAsync(now, batch, cancellationToken);
            if (due.Count == 0)
            {
                break;
            }
            var steps = await store.TickAsync([.. due.Select(schedule => Plan(schedule, now))], now, cancellationToken);
            var taken = 0;
            foreach (var step in steps)
            {
                if (step.Outcome == ScheduleStepOutcome.Fired && step.Job is { } job)
                {
                    fired++;
                    hub.Announce(job);
                }
                if (step.Outcome != ScheduleStepOutcome.Stale)
                {
                    taken++;
                }
            }
            // Everything due was stale (another process is on it): let it finish rather than read the same ticks again.
            if (due.Count < batch || taken == 0)
            {
                break;
            }
        }
        return fired;
    }

    /// <summary>The earliest next run of any schedule, null when none waits.</summary>
    public Task<double?> NextDueAsync(CancellationToken cancellationToken) => store.NextDueAsync(cancellationToken);

    /// <summary>
    /// What to do with a schedule's due tick: fire it and move on to the tick after it; or, when it is later than
    /// <see cref="ScheduleOptions.MisfireTolerance"/>, skip every missed tick (or fire once for all of them with
    /// <c>catch_up: one</c>) and move on to the first tick after now.
    /// </summary>
    /// <summary>Missed ticks are counted up to this many (a long downtime of an every-second schedule stops there).</summary>
    public const int MaxMissedCounted = 10_000;

    internal ScheduleTick Plan(Schedule schedule, double now)
    {
        var tick = schedule.NextRunAt!.Value;
        var times = TimesOf(schedule);
        Job NewJob() => JobHub.NewPending(schedule.Job.ToNewJob(schedule.Id), now);
        if (now - tick <= options.Value.MisfireTolerance.TotalSeconds)
        {
            return new ScheduleTick(schedule.Id, tick, times.NextAfter(tick), NewJob(), signals.NodeId);
        }
        var missed = times.CountBetween(tick, now, cap: MaxMissedCounted);
        LogMissed(logger, schedule.Id, missed, schedule.CatchUp);
        return schedule.CatchUp == ScheduleCatchUp.One
            ? new ScheduleTick(schedule.Id, tick, times.NextAfter(now), NewJob(), signals.NodeId, missed)
            : new ScheduleTick(schedule.Id, tick, times.NextAfter(now), null, signals.NodeId, missed);
    }

    [LoggerMessage(EventId = 3301, Level = LogLevel.Information, Message = "Schedule {ScheduleId} created: '{Cron}' in {TimeZone}, job type {JobType}")]
    private static partial void LogCreated(ILogger logger, string scheduleId, string cron, string timeZone, string jobType);

    [LoggerMessage(EventId = 3302, Level = LogLevel.Warning, Message = "Schedule {ScheduleId} missed {Missed} ticks (no process fired them in time); catch_up: {CatchUp}")]
    private static partial void LogMissed(ILogger logger, string scheduleId, int missed, string catchUp);
}
