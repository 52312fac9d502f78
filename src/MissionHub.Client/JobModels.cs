using System.Text.Json;
using System.Text.Json.Serialization;

namespace MissionHub.Client;

/// <summary>Job status values as the hub writes them (lowercase, DESIGN.md §3).</summary>
public static class JobStatuses
{
    /// <summary>Waiting for a worker.</summary>
    public const string Pending = "pending";
    /// <summary>Handed to a worker that has not reported progress yet.</summary>
    public const string Assigned = "assigned";
    /// <summary>A worker reported progress.</summary>
    public const string Running = "running";
    /// <summary>Finished with a result.</summary>
    public const string Completed = "completed";
    /// <summary>Failed its last attempt.</summary>
    public const string Failed = "failed";
    /// <summary>Cancelled before it finished.</summary>
    public const string Cancelled = "cancelled";

    /// <summary>Completed, failed and cancelled jobs never change again.</summary>
    public static bool IsFinal(string status) => status is Completed or Failed or Cancelled;
}

/// <summary>The body of <c>POST /api/jobs</c>. Only <see cref="JobType"/> is required; unset fields take the hub's defaults.</summary>
public sealed record JobSubmission
{
    /// <summary>The kind of work: 1 to 100 letters, digits, '-', '_', '.' or ':'.</summary>
    public required string JobType { get; init; }

    /// <summary>-1000 to 1000; higher runs first. Default 0.</summary>
    public int? Priority { get; init; }

    /// <summary>A JSON object handed to the worker as is.</summary>
    public JsonElement? Payload { get; init; }

    /// <summary>A mission id: the job's progress and outcome then show in that mission's log.</summary>
    public string? WorkflowId { get; init; }

    /// <summary>Attempts before the job fails for good (1 to 100); default the hub's <c>DefaultMaxAttempts</c>.</summary>
    public int? MaxAttempts { get; init; }

    /// <summary>Seconds an attempt may run before the hub fails it and cancels the handler.</summary>
    public double? TimeoutS { get; init; }

    /// <summary>
    /// When to run the job (Unix seconds, at most a minute in the past): it waits pending until then. Give this or
    /// <see cref="DelayS"/>, not both.
    /// </summary>
    public double? RunAt { get; init; }

    /// <summary>Seconds from now until the job may run; the hub turns it into <see cref="JobInfo.RunAt"/>.</summary>
    public double? DelayS { get; init; }

    /// <summary>
    /// Ids of jobs (at most 100) this one runs after: it waits until each of them completed, and is cancelled with
    /// <c>dependency_failed</c> if one of them fails for good or is cancelled. Unknown ids are refused.
    /// </summary>
    public IReadOnlyList<string>? DependsOn { get; init; }
}

/// <summary>A job as the hub reports it (<c>GET /api/jobs/{id}</c>). Times are Unix seconds.</summary>
public sealed record JobInfo
{
    /// <summary>The job's id (a UUID v7).</summary>
    public string Id { get; init; } = "";

    /// <summary>The kind of work.</summary>
    public string JobType { get; init; } = "";

    /// <summary>Higher runs first.</summary>
    public int Priority { get; init; }

    /// <summary>The payload object as submitted.</summary>
    public JsonElement Payload { get; init; }

    /// <summary>The mission whose log shows this job, if any.</summary>
    public string? WorkflowId { get; init; }

    /// <summary>Attempts before the job fails for good.</summary>
    public int MaxAttempts { get; init; }

    /// <summary>Seconds an attempt may run, if limited.</summary>
    public double? TimeoutS { get; init; }

    /// <summary>One of <see cref="JobStatuses"/>.</summary>
    public string Status { get; init; } = "";

    /// <summary>Attempts started so far.</summary>
    public int Attempts { get; init; }

    /// <summary>The worker holding or last holding the job.</summary>
    public string? WorkerId { get; init; }

    /// <summary>Last reported progress, 0 to 1.</summary>
    public double Progress { get; init; }

    /// <summary>The result of a completed job.</summary>
    public JsonElement? Result { get; init; }

    /// <summary>The error of a failed attempt.</summary>
    public string? Error { get; init; }

    /// <summary>When the job was submitted (Unix seconds).</summary>
    public double CreatedAt { get; init; }

    /// <summary>When the job last changed (Unix seconds).</summary>
    public double UpdatedAt { get; init; }

    /// <summary>When the current attempt was handed to a worker.</summary>
    public double? AssignedAt { get; init; }

