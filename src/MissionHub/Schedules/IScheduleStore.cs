using MissionHub.Hub;

namespace MissionHub.Schedules;

/// <summary>
/// Recurring schedules, owned by storage. Every change is one atomic step with its event (DESIGN.md §6); a tick is
/// fired by comparing the stored <see cref="Schedule.NextRunAt"/> with the tick the caller read, so of any number of
/// processes racing for one tick exactly one fires it, and the job it fires is stored in that same step.
/// </summary>
public interface IScheduleStore
{
    Task InitializeAsync(CancellationToken cancellationToken);

    /// <summary>
    /// Stores a new schedule with its <c>schedule_created</c>, unless its id is taken or the hub already holds
    /// <paramref name="maxSchedules"/> (checked in the same step, so racing creates cannot pass the limit); then nothing changes.
    /// </summary>
    Task<ScheduleCreation> CreateAsync(Schedule schedule, int maxSchedules, CancellationToken cancellationToken = default);

    Task<Schedule?> GetAsync(string id, CancellationToken cancellationToken = default);

    /// <summary>Schedules by id, from after <paramref name="afterId"/>.</summary>
    Task<IReadOnlyList<Schedule>> ListAsync(string? afterId, int limit, CancellationToken cancellationToken = default);

    Task<long> CountAsync(CancellationToken cancellationToken = default);

    /// <summary>Removes the schedule with its <c>schedule_deleted</c> (the jobs it fired stay); false when there is none.</summary>
    Task<bool> DeleteAsync(string id, CancellationToken cancellationToken = default);

    /// <summary>
    /// Pauses (next run cleared) or resumes (next run <paramref name="nextRunAt"/>) with its event; a schedule already in
    /// that state is returned unchanged, without an event. Null when there is none.
    /// </summary>
    Task<Schedule?> SetPausedAsync(string id, bool paused, double? nextRunAt, CancellationToken cancellationToken = default);

    /// <summary>
    /// Carries out each tick in one atomic step, each independently of the others: a tick still current (the schedule
    /// unpaused, its next run the tick read) fires its job, or is skipped (overlap, missed), and the next run moves on; a
    /// tick no longer current changes nothing (<see cref="ScheduleStepOutcome.Stale"/>).
    /// </summary>
    Task<IReadOnlyList<ScheduleStep>> TickAsync(IReadOnlyList<ScheduleTick> ticks, double now, CancellationToken cancellationToken = default);

    /// <summary>Fires the schedule's job now, outside its cron (its next run unchanged), in one step with its events.</summary>
    Task<ScheduleStep> TriggerAsync(string id, Job job, double now, string nodeId, CancellationToken cancellationToken = default);

    /// <summary>Unpaused schedules whose next run is at or before <paramref name="now"/>, soonest first.</summary>
    Task<IReadOnlyList<Schedule>> DueAsync(double now, int max, CancellationToken cancellationToken = default);

    /// <summary>The earliest next run of any unpaused schedule, null when none is waiting.</summary>
    Task<double?> NextDueAsync(CancellationToken cancellationToken = default);
}

/// <summary>
/// One tick of a schedule for process <see cref="NodeId"/> to carry out: fire <see cref="Job"/> (or, with no job, skip
/// the <see cref="Missed"/> ticks) and move the next run to <see cref="NextRunAt"/>.
/// </summary>
public sealed record ScheduleTick(string ScheduleId, double Tick, double? NextRunAt, Job? Job, string NodeId, int Missed = 0);

public enum ScheduleStepOutcome
{
    Fired,
    Skipped,

    /// <summary>The tick was no longer current: another process took it, or the schedule was paused, changed or deleted.</summary>
    Stale,
    NotFound,
}

/// <summary>What a step did, and the schedule after it; <see cref="Job"/> is the job it fired.</summary>
public sealed record ScheduleStep(ScheduleStepOutcome Outcome, Schedule? Schedule, Job? Job = null);

/// <summary>What a create step did.</summary>
public enum ScheduleCreation
{
    Created,
    IdTaken,
    LimitReached,
}
