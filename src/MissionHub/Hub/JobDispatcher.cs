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
        var claimed = await store.ClaimAsync(free, EventBus.UnixSeconds(time.GetUtcNow()) + options.Value.WorkerHeartbeatTimeout.TotalSeconds);
        foreach (var (holder, job) in claimed)
        {
            if (sessions.Find(holder.SessionId) is not { } session)
            {
                continue; // the connection closed during the claim; it settles its jobs once this pass is over
            }
            await DeliverAsync(session, job);
        }
    }

    /// <summary>Sends a job claimed for the session, and notes what follows from it (its timeout, its mission's log).</summary>
    public async Task DeliverAsync(WorkerSession session, Job job)
    {
        if (job.WorkflowId is not null)
        {
            // Before the worker hears of it, so the mission's log reads in the order things happened.
            await journal.AssignedAsync(job);
        }
        sessions.Assign(session, job);
        if (job is { TimeoutS: { } timeout, AssignedAt: { } assignedAt })
        {
            DeadlineSet?.Invoke(assignedAt + timeout);
        }
    }

    [LoggerMessage(EventId = 3010, Level = LogLevel.Error, Message = "Claiming pending jobs for this process's workers failed; the next wake tries again")]
    private static partial void LogClaimFailed(ILogger logger, Exception exception);
}
