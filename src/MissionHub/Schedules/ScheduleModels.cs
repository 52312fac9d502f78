using System.Text.Json;
using System.Text.Json.Serialization;
using MissionHub.Hub;

namespace MissionHub.Schedules;

/// <summary>What a schedule does when a tick finds the job it fired last still unfinished.</summary>
public static class ScheduleOverlap
{
    public const string Allow = "allow";
    public const string Skip = "skip";

    public static readonly string[] All = [Allow, Skip];
}

/// <summary>What a schedule does with ticks missed while no process was running (or all were too late for them).</summary>
public static class ScheduleCatchUp
{
    public const string None = "none";
    public const string One = "one";

    public static readonly string[] All = [None, One];
}

/// <summary>
/// A recurring schedule as stored and answered: its definition, and the state every tick advances in the same atomic
/// step that fires it (<see cref="NextRunAt"/>, the counts and the last run), so a tick fires once whichever process
/// takes it.
/// </summary>
public sealed record Schedule
{
    public required string Id { get; init; }

    public required string Cron { get; init; }

    public required string TimeZone { get; init; }

    public required ScheduleJob Job { get; init; }

    public required string Overlap { get; init; }

    public required string CatchUp { get; init; }

    public bool Paused { get; init; }

    public double CreatedAt { get; init; }

    /// <summary>The next tick (Unix seconds); null while paused.</summary>
    public double? NextRunAt { get; init; }

    public long Fired { get; init; }

    public long Skipped { get; init; }

    public ScheduleRun? LastRun { get; init; }

    public ScheduleSkip? LastSkip { get; init; }
}

/// <summary>The job a schedule submits at each tick (as <c>POST /api/jobs</c> takes it, without a delay or idempotency key).</summary>
public sealed record ScheduleJob(string JobType, int Priority, JsonElement Payload, int MaxAttempts, double? TimeoutS, string? WorkflowId)
{
    public NewJob ToNewJob(string scheduleId) => new(JobType, Priority, Payload, WorkflowId, MaxAttempts, TimeoutS, ScheduleId: scheduleId);
}

/// <summary>
/// The last job a schedule fired: the tick it fired for, when, the job, whether the cron or an operator fired it, and
/// the hub process that did. <see cref="JobStatus"/> is the job's status when the schedule is read (null once the job is purged).
/// </summary>
public sealed record ScheduleRun(double Tick, double FiredAt, string JobId, string Trigger, string NodeId, string? JobStatus = null);

/// <summary>The last tick a schedule skipped: <c>overlap</c> (the previous run was unfinished) or <c>missed</c> (<see cref="Missed"/> ticks passed unfired).</summary>
public sealed record ScheduleSkip(double Tick, string Reason, int Missed);

public sealed record SchedulePage(IReadOnlyList<Schedule> Schedules, string? NextCursor);

public sealed record ScheduleTriggered(string ScheduleId, Job Job);

/// <summary>The body of <c>POST /api/schedules</c> as documented (read by hand so each refusal names its field).</summary>
public sealed record ScheduleRequest(string Id, string Cron, string? TimeZone, JobSubmitRequest Job, string? Overlap, string? CatchUp);

// ---- event payloads (source hub, topic schedules) ----

public sealed record ScheduleCreatedPayload(string ScheduleId, Schedule Schedule);

public sealed record ScheduleFiredPayload(string ScheduleId, string JobId, double Tick, string Trigger, double? NextRunAt, string NodeId);

public sealed record ScheduleSkippedPayload(string ScheduleId, double Tick, string Reason, int Missed, double? NextRunAt);

public sealed record SchedulePausedPayload(string ScheduleId);

public sealed record ScheduleResumedPayload(string ScheduleId, double? NextRunAt);

public sealed record ScheduleDeletedPayload(string ScheduleId);

[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower,
    DefaultIgnoreCondition = JsonIgnoreCondition.Never)]
[JsonSerializable(typeof(Schedule))]
[JsonSerializable(typeof(SchedulePage))]
[JsonSerializable(typeof(ScheduleTriggered))]
[JsonSerializable(typeof(ScheduleRequest))]
[JsonSerializable(typeof(ScheduleRun))]
[JsonSerializable(typeof(ScheduleSkip))]
[JsonSerializable(typeof(ScheduleCreatedPayload))]
[JsonSerializable(typeof(ScheduleFiredPayload))]
[JsonSerializable(typeof(ScheduleSkippedPayload))]
[JsonSerializable(typeof(SchedulePausedPayload))]
[JsonSerializable(typeof(ScheduleResumedPayload))]
[JsonSerializable(typeof(ScheduleDeletedPayload))]
public sealed partial class ScheduleJsonContext : JsonSerializerContext;
