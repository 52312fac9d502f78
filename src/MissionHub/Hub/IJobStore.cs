using MissionHub.Infrastructure;

namespace MissionHub.Hub;

/// <summary>
/// The job hub's state, owned by storage (DESIGN.md §6). Every transition is one atomic step in storage — one
/// transaction on SQLite, one Lua script on Redis — that checks the job is still where the caller thinks, changes
/// it, moves the counters and the worker's state, and appends the job's events, all or nothing. A step that no
/// longer applies changes nothing and says why. Any number of processes may call these at once (Redis).
/// </summary>
public interface IJobStore
{
    Task InitializeAsync(CancellationToken cancellationToken);

    /// <summary>
    /// Stores a new pending job and its <c>job_submitted</c>; with an idempotency key already used, returns that job instead.
    /// A job with <see cref="Job.DependsOn"/> waits for those not completed yet (<see cref="Job.WaitingFor"/>); if one of them
    /// already failed or was cancelled, it is stored cancelled (<c>dependency_failed</c>). Unknown dependencies throw
    /// <see cref="UnknownDependenciesException"/> and store nothing.
    /// </summary>
    Task<SubmitResult> SubmitAsync(Job job, CancellationToken cancellationToken = default);

    /// <summary>
    /// Stores all the jobs (and their job_submitted, in the given order) in one atomic step: all of them or, if the step
    /// fails, none. A job whose idempotency key is already known answers with the original, as <see cref="SubmitAsync"/> does.
    /// </summary>
    Task<IReadOnlyList<SubmitResult>> SubmitBatchAsync(IReadOnlyList<Job> jobs, CancellationToken cancellationToken = default);

    /// <summary>
    /// Claims the best pending jobs for the given free slots (priority desc, then submission order), round-robin
    /// over the slots: each claimed job is assigned to its slot's holder with <c>attempt + 1</c> and a lease.
    /// </summary>
    Task<IReadOnlyList<ClaimedJob>> ClaimAsync(IReadOnlyList<FreeSlots> slots, double leaseUntil, CancellationToken cancellationToken = default);

    Task<JobStep> ProgressAsync(JobHolder holder, string jobId, double progress, CancellationToken cancellationToken = default);

    /// <summary>Completes a held job; with <paramref name="next"/>, the slot it frees claims the next job in the same step.</summary>
    Task<JobStep> CompleteAsync(JobHolder holder, string jobId, System.Text.Json.JsonElement? result, FreeSlots? next, double leaseUntil,
        CancellationToken cancellationToken = default);

    /// <summary>A failed attempt: back to pending (not before the backoff has passed) while attempts remain, else failed.</summary>
    Task<JobStep> FailAsync(JobHolder holder, string jobId, string error, RetryBackoff backoff, CancellationToken cancellationToken = default);

    /// <summary>
    /// Cancels a pending or active job, whoever holds it. Every job waiting on it is cancelled in the same step
    /// (<c>dependency_failed</c>, transitively), as when a job fails for good; a completion releases them instead.
    /// </summary>
    Task<JobStep> CancelAsync(string jobId, CancellationToken cancellationToken = default);

    /// <summary>Records a worker connection: replaces any earlier connection of the same id, and settles the jobs leased to that id.</summary>
    Task<WorkerRegistration> RegisterWorkerAsync(WorkerRecord worker, IReadOnlyCollection<string>? heldJobs, double leaseUntil, CancellationToken cancellationToken = default);

    /// <summary>
    /// The connection ended: unless it was replaced, the worker goes offline and its jobs go back to pending (an attempt
    /// is counted). One step per job it held; a job out of attempts failed for good, with the jobs waiting on it in
    /// <see cref="JobStep.Cascaded"/>.
    /// </summary>
    Task<IReadOnlyList<JobStep>> UnregisterWorkerAsync(JobHolder holder, string reason, bool requeueJobs, CancellationToken cancellationToken = default);

