using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using MissionHub.Events;

namespace MissionHub.Hub;

/// <summary>
/// The hub's events (spec 003 §1 payloads, source <c>hub</c>) as drafts, for a store that writes them in the same
/// transaction as the change (SQLite). The Redis scripts write the same shapes.
/// </summary>
public static class HubEvents
{
    public const string Source = "hub";

    /// <summary>The meta of events caused by the current request or socket message; taken before the write leaves its context.</summary>
    public static EventMeta CurrentMeta() => EventDrafts.CurrentMeta();

    public static string JobTarget(string jobId) => "job_" + jobId;

    public static string WorkerTarget(string workerId) => "worker_" + workerId;

    public static CharterEvent Submitted(Job job, EventMeta meta) =>
        Draft("job_submitted", JobTarget(job.Id), job.CreatedAt, meta, new JobSubmittedPayload(job.Id, JobData.Of(job)),
            HubJsonContext.Default.JobSubmittedPayload);

    // Each job event names the schedule that created the job, if one did (schedule_id, absent otherwise).

    public static CharterEvent Assigned(Job job, double now, EventMeta meta) =>
        Draft("job_assigned", JobTarget(job.Id), now, meta,
            new JobAssignedPayload(job.Id, job.WorkerId!, JobStatus.Pending, JobStatus.Assigned, now, job.Attempts, job.ScheduleId),
            HubJsonContext.Default.JobAssignedPayload);

    public static CharterEvent StatusChanged(Job job, string oldStatus, string newStatus, string? workerId, double now, EventMeta meta,
        string? error = null, double? retryAt = null) =>
        Draft("job_status_changed", JobTarget(job.Id), now, meta,
            new JobStatusChangedPayload(job.Id, oldStatus, newStatus, workerId, error, retryAt, ScheduleId: job.ScheduleId),
            HubJsonContext.Default.JobStatusChangedPayload);

    /// <summary>A waiting job cancelled because <paramref name="dependencyId"/>, which it depends on, failed or was cancelled.</summary>
    public static CharterEvent DependencyFailed(Job job, string dependencyId, double now, EventMeta meta) =>
        Draft("job_status_changed", JobTarget(job.Id), now, meta,
            new JobStatusChangedPayload(job.Id, JobStatus.Pending, JobStatus.Cancelled, null, Reason: JobDependencies.DependencyFailed,
                DependencyId: dependencyId, ScheduleId: job.ScheduleId),
            HubJsonContext.Default.JobStatusChangedPayload);

    public static CharterEvent Progress(Job job, string workerId, double progress, double now, EventMeta meta) =>
        Draft("job_progress", JobTarget(job.Id), now, meta, new JobProgressPayload(job.Id, workerId, progress, job.ScheduleId),
            HubJsonContext.Default.JobProgressPayload);

    /// <summary><c>job_completed</c>, with the result inline only up to <paramref name="maxInlineResultBytes"/> (<see cref="JobResults"/>).</summary>
    public static CharterEvent Completed(Job job, double now, EventMeta meta, int maxInlineResultBytes) =>
        Draft("job_completed", JobTarget(job.Id), now, meta,
            JobResults.IsInline(job.Result, maxInlineResultBytes)
                ? new JobCompletedPayload(job.Id, job.WorkerId!, job.Result, now, ScheduleId: job.ScheduleId)
                : new JobCompletedPayload(job.Id, job.WorkerId!, null, now, ResultTruncated: true, ResultRef: JobResults.Ref(job.Id), ScheduleId: job.ScheduleId),
            HubJsonContext.Default.JobCompletedPayload);

    public static CharterEvent Failed(Job job, string? workerId, string error, double now, EventMeta meta) =>
        Draft("job_failed", JobTarget(job.Id), now, meta, new JobFailedPayload(job.Id, workerId, error, now, job.ScheduleId),
            HubJsonContext.Default.JobFailedPayload);

    public static CharterEvent WorkerConnected(WorkerRecord worker, string status, EventMeta meta) =>
        Draft("worker_connected", WorkerTarget(worker.WorkerId), worker.ConnectedAt, meta, new WorkerConnectedPayload(worker.WorkerId,
            new WorkerData(worker.WorkerId, status, new WorkerCapabilities(worker.JobTypes, worker.MaxConcurrentJobs), Iso(worker.ConnectedAt))),
            HubJsonContext.Default.WorkerConnectedPayload);

    public static CharterEvent WorkerDisconnected(string workerId, string reason, double now, EventMeta meta) =>
        Draft("worker_disconnected", WorkerTarget(workerId), now, meta, new WorkerDisconnectedPayload(workerId, reason),
            HubJsonContext.Default.WorkerDisconnectedPayload);

    public static CharterEvent WorkerStatusChanged(string workerId, string oldStatus, string newStatus, string? currentJobId, double now, EventMeta meta) =>
        Draft("worker_status_changed", WorkerTarget(workerId), now, meta,
            new WorkerStatusChangedPayload(workerId, oldStatus, newStatus, currentJobId), HubJsonContext.Default.WorkerStatusChangedPayload);

    /// <summary>ISO 8601 UTC with milliseconds, as <c>connected_at</c> is written on the wire.</summary>
    public const string JobsPurgedType = "jobs_purged";

    public static CharterEvent Retried(Job old, Job job, double now, EventMeta meta) =>
        Draft("job_status_changed", JobTarget(job.Id), now, meta,
            new JobRetriedPayload(job.Id, old.Status, job.Status, old.WorkerId,
                new JobData(job.Id, job.JobType, job.Status, job.Priority, job.WorkflowId, job.CreatedAt, job.RunAt, job.ScheduleId,
                    job.DependsOn is { Count: > 0 } ? job.DependsOn : null), job.Retries, job.ScheduleId),
            HubJsonContext.Default.JobRetriedPayload);

    public static CharterEvent Purged(IReadOnlyList<Job> jobs, string reason, double now, EventMeta meta) =>
        Draft(JobsPurgedType, "jobs", now, meta,
            new JobsPurgedPayload(jobs.Count, jobs.GroupBy(j => j.Status).ToDictionary(g => g.Key, g => g.Count()), [.. jobs.Select(j => j.Id)], reason),
            HubJsonContext.Default.JobsPurgedPayload);

    public const string QueuePausedType = "queue_paused";

    public const string QueueResumedType = "queue_resumed";

    public static string QueueTarget(string jobType) => "queue_" + jobType;

    public static CharterEvent QueuePaused(string jobType, double now, EventMeta meta) =>
        Draft(QueuePausedType, QueueTarget(jobType), now, meta, new QueuePausedPayload(jobType, now), HubJsonContext.Default.QueuePausedPayload);

    public static CharterEvent QueueResumed(string jobType, double now, EventMeta meta) =>
        Draft(QueueResumedType, QueueTarget(jobType), now, meta, new QueueResumedPayload(jobType, now), HubJsonContext.Default.QueueResumedPayload);

    public static string Iso(double unixSeconds) =>
        DateTimeOffset.FromUnixTimeMilliseconds((long)Math.Round(unixSeconds * 1000))
            .ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture);

    private static CharterEvent Draft<T>(string type, string target, double timestamp, EventMeta meta, T payload, JsonTypeInfo<T> info) =>
        EventDrafts.Create(type, Source, target, timestamp, meta, payload, info);
}
