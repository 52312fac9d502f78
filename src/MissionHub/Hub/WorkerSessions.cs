using System.Collections.Concurrent;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;

namespace MissionHub.Hub;

/// <summary>
/// The worker connections this process holds, by session, and the frames the hub sends them. A cache of what storage
/// says: a connection lost with its process loses nothing, since its jobs are leased in storage.
/// </summary>
public sealed partial class WorkerSessions(ILogger<WorkerSessions> logger)
{
    private readonly ConcurrentDictionary<string, WorkerSession> _sessions = new(StringComparer.Ordinal);

    public ICollection<WorkerSession> All => _sessions.Values;

    public void Add(WorkerSession session) => _sessions[session.SessionId] = session;

    public void Remove(WorkerSession session) => _sessions.TryRemove(new KeyValuePair<string, WorkerSession>(session.SessionId, session));

    public WorkerSession? Find(string sessionId) => _sessions.GetValueOrDefault(sessionId);

    /// <summary>Sends <c>job_assigned</c>; the session now holds the job.</summary>
    public void Assign(WorkerSession session, Job job)
    {
        session.Add(job.Id);
        Send(session, job.Id, Frame(new JobAssignedMessage("job_assigned",
            new AssignedJob(job.Id, job.JobType, job.Priority, job.Payload, job.Attempts, job.TimeoutS, Tracing.MissionHubTracing.Dispatch(job, session.WorkerId))),
            HubJsonContext.Default.JobAssignedMessage));
    }

    /// <summary>The job was taken from the session (cancelled, timed out, lease lost): it is told to stop.</summary>
    public void Revoke(string sessionId, string jobId, string reason)
    {
        if (Find(sessionId) is { } session && session.Remove(jobId))
        {
            Send(session, jobId, Frame(new JobCancelledMessage("job_cancelled", jobId, reason), HubJsonContext.Default.JobCancelledMessage));
        }
    }

    /// <summary>A notice from another process (or this one) about a session held here.</summary>
    public void Handle(HubNotice notice)
    {
        switch (notice.Kind)
        {
            case "replaced":
                Find(notice.SessionId)?.Link.Close("replaced");
                break;
            case "expired":
                Find(notice.SessionId)?.Link.Close("heartbeat_timeout");
                break;
            case "revoke" when notice.JobId is not null:
                Revoke(notice.SessionId, notice.JobId, notice.Reason ?? "cancelled");
                break;
        }
    }

    private void Send(WorkerSession session, string jobId, byte[] frame)
    {
        if (!session.Link.TrySend(frame))
        {
            LogSendFailed(logger, session.WorkerId, jobId);
        }
    }

    internal static byte[] Frame<T>(T message, JsonTypeInfo<T> info) => JsonSerializer.SerializeToUtf8Bytes(message, info);

    [LoggerMessage(EventId = 3007, Level = LogLevel.Warning, Message = "Could not queue a frame for worker {WorkerId} (job {JobId}): the connection is gone or not reading")]
    private static partial void LogSendFailed(ILogger logger, string workerId, string jobId);
}
