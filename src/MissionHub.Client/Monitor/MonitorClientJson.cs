using System.Text.Json;
using System.Text.Json.Serialization;

namespace MissionHub.Client;

// Wire shapes of /ws/monitor (spec 003 §2 and §5, DESIGN.md §4) as the client reads and writes them.
// Snapshot jobs and stats arrive exactly as the public state records, so they are read straight into those.

internal sealed record SnapshotCapabilities(IReadOnlyList<string> JobTypes, int MaxConcurrentJobs);

internal sealed record SnapshotWorker(string Id, string Status, SnapshotCapabilities Capabilities, string ConnectedAt, IReadOnlyList<string> CurrentJobs);

internal sealed record SnapshotJobs(
    IReadOnlyList<MonitorJobState> Pending, IReadOnlyList<MonitorJobState> Active, IReadOnlyList<MonitorJobState> Completed, IReadOnlyList<MonitorJobState> Failed);

internal sealed record SnapshotData(IReadOnlyDictionary<string, SnapshotWorker> Workers, SnapshotJobs Jobs, MonitorSystemStats SystemStats);

internal sealed record FullStateSnapshotMessage(string Type, SnapshotData Data, string Epoch, long Seq, long Timestamp);

internal sealed record MonitorConnectMessage(string Type, string MonitorId, bool RequestFullState, long Timestamp);

internal sealed record FiltersMessage(IReadOnlyList<string>? JobTypes, IReadOnlyList<string>? WorkerIds, IReadOnlyList<int>? PriorityRange);

internal sealed record SubscribeMessage(string Type, string MonitorId, IReadOnlyList<string> Topics, FiltersMessage? Filters, bool Batching, long Timestamp);

internal sealed record MonitorHeartbeatMessage(string Type, string MonitorId, long Timestamp);

internal sealed record ResyncRequestMessage(
    string Type, string MonitorId, long LastSeq, string Epoch, IReadOnlyList<string> Topics, FiltersMessage? Filters, bool Batching, long Timestamp);

[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(FullStateSnapshotMessage))]
[JsonSerializable(typeof(MonitorConnectMessage))]
[JsonSerializable(typeof(SubscribeMessage))]
[JsonSerializable(typeof(MonitorHeartbeatMessage))]
[JsonSerializable(typeof(ResyncRequestMessage))]
internal sealed partial class MonitorClientJsonContext : JsonSerializerContext;
