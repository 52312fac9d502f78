using System.Text.Json;

namespace MissionHub.Client;

/// <summary>
/// The local read model of a <see cref="MonitorClient"/>: a snapshot, then hub events applied in seq order,
/// with the same rules as the server's own monitor state, so that after the same events both agree.
/// Not thread-safe: the client holds its lock around every call.
/// </summary>
internal sealed class MonitorStateStore(int recentKept)
{
    private readonly Dictionary<string, MonitorJobState> _jobs = new(StringComparer.Ordinal);
    private readonly LinkedList<MonitorJobState> _completed = new();
    private readonly LinkedList<MonitorJobState> _failed = new();
    private readonly Dictionary<string, MonitorWorkerState> _workers = new(StringComparer.Ordinal);
    private MonitorSystemStats _stats = new(0, 0, 0, 0, 0, 0, 0, 0);
    // Finished jobs by status: the snapshot's totals, then the events.
    private long _completedTotal;
    private long _failedTotal;
    private long _cancelledTotal;

    public void Load(SnapshotData data)
    {
        _jobs.Clear();
        _completed.Clear();
        _failed.Clear();
        _workers.Clear();
        foreach (var job in data.Jobs.Pending.Concat(data.Jobs.Active))
        {
            _jobs[job.Id] = job;
        }
        foreach (var job in data.Jobs.Completed)
        {
            AddRecent(_completed, job, atFront: false);
        }
        foreach (var job in data.Jobs.Failed)
        {
            AddRecent(_failed, job, atFront: false);
        }
        foreach (var (id, worker) in data.Workers)
        {
            _workers[id] = new MonitorWorkerState(worker.Id, worker.Status, worker.Capabilities.JobTypes, worker.Capabilities.MaxConcurrentJobs,
                worker.ConnectedAt, worker.CurrentJobs);
        }
        _stats = data.SystemStats;
        (_completedTotal, _failedTotal, _cancelledTotal) = (data.SystemStats.CompletedJobs, data.SystemStats.FailedJobs, data.SystemStats.CancelledJobs);
    }

    public MonitorStateSnapshot Copy(string? epoch, long lastSeq) => new(
        new Dictionary<string, MonitorWorkerState>(_workers, StringComparer.Ordinal),
        new Dictionary<string, MonitorJobState>(_jobs, StringComparer.Ordinal),
        [.. _completed],
        [.. _failed],
        _stats,
        epoch,
        lastSeq)
    {
        Counts = new MonitorJobCounts(
            _jobs.Values.LongCount(j => j.Status == "pending"), _jobs.Values.LongCount(j => j.Status == "assigned"),
            _jobs.Values.LongCount(j => j.Status == "running"), _completedTotal, _failedTotal, _cancelledTotal),
    };

