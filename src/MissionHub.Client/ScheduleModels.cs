using System.Text.Json;

namespace MissionHub.Client;

/// <summary>What a schedule does when its tick comes while the job of its last run is still pending or running.</summary>
public static class ScheduleOverlap
{
    /// <summary>Fire anyway: runs may overlap (the default).</summary>
    public const string Allow = "allow";

    /// <summary>Skip the tick (<c>schedule_skipped</c> with reason <c>overlap</c>).</summary>
    public const string Skip = "skip";
}

/// <summary>What a schedule does with the ticks it missed while the hub was down.</summary>
public static class ScheduleCatchUp
{
    /// <summary>Nothing: the missed ticks are skipped (the default).</summary>
    public const string None = "none";

    /// <summary>Fire once for all the missed ticks.</summary>
    public const string One = "one";
}

/// <summary>Why a schedule fired a job (<see cref="ScheduleRun.Trigger"/>).</summary>
public static class ScheduleTriggers
{
    /// <summary>Its cron expression came due.</summary>
    public const string Cron = "cron";

    /// <summary><c>POST /api/schedules/{id}/trigger</c>.</summary>
    public const string Manual = "manual";
}

/// <summary>Why a schedule skipped a tick (<see cref="ScheduleSkip.Reason"/>).</summary>
public static class ScheduleSkipReasons
{
    /// <summary>The job of the last run was still pending or running and <see cref="ScheduleOverlap.Skip"/> is set.</summary>
    public const string Overlap = "overlap";

    /// <summary>The tick passed while the hub was not running.</summary>
    public const string Missed = "missed";
}

/// <summary>The job a schedule submits on each run, as <c>POST /api/jobs</c> takes it; unset fields take the hub's defaults.</summary>
public sealed record ScheduledJob
{
    /// <summary>The kind of work: 1 to 100 letters, digits, '-', '_', '.' or ':'.</summary>
    public required string JobType { get; init; }

    /// <summary>-1000 to 1000; higher runs first.</summary>
    public int? Priority { get; init; }

    /// <summary>A JSON object handed to the worker as is.</summary>
    public JsonElement? Payload { get; init; }

    /// <summary>Attempts before a run's job fails for good.</summary>
    public int? MaxAttempts { get; init; }

    /// <summary>Seconds an attempt may run.</summary>
    public double? TimeoutS { get; init; }

    /// <summary>A mission id: each run's progress and outcome then show in that mission's log.</summary>
    public string? WorkflowId { get; init; }
}

/// <summary>The body of <c>POST /api/schedules</c>.</summary>
public sealed record ScheduleDefinition
{
    /// <summary>The schedule's id, chosen by the caller; an id that exists is a 409.</summary>
    public required string Id { get; init; }

    /// <summary>A cron expression of 5 fields (minute first) or 6 (seconds first), e.g. <c>*/5 * * * * *</c>.</summary>
    public required string Cron { get; init; }

    /// <summary>The IANA time zone the cron expression is read in (e.g. <c>Europe/Berlin</c>); default <c>UTC</c>.</summary>
    public string? TimeZone { get; init; }

    /// <summary>The job each run submits.</summary>
    public required ScheduledJob Job { get; init; }

    /// <summary>One of <see cref="ScheduleOverlap"/>; default <see cref="ScheduleOverlap.Allow"/>.</summary>
    public string? Overlap { get; init; }

    /// <summary>One of <see cref="ScheduleCatchUp"/>; default <see cref="ScheduleCatchUp.None"/>.</summary>
    public string? CatchUp { get; init; }
}

/// <summary>A schedule as the hub reports it (<c>GET /api/schedules/{id}</c>). Times are Unix seconds.</summary>
public sealed record Schedule
{
    /// <summary>The schedule's id.</summary>
    public string Id { get; init; } = "";

    /// <summary>Its cron expression.</summary>
    public string Cron { get; init; } = "";

    /// <summary>The time zone the cron expression is read in.</summary>
    public string TimeZone { get; init; } = "";

    /// <summary>The job each run submits.</summary>
    public ScheduledJob Job { get; init; } = null!;

    /// <summary>One of <see cref="ScheduleOverlap"/>.</summary>
    public string Overlap { get; init; } = "";

    /// <summary>One of <see cref="ScheduleCatchUp"/>.</summary>
    public string CatchUp { get; init; } = "";

    /// <summary>A paused schedule fires nothing on its cron until it is resumed.</summary>
    public bool Paused { get; init; }

    /// <summary>When the schedule was created.</summary>
    public double CreatedAt { get; init; }

    /// <summary>The next tick; null while paused.</summary>
    public double? NextRunAt { get; init; }

    /// <summary>How many jobs it has fired, by cron and by trigger.</summary>
    public long Fired { get; init; }

    /// <summary>How many ticks it has skipped.</summary>
    public long Skipped { get; init; }

    /// <summary>Its last run, if it has fired.</summary>
    public ScheduleRun? LastRun { get; init; }

    /// <summary>Its last skipped tick, if it has skipped one.</summary>
    public ScheduleSkip? LastSkip { get; init; }
}

/// <summary>One run of a schedule: the job it fired.</summary>
public sealed record ScheduleRun
{
    /// <summary>The tick the run is for.</summary>
    public double Tick { get; init; }

    /// <summary>When the job was submitted.</summary>
    public double FiredAt { get; init; }

    /// <summary>The job's id.</summary>
    public string JobId { get; init; } = "";

    /// <summary>One of <see cref="ScheduleTriggers"/>.</summary>
    public string Trigger { get; init; } = "";

    /// <summary>The hub process that fired it.</summary>
    public string? NodeId { get; init; }

    /// <summary>The job's status now (one of <see cref="JobStatuses"/>); null when the job is no longer stored.</summary>
    public string? JobStatus { get; init; }
}

/// <summary>A tick a schedule did not fire for.</summary>
public sealed record ScheduleSkip
{
    /// <summary>The tick skipped (the latest, when several were missed).</summary>
    public double Tick { get; init; }

    /// <summary>One of <see cref="ScheduleSkipReasons"/>.</summary>
    public string Reason { get; init; } = "";

    /// <summary>How many ticks this skip stands for.</summary>
    public int Missed { get; init; }
}

/// <summary>The answer of <c>POST /api/schedules/{id}/trigger</c>: the job fired now, outside the cron.</summary>
/// <param name="ScheduleId">The schedule.</param>
/// <param name="Job">The new job.</param>
public sealed record ScheduleTriggerResult(string ScheduleId, JobInfo Job);

/// <summary>One page of <c>GET /api/schedules</c>, by id; pass <see cref="NextCursor"/> back for the next page.</summary>
/// <param name="Schedules">The schedules of this page.</param>
/// <param name="NextCursor">Pass back as <c>cursor</c> for the next page; null at the end.</param>
public sealed record SchedulePage(IReadOnlyList<Schedule> Schedules, string? NextCursor);