    /// <summary>When the current attempt first reported progress.</summary>
    public double? StartedAt { get; init; }

    /// <summary>When the job finished.</summary>
    public double? CompletedAt { get; init; }

    /// <summary>A delayed or retried job is not handed out before this time (Unix seconds).</summary>
    public double? AvailableAt { get; init; }

    /// <summary>When the submitter asked the job to run (Unix seconds), if it was delayed.</summary>
    public double? RunAt { get; init; }

    /// <summary>The recurring schedule that created the job, if one did.</summary>
    public string? ScheduleId { get; init; }

    /// <summary>The jobs this one runs after, as submitted.</summary>
    public IReadOnlyList<string>? DependsOn { get; init; }

    /// <summary>Those of <see cref="DependsOn"/> not completed yet: while any is left, the job is pending and offered to no worker.</summary>
    public IReadOnlyList<string>? WaitingFor { get; init; }

    /// <summary>Why the hub cancelled the job itself (<c>dependency_failed</c>); null when an operator cancelled it.</summary>
    public string? CancelReason { get; init; }

    /// <summary>Submission order (FIFO within a priority).</summary>
    public long Order { get; init; }
}

/// <summary>
/// The answer of <c>POST /api/jobs/batch</c>: the jobs in the order they were sent, and how many were new (a job whose
/// idempotency key the hub already knew is the original).
/// </summary>
public sealed record JobBatchResult(IReadOnlyList<JobInfo> Jobs, int Created);

internal sealed record JobBatchBody(IReadOnlyList<JobSubmission> Jobs);

/// <summary>The answer of <c>POST /api/jobs/retry</c> and <c>POST /api/jobs/purge</c>: how many jobs changed.</summary>
/// <param name="Retried">Jobs sent back to pending.</param>
/// <param name="Purged">Finished jobs removed.</param>
public sealed record BulkJobResult(int Retried, int Purged);

/// <summary>One page of <c>GET /api/jobs</c>, newest first; pass <see cref="NextCursor"/> back for the next page.</summary>
public sealed record JobPage(IReadOnlyList<JobInfo> Jobs, string? NextCursor);

/// <summary>An RFC 7807 problem as the hub sends it; <c>field</c> names the offending request field on a 400.</summary>
internal sealed record ProblemBody(string? Type, string? Title, int? Status, string? Detail, string? Field);

// ---- the worker protocol (/ws/worker, DESIGN.md §4) ----

internal sealed record WorkerCapabilitiesMessage(IReadOnlyList<string> JobTypes, int MaxConcurrentJobs);

internal sealed record WorkerRegisterMessage(string Type, string WorkerId, WorkerCapabilitiesMessage Capabilities, IReadOnlyList<string> HeldJobs);

internal sealed record HeartbeatMessage(string Type);

internal sealed record JobProgressMessage(string Type, string JobId, double Progress);

internal sealed record JobCompletedMessage(string Type, string JobId, JsonElement? Result, string? Traceparent = null);

internal sealed record JobFailedMessage(string Type, string JobId, string Error, string? Traceparent = null);

internal sealed record AssignedJobMessage(string Id, string JobType, int Priority, JsonElement Payload, int Attempt, double? TimeoutS, string? Traceparent = null);

/// <summary>Source-generated, snake_case JSON for every wire type of the client.</summary>
[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(JobSubmission))]
[JsonSerializable(typeof(JobInfo))]
[JsonSerializable(typeof(JobPage))]
[JsonSerializable(typeof(JobBatchBody))]
[JsonSerializable(typeof(JobBatchResult))]
[JsonSerializable(typeof(BulkJobResult))]
[JsonSerializable(typeof(ProblemBody))]
[JsonSerializable(typeof(ScheduleDefinition))]
[JsonSerializable(typeof(Schedule))]
[JsonSerializable(typeof(SchedulePage))]
[JsonSerializable(typeof(ScheduleTriggerResult))]
[JsonSerializable(typeof(WorkerRegisterMessage))]
[JsonSerializable(typeof(HeartbeatMessage))]
[JsonSerializable(typeof(JobProgressMessage))]
[JsonSerializable(typeof(JobCompletedMessage))]
[JsonSerializable(typeof(JobFailedMessage))]
[JsonSerializable(typeof(AssignedJobMessage))]
internal sealed partial class MissionHubClientJsonContext : JsonSerializerContext;
