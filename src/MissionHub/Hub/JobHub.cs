using System.Text.Json;
using Microsoft.Extensions.Options;
using MissionHub.Events;
using MissionHub.Infrastructure;
using MissionHub.Storage;

namespace MissionHub.Hub;

/// <summary>
/// A job as a submitter asks for it (validated by the API); <paramref name="RunAt"/> (Unix seconds) delays it,
/// <paramref name="ScheduleId"/> names the schedule that fired it, <paramref name="DependsOn"/> the jobs it runs after.
/// </summary>
public sealed record NewJob(string JobType, int Priority, JsonElement Payload, string? WorkflowId, int MaxAttempts, double? TimeoutS,
    string? IdempotencyKey = null, double? RunAt = null, string? ScheduleId = null, IReadOnlyList<string>? DependsOn = null);

/// <summary>
/// The hub's operations as the API and the worker sockets see them. Each is one atomic step in storage (which also
/// writes its events), followed by its effects in this process: frames to the connections concerned, a wake for the
/// dispatchers, the mission log of a job that names a mission. Nothing here holds state that storage does not.
/// </summary>
public sealed partial class JobHub(
    IJobStore store,
    WorkerSessions sessions,
    JobDispatcher dispatcher,
    IHubSignals signals,
    MissionJobJournal journal,
    IOptions<HubOptions> options,
    TimeProvider time,
    ILogger<JobHub> logger)
{
    private readonly HubOptions _options = options.Value;
    private volatile bool _stopping;

    /// <summary>Fires with the time a delayed job (a delayed submit or a retry) falls due, so the lease keeper releases it then.</summary>
    public event Action<double>? JobDueLater;

    public bool Stopping => _stopping;

    /// <summary>Jobs per storage step of a bulk retry or purge: one page of the job list.</summary>
    public const int BulkChunk = 500;

    // ---- submitters ----

    /// <summary>Stores the job (and its job_submitted) in one step; the job is dispatchable from then on, whoever is still waiting.</summary>
    public async Task<SubmitResult> SubmitAsync(NewJob request)
    {
        // Not cancellable: a client that goes away after sending still gets its job stored and run.
        var result = await store.SubmitAsync(NewPending(request, Now()), CancellationToken.None);
        if (result.Created)
        {
            Announce(result.Job);
        }
        return result;
    }

    /// <summary>Stores every job in one step (all or none), in the given order; dispatchers are woken once.</summary>
    public async Task<IReadOnlyList<SubmitResult>> SubmitBatchAsync(IReadOnlyList<NewJob> requests)
    {
        var now = Now();
        var results = await store.SubmitBatchAsync([.. requests.Select(request => NewPending(request, now))], CancellationToken.None);
        AnnounceBatch(results);
        return results;
    }

    /// <summary>
    /// <see cref="SubmitBatchAsync"/> under an <c>Idempotency-Key</c>: the key is kept with the batch in the same step, so
    /// of any number of requests with one key exactly one stores a batch; the others answer with that one.
    /// </summary>
    public async Task<OnceBatch> SubmitBatchOnceAsync(IReadOnlyList<NewJob> requests, string idempotencyKey, string fingerprint)
    {
        var now = Now();
        var claim = new IdempotencyClaim(idempotencyKey, fingerprint, now + IdempotencyKeys.Window.TotalSeconds);
        var once = await store.SubmitBatchOnceAsync([.. requests.Select(request => NewPending(request, now))], claim, CancellationToken.None);
        AnnounceBatch(once.Stored);
        return once;
    }

    /// <summary>Dispatchers are woken once for a batch's new jobs, and the lease keeper hears of its earliest delayed one.</summary>
    private void AnnounceBatch(IReadOnlyList<SubmitResult> results)
    {
        if (results.Where(r => r.Created && r.Job.AvailableAt is null).Any())
        {
            signals.AnnounceWork();
        }
        if (results.Where(r => r.Created).Select(r => r.Job.AvailableAt).Min() is { } due)
        {
            JobDueLater?.Invoke(due);
        }
    }

    /// <summary>A new job: dispatchers everywhere are woken now, or this process's lease keeper releases it when it falls due.</summary>
    public void Announce(Job job)
    {
        if (job.AvailableAt is { } due)
        {
            JobDueLater?.Invoke(due);
        }
        else
        {
            signals.AnnounceWork();
        }
    }

    /// <summary>The pending job a request (or a schedule's tick) stores: a new id, and its run time if delayed.</summary>
    public static Job NewPending(NewJob request, double now) =>
        new()
        {
            Id = Guid.CreateVersion7().ToString(),
            JobType = request.JobType,
            Priority = request.Priority,
            Payload = request.Payload,
            WorkflowId = request.WorkflowId,
            MaxAttempts = request.MaxAttempts,
            TimeoutS = request.TimeoutS,
            Status = JobStatus.Pending,
            CreatedAt = now,
            UpdatedAt = now,
            IdempotencyKey = request.IdempotencyKey,
            Traceparent = System.Diagnostics.Activity.Current?.Id,
            RunAt = request.RunAt,
            AvailableAt = request.RunAt > now ? request.RunAt : null,
            ScheduleId = request.ScheduleId,
            DependsOn = request.DependsOn is { Count: > 0 } dependsOn ? dependsOn : null,
        };

    /// <summary>A failed or cancelled job back to pending, its attempts counted from zero again; null when it is in another state.</summary>
    public async Task<Job?> RetryAsync(string jobId)
    {
        var retried = await store.RetryAsync([jobId], CancellationToken.None);
        if (retried.Count > 0)
        {
            signals.AnnounceWork();
        }
        return retried.Count > 0 ? retried[0] : null;
    }

    /// <summary>
    /// Every job in one of <paramref name="statuses"/> matching <paramref name="filter"/> (its job type, worker and
    /// finish-time range, as <c>GET /api/jobs</c> reads them) handed to <paramref name="step"/>, one page of up to
    /// <see cref="BulkChunk"/> per storage step, whatever the number of matches; returns how many the steps took.
    /// </summary>
    public async Task<int> ForEachMatchingAsync(
        IReadOnlyList<string> statuses, JobListQuery filter,
        Func<IReadOnlyList<string>, Task<IReadOnlyList<Job>>> step, CancellationToken cancellationToken)
    {
        var total = 0;
        foreach (var status in statuses)
        {
            JobListQuery? query = filter with { Status = status, Limit = BulkChunk, BeforeOrder = null, BeforeFinished = null };
            while (query is not null)
            {
                var page = await store.ListAsync(query, cancellationToken);
                if (page.Jobs.Count > 0)
                {
                    total += (await step([.. page.Jobs.Select(j => j.Id)])).Count;
                }
                query = query.After(page);
            }
        }
        return total;
    }

    /// <summary>Retries every failed or cancelled job matching the filter; returns how many.</summary>
    public async Task<int> RetryMatchingAsync(IReadOnlyList<string> statuses, JobListQuery filter, CancellationToken cancellationToken)
    {
        var count = await ForEachMatchingAsync(statuses, filter, ids => store.RetryAsync(ids, CancellationToken.None), cancellationToken);
        if (count > 0)
        {
            LogBulk(logger, "retried", count);
            signals.AnnounceWork();
        }
        return count;
    }

    /// <summary>Removes every finished job matching the filter; returns how many.</summary>
    public async Task<int> PurgeMatchingAsync(IReadOnlyList<string> statuses, JobListQuery filter, CancellationToken cancellationToken)
    {
        var count = await ForEachMatchingAsync(statuses, filter, ids => store.PurgeAsync(ids, "operator", CancellationToken.None), cancellationToken);
        if (count > 0)
        {
            LogBulk(logger, "purged", count);
        }
        return count;
    }

    /// <summary>
    /// Pauses or resumes dispatch of a job type, on every process (the flag lives in storage). Running jobs finish; a
    /// resume wakes every dispatcher. False when the queue already was so.
    /// </summary>
    public async Task<bool> SetQueuePausedAsync(string jobType, bool paused)
    {
        var changed = await store.SetQueuePausedAsync(jobType, paused, Now(), CancellationToken.None);
        if (changed)
        {
            LogQueuePaused(logger, jobType, paused ? "paused" : "resumed");
            if (!paused)
            {
                signals.AnnounceWork();
            }
        }
        return changed;
    }

    public async Task<JobStep> CancelAsync(string jobId)
    {
        var step = await store.CancelAsync(jobId, CancellationToken.None);
        if (step.Outcome == StepOutcome.Done)
        {
            TellHolder(step, "cancelled");
            if (step.Job is { WorkflowId: not null } job)
            {
                await journal.CancelledAsync(job);
            }
            await SettleDependentsAsync(step);
        }
        return step;
    }

    public Task<Job?> GetAsync(string jobId, CancellationToken cancellationToken) => store.GetAsync(jobId, cancellationToken);

    // ---- workers ----

    /// <summary>
    /// Records the connection in storage, closes the one it replaced (on whichever process), then settles the jobs
    /// leased to the worker id: kept, sent again, requeued, or — listed but not its own — stopped.
    /// </summary>
    /// <param name="registered">Called once storage has the connection, before any job is sent on it (the <c>registered</c> answer).</param>
    public async Task RegisterAsync(WorkerSession session, IReadOnlyCollection<string>? heldJobs, Action registered)
    {
        sessions.Add(session);
        var record = new WorkerRecord(session.WorkerId, session.SessionId, signals.NodeId, session.JobTypes, session.MaxConcurrentJobs,
            EventBus.UnixSeconds(session.ConnectedAt));
        var registration = await store.RegisterWorkerAsync(record, heldJobs, LeaseUntil(), CancellationToken.None);
        registered();
        if (registration.Replaced is { } replaced)
        {
            signals.Notify(replaced.NodeId, new HubNotice("replaced", replaced.SessionId));
        }
        foreach (var job in registration.Kept)
        {
            session.Add(job.Id);
        }
        foreach (var job in registration.Resend)
        {
            sessions.Assign(session, job);
        }
        foreach (var jobId in registration.Unknown)
        {
            session.Link.TrySend(WorkerSessions.Frame(new JobCancelledMessage("job_cancelled", jobId, "not_held"), HubJsonContext.Default.JobCancelledMessage));
        }
        session.Ready = true;
        LogWorkerRegistered(logger, session.WorkerId, string.Join(',', session.JobTypes), session.MaxConcurrentJobs,
            registration.Kept.Count, registration.Resend.Count, registration.Requeued.Count, registration.Replaced is not null);
        await JournalAttemptsEndedAsync(registration.Requeued);
        if (registration.Requeued.Count > 0)
        {
            signals.AnnounceWork();
        }
        dispatcher.Wake();
    }

    /// <summary>The connection ended. Unless the server is stopping, its jobs go back to pending (an attempt is counted).</summary>
    public async Task DisconnectAsync(WorkerSession session, string reason)
    {
        session.MarkClosing();
        // A claim for this session may be in flight: let it land, so the jobs it took are settled below too.
        await dispatcher.CurrentPass;
        sessions.Remove(session);
        if (!session.Ready)
        {
            return;
        }
        IReadOnlyList<JobStep> requeued;
        try
        {
            requeued = await store.UnregisterWorkerAsync(session.Holder, reason, requeueJobs: !_stopping, CancellationToken.None);
        }
        catch (Exception ex) when (StorageStatus.IsUnavailable(ex))
        {
            // Nothing renews it any more: the sweep lists it offline and its leases run out, so its jobs are requeued then.
            LogDisconnectNotStored(logger, session.WorkerId, reason, ex.Message);
            return;
        }
        LogWorkerGone(logger, session.WorkerId, reason, requeued.Count);
        await JournalAttemptsEndedAsync(requeued);
        if (requeued.Count > 0)
        {
            signals.AnnounceWork();
        }
    }

    /// <summary>Progress of a job the session holds; the first progress moves it to running.</summary>
    public async Task<JobStep> ProgressAsync(WorkerSession session, string jobId, double progress)
    {
        var step = await store.ProgressAsync(session.Holder, jobId, progress);
        Settle(session, jobId, step);
        if (step is { Outcome: StepOutcome.Done, Job: { WorkflowId: not null } job }
            && MissionJobJournal.Milestone(progress) is var milestone && session.PassMilestone(jobId, milestone))
        {
            await journal.MilestoneAsync(job, milestone);
        }
        return step;
    }

    /// <summary>Completion of a job the session holds: a job is never completed twice, whichever process the frame reaches.</summary>
    public async Task<JobStep> CompleteAsync(WorkerSession session, string jobId, JsonElement? result)
    {
        var next = session.Closing ? null : new FreeSlots(session.Holder, session.JobTypes, 1);
        var step = await store.CompleteAsync(session.Holder, jobId, result, next, LeaseUntil());
        // The next job first, then the finished one out: the slot never looks free to a concurrent claim meanwhile.
        foreach (var (_, claimed) in step.Claimed)
        {
            await dispatcher.DeliverAsync(session, claimed);
        }
        if (Settle(session, jobId, step) && step.Job is { WorkflowId: not null } job)
        {
            await journal.CompletedAsync(job);
        }
        await SettleDependentsAsync(step);
        return step;
    }

    /// <summary>A failed attempt of a job the session holds: retried with backoff, or failed for good.</summary>
    public async Task<JobStep> FailAsync(WorkerSession session, string jobId, string error)
    {
        var step = await store.FailAsync(session.Holder, jobId, error, new RetryBackoff(_options.RetryBaseDelay, _options.RetryMaxDelay));
        if (Settle(session, jobId, step) && step.Job is { } job)
        {
            if (job.Status == JobStatus.Pending)
            {
                LogAttemptFailed(logger, jobId, job.Attempts, job.MaxAttempts, error);
                if (job.AvailableAt is { } retryAt)
                {
                    JobDueLater?.Invoke(retryAt);
                }
            }
            else
            {
                LogJobFailed(logger, jobId, job.Attempts, error);
            }
            await JournalAttemptEndedAsync(job);
            await SettleDependentsAsync(step);
        }
        return step;
    }

    /// <summary>The server is stopping: connections close, and their jobs stay leased to their workers to come back to.</summary>
    public void Stop()
    {
        _stopping = true;
        foreach (var session in sessions.All)
        {
            session.Link.Close("server_shutdown");
        }
    }

    /// <summary>A job taken from its holder (cancelled, timed out, lease expired): its connection, wherever it is, is told to stop.</summary>
    internal void TellHolder(JobStep step, string reason)
    {
        if (step is { Holder: { } holder, Job: { } job })
        {
            if (sessions.Find(holder.SessionId) is not null)
            {
                sessions.Revoke(holder.SessionId, job.Id, reason);
                dispatcher.Wake();
            }
            else
            {
                // Not ours: every process gets the notice and the one holding the session acts on it.
                signals.Notify(IHubSignals.AllNodes, new HubNotice("revoke", holder.SessionId, job.Id, reason));
            }
        }
    }

    /// <summary>
    /// After a step that finished a job others wait on: dispatchers are woken for the ones it released, and the missions
    /// of the ones it cancelled with it hear of it.
    /// </summary>
    internal async Task SettleDependentsAsync(JobStep step)
    {
        if (step.Released > 0)
        {
            signals.AnnounceWork();
        }
        foreach (var cancelled in step.Cascaded)
        {
            LogDependencyFailed(logger, cancelled.Id, step.Job?.Id ?? "");
            if (cancelled.WorkflowId is not null)
            {
                await journal.CancelledAsync(cancelled);
            }
        }
    }

    /// <summary>Attempts a worker's connection ended: requeued, or failed for good with the jobs waiting on them; their missions are told either way.</summary>
    private async Task JournalAttemptsEndedAsync(IReadOnlyList<JobStep> steps)
    {
        foreach (var step in steps)
        {
            await JournalAttemptEndedAsync(step.Job!);
            await SettleDependentsAsync(step);
        }
    }

    internal Task JournalAttemptEndedAsync(Job job) => job.WorkflowId is null
        ? Task.CompletedTask
        : job.Status == JobStatus.Pending
            ? journal.AttemptFailedAsync(job, job.Error ?? "", job.AvailableAt)
            : journal.FailedAsync(job, job.Error ?? "");

    /// <summary>After a step on a job the session sent a frame about: a finished job frees its slot.</summary>
    private bool Settle(WorkerSession session, string jobId, JobStep step)
    {
        if (step.Outcome != StepOutcome.Done)
        {
            // Storage says it is not this connection's: forget it here too.
            session.Remove(jobId);
            return false;
        }
        if (step.Job is { } job && !JobStatus.IsActive(job.Status))
        {
            session.Remove(jobId);
            if (job.Status == JobStatus.Pending)
            {
                signals.AnnounceWork();
            }
            dispatcher.Wake();
        }
        return true;
    }

    internal double LeaseUntil() => Now() + _options.WorkerHeartbeatTimeout.TotalSeconds;

    private double Now() => EventBus.UnixSeconds(time.GetUtcNow());

    [LoggerMessage(EventId = 3002, Level = LogLevel.Information, Message = "Worker {WorkerId} registered for {JobTypes} with {Slots} slots: {Kept} jobs kept, {Resent} sent again, {Requeued} requeued (replaced an older connection: {Replaced})")]
    private static partial void LogWorkerRegistered(ILogger logger, string workerId, string jobTypes, int slots, int kept, int resent, int requeued, bool replaced);

    [LoggerMessage(EventId = 3003, Level = LogLevel.Information, Message = "Worker {WorkerId} went offline: {Reason} ({Requeued} jobs requeued)")]
    private static partial void LogWorkerGone(ILogger logger, string workerId, string reason, int requeued);

    [LoggerMessage(EventId = 3017, Level = LogLevel.Information, Message = "Job {JobId} cancelled: it depends, directly or through others, on job {DependencyId}, which failed or was cancelled")]
    private static partial void LogDependencyFailed(ILogger logger, string jobId, string dependencyId);

    [LoggerMessage(EventId = 3016, Level = LogLevel.Information, Message = "{Count} jobs {Change} by an operator")]
    private static partial void LogBulk(ILogger logger, string change, int count);

    [LoggerMessage(EventId = 3015, Level = LogLevel.Information, Message = "Queue {JobType} {Change}")]
    private static partial void LogQueuePaused(ILogger logger, string jobType, string change);

    [LoggerMessage(EventId = 3014, Level = LogLevel.Warning, Message = "Worker {WorkerId} went offline ({Reason}) but storage did not take it: {Detail}; the sweep lists it offline after the heartbeat timeout")]
    private static partial void LogDisconnectNotStored(ILogger logger, string workerId, string reason, string detail);

    [LoggerMessage(EventId = 3004, Level = LogLevel.Warning, Message = "Job {JobId} attempt {Attempt} of {MaxAttempts} failed: {Error}")]
    private static partial void LogAttemptFailed(ILogger logger, string jobId, int attempt, int maxAttempts, string error);

    [LoggerMessage(EventId = 3005, Level = LogLevel.Warning, Message = "Job {JobId} failed after {Attempts} attempts: {Error}")]
    private static partial void LogJobFailed(ILogger logger, string jobId, int attempts, string error);
}
