using System.Text.Json;
using MissionHub.Events;
using MissionHub.Hub;

namespace MissionHub.Monitor;

/// <summary>
/// The one projection of the hub's events (spec 003) onto jobs, workers and counts, applied in seq order. The live
/// monitor read model (<see cref="MonitorState"/>) and the history rebuilds (<c>History/</c>) both run it, so a state
/// rebuilt at a seq is what monitors were shown then. Bounded by live work: unfinished jobs, the newest
/// <see cref="RecentKept"/> finished ones of each kind, and workers until they are pruned. Not thread-safe: the owner locks.
/// </summary>
public sealed class HubProjection(int maxInlineResultBytes)
{
    public const int RecentKept = 100;

    /// <summary>Characters of a job's error kept (the store keeps all of it).</summary>
    internal const int ErrorKept = 4096;

    private readonly Dictionary<string, MonitorJob> _jobs = new(StringComparer.Ordinal);
    private readonly LinkedList<MonitorJob> _completed = new();
    private readonly LinkedList<MonitorJob> _failed = new();
    // Cancelled jobs are not in the monitor snapshot (spec 003), but a history view lists them beside the failed.
    private readonly LinkedList<MonitorJob> _cancelled = new();
    private readonly Dictionary<string, MonitorWorker> _workers = new(StringComparer.Ordinal);
    // Offline workers by when they went offline (Unix seconds), oldest first, so pruning reads only those due.
    private readonly Dictionary<string, double> _offlineSince = new(StringComparer.Ordinal);
    private readonly SortedSet<(double At, string Id)> _offlineOrder = new();
    private long _totalJobs;
    private long _completedTotal;
    private long _failedTotal;
    private long _cancelledTotal;
    // Unfinished jobs by status, kept as they change: stats are read after every event and must not walk every job.
    private long _pendingCount;
    private long _assignedCount;
    private long _runningCount;

    internal QueueTallies Queues { get; } = new();

    public IReadOnlyDictionary<string, MonitorWorker> Workers => _workers;

    public JobCounts Counts => new(_pendingCount, _assignedCount, _runningCount, _completedTotal, _failedTotal, _cancelledTotal);

    public SystemStats Stats => new(
        _workers.Values.Count(w => w.Status != WorkerStatus.Offline),
        _workers.Values.Count(w => w.Status == WorkerStatus.Busy),
        _totalJobs,
        _pendingCount,
        _assignedCount + _runningCount,
        _completedTotal,
        _failedTotal,
        _cancelledTotal);

    public IEnumerable<MonitorJob> LiveJobs => _jobs.Values;

    public bool TryGetLiveJob(string id, out MonitorJob job) => _jobs.TryGetValue(id, out job!);

    /// <summary>The spec 003 snapshot: unfinished jobs oldest first, recent completed and failed newest first.</summary>
    public SnapshotData Snapshot()
    {
        var unfinished = _jobs.Values.OrderBy(j => j.CreatedAt).ToList();
        var jobs = new SnapshotJobs(
            [.. unfinished.Where(j => j.Status == JobStatus.Pending)],
            [.. unfinished.Where(j => JobStatus.IsActive(j.Status))],
            [.. _completed],
            [.. _failed]);
        return new SnapshotData(_workers.ToDictionary(w => w.Key, w => w.Value, StringComparer.Ordinal), jobs, Stats);
    }

    /// <summary>The newest failed and cancelled jobs together, newest first.</summary>
    public IReadOnlyList<MonitorJob> RecentFailedAndCancelled() =>
        [.. _failed.Concat(_cancelled).OrderByDescending(j => j.CompletedAt ?? 0).Take(RecentKept)];

    /// <summary>Starts over from the hub as stored (at start-up, or after the log was replaced).</summary>
    public void Load(HubSnapshot snapshot, IEnumerable<string> pausedQueues)
    {
        ArgumentNullException.ThrowIfNull(snapshot);
        Clear();
        Queues.ResetPaused(pausedQueues);
        foreach (var job in snapshot.Unfinished)
        {
            AddLive(ToView(job));
        }
        foreach (var job in snapshot.Completed)
        {
            _completed.AddLast(ToView(job, snapshot.ResultsOmitted.Contains(job.Id)));
        }
        foreach (var job in snapshot.Failed)
        {
            _failed.AddLast(ToView(job, snapshot.ResultsOmitted.Contains(job.Id)));
        }
        foreach (var worker in snapshot.Workers)
        {
            _workers[worker.Id] = new MonitorWorker(worker.Id, worker.Status,
                new WorkerCapabilities(worker.JobTypes, worker.MaxConcurrentJobs),
                worker.ConnectedAt.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", System.Globalization.CultureInfo.InvariantCulture),
                worker.CurrentJobs);
            if (worker.Status == WorkerStatus.Offline)
            {
                MarkOffline(worker.Id, EventBus.UnixSeconds(worker.LastSeen));
            }
        }
        (_totalJobs, _completedTotal, _failedTotal, _cancelledTotal) =
            (snapshot.Counts.Total, snapshot.Counts.Completed, snapshot.Counts.Failed, snapshot.Counts.Cancelled);
    }

