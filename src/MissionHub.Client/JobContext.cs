using System.Text.Json;

namespace MissionHub.Client;

/// <summary>The job a handler runs, and its way to report progress.</summary>
public sealed class JobContext
{
    private readonly WorkerClient _worker;
    private volatile bool _finished;

    internal JobContext(WorkerClient worker, string workerId, AssignedJobMessage job)
    {
        _worker = worker;
        WorkerId = workerId;
        JobId = job.Id;
        JobType = job.JobType;
        Priority = job.Priority;
        Payload = job.Payload;
        Attempt = job.Attempt;
        Timeout = job.TimeoutS is { } seconds ? TimeSpan.FromSeconds(seconds) : null;
        Traceparent = job.Traceparent;
    }

    /// <summary>The id of the worker running the job.</summary>
    public string WorkerId { get; }

    /// <summary>The job's id.</summary>
    public string JobId { get; }

    /// <summary>The job's type, one of the worker's job types.</summary>
    public string JobType { get; }

    /// <summary>The job's priority (higher runs first).</summary>
    public int Priority { get; }

    /// <summary>The job's payload object as submitted.</summary>
    public JsonElement Payload { get; }

    /// <summary>1 for the first attempt, 2 for the first retry, …</summary>
    public int Attempt { get; }

    /// <summary>The job's <c>timeout_s</c>: past it the hub fails the attempt and cancels the handler's token.</summary>
    public TimeSpan? Timeout { get; }

    /// <summary>
    /// The W3C traceparent the hub sent with <c>job_assigned</c> (its dispatch span). The handler runs inside a
    /// <c>MissionHub.Client</c> span that continues this trace.
    /// </summary>
    public string? Traceparent { get; }

    /// <summary>
    /// Sends <c>job_progress</c> (clamped to 0..1). Progress reported while the worker is between connections is
    /// dropped, as is progress after the handler returned.
    /// </summary>
    public ValueTask ReportProgressAsync(double progress, CancellationToken cancellationToken = default)
    {
        if (double.IsNaN(progress))
        {
            throw new ArgumentOutOfRangeException(nameof(progress), progress, "progress must be a number from 0 to 1");
        }
        return _finished ? ValueTask.CompletedTask : _worker.SendProgressAsync(JobId, Math.Clamp(progress, 0, 1), cancellationToken);
    }

    internal void Finish() => _finished = true;
}
