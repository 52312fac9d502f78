using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Microsoft.Extensions.Options;
using MissionHub.Events;

namespace MissionHub.Hub;

/// <summary>What a submitter asks for; validated by the API.</summary>
public sealed record NewJob(string JobType, int Priority, JsonElement Payload, string? WorkflowId, int MaxAttempts, double? TimeoutS);

public enum CancelOutcome
{
    Cancelled,
    NotFound,
    AlreadyFinished,
}

/// <summary>
/// The job broker: the in-memory state of every unfinished job and connected worker, and the rules that
/// move jobs between them. Decisions are made under one short lock that is never held across an await;
/// their effects (saving the job, publishing its events, sending frames) run afterwards, chained per job
/// so that one job's events are always published in the order its state changed. Jobs are handed out the
/// moment something changes (a submission, a free slot, a worker arriving, a retry coming due) — never by polling.
/// </summary>
public sealed partial class JobBroker(
    IJobStore store,
    IEventPublisher events,
    MissionJobJournal journal,
    IOptions<HubOptions> options,
    IHostApplicationLifetime lifetime,
    TimeProvider time,
    ILogger<JobBroker> logger) : IHostedService, IDisposable
{
    public const string Source = "hub";
    private const int RecentFinishedKept = 100;

    private readonly HubOptions _options = options.Value;
    private readonly Lock _lock = new();
    private readonly Dictionary<string, JobEntry> _jobs = new(StringComparer.Ordinal);
    private readonly Dictionary<string, SortedSet<JobEntry>> _pendingByType = new(StringComparer.Ordinal);
    private readonly PriorityQueue<JobEntry, double> _delayed = new();
    private readonly Dictionary<string, WorkerSession> _workers = new(StringComparer.Ordinal);
    private readonly Dictionary<string, WorkerInfo> _offlineWorkers = new(StringComparer.Ordinal);
    private readonly Dictionary<string, Task> _offlineEventTails = new(StringComparer.Ordinal);
    private readonly Dictionary<string, List<JobEntry>> _orphansByWorker = new(StringComparer.Ordinal);
    private readonly LinkedList<Job> _recentCompleted = new();
    private readonly LinkedList<Job> _recentFailed = new();
    private readonly long[] _counts = new long[JobStatus.All.Length];
    private TaskCompletionSource _statsChanged = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private ITimer? _retryTimer;
    private double _retryTimerDue = double.MaxValue;
    private ITimer? _orphanTimer;
    private long _order;
    private bool _stopping;

    // ---- lifecycle ----

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        await store.InitializeAsync(cancellationToken);
        _order = await store.MaxOrderAsync(cancellationToken);
        var counts = await store.CountAsync(cancellationToken);
        var unfinished = await store.LoadUnfinishedAsync(cancellationToken);
        var completed = await store.RecentAsync(JobStatus.Completed, RecentFinishedKept, cancellationToken);
        var failed = await store.RecentAsync(JobStatus.Failed, RecentFinishedKept, cancellationToken);
        lock (_lock)
        {
            _counts[Index(JobStatus.Completed)] = counts.Completed;
            _counts[Index(JobStatus.Failed)] = counts.Failed;
            _counts[Index(JobStatus.Cancelled)] = counts.Cancelled;
            foreach (var job in completed)
            {
                _recentCompleted.AddLast(job);
            }
            foreach (var job in failed)
            {
                _recentFailed.AddLast(job);
            }
            var now = Now();
            foreach (var job in unfinished)
            {
                var entry = new JobEntry(job);
                _jobs[job.Id] = entry;
                _counts[Index(job.Status)]++;
                if (job.Status == JobStatus.Pending)
                {
                    Enqueue(entry, now);
                }
                else if (job.WorkerId is { } workerId)
                {
                    // Held by a worker of the previous run: it keeps the job if it reconnects in time.
                    CollectionsMarshalGet(_orphansByWorker, workerId).Add(entry);
                    StartTimeoutLocked(entry);
                }
            }
            if (_orphansByWorker.Count > 0)
            {
                _orphanTimer = time.CreateTimer(_ => RequeueOrphans(), null, _options.RestartGracePeriod, Timeout.InfiniteTimeSpan);
            }
        }
        // Close worker sockets as soon as shutdown begins, so the server does not wait on them.
        lifetime.ApplicationStopping.Register(() => StopAsync(CancellationToken.None));
        LogStarted(logger, unfinished.Count, _orphansByWorker.Values.Sum(l => l.Count));
        SignalStats();
    }

    public Task StopAsync(CancellationToken cancellationToken)
    {
        List<WorkerSession> sessions;
        lock (_lock)
        {
            // Jobs stay with their workers in storage: after the restart they can come back and finish them.
            _stopping = true;
            sessions = [.. _workers.Values];
        }
        foreach (var session in sessions)
        {
            session.Link.Close("server_shutdown");
        }
        return Task.CompletedTask;
    }

    public void Dispose()
    {
        _retryTimer?.Dispose();
        _orphanTimer?.Dispose();
    }

    // ---- submitters ----

    /// <summary>Stores a new job durably, publishes <c>job_submitted</c>, then offers it to the workers.</summary>
    public async Task<Job> SubmitAsync(NewJob request, CancellationToken cancellationToken)
    {
        var now = Now();
        var job = new Job
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
            Order = Interlocked.Increment(ref _order),
            Traceparent = System.Diagnostics.Activity.Current?.Id,
        };
        // Durable before anything else: an acknowledged job is never lost.
        await store.SaveAsync(job, null, cancellationToken);
        Task ready;
        lock (_lock)
        {
            var entry = new JobEntry(job);
            _jobs[job.Id] = entry;
            _counts[Index(JobStatus.Pending)]++;
            Then(entry, () => Publish("job_submitted", job, new JobSubmittedPayload(job.Id,
                new JobData(job.Id, job.JobType, JobStatus.Pending, job.Priority, job.WorkflowId, job.CreatedAt)),
                HubJsonContext.Default.JobSubmittedPayload));
            ready = entry.Tail;
            // Offered at once: its job_assigned is published further along the same chain, so it still follows
            // job_submitted in the log.
            Enqueue(entry, Now());
        }
        SignalStats();
        Dispatch();
        // The answer waits for job_submitted too, so a client that reads the log after 201 finds it.
        await ready;
        return job;
    }

    public async Task<(CancelOutcome Outcome, Job? Job)> CancelAsync(string jobId, CancellationToken cancellationToken)
    {
        Task? done = null;
        Job? cancelled = null;
        lock (_lock)
        {
            if (_jobs.TryGetValue(jobId, out var entry))
            {
                var old = entry.Job;
                var session = entry.Session;
                var job = old with { Status = JobStatus.Cancelled, CompletedAt = Now(), UpdatedAt = Now() };
                Dequeue(entry);
                Finish(entry, job);
                if (session is not null)
                {
                    Send(session, jobId, Frame(new JobCancelledMessage("job_cancelled", jobId, "cancelled"), HubJsonContext.Default.JobCancelledMessage));
                    WorkerMaybeIdle(session);
                }
                Then(entry, () => SaveAndPublish(job, old.Status, "job_status_changed",
                    new JobStatusChangedPayload(jobId, old.Status, JobStatus.Cancelled, old.WorkerId), HubJsonContext.Default.JobStatusChangedPayload));
                Journal(entry, () => journal.CancelledAsync(job));
                done = entry.Tail;
                cancelled = job;
            }
        }
        if (done is null)
        {
            var stored = await store.GetAsync(jobId, cancellationToken);
            return stored is null ? (CancelOutcome.NotFound, null) : (CancelOutcome.AlreadyFinished, stored);
        }
        SignalStats();
        Dispatch();
        await done;
        return (CancelOutcome.Cancelled, cancelled);
    }

    /// <summary>The job as the broker knows it now (unfinished jobs), else as stored.</summary>
    public async Task<Job?> GetAsync(string jobId, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            if (_jobs.TryGetValue(jobId, out var entry))
            {
                return entry.Job;
            }
        }
        return await store.GetAsync(jobId, cancellationToken);
    }

    /// <summary>Type, priority and worker of a job, for filtering events that do not carry them.</summary>
    public Job? TryGetUnfinished(string jobId)
    {
        lock (_lock)
        {
            return _jobs.TryGetValue(jobId, out var entry) ? entry.Job : null;
        }
    }

    // ---- workers ----

    /// <summary>A worker registered on a connection. A second connection with the same id replaces the first and takes over its jobs.</summary>
    public void Register(WorkerSession session)
    {
        WorkerSession? replaced;
        lock (_lock)
        {
            _workers.TryGetValue(session.WorkerId, out replaced);
            if (replaced is not null)
            {
                foreach (var jobId in replaced.Active)
                {
                    if (_jobs.TryGetValue(jobId, out var entry))
                    {
                        entry.Session = session;
                        session.Active.Add(jobId);
                    }
                }
                replaced.Active.Clear();
                session.EventTail = replaced.EventTail;
            }
            else if (_offlineEventTails.Remove(session.WorkerId, out var offlineTail))
            {
                // After the previous connection's worker_disconnected, never before it.
                session.EventTail = offlineTail;
            }
            if (_orphansByWorker.Remove(session.WorkerId, out var orphans))
            {
                foreach (var entry in orphans.Where(e => e.Session is null && JobStatus.IsActive(e.Job.Status) && _jobs.ContainsKey(e.Job.Id)))
                {
                    entry.Session = session;
                    session.Active.Add(entry.Job.Id);
                }
            }
            _workers[session.WorkerId] = session;
            _offlineWorkers.Remove(session.WorkerId);
            var data = new WorkerData(session.WorkerId, session.Status,
                new WorkerCapabilities(session.JobTypes, session.MaxConcurrentJobs), Iso(session.ConnectedAt));
            ThenWorker(session, () => Publish("worker_connected", WorkerTarget(session.WorkerId),
                new WorkerConnectedPayload(session.WorkerId, data), HubJsonContext.Default.WorkerConnectedPayload));
        }
        replaced?.Link.Close("replaced");
        LogWorkerRegistered(logger, session.WorkerId, string.Join(',', session.JobTypes), session.MaxConcurrentJobs, replaced is not null);
        SignalStats();
        Dispatch();
    }

    /// <summary>The connection ended. Its jobs go back to pending (an attempt is counted), unless the server is stopping.</summary>
    public void Disconnect(WorkerSession session, string reason)
    {
        lock (_lock)
        {
            if (!_workers.TryGetValue(session.WorkerId, out var current) || !ReferenceEquals(current, session))
            {
                return; // replaced by a newer connection, which holds the jobs now
            }
            _workers.Remove(session.WorkerId);
            _offlineWorkers[session.WorkerId] = Describe(session, WorkerStatus.Offline, reason);
            var oldStatus = session.Status;
            if (!_stopping)
            {
                foreach (var jobId in session.Active.ToList())
                {
                    if (_jobs.TryGetValue(jobId, out var entry))
                    {
                        FailAttemptLocked(entry, $"worker {session.WorkerId} was lost ({reason})", retryDelay: TimeSpan.Zero);
                    }
                }
            }
            session.Active.Clear();
            ThenWorker(session, async () =>
            {
                await Publish("worker_disconnected", WorkerTarget(session.WorkerId),
                    new WorkerDisconnectedPayload(session.WorkerId, reason), HubJsonContext.Default.WorkerDisconnectedPayload);
                await Publish("worker_status_changed", WorkerTarget(session.WorkerId),
                    new WorkerStatusChangedPayload(session.WorkerId, oldStatus, WorkerStatus.Offline, null), HubJsonContext.Default.WorkerStatusChangedPayload);
            });
            _offlineEventTails[session.WorkerId] = session.EventTail;
        }
        LogWorkerGone(logger, session.WorkerId, reason);
        SignalStats();
        Dispatch();
    }

    /// <summary>Progress of a job the session holds; the first progress moves it to running. Null if not held.</summary>
    public Task? Progress(WorkerSession session, string jobId, double progress)
    {
        lock (_lock)
        {
            if (!Holds(session, jobId, out var entry))
            {
                return null;
            }
            var old = entry.Job;
            var job = old with
            {
                Progress = progress,
                UpdatedAt = Now(),
                Status = JobStatus.Running,
                StartedAt = old.StartedAt ?? Now(),
            };
            SetJob(entry, job);
            if (old.Status == JobStatus.Assigned)
            {
                Then(entry, () => SaveAndPublish(job, old.Status, "job_status_changed",
                    new JobStatusChangedPayload(jobId, old.Status, JobStatus.Running, session.WorkerId), HubJsonContext.Default.JobStatusChangedPayload));
                SignalStats();
            }
            Then(entry, () => Publish("job_progress", job, new JobProgressPayload(jobId, session.WorkerId, progress), HubJsonContext.Default.JobProgressPayload));
            var done = entry.Tail;
            if (MissionJobJournal.Milestone(progress) is var milestone && milestone > entry.MilestoneLogged)
            {
                entry.MilestoneLogged = milestone;
                Journal(entry, () => journal.MilestoneAsync(job, milestone));
            }
            return done;
        }
    }

    /// <summary>Completion of a job the session holds. Null if not held: a job is never completed twice.</summary>
    public Task? Complete(WorkerSession session, string jobId, JsonElement? result)
    {
        Task done;
        lock (_lock)
        {
            if (!Holds(session, jobId, out var entry))
            {
                return null;
            }
            var old = entry.Job;
            var now = Now();
            // A completed job shows its result, not the error of an earlier attempt (that stays in its events).
            var job = old with { Status = JobStatus.Completed, Progress = 1, Result = result, Error = null, CompletedAt = now, UpdatedAt = now, StartedAt = old.StartedAt ?? now };
            Finish(entry, job);
            WorkerMaybeIdle(session);
            Then(entry, () => SaveAndPublish(job, old.Status, "job_completed",
                new JobCompletedPayload(jobId, session.WorkerId, result, now), HubJsonContext.Default.JobCompletedPayload));
            done = entry.Tail;
            Journal(entry, () => journal.CompletedAsync(job));
        }
        SignalStats();
        Dispatch();
        return done;
    }

    /// <summary>A failed attempt of a job the session holds: retried with backoff, or failed for good. Null if not held.</summary>
    public Task? Fail(WorkerSession session, string jobId, string error)
    {
        Task done;
        lock (_lock)
        {
            if (!Holds(session, jobId, out var entry))
            {
                return null;
            }
            FailAttemptLocked(entry, error, RetryDelay(entry.Job.Attempts));
            done = entry.Tail;
        }
        SignalStats();
        Dispatch();
        return done;
    }

    // ---- views ----

    public SystemStats GetStats()
    {
        lock (_lock)
        {
            return new SystemStats(
                _workers.Count,
                _workers.Values.Count(w => w.Active.Count > 0),
                _counts.Sum(),
                _counts[Index(JobStatus.Pending)],
                _counts[Index(JobStatus.Assigned)] + _counts[Index(JobStatus.Running)],
                _counts[Index(JobStatus.Completed)],
                _counts[Index(JobStatus.Failed)]);
        }
    }

    public JobCounts GetCounts()
    {
        lock (_lock)
        {
            return new JobCounts(_counts[0], _counts[1], _counts[2], _counts[3], _counts[4], _counts[5]);
        }
    }

    /// <summary>Every worker seen since start: connected ones with their jobs, and offline ones.</summary>
    public IReadOnlyList<WorkerInfo> ListWorkers()
    {
        lock (_lock)
        {
            return [.. _workers.Values.Select(s => Describe(s, s.Status, null)).Concat(_offlineWorkers.Values).OrderBy(w => w.Id, StringComparer.Ordinal)];
        }
    }

    /// <summary>Pending and active jobs, and the newest finished ones: the monitor's snapshot.</summary>
    public (IReadOnlyList<Job> Pending, IReadOnlyList<Job> Active, IReadOnlyList<Job> Completed, IReadOnlyList<Job> Failed) SnapshotJobs()
    {
        lock (_lock)
        {
            var unfinished = _jobs.Values.Select(e => e.Job).OrderBy(j => j.Order).ToList();
            return (
                [.. unfinished.Where(j => j.Status == JobStatus.Pending)],
                [.. unfinished.Where(j => JobStatus.IsActive(j.Status))],
                [.. _recentCompleted],
                [.. _recentFailed]);
        }
    }

    /// <summary>Completes when job or worker counts may have changed.</summary>
    public Task WaitForStatsChangeAsync(CancellationToken cancellationToken) =>
        Volatile.Read(ref _statsChanged).Task.WaitAsync(cancellationToken);

    // ---- decisions (callers hold _lock) ----

    private void Dispatch()
    {
        lock (_lock)
        {
            if (_counts[Index(JobStatus.Pending)] == 0 || _workers.Count == 0)
            {
                return;
            }
            bool assigned;
            do
            {
                // Round-robin: each worker with a free slot takes the best job it can run, one per pass.
                assigned = false;
                foreach (var session in _workers.Values)
                {
                    if (session.Active.Count < session.MaxConcurrentJobs && TakeBestFor(session) is { } entry)
                    {
                        AssignLocked(entry, session);
                        assigned = true;
                    }
                }
            }
            while (assigned);
        }
        SignalStats();
    }

    private JobEntry? TakeBestFor(WorkerSession session)
    {
        JobEntry? best = null;
        SortedSet<JobEntry>? from = null;
        foreach (var type in session.JobTypes)
        {
            if (_pendingByType.TryGetValue(type, out var queue) && queue.Count > 0
                && (best is null || JobEntry.DispatchOrder.Compare(queue.Min!, best) < 0))
            {
                best = queue.Min;
                from = queue;
            }
        }
        if (best is not null)
        {
            from!.Remove(best);
            best.Queued = false;
        }
        return best;
    }

    private void AssignLocked(JobEntry entry, WorkerSession session)
    {
        var old = entry.Job;
        var now = Now();
        var job = old with
        {
            Status = JobStatus.Assigned,
            WorkerId = session.WorkerId,
            Attempts = old.Attempts + 1,
            AssignedAt = now,
            StartedAt = null,
            UpdatedAt = now,
            Progress = 0,
            AvailableAt = null,
        };
        SetJob(entry, job);
        entry.Session = session;
        var wasIdle = session.Active.Count == 0;
        session.Active.Add(job.Id);
        StartTimeoutLocked(entry);
        Then(entry, () => SaveAndPublish(job, old.Status, "job_assigned",
            new JobAssignedPayload(job.Id, session.WorkerId, JobStatus.Pending, JobStatus.Assigned, now, job.Attempts), HubJsonContext.Default.JobAssignedPayload));
        // Sent at once rather than after the save and the event: whatever the worker answers is applied after them,
        // along this job's chain. (A crash before the save lands re-offers the job after the restart; the old
        // worker's late answer is then refused, so the job still completes once.)
        Send(session, job.Id, Frame(new JobAssignedMessage("job_assigned",
            new AssignedJob(job.Id, job.JobType, job.Priority, job.Payload, job.Attempts, job.TimeoutS, Tracing.MissionHubTracing.Dispatch(job, session.WorkerId))), HubJsonContext.Default.JobAssignedMessage));
        entry.MilestoneLogged = 0;
        Journal(entry, () => journal.AssignedAsync(job));
        if (wasIdle)
        {
            ThenWorker(session, () => Publish("worker_status_changed", WorkerTarget(session.WorkerId),
                new WorkerStatusChangedPayload(session.WorkerId, WorkerStatus.Idle, WorkerStatus.Busy, job.Id), HubJsonContext.Default.WorkerStatusChangedPayload));
        }
    }

    private void FailAttemptLocked(JobEntry entry, string error, TimeSpan retryDelay)
    {
        var old = entry.Job;
        var session = entry.Session;
        var now = Now();
        if (session is not null)
        {
            session.Active.Remove(old.Id);
            entry.Session = null;
            WorkerMaybeIdle(session);
        }
        StopTimeoutLocked(entry);
        if (old.Attempts < old.MaxAttempts)
        {
            var retryAt = retryDelay > TimeSpan.Zero ? now + retryDelay.TotalSeconds : (double?)null;
            var job = old with { Status = JobStatus.Pending, Error = error, WorkerId = null, UpdatedAt = now, AvailableAt = retryAt, Progress = 0 };
            SetJob(entry, job);
            Enqueue(entry, now);
            Then(entry, () => SaveAndPublish(job, old.Status, "job_status_changed",
                new JobStatusChangedPayload(job.Id, old.Status, JobStatus.Pending, old.WorkerId, error, retryAt), HubJsonContext.Default.JobStatusChangedPayload));
            Journal(entry, () => journal.AttemptFailedAsync(old, error, retryAt));
            LogAttemptFailed(logger, old.Id, old.Attempts, old.MaxAttempts, error);
        }
        else
        {
            var job = old with { Status = JobStatus.Failed, Error = error, CompletedAt = now, UpdatedAt = now };
            Finish(entry, job);
            Then(entry, () => SaveAndPublish(job, old.Status, "job_failed",
                new JobFailedPayload(job.Id, old.WorkerId, error, now), HubJsonContext.Default.JobFailedPayload));
            Journal(entry, () => journal.FailedAsync(job, error));
            LogJobFailed(logger, old.Id, old.Attempts, error);
        }
    }

    private bool Holds(WorkerSession session, string jobId, out JobEntry entry) =>
        _jobs.TryGetValue(jobId, out entry!) && ReferenceEquals(entry.Session, session);

    private void Enqueue(JobEntry entry, double now)
    {
        if (entry.Job.AvailableAt is { } at && at > now)
        {
            _delayed.Enqueue(entry, at);
            ScheduleRetryTimerLocked(at, now);
            return;
        }
        if (!_pendingByType.TryGetValue(entry.Job.JobType, out var queue))
        {
            _pendingByType[entry.Job.JobType] = queue = new SortedSet<JobEntry>(JobEntry.DispatchOrder);
        }
        queue.Add(entry);
        entry.Queued = true;
    }

    private void Dequeue(JobEntry entry)
    {
        if (entry.Queued && _pendingByType.TryGetValue(entry.Job.JobType, out var queue))
        {
            queue.Remove(entry);
        }
        entry.Queued = false; // a delayed entry is skipped when it comes due
    }

    private void SetJob(JobEntry entry, Job job)
    {
        _counts[Index(entry.Job.Status)]--;
        _counts[Index(job.Status)]++;
        entry.Job = job;
    }

    private void Finish(JobEntry entry, Job job)
    {
        SetJob(entry, job);
        StopTimeoutLocked(entry);
        if (entry.Session is { } session)
        {
            session.Active.Remove(job.Id);
            entry.Session = null;
        }
        _jobs.Remove(job.Id);
        var recent = job.Status switch
        {
            JobStatus.Completed => _recentCompleted,
            JobStatus.Failed => _recentFailed,
            _ => null,
        };
        if (recent is not null)
        {
            recent.AddFirst(job);
            if (recent.Count > RecentFinishedKept)
            {
                recent.RemoveLast();
            }
        }
    }

    private void WorkerMaybeIdle(WorkerSession session)
    {
        if (session.Active.Count == 0 && _workers.TryGetValue(session.WorkerId, out var current) && ReferenceEquals(current, session))
        {
            ThenWorker(session, () => Publish("worker_status_changed", WorkerTarget(session.WorkerId),
                new WorkerStatusChangedPayload(session.WorkerId, WorkerStatus.Busy, WorkerStatus.Idle, null), HubJsonContext.Default.WorkerStatusChangedPayload));
        }
    }

    private void StartTimeoutLocked(JobEntry entry)
    {
        StopTimeoutLocked(entry);
        if (entry.Job.TimeoutS is not { } seconds)
        {
            return;
        }
        var attempt = entry.Job.Attempts;
        var elapsed = entry.Job.AssignedAt is { } assignedAt ? Math.Max(0, Now() - assignedAt) : 0;
        var due = TimeSpan.FromSeconds(Math.Max(0, seconds - elapsed));
        entry.Timeout = time.CreateTimer(_ => OnTimeout(entry, attempt), null, due, Timeout.InfiniteTimeSpan);
    }

    private static void StopTimeoutLocked(JobEntry entry)
    {
        entry.Timeout?.Dispose();
        entry.Timeout = null;
    }

    private void OnTimeout(JobEntry entry, int attempt)
    {
        lock (_lock)
        {
            if (!_jobs.ContainsKey(entry.Job.Id) || entry.Job.Attempts != attempt || !JobStatus.IsActive(entry.Job.Status))
            {
                return;
            }
            if (entry.Session is { } session)
            {
                // Tell the worker to stop; a late completion from it is refused since it no longer holds the job.
                Send(session, entry.Job.Id, Frame(new JobCancelledMessage("job_cancelled", entry.Job.Id, "timeout"), HubJsonContext.Default.JobCancelledMessage));
            }
            FailAttemptLocked(entry, string.Create(CultureInfo.InvariantCulture, $"timed out after {entry.Job.TimeoutS} s"), RetryDelay(entry.Job.Attempts));
        }
        SignalStats();
        Dispatch();
    }

    private void ScheduleRetryTimerLocked(double dueAt, double now)
    {
        if (dueAt >= _retryTimerDue)
        {
            return;
        }
        _retryTimerDue = dueAt;
        var delay = TimeSpan.FromSeconds(Math.Max(0, dueAt - now));
        if (_retryTimer is null)
        {
            _retryTimer = time.CreateTimer(_ => ReleaseDueRetries(), null, delay, Timeout.InfiniteTimeSpan);
        }
        else
        {
            _retryTimer.Change(delay, Timeout.InfiniteTimeSpan);
        }
    }

    private void ReleaseDueRetries()
    {
        lock (_lock)
        {
            var now = Now();
            _retryTimerDue = double.MaxValue;
            while (_delayed.TryPeek(out var entry, out var at))
            {
                if (at > now + 0.001)
                {
                    ScheduleRetryTimerLocked(at, now);
                    break;
                }
                _delayed.Dequeue();
                if (_jobs.ContainsKey(entry.Job.Id) && entry.Job.Status == JobStatus.Pending && entry.Job.AvailableAt == at)
                {
                    entry.Job = entry.Job with { AvailableAt = null };
                    Enqueue(entry, now);
                }
            }
        }
        Dispatch();
    }

    private void RequeueOrphans()
    {
        lock (_lock)
        {
            foreach (var (workerId, orphans) in _orphansByWorker)
            {
                foreach (var entry in orphans.Where(e => e.Session is null && _jobs.ContainsKey(e.Job.Id) && JobStatus.IsActive(e.Job.Status)))
                {
                    FailAttemptLocked(entry, $"worker {workerId} did not come back after the restart", TimeSpan.Zero);
                }
            }
            _orphansByWorker.Clear();
        }
        SignalStats();
        Dispatch();
    }

    private TimeSpan RetryDelay(int attemptsSoFar)
    {
        var factor = Math.Pow(2, Math.Max(0, attemptsSoFar - 1));
        var delay = TimeSpan.FromTicks((long)Math.Min(_options.RetryBaseDelay.Ticks * factor, _options.RetryMaxDelay.Ticks));
        return delay;
    }

    // ---- effects ----

    private void Then(JobEntry entry, Func<Task> effect) => entry.Tail = RunAfterAsync(entry.Tail, effect);

    /// <summary>Chains a mission-log entry for a job that names a mission (issue 4 item 7); nothing for the others.</summary>
    private void Journal(JobEntry entry, Func<Task> append)
    {
        if (entry.Job.WorkflowId is not null)
        {
            Then(entry, append);
        }
    }

    private void ThenWorker(WorkerSession session, Func<Task> effect) => session.EventTail = RunAfterAsync(session.EventTail, effect);

    private async Task RunAfterAsync(Task previous, Func<Task> effect)
    {
        await previous;
        try
        {
            await effect();
        }
        catch (Exception ex)
        {
            LogEffectFailed(logger, ex);
        }
    }

    /// <summary>Queues a frame for the worker now (never waits on its socket); what it answers is applied along the job's chain.</summary>
    private void Send(WorkerSession session, string jobId, byte[] frame)
    {
        if (!session.Link.TrySend(frame))
        {
            LogSendFailed(logger, session.WorkerId, jobId);
        }
    }

    private async Task SaveAndPublish<TPayload>(Job job, string previousStatus, string type, TPayload payload, JsonTypeInfo<TPayload> info)
    {
        await Task.WhenAll(store.SaveAsync(job, previousStatus), Publish(type, job, payload, info));
    }

    private Task<CharterEvent?> Publish<TPayload>(string type, Job job, TPayload payload, JsonTypeInfo<TPayload> info) =>
        Tracing.MissionHubTracing.WithTraceparent(job.Traceparent, () => Publish(type, "job_" + job.Id, payload, info));

    private Task<CharterEvent?> Publish<TPayload>(string type, string target, TPayload payload, JsonTypeInfo<TPayload> info) =>
        events.PublishAsync(type, Source, target, payload, info).AsTask();

    private void SignalStats() => Interlocked.Exchange(ref _statsChanged, new(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();

    // ---- helpers ----

    private double Now() => EventBus.UnixSeconds(time.GetUtcNow());

    private static int Index(string status) => Array.IndexOf(JobStatus.All, status);

    private static string WorkerTarget(string workerId) => "worker_" + workerId;

    private static string Iso(DateTimeOffset instant) => instant.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture);

    private static byte[] Frame<T>(T message, JsonTypeInfo<T> info) => JsonSerializer.SerializeToUtf8Bytes(message, info);

    private static List<JobEntry> CollectionsMarshalGet(Dictionary<string, List<JobEntry>> map, string key)
    {
        if (!map.TryGetValue(key, out var list))
        {
            map[key] = list = [];
        }
        return list;
    }

    private static WorkerInfo Describe(WorkerSession session, string status, string? reason) => new(
        session.WorkerId, status, session.JobTypes, session.MaxConcurrentJobs, session.ConnectedAt, session.LastSeen,
        [.. session.Active], reason);

    /// <summary>An unfinished job and what the broker keeps beside it.</summary>
    private sealed class JobEntry(Job job)
    {
        /// <summary>Higher priority first, then first submitted; the id breaks exact ties.</summary>
        public static readonly Comparer<JobEntry> DispatchOrder = Comparer<JobEntry>.Create((a, b) =>
        {
            var byPriority = b.Job.Priority.CompareTo(a.Job.Priority);
            if (byPriority != 0)
            {
                return byPriority;
            }
            var byOrder = a.Job.Order.CompareTo(b.Job.Order);
            return byOrder != 0 ? byOrder : string.CompareOrdinal(a.Job.Id, b.Job.Id);
        });

        public Job Job { get; set; } = job;

        public WorkerSession? Session { get; set; }

        public ITimer? Timeout { get; set; }

        public bool Queued { get; set; }

        /// <summary>The highest progress milestone of this attempt already written to the mission's log.</summary>
        public int MilestoneLogged { get; set; }

        /// <summary>This job's effects run one after another along this chain.</summary>
        public Task Tail { get; set; } = Task.CompletedTask;
    }

    [LoggerMessage(EventId = 3001, Level = LogLevel.Information, Message = "Job broker started with {Unfinished} unfinished jobs, {Orphans} waiting for their workers to reconnect")]
    private static partial void LogStarted(ILogger logger, int unfinished, int orphans);

    [LoggerMessage(EventId = 3002, Level = LogLevel.Information, Message = "Worker {WorkerId} registered for {JobTypes} with {Slots} slots (replaced an older connection: {Replaced})")]
    private static partial void LogWorkerRegistered(ILogger logger, string workerId, string jobTypes, int slots, bool replaced);

    [LoggerMessage(EventId = 3003, Level = LogLevel.Information, Message = "Worker {WorkerId} went offline: {Reason}")]
    private static partial void LogWorkerGone(ILogger logger, string workerId, string reason);

    [LoggerMessage(EventId = 3004, Level = LogLevel.Warning, Message = "Job {JobId} attempt {Attempt} of {MaxAttempts} failed: {Error}")]
    private static partial void LogAttemptFailed(ILogger logger, string jobId, int attempt, int maxAttempts, string error);

    [LoggerMessage(EventId = 3005, Level = LogLevel.Warning, Message = "Job {JobId} failed after {Attempts} attempts: {Error}")]
    private static partial void LogJobFailed(ILogger logger, string jobId, int attempts, string error);

    [LoggerMessage(EventId = 3006, Level = LogLevel.Error, Message = "A job effect (save, publish or send) failed")]
    private static partial void LogEffectFailed(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 3007, Level = LogLevel.Warning, Message = "Could not queue a frame for worker {WorkerId} (job {JobId}): the connection is gone or not reading")]
    private static partial void LogSendFailed(ILogger logger, string workerId, string jobId);
}