    /// <summary>Everything this projection holds, to store as a checkpoint.</summary>
    public HubProjectionState Export() => new(
        [.. _jobs.Values], [.. _completed], [.. _failed], [.. _cancelled],
        [.. _workers.Values.Select(w => new HubProjectionWorker(w, _offlineSince.TryGetValue(w.Id, out var at) ? at : null))],
        [.. Queues.Paused], _totalJobs, _completedTotal, _failedTotal, _cancelledTotal);

    /// <summary>Starts over from a checkpoint <see cref="Export"/> wrote.</summary>
    public void Import(HubProjectionState state)
    {
        ArgumentNullException.ThrowIfNull(state);
        Clear();
        Queues.ResetPaused(state.PausedQueues);
        foreach (var job in state.Jobs)
        {
            AddLive(job);
        }
        state.Completed.ToList().ForEach(j => _completed.AddLast(j));
        state.Failed.ToList().ForEach(j => _failed.AddLast(j));
        state.Cancelled.ToList().ForEach(j => _cancelled.AddLast(j));
        foreach (var worker in state.Workers)
        {
            _workers[worker.Worker.Id] = worker.Worker;
            if (worker.OfflineSince is { } at)
            {
                MarkOffline(worker.Worker.Id, at);
            }
        }
        (_totalJobs, _completedTotal, _failedTotal, _cancelledTotal) = (state.TotalJobs, state.CompletedTotal, state.FailedTotal, state.CancelledTotal);
    }