    /// <summary>Extends the leases of every job these connections hold, and records that they were seen.</summary>
    Task RenewLeasesAsync(IReadOnlyList<JobHolder> holders, double leaseUntil, CancellationToken cancellationToken = default);

    /// <summary>
    /// Requeues (or fails) jobs whose lease expired or whose <c>timeout_s</c> passed, and releases delayed jobs that
    /// came due; each exactly once whichever process calls. Workers not seen since <paramref name="silentSince"/> (their
    /// process died, or its disconnect never reached storage) are marked offline. Returns what changed and when the
    /// next deadline is.
    /// </summary>
    Task<SweepResult> SweepAsync(double now, double silentSince, RetryBackoff timeoutBackoff, CancellationToken cancellationToken = default);

    /// <summary>
    /// At start: no lease expires before <paramref name="until"/>, so workers of the previous run can come back for their
    /// jobs (one process: every lease is set to it, since no connection survived the restart).
    /// </summary>
    Task GraceLeasesAsync(double until, CancellationToken cancellationToken = default);

    /// <summary>
    /// Forgets up to <paramref name="max"/> workers offline since before <paramref name="offlineBefore"/> (Unix seconds) that
    /// hold no jobs; returns how many. A pruned worker that comes back registers anew.
    /// </summary>
    Task<int> PruneWorkersAsync(double offlineBefore, int max, CancellationToken cancellationToken = default);

    Task<Job?> GetAsync(string id, CancellationToken cancellationToken = default);

    Task<JobListing> ListAsync(JobListQuery query, CancellationToken cancellationToken = default);

    /// <summary>
    /// Pending jobs not due before <paramref name="now"/> (delayed submits and retries), soonest first; at most
    /// <see cref="JobListQuery.MaxScanned"/> waiting jobs are examined for the <paramref name="jobType"/> filter.
    /// </summary>
    Task<JobListing> ListWaitingAsync(double now, string? jobType, int limit, CancellationToken cancellationToken = default);

    Task<JobCounts> CountAsync(CancellationToken cancellationToken = default);

    /// <summary>Counts by status for each job type ever submitted; kept in the same step as every transition.</summary>
    Task<IReadOnlyDictionary<string, JobCounts>> CountByTypeAsync(CancellationToken cancellationToken = default);

    Task<IReadOnlyList<WorkerInfo>> ListWorkersAsync(CancellationToken cancellationToken = default);

    /// <summary>
    /// Sends each of the jobs that is still failed or cancelled back to pending (attempts counted from zero again, the
    /// earlier ones added to <see cref="Job.PriorAttempts"/>), with its <c>job_status_changed</c>, in one step. Jobs in
    /// any other state are left as they are. A retried job waits again for every dependency not completed (a failed one
    /// too: it runs only after that one is retried and completes); one no longer stored does not hold it. Returns the jobs retried.
    /// </summary>
    Task<IReadOnlyList<Job>> RetryAsync(IReadOnlyList<string> jobIds, CancellationToken cancellationToken = default);

    /// <summary>
    /// Removes each of the jobs that is finished (completed, failed or cancelled), with one <c>jobs_purged</c> event for
    /// all of them (its <paramref name="reason"/>: <c>operator</c> or <c>retention</c>), in one step; others are left.
    /// Returns the jobs removed.
    /// </summary>
    Task<IReadOnlyList<Job>> PurgeAsync(IReadOnlyList<string> jobIds, string reason, CancellationToken cancellationToken = default);

    /// <summary>
    /// Up to <paramref name="max"/> finished jobs retention may remove now, oldest first: those finished before
    /// <paramref name="finishedBefore"/>, or when there are none, the oldest beyond <paramref name="keepAtMost"/>.
    /// </summary>
    Task<IReadOnlyList<string>> FinishedDueAsync(double finishedBefore, long keepAtMost, int max, CancellationToken cancellationToken = default);

