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
    private const int RecentKept = HubProjection.RecentKept;
    private const int AttributesKept = 200_000;

    /// <summary>Characters of a job's error kept in the read model (the store keeps all of it).</summary>
    internal const int ErrorKept = HubProjection.ErrorKept;

    private static readonly TimeSpan PruneEvery = TimeSpan.FromSeconds(1);
    private readonly TimeSpan _offlineRetention = agentOptions.Value.OfflineRetention;
    private DateTimeOffset _lastPrune;

    private readonly Lock _lock = new();
    private readonly HubProjection _projection = new(hubOptions.Value.MaxInlineResultBytes);
    private readonly Dictionary<string, JobAttributes> _attributes = new(StringComparer.Ordinal);
    private readonly Queue<string> _attributeOrder = new();
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
            return _projection.Stats;
        }
    }

    public JobCounts Counts()
    {
        lock (_lock)
        {
            return _projection.Counts;
        }
    }

    /// <summary>Per job type: live jobs pending and active, paused or not, and completed/failed since this process started.</summary>
    public IReadOnlyList<QueueGauge> QueueGauges()
    {
        lock (_lock)
        {
            var queues = _projection.Queues;
            var live = _projection.LiveJobs.GroupBy(j => j.JobType, StringComparer.Ordinal).ToDictionary(
                g => g.Key, g => (Pending: g.LongCount(j => j.Status == JobStatus.Pending), Active: g.LongCount(j => j.Status != JobStatus.Pending)),
                StringComparer.Ordinal);
            return [.. live.Keys.Concat(queues.Paused).Concat(queues.Finished.Keys).Distinct(StringComparer.Ordinal).Select(type =>
            {
                var (pending, active) = live.GetValueOrDefault(type);
                var (completed, failed) = queues.Finished.GetValueOrDefault(type);
                return new QueueGauge(type, pending, active, queues.Paused.Contains(type), completed, failed);
            })];
        }
    }

    /// <summary>Workers by state as of the last applied event.</summary>
    public IReadOnlyList<(string Id, string Status)> WorkerStates()
    {
        lock (_lock)
        {
            return [.. _projection.Workers.Values.Select(w => (w.Id, w.Status))];
        }
    }

    /// <summary>Completes when the next events have been applied.</summary>
    public Task WaitForChangeAsync(CancellationToken cancellationToken) => Volatile.Read(ref _advanced).Task.WaitAsync(cancellationToken);

    public (SnapshotData Data, string Epoch, long Seq) Snapshot()
    {
        lock (_lock)
        {
            return (_projection.Snapshot(), _epoch, _seq);
        }
    }

    /// <summary>The projection's whole state with the seq and epoch it reflects (a base for history when the log was trimmed before checkpoints existed).</summary>
    public (HubProjectionState State, string Epoch, long Seq) Export()
    {
        lock (_lock)
        {
            return (_projection.Export(), _epoch, _seq);
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
                            _projection.Apply(evt);
                            RememberAttributes(evt);
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
        lock (_lock)
        {
            _epoch = snapshot.Epoch;
            _seq = snapshot.Seq;
            _projection.Load(snapshot, paused.Keys);
            foreach (var job in snapshot.Unfinished)
            {
                Remember(job.Id, new JobAttributes(job.JobType, job.Priority, job.WorkerId));
            }
        }
    }

    /// <summary>Keeps a job's type, priority and worker after each of its events, for filters on events that lack them.</summary>
    private void RememberAttributes(CharterEvent evt)
    {
        if (evt.Source == HubEvents.Source && evt.Type.StartsWith("job_", StringComparison.Ordinal)
            && evt.Payload.TryGetProperty("job_id", out var idValue) && idValue.GetString() is { } id
            && _projection.TryGetLiveJob(id, out var job))
        {
            Remember(id, new JobAttributes(job.JobType, job.Priority, job.WorkerId));
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

    /// <summary>Workers offline for longer than the retention leave the read model, as they leave storage.</summary>
    private void PruneOfflineWorkers()
    {
        var now = time.GetUtcNow();
        if (now - _lastPrune < PruneEvery)
        {
            return;
        }
        _lastPrune = now;
        _projection.PruneOfflineWorkers(EventBus.UnixSeconds(now - _offlineRetention));
    }

    [LoggerMessage(EventId = 4001, Level = LogLevel.Warning, Message = "Monitor state: the event log was replaced (epoch {Epoch}); reloaded from storage")]
    private static partial void LogReset(ILogger logger, string epoch);

    [LoggerMessage(EventId = 4002, Level = LogLevel.Error, Message = "Monitor state could not apply events; retrying")]
    private static partial void LogApplyFailed(ILogger logger, Exception exception);
}

/// <summary>What filters need to know about a job.</summary>
public readonly record struct JobAttributes(string JobType, int Priority, string? WorkerId);