    /// <summary>Applies one flat hub event (spec 003 §1 shape). Unknown types change nothing.</summary>
    public void Apply(string type, JsonElement e)
    {
        switch (type)
        {
            case "worker_connected":
            {
                var id = Str(e, "worker_id")!;
                var data = e.GetProperty("worker_data");
                var capabilities = data.GetProperty("capabilities");
                _workers[id] = new MonitorWorkerState(id, Str(data, "status") ?? "idle",
                    [.. capabilities.GetProperty("job_types").EnumerateArray().Select(t => t.GetString()!)],
                    capabilities.GetProperty("max_concurrent_jobs").GetInt32(),
                    Str(data, "connected_at") ?? "",
                    [.. _jobs.Values.Where(j => j.WorkerId == id && IsActive(j.Status)).Select(j => j.Id)]);
                break;
            }
            case "worker_status_changed":
                UpdateWorker(Str(e, "worker_id")!, w => w with { Status = Str(e, "new_status") ?? w.Status });
                break;
            case "worker_disconnected":
                UpdateWorker(Str(e, "worker_id")!, w => w with { Status = "offline", CurrentJobs = [] });
                break;
            case "job_submitted":
            {
                var id = Str(e, "job_id")!;
                var data = e.GetProperty("job_data");
                _jobs.TryAdd(id, new MonitorJobState(id, Str(data, "job_type")!, "pending", data.GetProperty("priority").GetInt32(),
                    Str(data, "workflow_id"), null, 0, 0, data.GetProperty("created_at").GetDouble(), null, null, null, null));
                break;
            }
            case "job_assigned":
            {
                var id = Str(e, "job_id")!;
                var workerId = Str(e, "worker_id");
                UpdateJob(id, j => j with
                {
                    Status = "assigned",
                    WorkerId = workerId,
                    Attempts = e.TryGetProperty("attempt", out var attempt) && attempt.ValueKind == JsonValueKind.Number ? attempt.GetInt32() : j.Attempts + 1,
                    AssignedAt = Num(e, "assigned_at"),
                    Progress = 0,
                });
                if (workerId is not null)
                {
                    UpdateWorker(workerId, w => w.CurrentJobs.Contains(id) ? w : w with { CurrentJobs = [.. w.CurrentJobs, id] });
                }
                break;
            }
            case "job_status_changed" when e.TryGetProperty("job_data", out var data) && data.ValueKind == JsonValueKind.Object:
            {
                // A retry: a finished job is pending again, attempts from zero, no longer counted as finished.
                var id = Str(e, "job_id")!;
                ForgetFinished([id], Str(e, "old_status"), 1);
                _jobs.TryAdd(id, new MonitorJobState(id, Str(data, "job_type")!, "pending", data.GetProperty("priority").GetInt32(),
                    Str(data, "workflow_id"), null, 0, 0, data.GetProperty("created_at").GetDouble(), null, null, null, null));
                break;
            }
            case "jobs_purged":
            {
                var ids = e.GetProperty("job_ids").EnumerateArray().Select(i => i.GetString()!).ToHashSet(StringComparer.Ordinal);
                ForgetFinished(ids, null, 0);
                foreach (var byStatus in e.GetProperty("by_status").EnumerateObject())
                {
                    ForgetFinished([], byStatus.Name, byStatus.Value.GetInt32());
                }
                break;
            }
            case "job_status_changed":
            {
                var id = Str(e, "job_id")!;
                var status = Str(e, "new_status")!;
                if (status == "cancelled")
                {
                    Finish(id, null);
                }
                else
                {
                    UpdateJob(id, j => j with
                    {
                        Status = status,
                        WorkerId = status == "pending" ? null : j.WorkerId,
                        Progress = status == "pending" ? 0 : j.Progress, // a requeued job starts over
                        Error = Str(e, "error") ?? j.Error,
                    });
                    if (status == "pending")
                    {
                        Release(Str(e, "worker_id"), id);
                    }
                }
                break;
            }
            case "job_progress":
                UpdateJob(Str(e, "job_id")!, j => j with { Progress = e.GetProperty("progress").GetDouble() });
                break;
            case "job_completed":
                Finish(Str(e, "job_id")!, j => j with
                {
                    Status = "completed",
                    Progress = 1,
                    Result = e.TryGetProperty("result", out var result) && result.ValueKind != JsonValueKind.Null ? result.Clone() : null,
                    CompletedAt = Num(e, "completed_at"),
                });
                break;
            case "job_failed":
                Finish(Str(e, "job_id")!, j => j with { Status = "failed", Error = Str(e, "error"), CompletedAt = Num(e, "failed_at") });
                break;
            case "system_stats":
            {
                var s = e.GetProperty("stats");
                _stats = new MonitorSystemStats(
                    s.GetProperty("total_workers").GetInt64(), s.GetProperty("active_workers").GetInt64(), s.GetProperty("total_jobs").GetInt64(),
                    s.GetProperty("pending_jobs").GetInt64(), s.GetProperty("active_jobs").GetInt64(), s.GetProperty("completed_jobs").GetInt64(),
                    s.GetProperty("failed_jobs").GetInt64(),
                    s.TryGetProperty("cancelled_jobs", out var cancelled) ? cancelled.GetInt64() : 0);
                break;
            }
        }
    }

    private void UpdateJob(string id, Func<MonitorJobState, MonitorJobState> change)
    {
        if (_jobs.TryGetValue(id, out var job))
        {
            _jobs[id] = change(job);
        }
    }

    private void UpdateWorker(string id, Func<MonitorWorkerState, MonitorWorkerState> change)
    {
        if (_workers.TryGetValue(id, out var worker))
        {
            _workers[id] = change(worker);
        }
    }

    private void Release(string? workerId, string jobId)
    {
        if (workerId is not null)
        {
            UpdateWorker(workerId, w => w.CurrentJobs.Contains(jobId) ? w with { CurrentJobs = [.. w.CurrentJobs.Where(j => j != jobId)] } : w);
        }
    }

    private void Finish(string id, Func<MonitorJobState, MonitorJobState>? change)
    {
        if (!_jobs.Remove(id, out var job))
        {
            return;
        }
        Release(job.WorkerId, id);
        if (change is null)
        {
            _cancelledTotal++;
            return; // cancelled: neither completed nor failed
        }
        var finished = change(job);
        var completed = finished.Status == "completed";
        if (completed)
        {
            _completedTotal++;
        }
        else
        {
            _failedTotal++;
        }
        AddRecent(completed ? _completed : _failed, finished, atFront: true);
    }

    /// <summary>Finished jobs retried or purged: out of the recent lists and <paramref name="count"/> of them out of <paramref name="status"/>'s total.</summary>
    private void ForgetFinished(HashSet<string> ids, string? status, int count)
    {
        foreach (var recent in (LinkedList<MonitorJobState>[])[_completed, _failed])
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
        switch (status)
        {
            case "completed": _completedTotal -= count; break;
            case "failed": _failedTotal -= count; break;
            case "cancelled": _cancelledTotal -= count; break;
        }
    }

    private void AddRecent(LinkedList<MonitorJobState> recent, MonitorJobState job, bool atFront)
    {
        if (atFront)
        {
            recent.AddFirst(job);
        }
        else
        {
            recent.AddLast(job);
        }
        while (recent.Count > recentKept)
        {
            recent.RemoveLast();
        }
    }

    private static bool IsActive(string status) => status is "assigned" or "running";

    private static string? Str(JsonElement element, string name) =>
        element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;

    private static double? Num(JsonElement element, string name) =>
        element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.Number ? value.GetDouble() : null;
}
