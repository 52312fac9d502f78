using Microsoft.Extensions.Options;
using MissionHub.Events;

namespace MissionHub.Hub;

/// <summary>
/// Keeps the leases of this process's connections alive and sweeps the hub's deadlines. Renewal: every third of
/// <see cref="HubOptions.WorkerHeartbeatTimeout"/>, every connection seen within the timeout extends its jobs' leases.
/// Sweep: expired leases (a worker or a whole process gone), passed timeouts and delayed jobs that came due are
/// settled in storage — each exactly once, whichever process sweeps first — at the next deadline and at least once a
/// second. The sweep also wakes the dispatcher, a safety net for a wake-up lost with a crashed process.
/// </summary>
public sealed partial class LeaseKeeper(
    IJobStore store,
    WorkerSessions sessions,
    JobHub hub,
    JobDispatcher dispatcher,
    IHubSignals signals,
    IOptions<HubOptions> options,
    TimeProvider time,
    ILogger<LeaseKeeper> logger) : BackgroundService
{
    private static readonly TimeSpan MaxSweepInterval = TimeSpan.FromSeconds(1);
    private readonly Lock _lock = new();
    private TaskCompletionSource _earlier = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private double _nextDue = double.MaxValue;

    /// <summary>Sweep no later than <paramref name="due"/> (Unix seconds).</summary>
    public void SweepBy(double due)
    {
        lock (_lock)
        {
            if (due >= _nextDue)
            {
                return;
            }
            _nextDue = due;
        }
        _earlier.TrySetResult();
    }

    public override Task StartAsync(CancellationToken cancellationToken)
    {
        hub.JobDueLater += SweepBy;
        dispatcher.DeadlineSet += SweepBy;
        return base.StartAsync(cancellationToken);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var timeout = options.Value.WorkerHeartbeatTimeout;
        var renewEvery = timeout / 3;
        var lastRenewal = time.GetUtcNow();
        while (!stoppingToken.IsCancellationRequested)
        {
            var now = time.GetUtcNow();
            try
            {
                if (now - lastRenewal >= renewEvery)
                {
                    lastRenewal = now;
                    var live = sessions.All.Where(s => s.Ready && !s.Closing && s.IsAlive(now, timeout)).Select(s => s.Holder).ToList();
                    await store.RenewLeasesAsync(live, Unix(now) + timeout.TotalSeconds, stoppingToken);
                }
                await SweepAsync(Unix(now), stoppingToken);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                LogSweepFailed(logger, ex);
            }
            await WaitForNextAsync(renewEvery, stoppingToken);
        }
    }

    private async Task SweepAsync(double now, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            _nextDue = double.MaxValue;
            _earlier = new(TaskCreationOptions.RunContinuationsAsynchronously);
        }
        var sweep = await store.SweepAsync(now, now - options.Value.WorkerHeartbeatTimeout.TotalSeconds,
            new RetryBackoff(options.Value.RetryBaseDelay, options.Value.RetryMaxDelay), cancellationToken);
        foreach (var worker in sweep.Silent)
        {
            // Storage counts it gone; a connection still open somewhere is closed, and the worker registers anew.
            LogWorkerExpired(logger, worker.WorkerId, worker.NodeId);
            signals.Notify(worker.NodeId, new HubNotice("expired", worker.SessionId));
        }
        foreach (var step in sweep.TakenBack)
        {
            hub.TellHolder(step, step.Job?.Error?.StartsWith("timed out", StringComparison.Ordinal) == true ? "timeout" : "lease_expired");
            if (step.Job is { } job)
            {
                LogTakenBack(logger, job.Id, step.Holder?.WorkerId, job.Error ?? "", job.Status);
                await hub.JournalAttemptEndedAsync(job);
            }
            await hub.SettleDependentsAsync(step);
        }
        if (sweep.TakenBack.Count > 0 || sweep.Released > 0)
        {
            signals.AnnounceWork();
        }
        dispatcher.Wake();
        if (sweep.NextDue is { } due)
        {
            // The wait after this sweep reads it; signalling here would end that wait at once and sweep again in a loop.
            lock (_lock)
            {
                _nextDue = Math.Min(_nextDue, due);
            }
        }
    }

    private async Task WaitForNextAsync(TimeSpan renewEvery, CancellationToken cancellationToken)
    {
        Task earlier;
        double due;
        lock (_lock)
        {
            earlier = _earlier.Task;
            due = _nextDue;
        }
        var wait = MaxSweepInterval < renewEvery ? MaxSweepInterval : renewEvery;
        var untilDue = due - Unix(time.GetUtcNow());
        if (untilDue < wait.TotalSeconds)
        {
            wait = TimeSpan.FromSeconds(Math.Max(0, untilDue));
        }
        if (wait <= TimeSpan.Zero)
        {
            return;
        }
        try
        {
            await Task.WhenAny(earlier, Task.Delay(wait, time, cancellationToken));
        }
        catch (OperationCanceledException)
        {
        }
    }

    private static double Unix(DateTimeOffset instant) => EventBus.UnixSeconds(instant);

    [LoggerMessage(EventId = 3011, Level = LogLevel.Warning, Message = "Job {JobId} was taken back from worker {WorkerId}: {Reason}; it is now {Status}")]
    private static partial void LogTakenBack(ILogger logger, string jobId, string? workerId, string reason, string status);

    [LoggerMessage(EventId = 3013, Level = LogLevel.Warning, Message = "Worker {WorkerId} (connected to node {NodeId}) was not seen within the heartbeat timeout; storage now lists it offline")]
    private static partial void LogWorkerExpired(ILogger logger, string workerId, string nodeId);

    [LoggerMessage(EventId = 3012, Level = LogLevel.Error, Message = "Renewing leases or sweeping deadlines failed; retrying")]
    private static partial void LogSweepFailed(ILogger logger, Exception exception);
}