    public void Apply(CharterEvent evt)
    {
        ArgumentNullException.ThrowIfNull(evt);
        if (evt.Source != HubEvents.Source)
        {
            return;
        }
        var p = evt.Payload;
        switch (evt.Type)
        {
            case "worker_connected":
            {
                var data = p.GetProperty("worker_data");
                var capabilities = data.GetProperty("capabilities");
                var id = Str(p, "worker_id")!;
                _workers[id] = new MonitorWorker(id, Str(data, "status") ?? WorkerStatus.Idle,
                    new WorkerCapabilities(
                        [.. capabilities.GetProperty("job_types").EnumerateArray().Select(t => t.GetString()!)],
                        capabilities.GetProperty("max_concurrent_jobs").GetInt32()),
                    Str(data, "connected_at") ?? "",
                    [.. _jobs.Values.Where(j => j.WorkerId == id && JobStatus.IsActive(j.Status)).Select(j => j.Id)]);
                MarkOnline(id);
                break;
            }
            case "worker_status_changed":
                UpdateWorker(Str(p, "worker_id")!, w => w with { Status = Str(p, "new_status") ?? w.Status });
                break;
            case "worker_disconnected":
            {
                var id = Str(p, "worker_id")!;
                UpdateWorker(id, w => w with { Status = WorkerStatus.Offline, CurrentJobs = [] });
                if (_workers.ContainsKey(id))
                {
                    MarkOffline(id, evt.Timestamp);
                }
                break;
            }
            case "job_submitted":
                if (AddLive(PendingJob(Str(p, "job_id")!, p.GetProperty("job_data"))))
                {
                    _totalJobs++;
                }
                break;
            case "job_assigned":
            {
                var id = Str(p, "job_id")!;
                var workerId = Str(p, "worker_id");
                UpdateJob(id, j => j with
                {
                    Status = JobStatus.Assigned,
                    WorkerId = workerId,
                    Attempts = p.TryGetProperty("attempt", out var attempt) ? attempt.GetInt32() : j.Attempts + 1,
                    AssignedAt = p.GetProperty("assigned_at").GetDouble(),
                    Progress = 0,
                });
                UpdateWorker(workerId!, w => w with { CurrentJobs = [.. w.CurrentJobs.Append(id).Distinct()] });
                break;
            }
            case "job_status_changed" when p.TryGetProperty("job_data", out var data):
            {
                // A retry: a finished job, no longer among the live jobs, is pending again.
                var id = Str(p, "job_id")!;
                ForgetFinished(id, Str(p, "old_status")!, 1);
                AddLive(PendingJob(id, data));
                break;
            }
            case HubEvents.QueuePausedType:
                Queues.SetPaused(Str(p, "job_type")!, true);
                break;
            case HubEvents.QueueResumedType:
                Queues.SetPaused(Str(p, "job_type")!, false);
                break;
            case HubEvents.JobsPurgedType:
            {
                var ids = p.GetProperty("job_ids").EnumerateArray().Select(i => i.GetString()!).ToHashSet(StringComparer.Ordinal);
                RemoveRecent(ids);
                foreach (var byStatus in p.GetProperty("by_status").EnumerateObject())
                {
                    ForgetFinished(null, byStatus.Name, byStatus.Value.GetInt32());
                }
                break;
            }
            case "job_status_changed":
            {
                var id = Str(p, "job_id")!;
                var status = Str(p, "new_status")!;
                if (status == JobStatus.Cancelled)
                {
                    FinishJob(id, j => j with { Status = JobStatus.Cancelled, CompletedAt = evt.Timestamp });
                    break;
                }
                UpdateJob(id, j => j with
                {
                    Status = status,
                    WorkerId = status == JobStatus.Pending ? null : j.WorkerId,
                    Progress = status == JobStatus.Pending ? 0 : j.Progress, // a requeued job starts over, as in storage
                    Error = Cap(Str(p, "error")) ?? j.Error,
                    AvailableAt = status == JobStatus.Pending ? Number(p, "retry_at") : null, // a failed attempt waits for its backoff
                });
                if (status == JobStatus.Pending)
                {
                    ReleaseFromWorker(Str(p, "worker_id"), id);
                }
                break;
            }
            case "job_progress":
                UpdateJob(Str(p, "job_id")!, j => j with { Progress = p.GetProperty("progress").GetDouble() });
                break;
            case "job_completed":
            {
                JsonElement? result = p.TryGetProperty("result", out var value) && value.ValueKind != JsonValueKind.Null ? value : null;
                // Told by the event (a large result is only referenced), or checked here for events written before that.
                var truncated = p.TryGetProperty("result_truncated", out var flag) && flag.ValueKind == JsonValueKind.True
                    || !JobResults.IsInline(result, maxInlineResultBytes);
                FinishJob(Str(p, "job_id")!, j => WithResult(j with
                {
                    Status = JobStatus.Completed,
                    Progress = 1,
                    CompletedAt = p.GetProperty("completed_at").GetDouble(),
                }, truncated ? null : result?.Clone(), truncated));
                break;
            }
            case "job_failed":
                FinishJob(Str(p, "job_id")!, j => j with { Status = JobStatus.Failed, Error = Cap(Str(p, "error")), CompletedAt = p.GetProperty("failed_at").GetDouble() });
                break;
        }
    }

    /// <summary>Workers offline since before <paramref name="cutoff"/> (Unix seconds) leave, as they leave storage.</summary>
    public void PruneOfflineWorkers(double cutoff)
    {
        while (_offlineOrder.Count > 0 && _offlineOrder.Min is var (at, id) && at < cutoff)
        {
            _offlineOrder.Remove((at, id));
            _offlineSince.Remove(id);
            _workers.Remove(id);
        }
    }

    private void Clear()
    {
        _jobs.Clear();
        _pendingCount = _assignedCount = _runningCount = 0;
        _completed.Clear();
        _failed.Clear();
        _cancelled.Clear();
        _workers.Clear();
        _offlineSince.Clear();
        _offlineOrder.Clear();
    }

    private static MonitorJob PendingJob(string id, JsonElement data) =>
        new(id, Str(data, "job_type")!, JobStatus.Pending, data.GetProperty("priority").GetInt32(),
            Str(data, "workflow_id"), null, 0, 0, data.GetProperty("created_at").GetDouble(), null, null, null, null)
        {
            AvailableAt = Number(data, "run_at"),
            ScheduleId = Str(data, "schedule_id"),
        };

    private bool AddLive(MonitorJob job)
    {
        if (!_jobs.TryAdd(job.Id, job))
        {
            return false;
        }
        CountStatus(job.Status, +1);
        return true;
    }

    private void UpdateJob(string id, Func<MonitorJob, MonitorJob> change)
    {
        if (_jobs.TryGetValue(id, out var job))
        {
            var updated = change(job);
            _jobs[id] = updated;
            CountStatus(job.Status, -1);
            CountStatus(updated.Status, +1);
        }
    }

    private void UpdateWorker(string id, Func<MonitorWorker, MonitorWorker> change)
    {
        if (_workers.TryGetValue(id, out var worker))
        {
            _workers[id] = change(worker);
        }
    }

