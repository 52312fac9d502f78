using System.Text.Json;
using Microsoft.Extensions.Options;
using MissionHub.Agents;
using MissionHub.Events;
using MissionHub.Hub;

namespace MissionHub.Monitor;

/// <summary>
/// The monitors' read model: workers, jobs and stats as the event stream describes them, applied in seq
/// order. A snapshot taken from it is exactly the state as of its <c>seq</c>, so a monitor that follows the
/// stream from that seq sees every later change once — nothing lost, nothing twice. It also remembers each
/// job's type, priority and worker so that filters apply to events whose payload lacks them. What it holds is bounded by
/// settings: finished jobs keep a result only up to <see cref="HubOptions.MaxInlineResultBytes"/> and an error only up to
/// <see cref="ErrorKept"/> characters, and offline workers leave after <see cref="AgentOptions.OfflineRetention"/>.
/// </summary>
public sealed partial class MonitorState(
    EventBus bus, IJobStore store, IOptions<HubOptions> hubOptions, IOptions<AgentOptions> agentOptions, TimeProvider time,
    ILogger<MonitorState> logger) : BackgroundService
{
    private const int RecentKept = 100;
    private const int AttributesKept = 200_000;

    /// <summary>Characters of a job's error kept in the read model (the store keeps all of it).</summary>
    internal const int ErrorKept = 4096;

    private static readonly TimeSpan PruneEvery = TimeSpan.FromSeconds(1);
    private readonly int _maxInlineResultBytes = hubOptions.Value.MaxInlineResultBytes;
    private readonly TimeSpan _offlineRetention = agentOptions.Value.OfflineRetention;
    // Offline workers by when they went offline (Unix seconds), oldest first, so pruning reads only those due.
    private readonly Dictionary<string, double> _offlineSince = new(StringComparer.Ordinal);
    private readonly SortedSet<(double At, string Id)> _offlineOrder = new();
    private DateTimeOffset _lastPrune;

    private readonly Lock _lock = new();
    private readonly Dictionary<string, MonitorJob> _jobs = new(StringComparer.Ordinal);
    private readonly LinkedList<MonitorJob> _completed = new();
    private readonly LinkedList<MonitorJob> _failed = new();
    private readonly Dictionary<string, MonitorWorker> _workers = new(StringComparer.Ordinal);
    private readonly QueueTallies _queues = new();
    private readonly Dictionary<string, JobAttributes> _attributes = new(StringComparer.Ordinal);
    private readonly Queue<string> _attributeOrder = new();
    private long _totalJobs;
    private long _completedTotal;
    private long _failedTotal;
    private long _cancelledTotal;
    // Unfinished jobs by status, kept as they change: stats are read after every event and must not walk every job.
    private long _pendingCount;
    private long _assignedCount;
    private long _runningCount;
    private long _seq;
    private string _epoch = "";
    private TaskCompletionSource _advanced = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private long _connectedMonitors;
    private long _missedEvents;

    /// <summary>Monitor sockets open now (for <c>/metrics</c>).</summary>
    public long ConnectedMonitors => Interlocked.Read(ref _connectedMonitors);

    /// <summary>Events not delivered to a monitor that fell behind, since start (for <c>/metrics</c>).</summary>
    public long MissedEvents => Interlocked.Read(ref _missedEvents);

    internal void MonitorConnected() => Interlocked.Increment(ref _connectedMonitors);

    internal void MonitorDisconnected() => Interlocked.Decrement(ref _connectedMonitors);

    internal void CountMissed() => Interlocked.Increment(ref _missedEvents);

    /// <summary>The seq up to which every event has been applied.</summary>
    public long Seq
    {
        get
        {
            lock (_lock)
            {
                return _seq;
            }
        }
    }

    public override async Task StartAsync(CancellationToken cancellationToken)
    {
        await ResetAsync(cancellationToken);
        await base.StartAsync(cancellationToken);
    }

    /// <summary>The hub's counts as of the last applied event: the same in every process that follows the log.</summary>
    public SystemStats Stats()
    {
        lock (_lock)
        {
            return StatsLocked();
        }
    }

    public JobCounts Counts()
    {
        lock (_lock)
        {
            return new JobCounts(_pendingCount, _assignedCount, _runningCount, _completedTotal, _failedTotal, _cancelledTotal);
        }
    }

    /// <summary>Per job type: live jobs pending and active, paused or not, and completed/failed since this process started.</summary>
    public IReadOnlyList<QueueGauge> QueueGauges()
    {
        lock (_lock)
        {
            var live = _jobs.Values.GroupBy(j => j.JobType, StringComparer.Ordinal).ToDictionary(
                g => g.Key, g => (Pending: g.LongCount(j => j.Status == JobStatus.Pending), Active: g.LongCount(j => j.Status != JobStatus.Pending)),
                StringComparer.Ordinal);
            return [.. live.Keys.Concat(_queues.Paused).Concat(_queues.Finished.Keys).Distinct(StringComparer.Ordinal).Select(type =>
            {
                var (pending, active) = live.GetValueOrDefault(type);
                var (completed, failed) = _queues.Finished.GetValueOrDefault(type);
                return new QueueGauge(type, pending, active, _queues.Paused.Contains(type), completed, failed);
            })];
        }
    }

    /// <summary>Workers by state as of the last applied event.</summary>
    public IReadOnlyList<(string Id, string Status)> WorkerStates()
    {
        lock (_lock)
        {
            return [.. _workers.Values.Select(w => (w.Id, w.Status))];
        }
    }

    /// <summary>Completes when the next events have been applied.</summary>
    public Task WaitForChangeAsync(CancellationToken cancellationToken) => Volatile.Read(ref _advanced).Task.WaitAsync(cancellationToken);

    public (SnapshotData Data, string Epoch, long Seq) Snapshot()
    {
        lock (_lock)
        {
            var unfinished = _jobs.Values.OrderBy(j => j.CreatedAt).ToList();
            var jobs = new SnapshotJobs(
                [.. unfinished.Where(j => j.Status == JobStatus.Pending)],
                [.. unfinished.Where(j => JobStatus.IsActive(j.Status))],
                [.. _completed],
                [.. _failed]);
            var workers = _workers.ToDictionary(w => w.Key, w => w.Value, StringComparer.Ordinal);
            return (new SnapshotData(workers, jobs, StatsLocked()), _epoch, _seq);
        }
    }

    /// <summary>
    /// Completes once every event up to <paramref name="seq"/> has been applied, so a filter that looks a job up
    /// sees it as of that event (monitors and this read model follow the bus independently).
    /// </summary>
    public async ValueTask WaitUntilAppliedAsync(long seq, CancellationToken cancellationToken)
    {
        while (true)
        {
            var advanced = Volatile.Read(ref _advanced).Task;
            if (Seq >= seq)
            {
                return;
            }
            await advanced.WaitAsync(cancellationToken);
        }
    }

    /// <summary>Type, priority and worker of a job, for filters.</summary>
    public bool TryGetJob(string jobId, out JobAttributes attributes)
    {
        lock (_lock)
        {
            return _attributes.TryGetValue(jobId, out attributes);
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            string epoch;
            long from;
            lock (_lock)
            {
                epoch = _epoch;
                from = _seq;
            }
            using var feed = bus.OpenFeed(EventFilter.All, from, epoch);
            try
            {
                while (!stoppingToken.IsCancellationRequested)
                {
                    var batch = await feed.NextAsync(TimeSpan.FromSeconds(5), stoppingToken);
                    lock (_lock)
                    {
                        foreach (var evt in batch)
                        {
                            Apply(evt);
                        }
                        _seq = Math.Max(_seq, feed.Cursor);
                        PruneOfflineWorkers();
                    }
                    Interlocked.Exchange(ref _advanced, new(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();
                }
            }
            catch (EventLogResetException reset)
            {
                LogReset(logger, reset.Epoch);
                await ResetAsync(stoppingToken);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                LogApplyFailed(logger, ex);
                await Task.Delay(TimeSpan.FromSeconds(1), stoppingToken);
            }
        }
    }

    /// <summary>Starts over from the hub as stored, read together with the seq it reflects (at start-up, or after the log was replaced): events after it follow.</summary>
    private async Task ResetAsync(CancellationToken cancellationToken)
    {
        var snapshot = await store.SnapshotAsync(RecentKept, cancellationToken);
        // Read after the snapshot: a pause or resume in between is also an event after the snapshot's seq, applied next.
        var paused = await store.ListPausedQueuesAsync(cancellationToken);
        var (completed, failed, workers, counts) = (snapshot.Completed, snapshot.Failed, snapshot.Workers, snapshot.Counts);
        lock (_lock)
        {
            _epoch = snapshot.Epoch;
            _seq = snapshot.Seq;
            _queues.ResetPaused(paused.Keys);
            _jobs.Clear();
            _pendingCount = _assignedCount = _runningCount = 0;
            _completed.Clear();
            _failed.Clear();
            _workers.Clear();
            _offlineSince.Clear();
            _offlineOrder.Clear();
            foreach (var job in snapshot.Unfinished)
            {
                _jobs[job.Id] = ToView(job);
                CountStatus(job.Status, +1);
                Remember(job.Id, new JobAttributes(job.JobType, job.Priority, job.WorkerId));
            }
            foreach (var job in completed)
            {
                _completed.AddLast(ToView(job, snapshot.ResultsOmitted.Contains(job.Id)));
            }
            foreach (var job in failed)
            {
                _failed.AddLast(ToView(job, snapshot.ResultsOmitted.Contains(job.Id)));
            }
            foreach (var worker in workers)
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
            _totalJobs = counts.Total;
            _completedTotal = counts.Completed;
            _failedTotal = counts.Failed;
            _cancelledTotal = counts.Cancelled;
        }
    }

    private void Apply(CharterEvent evt)
    {
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
            {
                var data = p.GetProperty("job_data");
                var id = Str(p, "job_id")!;
                var job = new MonitorJob(id, Str(data, "job_type")!, JobStatus.Pending, data.GetProperty("priority").GetInt32(),
                    Str(data, "workflow_id"), null, 0, 0, data.GetProperty("created_at").GetDouble(), null, null, null, null);
                if (_jobs.TryAdd(id, job))
                {
                    CountStatus(job.Status, +1);
                    _totalJobs++;
                }
                Remember(id, new JobAttributes(job.JobType, job.Priority, null));
                break;
            }
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
                // A retry: a finished job, no longer in the read model's live jobs, is pending again.
                var id = Str(p, "job_id")!;
                ForgetFinished(id, Str(p, "old_status")!, 1);
                var job = new MonitorJob(id, Str(data, "job_type")!, JobStatus.Pending, data.GetProperty("priority").GetInt32(),
                    Str(data, "workflow_id"), null, 0, 0, data.GetProperty("created_at").GetDouble(), null, null, null, null);
                if (_jobs.TryAdd(id, job))
                {
                    CountStatus(job.Status, +1);
                }
                Remember(id, new JobAttributes(job.JobType, job.Priority, null));
                break;
            }
            case HubEvents.QueuePausedType:
                _queues.SetPaused(Str(p, "job_type")!, true);
                break;
            case HubEvents.QueueResumedType:
                _queues.SetPaused(Str(p, "job_type")!, false);
                break;
            case HubEvents.JobsPurgedType:
            {
                var ids = p.GetProperty("job_ids").EnumerateArray().Select(i => i.GetString()!).ToHashSet(StringComparer.Ordinal);
                RemoveRecent(_completed, ids);
                RemoveRecent(_failed, ids);
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
                    FinishJob(id, null);
                }
                else
                {
                    UpdateJob(id, j => j with
                    {
                        Status = status,
                        WorkerId = status == JobStatus.Pending ? null : j.WorkerId,
                        Progress = status == JobStatus.Pending ? 0 : j.Progress, // a requeued job starts over, as in storage
                        Error = Cap(Str(p, "error")) ?? j.Error,
                    });
                    if (status == JobStatus.Pending)
                    {
                        ReleaseFromWorker(Str(p, "worker_id"), id);
                    }
                }
                break;
            }
            case "job_progress":
                UpdateJob(Str(p, "job_id")!, j => j with { Progress = p.GetProperty("progress").GetDouble() });
                break;
            case "job_completed":
            {
                var id = Str(p, "job_id")!;
                JsonElement? result = p.TryGetProperty("result", out var value) && value.ValueKind != JsonValueKind.Null ? value : null;
                // Told by the event (a large result is only referenced), or checked here for events written before that.
                var truncated = p.TryGetProperty("result_truncated", out var flag) && flag.ValueKind == JsonValueKind.True
                    || !JobResults.IsInline(result, _maxInlineResultBytes);
                FinishJob(id, j => WithResult(j with
                {
                    Status = JobStatus.Completed,
                    Progress = 1,
                    CompletedAt = p.GetProperty("completed_at").GetDouble(),
                }, truncated ? null : result?.Clone(), truncated));
                break;
            }
            case "job_failed":
            {
                var id = Str(p, "job_id")!;
                FinishJob(id, j => j with { Status = JobStatus.Failed, Error = Cap(Str(p, "error")), CompletedAt = p.GetProperty("failed_at").GetDouble() });
                break;
            }
        }
    }

    private void UpdateJob(string id, Func<MonitorJob, MonitorJob> change)
    {
        if (_jobs.TryGetValue(id, out var job))
        {
            var updated = change(job);
            _jobs[id] = updated;
            CountStatus(job.Status, -1);
            CountStatus(updated.Status, +1);
            if (_attributes.TryGetValue(id, out var attributes))
            {
                _attributes[id] = attributes with { WorkerId = updated.WorkerId };
            }
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
            HashSet<string> one = [id];
            RemoveRecent(_completed, one);
            RemoveRecent(_failed, one);
        }
    }

    private static void RemoveRecent(LinkedList<MonitorJob> recent, HashSet<string> ids)
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

    private void FinishJob(string id, Func<MonitorJob, MonitorJob>? change)
    {
        if (!_jobs.Remove(id, out var job))
        {
            return;
        }
        CountStatus(job.Status, -1);
        ReleaseFromWorker(job.WorkerId, id);
        if (change is null)
        {
            _cancelledTotal++;
            return; // cancelled: neither completed nor failed
        }
        var finished = change(job);
        _queues.CountFinished(job.JobType, finished.Status == JobStatus.Completed);
        var (recent, total) = finished.Status == JobStatus.Completed ? (_completed, 1) : (_failed, 2);
        recent.AddFirst(finished);
        if (recent.Count > RecentKept)
        {
            recent.RemoveLast();
        }
        if (total == 1)
        {
            _completedTotal++;
        }
        else
        {
            _failedTotal++;
        }
    }

    private void Remember(string jobId, JobAttributes attributes)
    {
        if (_attributes.TryAdd(jobId, attributes))
        {
            _attributeOrder.Enqueue(jobId);
            if (_attributeOrder.Count > AttributesKept)
            {
                _attributes.Remove(_attributeOrder.Dequeue());
            }
        }
        else
        {
            _attributes[jobId] = attributes;
        }
    }

    private SystemStats StatsLocked() => new(
        _workers.Values.Count(w => w.Status != WorkerStatus.Offline),
        _workers.Values.Count(w => w.Status == WorkerStatus.Busy),
        _totalJobs,
        _pendingCount,
        _assignedCount + _runningCount,
        _completedTotal,
        _failedTotal);

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
        var truncated = resultOmitted || !JobResults.IsInline(job.Result, _maxInlineResultBytes);
        return WithResult(new MonitorJob(job.Id, job.JobType, job.Status, job.Priority, job.WorkflowId, job.WorkerId,
            job.Progress, job.Attempts, job.CreatedAt, job.AssignedAt, job.CompletedAt, Cap(job.Error), null), truncated ? null : job.Result, truncated);
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

    /// <summary>Workers offline for longer than the retention leave the read model, as they leave storage.</summary>
    private void PruneOfflineWorkers()
    {
        var now = time.GetUtcNow();
        if (now - _lastPrune < PruneEvery)
        {
            return;
        }
        _lastPrune = now;
        var cutoff = EventBus.UnixSeconds(now - _offlineRetention);
        while (_offlineOrder.Count > 0 && _offlineOrder.Min is var (at, id) && at < cutoff)
        {
            _offlineOrder.Remove((at, id));
            _offlineSince.Remove(id);
            _workers.Remove(id);
        }
    }

    private static string? Str(JsonElement element, string name) =>
        element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;

    [LoggerMessage(EventId = 4001, Level = LogLevel.Warning, Message = "Monitor state: the event log was replaced (epoch {Epoch}); reloaded from storage")]
    private static partial void LogReset(ILogger logger, string epoch);

    [LoggerMessage(EventId = 4002, Level = LogLevel.Error, Message = "Monitor state could not apply events; retrying")]
    private static partial void LogApplyFailed(ILogger logger, Exception exception);
}

/// <summary>What filters need to know about a job.</summary>
public readonly record struct JobAttributes(string JobType, int Priority, string? WorkerId);
