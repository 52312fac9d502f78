using Microsoft.Extensions.Options;
using MissionHub.Events;

namespace MissionHub.Hub;

/// <summary>
/// Matches this process's free worker slots to pending work in storage. It runs when woken — a job became pending
/// on any process, a slot freed, a worker arrived — never on a timer of its own. One claim pass runs at a time; a
/// wake during a pass makes one more pass, so no wake is lost and claims batch up under load.
/// </summary>
public sealed partial class JobDispatcher(
    IJobStore store,
    WorkerSessions sessions,
    MissionJobJournal journal,
    IOptions<HubOptions> options,
    TimeProvider time,
    ILogger<JobDispatcher> logger)
{
    private int _wanted;
    private int _running;
    private Task _pass = Task.CompletedTask;

    /// <summary>The pass now running (or a completed task): a connection that is closing waits for it before it settles its jobs.</summary>
    public Task CurrentPass => Volatile.Read(ref _pass);

    /// <summary>Fires when a deadline (a job's timeout) starts: the lease keeper sweeps then.</summary>
    public event Action<double>? DeadlineSet;

    public void Wake()
    {
        Volatile.Write(ref _wanted, 1);
        if (Interlocked.CompareExchange(ref _running, 1, 0) == 0)
        {
            Volatile.Write(ref _pass, Task.Run(RunAsync));
        }
    }

    private async Task RunAsync()
    {
        while (true)
        {
            while (Interlocked.Exchange(ref _wanted, 0) == 1)
            {
                try
                {
                    await ClaimOnceAsync();
                }
                catch (Exception ex)
                {
                    LogClaimFailed(logger, ex);
                }
            }
            Volatile.Write(ref _running, 0);
            // A wake that came after the last check but before the flag was cleared must not be lost.
            if (Volatile.Read(ref _wanted) == 0 || Interlocked.CompareExchange(ref _running, 1, 0) != 0)
            {
                return;
            }
        }
    }

    private async Task ClaimOnceAsync()
    {
        var free = new List<FreeSlots>();
        foreach (var session in sessions.All)
        {
            if (session.FreeSlots is > 0 and var count)
            {
                free.Add(new FreeSlots(session.Holder, session.JobTypes, count));
            }
        }
        if (free.Count == 0)
        {
            return;
        }
        var now = EventBus.UnixSeconds(time.GetUtcNow());
        var claimed = await store.ClaimAsync(free, now + options.Value.WorkerHeartbeatTimeout.TotalSeconds);
        foreach (var (holder, job) in claimed)
        {
            if (sessions.Find(holder.SessionId) is not { } session)
            {
                continue; // the connection closed during the claim; it settles its jobs once this pass is over
            }
            sessions.Assign(session, job);
            if (job.TimeoutS is { } timeout)
            {
                DeadlineSet?.Invoke(now + timeout);
            }
            if (job.WorkflowId is not null)
            {
                await journal.AssignedAsync(job);
            }
        }
    }

    [LoggerMessage(EventId = 3010, Level = LogLevel.Error, Message = "Claiming pending jobs for this process's workers failed; the next wake tries again")]
    private static partial void LogClaimFailed(ILogger logger, Exception exception);
}