    private void ReleaseFromWorker(string? workerId, string jobId)
    {
        if (workerId is not null)
        {
            UpdateWorker(workerId, w => w with { CurrentJobs = [.. w.CurrentJobs.Where(j => j != jobId)] });
        }
    }

    /// <summary>Finished jobs that left their status (retried or purged): out of the totals, and the recent lists when named.</summary>
    private void ForgetFinished(string? id, string status, int count)
    {
        switch (status)
        {
            case JobStatus.Completed:
                _completedTotal -= count;
                break;
            case JobStatus.Failed:
                _failedTotal -= count;
                break;
            case JobStatus.Cancelled:
                _cancelledTotal -= count;
                break;
        }
        if (id is not null)
        {
            RemoveRecent([id]);
        }
    }

    private void RemoveRecent(HashSet<string> ids)
    {
        foreach (var recent in (LinkedList<MonitorJob>[])[_completed, _failed, _cancelled])
        {
            for (var node = recent.First; node is not null;)
            {
                var next = node.Next;
                if (ids.Contains(node.Value.Id))
                {
                    recent.Remove(node);
                }
                node = next;
            }
        }
    }

    private void FinishJob(string id, Func<MonitorJob, MonitorJob> change)
    {
        if (!_jobs.Remove(id, out var job))
        {
            return;
        }
        CountStatus(job.Status, -1);
        ReleaseFromWorker(job.WorkerId, id);
        var finished = change(job);
        LinkedList<MonitorJob> recent;
        switch (finished.Status)
        {
            case JobStatus.Completed:
                _completedTotal++;
                recent = _completed;
                Queues.CountFinished(job.JobType, completed: true);
                break;
            case JobStatus.Failed:
                _failedTotal++;
                recent = _failed;
                Queues.CountFinished(job.JobType, completed: false);
                break;
            default:
                _cancelledTotal++;
                recent = _cancelled;
                break;
        }
        recent.AddFirst(finished);
        if (recent.Count > RecentKept)
        {
            recent.RemoveLast();
        }
    }

    private void CountStatus(string status, int change)
    {
        switch (status)
        {
            case JobStatus.Pending: _pendingCount += change; break;
            case JobStatus.Assigned: _assignedCount += change; break;
            case JobStatus.Running: _runningCount += change; break;
        }
    }

    private MonitorJob ToView(Job job, bool resultOmitted = false)
    {
        var truncated = resultOmitted || !JobResults.IsInline(job.Result, maxInlineResultBytes);
        return WithResult(new MonitorJob(job.Id, job.JobType, job.Status, job.Priority, job.WorkflowId, job.WorkerId,
            job.Progress, job.Attempts, job.CreatedAt, job.AssignedAt, job.CompletedAt, Cap(job.Error), null)
        {
            AvailableAt = job.Status == JobStatus.Pending ? job.AvailableAt ?? job.RunAt : null,
            ScheduleId = job.ScheduleId,
        }, truncated ? null : job.Result, truncated);
    }

    private static MonitorJob WithResult(MonitorJob job, JsonElement? result, bool truncated) => truncated
        ? job with { Result = null, ResultTruncated = true, ResultRef = JobResults.Ref(job.Id) }
        : job with { Result = result, ResultTruncated = false, ResultRef = null };

    private static string? Cap(string? error) => error is { Length: > ErrorKept } ? error[..ErrorKept] + "…" : error;

    private void MarkOffline(string workerId, double at)
    {
        MarkOnline(workerId);
        _offlineSince[workerId] = at;
        _offlineOrder.Add((at, workerId));
    }

    private void MarkOnline(string workerId)
    {
        if (_offlineSince.Remove(workerId, out var at))
        {
            _offlineOrder.Remove((at, workerId));
        }
    }

    private static string? Str(JsonElement element, string name) =>
        element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;

    private static double? Number(JsonElement element, string name) =>
        element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.Number ? value.GetDouble() : null;
}

/// <summary>What a <see cref="HubProjection"/> holds, as a checkpoint stores it.</summary>
public sealed record HubProjectionState(
    IReadOnlyList<MonitorJob> Jobs,
    IReadOnlyList<MonitorJob> Completed,
    IReadOnlyList<MonitorJob> Failed,
    IReadOnlyList<MonitorJob> Cancelled,
    IReadOnlyList<HubProjectionWorker> Workers,
    IReadOnlyList<string> PausedQueues,
    long TotalJobs,
    long CompletedTotal,
    long FailedTotal,
    long CancelledTotal);

/// <summary>A worker and, when offline, since when (Unix seconds), so pruning goes on after a checkpoint is loaded.</summary>
public sealed record HubProjectionWorker(MonitorWorker Worker, double? OfflineSince);