    /// <summary>
    /// Pauses (or resumes) dispatch of <paramref name="jobType"/> on every process, with its <c>queue_paused</c> (or
    /// <c>queue_resumed</c>) event, in one step. False when it already was: nothing changes and no event is written.
    /// </summary>
    Task<bool> SetQueuePausedAsync(string jobType, bool paused, double now, CancellationToken cancellationToken = default);

    /// <summary>
    /// Per job type: pending jobs not due before <paramref name="now"/> (delayed retries), and jobs completed and failed
    /// since <paramref name="since"/>. Reads at most <see cref="QueueActivity.MaxScanned"/> jobs of each kind; past that
    /// the answer says so.
    /// </summary>
    Task<QueueActivity> QueueActivityAsync(double now, double since, CancellationToken cancellationToken = default);

    /// <summary>The paused job types, each with when it was paused (Unix seconds).</summary>
    Task<IReadOnlyDictionary<string, double>> ListPausedQueuesAsync(CancellationToken cancellationToken = default);

    /// <summary>
    /// The hub as of one <c>seq</c>: unfinished jobs, the newest finished ones, workers and counts, read in one atomic step.
    /// Finished jobs whose result is larger than <see cref="HubOptions.MaxInlineResultBytes"/> come without it (listed in
    /// <see cref="HubSnapshot.ResultsOmitted"/>).
    /// </summary>
    Task<HubSnapshot> SnapshotAsync(int recentFinished, CancellationToken cancellationToken = default);

    /// <summary>
    /// <see cref="SubmitBatchAsync"/> guarded by an idempotency key, in the same atomic step: when the key is known (its
    /// window not ended), nothing is written and the answer is the first request's fingerprint and batch (its jobs as they
    /// are now, in the order sent; jobs removed since are left out). Otherwise the batch is stored with the key.
    /// </summary>
    Task<OnceBatch> SubmitBatchOnceAsync(IReadOnlyList<Job> jobs, IdempotencyClaim claim, CancellationToken cancellationToken = default);
}

/// <summary>What a guarded batch did: stored now (<see cref="Stored"/>), or its key was known (<see cref="Known"/>).</summary>
public sealed record OnceBatch(IReadOnlyList<SubmitResult> Stored, KnownBatch? Known = null);

/// <summary>The batch an idempotency key stored first: that request's fingerprint, its jobs now, and how many it created.</summary>
public sealed record KnownBatch(string Fingerprint, IReadOnlyList<Job> Jobs, int Created);

/// <summary>Delay before the next attempt of a job that failed: <see cref="Base"/> doubled per attempt so far, at most <see cref="Max"/>.</summary>
public sealed record RetryBackoff(TimeSpan Base, TimeSpan Max)
{
    public double DelaySeconds(int attemptsSoFar) =>
        Math.Min(Base.TotalSeconds * Math.Pow(2, Math.Max(0, attemptsSoFar - 1)), Max.TotalSeconds);
}

/// <summary>Who holds a job: the worker's id and the connection it was handed to (a reconnect is a new session).</summary>
public sealed record JobHolder(string WorkerId, string SessionId);

/// <summary>A connection's free slots and the job types it takes, for one claim.</summary>
/// <summary>What <see cref="IJobStore.QueueActivityAsync"/> found, per job type; <see cref="Capped"/> when it stopped at the scan cap.</summary>
public sealed record QueueActivity(IReadOnlyDictionary<string, (long Delayed, long Completed, long Failed)> ByType, bool Capped)
{
    public const int MaxScanned = 10_000;

    /// <summary>Counts one job read by a store: pending means delayed here, completed and failed count as such.</summary>
    public static void Count(Dictionary<string, (long Delayed, long Completed, long Failed)> byType, string jobType, string status)
    {
        var (delayed, completed, failed) = byType.GetValueOrDefault(jobType);
        byType[jobType] = status switch
        {
            JobStatus.Pending => (delayed + 1, completed, failed),
            JobStatus.Completed => (delayed, completed + 1, failed),
            JobStatus.Failed => (delayed, completed, failed + 1),
            _ => (delayed, completed, failed),
        };
    }
}

