namespace MissionHub.Hub;

/// <summary>What the hub needs of a worker's connection: queue a frame, close it.</summary>
public interface IWorkerLink
{
    /// <summary>Queues a frame without waiting; false if the connection is gone or not reading.</summary>
    bool TrySend(byte[] frame);

    void Close(string reason);
}

/// <summary>
/// One registered worker connection of this process. Storage holds the truth (which jobs it holds, their leases);
/// <see cref="Active"/> is this process's copy, used to count free slots and to route frames.
/// </summary>
public sealed class WorkerSession(string workerId, string sessionId, IReadOnlyList<string> jobTypes, int maxConcurrentJobs, IWorkerLink link, DateTimeOffset connectedAt)
{
    private readonly Lock _lock = new();
    private readonly HashSet<string> _active = new(StringComparer.Ordinal);
    private readonly Dictionary<string, int> _milestones = new(StringComparer.Ordinal);
    private long _lastSeenTicks = connectedAt.UtcTicks;

    public string WorkerId { get; } = workerId;

    public string SessionId { get; } = sessionId;

    public JobHolder Holder { get; } = new(workerId, sessionId);

    public IReadOnlyList<string> JobTypes { get; } = jobTypes;

    public int MaxConcurrentJobs { get; } = maxConcurrentJobs;

    public IWorkerLink Link { get; } = link;

    public DateTimeOffset ConnectedAt { get; } = connectedAt;

    public DateTimeOffset LastSeen => new(Interlocked.Read(ref _lastSeenTicks), TimeSpan.Zero);

    /// <summary>Set once the connection is ending: no more jobs are claimed for it.</summary>
    public bool Closing { get; private set; }

    /// <summary>Registered in storage: until then it takes no jobs.</summary>
    public bool Ready { get; set; }

    public void Touch(DateTimeOffset now) => Interlocked.Exchange(ref _lastSeenTicks, now.UtcTicks);

    private int _framesInHand;

    /// <summary>The server starts handling a frame of this worker: until <see cref="EndFrame"/> it counts as alive.</summary>
    public void BeginFrame(DateTimeOffset now)
    {
        Touch(now);
        Interlocked.Increment(ref _framesInHand);
    }

    public void EndFrame(DateTimeOffset now)
    {
        Touch(now);
        Interlocked.Decrement(ref _framesInHand);
    }

    /// <summary>
    /// Heard from within <paramref name="timeout"/>, or a frame of it is still being handled: a worker waiting on the
    /// server (a slow store) is not a silent one, and keeps its leases.
    /// </summary>
    public bool IsAlive(DateTimeOffset now, TimeSpan timeout) => Volatile.Read(ref _framesInHand) > 0 || now - LastSeen < timeout;

    public void MarkClosing() => Closing = true;

    public int FreeSlots
    {
        get
        {
            lock (_lock)
            {
                return Closing || !Ready ? 0 : Math.Max(0, MaxConcurrentJobs - _active.Count);
            }
        }
    }

    public bool Holds(string jobId)
    {
        lock (_lock)
        {
            return _active.Contains(jobId);
        }
    }

    public void Add(string jobId)
    {
        lock (_lock)
        {
            _active.Add(jobId);
            _milestones[jobId] = 0;
        }
    }

    public bool Remove(string jobId)
    {
        lock (_lock)
        {
            _milestones.Remove(jobId);
            return _active.Remove(jobId);
        }
    }

    /// <summary>True the first time this attempt passes <paramref name="milestone"/> (the mission log notes each quarter once).</summary>
    public bool PassMilestone(string jobId, int milestone)
    {
        lock (_lock)
        {
            if (milestone <= _milestones.GetValueOrDefault(jobId))
            {
                return false;
            }
            _milestones[jobId] = milestone;
            return true;
        }
    }
}

/// <summary>A worker as listed: connected or not (offline workers stay listed).</summary>
public sealed record WorkerInfo(
    string Id,
    string Status,
    IReadOnlyList<string> JobTypes,
    int MaxConcurrentJobs,
    DateTimeOffset ConnectedAt,
    DateTimeOffset LastSeen,
    IReadOnlyList<string> CurrentJobs,
    string? DisconnectReason);

/// <summary>A worker as the stores keep it (times in Unix seconds).</summary>
public sealed record StoredWorker(
    string WorkerId,
    string SessionId,
    string NodeId,
    string Status,
    IReadOnlyList<string> JobTypes,
    int MaxConcurrentJobs,
    double ConnectedAt,
    double LastSeen,
    string? Reason)
{
    public WorkerInfo ToInfo(IReadOnlyList<string> currentJobs) => new(
        WorkerId, Status, JobTypes, MaxConcurrentJobs, FromUnix(ConnectedAt), FromUnix(LastSeen), currentJobs, Reason);

    private static DateTimeOffset FromUnix(double seconds) => DateTimeOffset.FromUnixTimeMilliseconds((long)Math.Round(seconds * 1000));
}

[System.Text.Json.Serialization.JsonSourceGenerationOptions(PropertyNamingPolicy = System.Text.Json.Serialization.JsonKnownNamingPolicy.SnakeCaseLower)]
[System.Text.Json.Serialization.JsonSerializable(typeof(StoredWorker))]
[System.Text.Json.Serialization.JsonSerializable(typeof(IReadOnlyList<string>))]
[System.Text.Json.Serialization.JsonSerializable(typeof(string))]
internal sealed partial class HubStoreJsonContext : System.Text.Json.Serialization.JsonSerializerContext;
