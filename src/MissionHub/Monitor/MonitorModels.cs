using System.Text.Json;
using System.Text.Json.Serialization;
using MissionHub.Hub;

namespace MissionHub.Monitor;

/// <summary>
/// A job as monitors see it (spec 003 §2 snapshot). A result larger than <see cref="HubOptions.MaxInlineResultBytes"/> is not
/// held: <c>result</c> is null, <c>result_truncated</c> is true and <c>result_ref</c> says where the whole result is read
/// (both absent for an inline result). A pending job that may not be handed out yet says when it may in
/// <c>available_at</c> (its <c>run_at</c>, or a failed attempt's backoff); a job a schedule created names it in
/// <c>schedule_id</c> (both absent otherwise).
/// </summary>
public sealed record MonitorJob(
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
    JsonElement? Result,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)] bool ResultTruncated = false,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? ResultRef = null,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] double? AvailableAt = null,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? ScheduleId = null);

/// <summary>A worker as monitors see it.</summary>
public sealed record MonitorWorker(
    string Id,
    string Status,
    WorkerCapabilities Capabilities,
    string ConnectedAt,
    IReadOnlyList<string> CurrentJobs);

public sealed record SnapshotJobs(
    IReadOnlyList<MonitorJob> Pending,
    IReadOnlyList<MonitorJob> Active,
    IReadOnlyList<MonitorJob> Completed,
    IReadOnlyList<MonitorJob> Failed);

public sealed record SnapshotData(IReadOnlyDictionary<string, MonitorWorker> Workers, SnapshotJobs Jobs, SystemStats SystemStats);

/// <summary>The answer to <c>monitor_connect</c>: the state as of <see cref="Seq"/> in <see cref="Epoch"/>.</summary>
public sealed record FullStateSnapshot(string Type, SnapshotData Data, string Epoch, long Seq, long Timestamp);

public sealed record HeartbeatAck(string Type, string? MonitorId, long ServerTimestamp, long EventsMissed, long LastSeq);

public sealed record ServerHeartbeat(string Type, long Timestamp, long LastSeq);

public sealed record EventsMissedNotice(string Type, long Count, long FirstMissedSeq, string Detail);

public sealed record SubscribedMessage(string Type, IReadOnlyList<string> Topics, long Seq, bool Batching);

public sealed record MonitorError(string Type, string Code, string Message);

[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower,
    DefaultIgnoreCondition = JsonIgnoreCondition.Never)]
[JsonSerializable(typeof(FullStateSnapshot))]
[JsonSerializable(typeof(HeartbeatAck))]
[JsonSerializable(typeof(ServerHeartbeat))]
[JsonSerializable(typeof(EventsMissedNotice))]
[JsonSerializable(typeof(SubscribedMessage))]
[JsonSerializable(typeof(MonitorError))]
public sealed partial class MonitorJsonContext : JsonSerializerContext;

/// <summary>One job type for <c>/metrics</c>: live jobs, the pause, and jobs finished since this process started.</summary>
public sealed record QueueGauge(string JobType, long Pending, long Active, bool Paused, long Completed, long Failed);
