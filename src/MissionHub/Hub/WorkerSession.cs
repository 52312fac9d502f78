namespace MissionHub.Hub;

/// <summary>What the broker needs of a worker's connection: queue a frame, close it.</summary>
public interface IWorkerLink
{
    /// <summary>Queues a frame without waiting; false if the connection is gone or not reading.</summary>
    bool TrySend(ReadOnlyMemory<byte> frame);

    void Close(string reason);
}

/// <summary>
/// One registered worker connection as the broker sees it. Mutable fields are only touched under the
/// broker's lock, except <see cref="LastSeen"/>, which the connection updates on every frame.
/// </summary>
public sealed class WorkerSession(string workerId, IReadOnlyList<string> jobTypes, int maxConcurrentJobs, IWorkerLink link, DateTimeOffset connectedAt)
{
    private long _lastSeenTicks = connectedAt.UtcTicks;

    public string WorkerId { get; } = workerId;

    public IReadOnlyList<string> JobTypes { get; } = jobTypes;

    public int MaxConcurrentJobs { get; } = maxConcurrentJobs;

    public IWorkerLink Link { get; } = link;

    public DateTimeOffset ConnectedAt { get; } = connectedAt;

    public DateTimeOffset LastSeen => new(Interlocked.Read(ref _lastSeenTicks), TimeSpan.Zero);

    /// <summary>Jobs this connection holds now.</summary>
    internal HashSet<string> Active { get; } = new(StringComparer.Ordinal);

    /// <summary>Worker events (connected, status changes) are published in order along this chain.</summary>
    internal Task EventTail { get; set; } = Task.CompletedTask;

    internal string Status => Active.Count == 0 ? WorkerStatus.Idle : WorkerStatus.Busy;

    public void Touch(DateTimeOffset now) => Interlocked.Exchange(ref _lastSeenTicks, now.UtcTicks);
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