public sealed record FreeSlots(JobHolder Holder, IReadOnlyList<string> JobTypes, int Count);

public sealed record ClaimedJob(JobHolder Holder, Job Job);

public sealed record SubmitResult(Job Job, bool Created);

public enum StepOutcome
{
    Done,
    NotFound,

    /// <summary>The job exists but this holder does not hold it (requeued, cancelled, timed out or handed to another).</summary>
    NotHeld,
    AlreadyFinished,
}

/// <summary>
/// What a step did. <see cref="Job"/> is the job after the step (or as found). <see cref="Holder"/> is who held
/// it before, when the step took it from them (a cancel, a timeout), so their connection can be told.
/// </summary>
public sealed record JobStep(StepOutcome Outcome, Job? Job, JobHolder? Holder = null)
{
    /// <summary>Jobs the step also claimed for the holder (a completion that took the next job).</summary>
    public IReadOnlyList<ClaimedJob> Claimed { get; init; } = [];

    /// <summary>Jobs waiting on this one that the step cancelled with it (<c>dependency_failed</c>), transitively.</summary>
    public IReadOnlyList<Job> Cascaded { get; init; } = [];

    /// <summary>How many jobs waiting on this one the step made dispatchable (their last dependency completed).</summary>
    public int Released { get; init; }

    public static readonly JobStep NotFound = new(StepOutcome.NotFound, null);
}

/// <summary>A worker connection as stored (the shared agents view).</summary>
public sealed record WorkerRecord(
    string WorkerId,
    string SessionId,
    string NodeId,
    IReadOnlyList<string> JobTypes,
    int MaxConcurrentJobs,
    double ConnectedAt);

/// <summary>
/// How a registration settled the jobs leased to the worker id: <see cref="Kept"/> it listed as held (still leased to it),
/// <see cref="Resend"/> it did not list but never started (their <c>job_assigned</c> is sent again), <see cref="Unknown"/>
/// it listed but does not hold (it must stop them), <see cref="Requeued"/> it neither listed nor can be sent again (an
/// attempt ended: back to pending, or failed for good with the jobs waiting on it in <see cref="JobStep.Cascaded"/>).
/// <see cref="Replaced"/> is the connection it replaced, if any.
/// </summary>
public sealed record WorkerRegistration(
    IReadOnlyList<Job> Kept,
    IReadOnlyList<Job> Resend,
    IReadOnlyList<JobStep> Requeued,
    IReadOnlyList<string> Unknown,
    ReplacedSession? Replaced);

public sealed record ReplacedSession(string SessionId, string NodeId);

/// <summary>
/// What a sweep did: jobs taken back from their holders (expired lease or timeout), jobs released to pending, and
/// the earliest time anything else falls due (null when nothing is waiting).
/// </summary>
public sealed record SweepResult(IReadOnlyList<JobStep> TakenBack, int Released, double? NextDue)
{
    /// <summary>Workers the sweep marked offline, with the node that held their connection.</summary>
    public IReadOnlyList<SilentWorker> Silent { get; init; } = [];
}

/// <summary>A worker whose record storage expired: <paramref name="NodeId"/> may still hold its connection.</summary>
public sealed record SilentWorker(string WorkerId, string SessionId, string NodeId);

public sealed record HubSnapshot(
    long Seq,
    string Epoch,
    IReadOnlyList<Job> Unfinished,
    IReadOnlyList<Job> Completed,
    IReadOnlyList<Job> Failed,
    IReadOnlyList<WorkerInfo> Workers,
    JobCounts Counts)
{
    /// <summary>Ids of finished jobs read without their result because it is too large to hold (JobResults).</summary>
    public IReadOnlySet<string> ResultsOmitted { get; init; } = new HashSet<string>();
}
