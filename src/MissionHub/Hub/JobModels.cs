using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace MissionHub.Hub;

/// <summary>Job status values (lowercase on the wire, DESIGN.md §3).</summary>
public static class JobStatus
{
    public const string Pending = "pending";
    public const string Assigned = "assigned";
    public const string Running = "running";
    public const string Completed = "completed";
    public const string Failed = "failed";
    public const string Cancelled = "cancelled";

    public static readonly string[] All = [Pending, Assigned, Running, Completed, Failed, Cancelled];

    public static bool IsFinal(string status) => status is Completed or Failed or Cancelled;

    public static bool IsActive(string status) => status is Assigned or Running;
}

/// <summary>Worker status values of spec 003.</summary>
public static class WorkerStatus
{
    public const string Idle = "idle";
    public const string Busy = "busy";
    public const string Offline = "offline";
}

/// <summary>A job as stored: one immutable snapshot per change.</summary>
public sealed record Job
{
    public required string Id { get; init; }

    public required string JobType { get; init; }

    public int Priority { get; init; }

    public JsonElement Payload { get; init; }

    public string? WorkflowId { get; init; }

    public int MaxAttempts { get; init; }

    public double? TimeoutS { get; init; }

    public required string Status { get; init; }

    /// <summary>Attempts started so far (an assignment starts one).</summary>
    public int Attempts { get; init; }

    public string? WorkerId { get; init; }

    public double Progress { get; init; }

    public JsonElement? Result { get; init; }

    public string? Error { get; init; }

    public double CreatedAt { get; init; }

    public double UpdatedAt { get; init; }

    public double? AssignedAt { get; init; }

    public double? StartedAt { get; init; }

    public double? CompletedAt { get; init; }

    /// <summary>A delayed or retried job is not handed out before this time (Unix seconds).</summary>
    public double? AvailableAt { get; init; }

    /// <summary>When the submitter asked the job to run (Unix seconds): a delayed job is pending, not offered before it.</summary>
    public double? RunAt { get; init; }

    /// <summary>The recurring schedule that created the job, if one did.</summary>
    public string? ScheduleId { get; init; }

    /// <summary>Submission order: FIFO within a priority, and the listing cursor.</summary>
    public long Order { get; init; }

    /// <summary>The submitter's key: a second submit with the same key returns this job instead of a new one.</summary>
    public string? IdempotencyKey { get; init; }

    /// <summary>While assigned or running: the holder keeps the job until this time unless its heartbeats renew it.</summary>
    public double? LeaseUntil { get; init; }

    /// <summary>The worker connection holding the job; a frame from any other connection is refused.</summary>
    [JsonIgnore]
    public string? SessionId { get; init; }

    /// <summary>W3C traceparent of the submission's span: the job's trace, continued by dispatch, worker and completion.</summary>
    public string? Traceparent { get; init; }

    /// <summary>How often an operator sent the job back to pending after it failed or was cancelled.</summary>
    public int Retries { get; init; }

    /// <summary>Attempts made before the last retry (each retry counts <see cref="Attempts"/> from zero again).</summary>
    public int PriorAttempts { get; init; }

    /// <summary>The jobs this one runs after, as submitted: it waits until each of them completed.</summary>
    public IReadOnlyList<string>? DependsOn { get; init; }

    /// <summary>
    /// Those of <see cref="DependsOn"/> not completed yet; a pending job with any left is offered to no worker. Empty or
    /// null when it waits for none.
    /// </summary>
    public IReadOnlyList<string>? WaitingFor { get; init; }

    /// <summary>Why the hub cancelled the job itself (<c>dependency_failed</c>); null when an operator cancelled it.</summary>
    public string? CancelReason { get; init; }

    /// <summary>True while the job waits for a dependency.</summary>
    [JsonIgnore]
    public bool IsWaiting => Status == JobStatus.Pending && WaitingFor is { Count: > 0 };
}

/// <summary>How a job depends on others (DESIGN §8).</summary>
public static class JobDependencies
{
    /// <summary>The reason of a job cancelled because a job it depends on failed or was cancelled.</summary>
    public const string DependencyFailed = "dependency_failed";

