using System.Text.Json;

namespace MissionHub.Client;

/// <summary>A job as a monitor sees it (spec 003 §2).</summary>
public sealed record MonitorJobState(
    string Id,
    string JobType,
    string Status,
    int Priority,
    string? WorkflowId,
    string? WorkerId,
    double Progress,
    int Attempts,
    double CreatedAt,
    double? AssignedAt,
    double? CompletedAt,
    string? Error,
    JsonElement? Result);

/// <summary>A worker as a monitor sees it: <c>idle</c>, <c>busy</c> or <c>offline</c>, with the jobs it holds.</summary>
public sealed record MonitorWorkerState(
    string Id,
    string Status,
    IReadOnlyList<string> JobTypes,
    int MaxConcurrentJobs,
    string ConnectedAt,
    IReadOnlyList<string> CurrentJobs);

/// <summary>The <c>system_stats</c> of spec 003 §1.</summary>
/// <summary><see cref="CancelledJobs"/>: 0 from a hub that does not send it.</summary>
public sealed record MonitorSystemStats(
    long TotalWorkers, long ActiveWorkers, long TotalJobs, long PendingJobs, long ActiveJobs, long CompletedJobs, long FailedJobs, long CancelledJobs = 0);

/// <summary>
/// A copy of a <see cref="MonitorClient"/>'s state at one point of the stream (<see cref="LastSeq"/> in
/// <see cref="Epoch"/>): every worker seen, every unfinished job, and the newest finished ones.
/// </summary>
public sealed record MonitorStateSnapshot(
    IReadOnlyDictionary<string, MonitorWorkerState> Workers,
    IReadOnlyDictionary<string, MonitorJobState> Jobs,
    IReadOnlyList<MonitorJobState> Completed,
    IReadOnlyList<MonitorJobState> Failed,
    MonitorSystemStats SystemStats,
    string? Epoch,
    long LastSeq)
{
    /// <summary>Unfinished jobs by status, and finished jobs by status since the snapshot (cancelled ones counted from the snapshot on).</summary>
    public MonitorJobCounts Counts { get; init; } = new(0, 0, 0, 0, 0, 0);

    /// <summary>Pending jobs, oldest first.</summary>
    public IEnumerable<MonitorJobState> Pending => Jobs.Values.Where(j => j.Status == "pending").OrderBy(j => j.CreatedAt);

    /// <summary>Assigned or running jobs, oldest first.</summary>
    public IEnumerable<MonitorJobState> Active => Jobs.Values.Where(j => j.Status is "assigned" or "running").OrderBy(j => j.CreatedAt);
}

/// <summary>Jobs by status as a monitor's local state counts them.</summary>
public sealed record MonitorJobCounts(long Pending, long Assigned, long Running, long Completed, long Failed, long Cancelled);

/// <summary>Why <see cref="MonitorClient.StateChanged"/> was raised.</summary>
public enum MonitorStateChange
{
    /// <summary>A full snapshot replaced the state.</summary>
    Snapshot,

    /// <summary>Live events were applied.</summary>
    Events,

    /// <summary>Events replayed by a resync were applied (<see cref="MonitorStateChangedEventArgs.ResyncDone"/> says whether it is complete).</summary>
    Resync,
}

/// <summary>What changed in a monitor's local state, and as of which seq.</summary>
public sealed class MonitorStateChangedEventArgs(MonitorStateChange change, long lastSeq, int eventsApplied, bool resyncDone) : EventArgs
{
    /// <summary>What kind of change.</summary>
    public MonitorStateChange Change { get; } = change;

    /// <summary>The seq the local state now reflects.</summary>
    public long LastSeq { get; } = lastSeq;

    /// <summary>Events applied by this change (0 for a snapshot).</summary>
    public int EventsApplied { get; } = eventsApplied;

    /// <summary>True when this change ends a resync.</summary>
    public bool ResyncDone { get; } = resyncDone;
}

/// <summary>One event applied, in seq order, never twice. <see cref="Event"/> is the frame as received (flat hub event or Charter envelope).</summary>
public sealed class MonitorEventAppliedEventArgs(long seq, string type, JsonElement @event) : EventArgs
{
    /// <summary>The event's seq.</summary>
    public long Seq { get; } = seq;

    /// <summary>The event's type.</summary>
    public string Type { get; } = type;

    /// <summary>The event as received.</summary>
    public JsonElement Event { get; } = @event;
}
