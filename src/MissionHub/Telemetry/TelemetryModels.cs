using System.Text.Json.Serialization;

namespace MissionHub.Telemetry;

/// <summary>One telemetry frame as stored: when it arrived and its numeric fields.</summary>
public sealed record TelemetrySample(string RobotId, double Timestamp, IReadOnlyDictionary<string, double> Values);

public static class TelemetryMetricNames
{
    public const string CpuUsage = "cpu_usage";
    public const string MemoryUsage = "memory_usage";
    public const string NetworkLatencyMs = "network_latency_ms";
    public const string BatteryPercentage = "battery_percentage";

    /// <summary>The four fields of spec 004; others a robot sends are kept as extras.</summary>
    public static readonly string[] Standard = [CpuUsage, MemoryUsage, NetworkLatencyMs, BatteryPercentage];
}

public static class TelemetryCloseReasons
{
    public const string ClientDisconnect = "client_disconnect";
    public const string ServerShutdown = "server_shutdown";
    public const string HeartbeatTimeout = "heartbeat_timeout";
    public const string Replaced = "replaced";
    public const string Error = "error";
}

public static class TelemetryEvents
{
    public const string Source = "telemetry_service";
    public const string ConnectionEstablished = "telemetry.connection_established";
    public const string ConnectionClosed = "telemetry.connection_closed";
    public const string MetricsPublished = "telemetry.metrics_published";
    public const string AlertRaised = "telemetry.alert_raised";
    public const string AlertCleared = "telemetry.alert_cleared";
}

// ---- Event payloads (spec 004; keys exactly as there) ----

public sealed record ConnectionEstablishedPayload(string RobotId, string ConnectionId, double ConnectedAt);

public sealed record ConnectionClosedPayload(string RobotId, string ConnectionId, double DurationSeconds, string Reason, double DisconnectedAt);

/// <summary>The four spec metrics; a value the robot never sent is null.</summary>
public sealed record RobotMetrics(double? CpuUsage, double? MemoryUsage, double? NetworkLatencyMs, double? BatteryPercentage);

public sealed record MetricsPublishedPayload(string RobotId, RobotMetrics Metrics, double PublishedAt);

public sealed record AlertRaisedPayload(
    string RobotId, string Alert, string Metric, double Value, double Threshold, int ConsecutiveFrames, double RaisedAt);

public sealed record AlertClearedPayload(
    string RobotId, string Alert, string Metric, double Value, double Threshold, double DurationSeconds, double ClearedAt);

// ---- Socket frames to the robot ----

public sealed record TelemetryErrorFrame(string Type, string Code, string Message);

// ---- HTTP responses ----

public sealed record RobotSummary(
    string RobotId,
    string State,
    bool Connected,
    string? ConnectionId,
    double? ConnectedAt,
    double? LastSeen,
    string? DisconnectReason,
    RobotMetrics Metrics,
    IReadOnlyDictionary<string, double> Extra,
    IReadOnlyList<string> ActiveAlerts);

public sealed record RobotList(IReadOnlyList<RobotSummary> Robots, int Count);

public sealed record RobotMetricsResponse(
    string RobotId, string State, RobotMetrics Metrics, IReadOnlyDictionary<string, double> Extra, double Timestamp);

public sealed record MetricSummary(double Min, double Avg, double Max);

public sealed record HistoryBucket(double Start, double End, int Count, IReadOnlyDictionary<string, MetricSummary> Metrics);

public sealed record RobotHistory(string RobotId, double From, double To, double Step, int SampleCount, IReadOnlyList<HistoryBucket> Buckets);

[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower,
    DefaultIgnoreCondition = JsonIgnoreCondition.Never)]
[JsonSerializable(typeof(ConnectionEstablishedPayload))]
[JsonSerializable(typeof(ConnectionClosedPayload))]
[JsonSerializable(typeof(MetricsPublishedPayload))]
[JsonSerializable(typeof(AlertRaisedPayload))]
[JsonSerializable(typeof(AlertClearedPayload))]
[JsonSerializable(typeof(TelemetryErrorFrame))]
[JsonSerializable(typeof(RobotList))]
[JsonSerializable(typeof(RobotMetricsResponse))]
[JsonSerializable(typeof(RobotHistory))]
[JsonSerializable(typeof(Dictionary<string, double>))]
public sealed partial class TelemetryJsonContext : JsonSerializerContext;