    /// <summary>Most jobs one job may depend on.</summary>
    public const int MaxPerJob = 100;
}

/// <summary>
/// A submit named jobs to depend on that storage does not hold (never submitted, or purged); nothing of the step was
/// written. <paramref name="Index"/> is the job's position in a batch (0 for a single submit).
/// </summary>
public sealed class UnknownDependenciesException(int index, IReadOnlyList<string> jobIds)
    : Exception($"depends_on names jobs that do not exist: {string.Join(", ", jobIds)}")
{
    public int Index { get; } = index;

    public IReadOnlyList<string> JobIds { get; } = jobIds;
}

/// <summary>Counts of jobs by status.</summary>
public sealed record JobCounts(long Pending, long Assigned, long Running, long Completed, long Failed, long Cancelled)
{
    public long Total => Pending + Assigned + Running + Completed + Failed + Cancelled;

    public long Active => Assigned + Running;

    public static JobCounts From(IReadOnlyDictionary<string, long> byStatus) => new(
        byStatus.GetValueOrDefault(JobStatus.Pending), byStatus.GetValueOrDefault(JobStatus.Assigned),
        byStatus.GetValueOrDefault(JobStatus.Running), byStatus.GetValueOrDefault(JobStatus.Completed),
        byStatus.GetValueOrDefault(JobStatus.Failed), byStatus.GetValueOrDefault(JobStatus.Cancelled));
}

public sealed record JobListQuery(string? Status, string? JobType, string? WorkerId, int Limit, long? BeforeOrder)
{
    /// <summary>Most jobs one filtered list examines beyond what an index picks exactly.</summary>
    public const int MaxScanned = 5000;

    /// <summary>Only jobs that finished (completed, failed or cancelled) at or after this time (Unix seconds).</summary>
    public double? FinishedSince { get; init; }

    /// <summary>Only jobs that finished before this time (Unix seconds).</summary>
    public double? FinishedUntil { get; init; }

    /// <summary>With a finish-time range the list runs by finish time, newest first, from after this job.</summary>
    public FinishedPosition? BeforeFinished { get; init; }

    /// <summary>A finish-time range: the stores read it from their index of finished jobs by finish time.</summary>
    public bool ByFinishTime => FinishedSince is not null || FinishedUntil is not null;

    /// <summary>The query of the page after <paramref name="page"/>, or null when that was the last.</summary>
    public JobListQuery? After(JobListing page) =>
        page.NextBeforeFinished is { } position ? this with { BeforeFinished = position }
        : page.NextBeforeOrder is { } order ? this with { BeforeOrder = order }
        : null;
}

/// <summary>
/// A job's place in the finish-time order: newest finished first, jobs that finished at the same time by id descending
/// (as Redis orders a sorted set's ties). On the wire it is the cursor <c>{finished_at}:{id}</c>.
/// </summary>
public sealed record FinishedPosition(double FinishedAt, string JobId)
{
    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"{FinishedAt:R}:{JobId}");

    public static bool TryParse(string text, [NotNullWhen(true)] out FinishedPosition? position)
    {
        position = null;
        var colon = text.IndexOf(':', StringComparison.Ordinal);
        if (colon <= 0 || colon == text.Length - 1
            || !double.TryParse(text.AsSpan(0, colon), NumberStyles.Float, CultureInfo.InvariantCulture, out var at) || !double.IsFinite(at))
        {
            return false;
        }
        position = new FinishedPosition(at, text[(colon + 1)..]);
        return true;
    }

    /// <summary>Whether this place comes before the given job in the order, so that the job belongs to a later page.</summary>
    public bool IsAheadOf(double finishedAt, string jobId) =>
        finishedAt < FinishedAt || (finishedAt == FinishedAt && string.CompareOrdinal(jobId, JobId) < 0);
}

/// <summary>
/// A page of jobs; <paramref name="ScanCapped"/>: the filter stopped at the scan cap before filling the page. The next
/// page starts before <paramref name="NextBeforeOrder"/>, or for a finish-time range after <see cref="NextBeforeFinished"/>.
/// </summary>
public sealed record JobListing(IReadOnlyList<Job> Jobs, long? NextBeforeOrder, bool ScanCapped = false)
{
    public FinishedPosition? NextBeforeFinished { get; init; }

