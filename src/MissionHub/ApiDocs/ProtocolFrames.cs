using System.Text.Json;
using System.Text.Json.Serialization;
using MissionHub.Hub;

namespace MissionHub.ApiDocs;

// The frames clients send. The connections parse these by hand (to name the offending field in an error frame),
// so these records exist to describe them; the AsyncAPI tests check them against the frames the .NET client sends.

public sealed record WorkerRegisterFrame(string Type, string WorkerId, WorkerCapabilities Capabilities, string? CorrelationId, IReadOnlyList<string>? HeldJobs);

public sealed record WorkerHeartbeatFrame(string Type);

public sealed record JobProgressFrame(string Type, string JobId, double Progress);

/// <summary><c>traceparent</c>: the handler span, so the hub's completion span continues the job's trace.</summary>
public sealed record JobCompletedFrame(string Type, string JobId, JsonElement? Result, string? Traceparent);

public sealed record JobFailedFrame(string Type, string JobId, string Error, string? Traceparent);

public sealed record MonitorConnectFrame(string Type, string? MonitorId, bool? RequestFullState);

public sealed record SubscribeFilters(IReadOnlyList<string>? JobTypes, IReadOnlyList<string>? WorkerIds, IReadOnlyList<double>? PriorityRange);

/// <summary>
/// <c>subscribe</c>; <c>batching</c> is <c>true</c>/<c>false</c> (events as they queue up, or one per frame: the default) or
/// <c>{"max_events": N, "max_delay_ms": M}</c> (batches of up to N events, sent at most M ms after the first).
/// </summary>
public sealed record SubscribeFrame(string Type, IReadOnlyList<string> Topics, SubscribeFilters? Filters, JsonElement? Batching);

public sealed record MonitorHeartbeatFrame(string Type);

public sealed record ResyncRequestFrame(string Type, long? LastSeq, string? Epoch, long? LastEventTimestamp);

/// <summary>The <c>resync_data</c> chunk (written by <c>MonitorFrames.ResyncData</c>); events as on the socket.</summary>
public sealed record ResyncDataFrame(string Type, IReadOnlyList<JsonElement> Events, long Timestamp, bool Recovered, string Epoch, long LastSeq, bool Done, string? Reason);

/// <summary>A hub event as monitors receive it: the payload's fields flat beside these.</summary>
public sealed record FlatHubEventFrame(string Type, long Timestamp, long Seq);

/// <summary>What a robot sends: the four spec metrics and any extra numeric field.</summary>
public sealed record TelemetryFrame(double? CpuUsage, double? MemoryUsage, double? NetworkLatencyMs, double? BatteryPercentage);

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower, DefaultIgnoreCondition = JsonIgnoreCondition.Never)]
[JsonSerializable(typeof(WorkerRegisterFrame))]
[JsonSerializable(typeof(WorkerHeartbeatFrame))]
[JsonSerializable(typeof(JobProgressFrame))]
[JsonSerializable(typeof(JobCompletedFrame))]
[JsonSerializable(typeof(JobFailedFrame))]
[JsonSerializable(typeof(MonitorConnectFrame))]
[JsonSerializable(typeof(SubscribeFrame))]
[JsonSerializable(typeof(MonitorHeartbeatFrame))]
[JsonSerializable(typeof(ResyncRequestFrame))]
[JsonSerializable(typeof(ResyncDataFrame))]
[JsonSerializable(typeof(FlatHubEventFrame))]
[JsonSerializable(typeof(TelemetryFrame))]
internal sealed partial class ProtocolFramesJsonContext : JsonSerializerContext;
