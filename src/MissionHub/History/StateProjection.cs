using MissionHub.Events;
using MissionHub.Monitor;

namespace MissionHub.History;

/// <summary>
/// The whole console as the log describes it at one seq: the hub (the same <see cref="HubProjection"/> the monitors run),
/// missions and robots. A checkpoint is its <see cref="Export"/>; a rebuild imports the nearest one and applies what follows.
/// </summary>
public sealed class StateProjection(int maxInlineResultBytes, TimeSpan offlineRetention)
{
    /// <summary>
    /// The event types a rebuild cannot do without; retention of others never keeps a state from being rebuilt. Robots' metrics
    /// come from <c>telemetry.metrics_published</c>, which read endpoints publish and retention keeps for a short time by
    /// default: a rebuild applies those still in the log (and a checkpoint holds the metrics as they were), but does not need them.
    /// </summary>
    public static readonly EventFilter Requires = EventFilter.Create(
        "job_*,jobs_purged,worker_*,queue_*,mission.*,telemetry.connection_*,telemetry.alert_*");

    public HubProjection Hub { get; } = new(maxInlineResultBytes);

    public MissionProjection Missions { get; } = new();

    public RobotProjection Robots { get; } = new();

    public string Epoch { get; private set; } = "";

    /// <summary>The seq of the last event applied.</summary>
    public long Seq { get; private set; }

    /// <summary>The seq of the checkpoint this projection started from (0: the start of the log).</summary>
    public long BaseSeq { get; private set; }

    /// <summary>When the last event applied happened (Unix s), or null at the start of the log.</summary>
    public double? Timestamp { get; private set; }

    public static StateProjection Empty(string epoch, int maxInlineResultBytes, TimeSpan offlineRetention) =>
        new(maxInlineResultBytes, offlineRetention) { Epoch = epoch };

    public void Apply(CharterEvent evt)
    {
        ArgumentNullException.ThrowIfNull(evt);
        Hub.Apply(evt);
        Missions.Apply(evt);
        Robots.Apply(evt);
        Seq = evt.Seq;
        Timestamp = evt.Timestamp;
    }

    /// <summary>Moves past events this projection never saw because retention removed them (of types it does not read).</summary>
    public void SkipTo(long seq) => Seq = Math.Max(Seq, seq);

    /// <summary>
    /// Agents offline for longer than the retention leave, as of the last event's time (not the clock), so the same seq
    /// always rebuilds the same state whichever checkpoint it started from.
    /// </summary>
    public void Prune()
    {
        if (Timestamp is { } at)
        {
            var cutoff = at - offlineRetention.TotalSeconds;
            Hub.PruneOfflineWorkers(cutoff);
            Robots.PruneOffline(cutoff);
        }
    }

    public StateCheckpoint Export()
    {
        Prune();
        return new StateCheckpoint(Epoch, Seq, Timestamp, Hub.Export(), Missions.Export(), Robots.Export());
    }

    /// <param name="baseSeq">The stored checkpoint the state was first rebuilt from, when it is a state kept in memory (default: this one).</param>
    public static StateProjection Import(StateCheckpoint checkpoint, int maxInlineResultBytes, TimeSpan offlineRetention, long? baseSeq = null)
    {
        ArgumentNullException.ThrowIfNull(checkpoint);
        var projection = new StateProjection(maxInlineResultBytes, offlineRetention)
        {
            Epoch = checkpoint.Epoch,
            Seq = checkpoint.Seq,
            BaseSeq = baseSeq ?? checkpoint.Seq,
            Timestamp = checkpoint.Timestamp,
        };
        projection.Hub.Import(checkpoint.Hub);
        projection.Missions.Import(checkpoint.Missions);
        projection.Robots.Import(checkpoint.Robots);
        return projection;
    }

    /// <summary>The answer of <c>GET /api/state</c> for this state.</summary>
    public StateResponse ToResponse(long firstSeq, long lastSeq, long checkpointSeq)
    {
        Prune();
        var snapshot = Hub.Snapshot();
        return new StateResponse(
            Epoch, Seq, Timestamp, firstSeq, lastSeq, checkpointSeq,
            new StateJobs(snapshot.Jobs.Pending, snapshot.Jobs.Active, snapshot.Jobs.Completed, Hub.RecentFailedAndCancelled()),
            Hub.Counts,
            snapshot.Workers,
            Robots.Robots,
            Missions.Missions());
    }
}