    /// <summary>The wire cursor of the next page, if there is one.</summary>
    public string? NextCursor => NextBeforeFinished?.ToString() ?? NextBeforeOrder?.ToString(CultureInfo.InvariantCulture);
}

// ---- REST wire types ----

/// <summary>
/// A page of the job list. <paramref name="ScanCapped"/> is true when a filter examined as many jobs as one request may
/// without filling the page: there may be more matches, from <paramref name="NextCursor"/> on.
/// </summary>
public sealed record JobPage(IReadOnlyList<Job> Jobs, string? NextCursor, bool ScanCapped = false);

/// <summary>
/// The answer to <c>POST /api/jobs/batch</c>: the jobs in the order they were sent, and how many were new (a job whose
/// idempotency key was known is the original).
/// </summary>
public sealed record JobBatch(IReadOnlyList<Job> Jobs, int Created);

/// <summary>The answer to a bulk retry or purge: how many jobs it changed.</summary>
public sealed record BulkJobChange(int Retried, int Purged);

/// <summary>One refused job of a batch: its index in <c>jobs</c>, the field and why.</summary>
public sealed record JobBatchError(int Index, string Field, string Detail);

// ---- worker protocol, hub → worker ----

public sealed record RegisteredMessage(string Type, string WorkerId);

/// <summary>Between processes (Redis): close a replaced connection, or tell a connection it no longer holds a job.</summary>
public sealed record HubNotice(string Kind, string SessionId, string? JobId = null, string? Reason = null);

public sealed record AssignedJob(string Id, string JobType, int Priority, JsonElement Payload, int Attempt, double? TimeoutS, string? Traceparent = null);

public sealed record JobAssignedMessage(string Type, AssignedJob Job);

public sealed record JobCancelledMessage(string Type, string JobId, string Reason);

public sealed record ErrorMessage(string Type, string Code, string Message);

// ---- event payloads (spec 003 §1; type and timestamp live in the envelope) ----

public sealed record WorkerCapabilities(IReadOnlyList<string> JobTypes, int MaxConcurrentJobs);

public sealed record WorkerData(string Id, string Status, WorkerCapabilities Capabilities, string ConnectedAt);

public sealed record WorkerConnectedPayload(string WorkerId, WorkerData WorkerData);

public sealed record WorkerDisconnectedPayload(string WorkerId, string Reason);

public sealed record WorkerStatusChangedPayload(string WorkerId, string OldStatus, string NewStatus, string? CurrentJobId);

public sealed record JobData(string Id, string JobType, string Status, int Priority, string? WorkflowId, double CreatedAt,
    double? RunAt = null, string? ScheduleId = null,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] IReadOnlyList<string>? DependsOn = null)
{
    public static JobData Of(Job job) =>
        new(job.Id, job.JobType, JobStatus.Pending, job.Priority, job.WorkflowId, job.CreatedAt, job.RunAt, job.ScheduleId,
            job.DependsOn is { Count: > 0 } ? job.DependsOn : null);
}

public sealed record JobSubmittedPayload(string JobId, JobData JobData);

public sealed record JobAssignedPayload(string JobId, string WorkerId, string OldStatus, string NewStatus, double AssignedAt, int Attempt,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? ScheduleId = null);

/// <summary>
/// <c>job_status_changed</c>; a job the hub cancelled itself says why in <c>reason</c> (<c>dependency_failed</c>) and names the
/// job it depended on, <c>dependency_id</c> (both absent otherwise).
/// </summary>
public sealed record JobStatusChangedPayload(string JobId, string OldStatus, string NewStatus, string? WorkerId, string? Error = null, double? RetryAt = null,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Reason = null,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? DependencyId = null,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? ScheduleId = null);

/// <summary><c>job_status_changed</c> of a retry: a finished job back to pending, with what a reader needs to list it again.</summary>
public sealed record JobRetriedPayload(string JobId, string OldStatus, string NewStatus, string? WorkerId, JobData JobData, int Retries,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? ScheduleId = null);

