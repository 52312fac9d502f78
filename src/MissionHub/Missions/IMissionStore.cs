using MissionHub.Events;
using MissionHub.Infrastructure;

namespace MissionHub.Missions;

/// <summary>
/// Where missions, their logs and their counters live. Every write is one atomic step that also keeps the index and
/// the stats exact and appends the change's event to the event log: a SQLite transaction on the file's writer, or one
/// Redis Lua script that also appends to the log's stream. There is no moment where a change exists without its event.
/// Implementations: <c>SqliteMissionStore</c> and <c>RedisMissionStore</c>.
/// </summary>
public interface IMissionStore
{
    /// <summary>Creates tables or checks keys; idempotent, called once at startup.</summary>
    Task InitializeAsync(CancellationToken cancellationToken);

    /// <summary>
    /// Writes the mission (status PENDING), its index entries, the stats, <paramref name="initialLog"/> and the
    /// <paramref name="created"/> event together. Returns false, writing nothing, if a mission with that id exists.
    /// </summary>
    Task<bool> CreateAsync(Mission mission, MissionLogEntry initialLog, CharterEvent created, CancellationToken cancellationToken);

    /// <summary>
    /// <see cref="CreateAsync"/> guarded by an idempotency key, in the same step: when the key was used before its
    /// window ended, nothing is written and the answer names the mission it created and the request it came with.
    /// </summary>
    Task<OnceCreate> CreateOnceAsync(
        Mission mission, MissionLogEntry initialLog, CharterEvent created, IdempotencyClaim claim, CancellationToken cancellationToken);

    Task<Mission?> GetAsync(string id, CancellationToken cancellationToken);

    /// <summary>
    /// Newest first. <paramref name="before"/> is a position from an earlier page (exclusive); null starts at the newest.
    /// </summary>
    Task<MissionListing> ListAsync(MissionStatus? status, long? before, int limit, CancellationToken cancellationToken);

    /// <summary>
    /// Atomically: if the mission is in a state from which <paramref name="to"/> is allowed, writes the new
    /// status and <paramref name="at"/>, moves the counters, appends "Mission status changed" (from/to) and the event
    /// <paramref name="changed"/> makes for the status it changed from.
    /// </summary>
    Task<StatusChange> ChangeStatusAsync(
        string id, MissionStatus to, double at, Func<MissionStatus, CharterEvent> changed, CancellationToken cancellationToken);

    /// <summary>
    /// Appends to the mission's log, with its <paramref name="appended"/> event, unless there is no such mission or its log
    /// already holds <paramref name="maxEntries"/> entries (then nothing is written).
    /// </summary>
    Task<LogAppend> AppendLogAsync(string id, MissionLogEntry entry, CharterEvent appended, int maxEntries, CancellationToken cancellationToken);

    /// <summary>Entries from index <paramref name="from"/> on, oldest first; null if there is no such mission.</summary>
    Task<MissionLogSlice?> ReadLogAsync(string id, long from, int limit, CancellationToken cancellationToken);

    Task<MissionStats> GetStatsAsync(CancellationToken cancellationToken);

    /// <summary>
    /// Missions in order of their last change, (updated_at, id) after (<paramref name="since"/>, <paramref name="afterId"/>);
    /// a null <paramref name="afterId"/> starts at <paramref name="since"/> itself. For incremental readers (the metrics
    /// aggregation), which page on with the last row's position.
    /// </summary>
    Task<IReadOnlyList<MissionChange>> ListChangedAsync(double since, string? afterId, int limit, CancellationToken cancellationToken);
}

/// <summary>What an incremental reader needs of a changed mission.</summary>
public sealed record MissionChange(string Id, MissionStatus Status, double CreatedAt, double UpdatedAt);

/// <summary>A page of missions and, if there may be more, the position to continue before.</summary>
public sealed record MissionListing(IReadOnlyList<Mission> Missions, long? NextBefore);

/// <summary>A run of log entries and, if there may be more, the index to continue from.</summary>
public sealed record MissionLogSlice(IReadOnlyList<MissionLogEntry> Entries, long? NextFrom);

public enum StatusChangeOutcome
{
    /// <summary>The status changed from <see cref="StatusChange.Previous"/>.</summary>
    Changed,

    /// <summary>The mission already had that status; nothing was written.</summary>
    Unchanged,

    /// <summary>The mission's current status does not allow it; nothing was written.</summary>
    Refused,

    NotFound,
}

/// <summary>
/// What a status change did. <see cref="Mission"/> is the mission as it now is (null when not found);
/// <see cref="Previous"/> is the status it had when the change was decided.
/// </summary>
public sealed record StatusChange(StatusChangeOutcome Outcome, Mission? Mission, MissionStatus Previous)
{
    public static readonly StatusChange NotFound = new(StatusChangeOutcome.NotFound, null, default);
}

public enum LogAppend
{
    Appended,
    NoSuchMission,

    /// <summary>The mission's log holds as many entries as one mission may keep.</summary>
    Full,
}

/// <summary>
/// What a guarded create did: <see cref="Created"/>; or the key was known (<see cref="ExistingId"/> and the
/// <see cref="ExistingFingerprint"/> of its first request); or neither, when a mission with the id already exists.
/// </summary>
public sealed record OnceCreate(bool Created, string? ExistingId = null, string? ExistingFingerprint = null);

/// <summary>The store's writes with the log entries and events the service writes beside them.</summary>
public static class MissionStoreWrites
{
    public static Task<bool> CreateAsync(this IMissionStore store, Mission mission, CancellationToken cancellationToken) =>
        store.CreateAsync(mission, MissionLogEntries.Created(mission), MissionEvents.CreatedDraft(mission, EventDrafts.CurrentMeta()), cancellationToken);

    public static Task<StatusChange> ChangeStatusAsync(
        this IMissionStore store, string id, MissionStatus to, double at, CancellationToken cancellationToken)
    {
        var meta = EventDrafts.CurrentMeta();
        return store.ChangeStatusAsync(id, to, at, from => MissionEvents.StatusChangedDraft(id, from, to, at, meta), cancellationToken);
    }

    public static Task<LogAppend> AppendLogAsync(this IMissionStore store, string id, MissionLogEntry entry, int maxEntries, CancellationToken cancellationToken) =>
        store.AppendLogAsync(id, entry, MissionEvents.LogAppendedDraft(id, entry, EventDrafts.CurrentMeta()), maxEntries, cancellationToken);
}