/// <summary>
/// <c>jobs_purged</c>: finished jobs removed in one step (at most a few hundred per event), their ids and how many of
/// each status, so a read model can drop them; <c>reason</c> is <c>operator</c> (a purge request) or <c>retention</c>.
/// </summary>
public sealed record JobsPurgedPayload(int Count, IReadOnlyDictionary<string, int> ByStatus, IReadOnlyList<string> JobIds, string Reason);

public sealed record JobProgressPayload(string JobId, string WorkerId, double Progress, [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? ScheduleId = null);

/// <summary>
/// <c>job_completed</c>: a result above <see cref="HubOptions.MaxInlineResultBytes"/> is left out (<c>result</c> null) and the
/// event says so with <c>result_truncated</c> and where to read it, <c>result_ref</c> (both absent for an inline result).
/// </summary>
public sealed record JobCompletedPayload(
    string JobId,
    string WorkerId,
    JsonElement? Result,
    double CompletedAt,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)] bool ResultTruncated = false,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? ResultRef = null,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? ScheduleId = null);

public sealed record JobFailedPayload(string JobId, string? WorkerId, string Error, double FailedAt, [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? ScheduleId = null);

public sealed record QueuePausedPayload(string JobType, double PausedAt);

public sealed record QueueResumedPayload(string JobType, double ResumedAt);

/// <summary>
/// One job type as <c>GET /api/queues</c> shows it: whether it is paused, its jobs by status (<c>active</c> is assigned
/// plus running; <c>delayed</c> the pending ones not due yet, among <c>pending</c>), completed and failed in the last
/// hour, and the connected workers that take it.
/// </summary>
public sealed record QueueInfo(
    string JobType, bool Paused, double? PausedAt, long Pending, long Delayed, long Active, long Completed, long Failed, long Cancelled,
    long CompletedLastHour, long FailedLastHour, IReadOnlyList<string> Workers);

/// <summary><see cref="ScanCapped"/>: the delayed and last-hour counts stopped at a scan cap and may be low.</summary>
public sealed record QueueList(IReadOnlyList<QueueInfo> Queues, bool ScanCapped = false);

/// <summary><see cref="CancelledJobs"/>: cancelled and not purged, like the completed and failed totals.</summary>
public sealed record SystemStats(
    long TotalWorkers, long ActiveWorkers, long TotalJobs, long PendingJobs, long ActiveJobs, long CompletedJobs, long FailedJobs, long CancelledJobs);

public sealed record SystemStatsPayload(SystemStats Stats);

[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower,
    DefaultIgnoreCondition = JsonIgnoreCondition.Never)]
[JsonSerializable(typeof(Job))]
[JsonSerializable(typeof(JobPage))]
[JsonSerializable(typeof(JobBatch))]
[JsonSerializable(typeof(BulkJobChange))]
[JsonSerializable(typeof(List<JobBatchError>))]
[JsonSerializable(typeof(RegisteredMessage))]
[JsonSerializable(typeof(HubNotice))]
[JsonSerializable(typeof(WorkerInfo))]
[JsonSerializable(typeof(JobAssignedMessage))]
[JsonSerializable(typeof(JobCancelledMessage))]
[JsonSerializable(typeof(ErrorMessage))]
[JsonSerializable(typeof(WorkerConnectedPayload))]
[JsonSerializable(typeof(WorkerDisconnectedPayload))]
[JsonSerializable(typeof(WorkerStatusChangedPayload))]
[JsonSerializable(typeof(JobSubmittedPayload))]
[JsonSerializable(typeof(JobAssignedPayload))]
[JsonSerializable(typeof(JobStatusChangedPayload))]
[JsonSerializable(typeof(JobRetriedPayload))]
[JsonSerializable(typeof(JobsPurgedPayload))]
[JsonSerializable(typeof(JobProgressPayload))]
[JsonSerializable(typeof(JobCompletedPayload))]
[JsonSerializable(typeof(JobFailedPayload))]
[JsonSerializable(typeof(SystemStatsPayload))]
[JsonSerializable(typeof(QueuePausedPayload))]
[JsonSerializable(typeof(QueueResumedPayload))]
[JsonSerializable(typeof(QueueList))]
[JsonSerializable(typeof(QueueChange))]
public sealed partial class HubJsonContext : JsonSerializerContext;
