using System.Text.Json.Serialization;

namespace MissionHub.Metrics;

public static class MetricsEvents
{
    public const string Source = "metrics_service";
    public const string JobId = "aggregate_mission_metrics";
    public const string AggregationStarted = "metrics.aggregation_started";
    public const string AggregationCompleted = "metrics.aggregation_completed";
    public const string AggregationFailed = "metrics.aggregation_failed";
}

// ---- Event payloads (spec 004; keys exactly as there) ----

public sealed record AggregationStartedPayload(string JobId, double StartedAt);

public sealed record AggregationCompletedPayload(string JobId, long EntriesProcessed, long DurationMs, double CompletedAt);

public sealed record AggregationFailedPayload(string JobId, string ErrorMessage, string ErrorType, double FailedAt);

// ---- GET /api/metrics/missions ----

/// <summary>Nearest-rank percentiles of created → final-state durations, in seconds; null when no mission finished.</summary>
public sealed record DurationStats(long Count, double? P50, double? P95, double? Max);

/// <summary>What happened within one window ending at the aggregation time.</summary>
public sealed record WindowStats(
    string Window,
    double Seconds,
    long Created,
    long Completed,
    long Failed,
    long Cancelled,
    double? SuccessRate,
    DurationStats DurationSeconds);

public sealed record JobStats(
    IReadOnlyDictionary<string, long> ByStatus,
    long Total,
    double? CompletedPerMinute,
    double? FailedPerMinute,
    double? FailureRate);

/// <summary>
/// The latest aggregation. <see cref="SuccessRate"/> is COMPLETED / (COMPLETED + FAILED + CANCELLED) over every stored mission;
/// each window's is the same over the missions that reached a final state within it.
/// </summary>
public sealed record MissionMetrics(
    double AggregatedAt,
    long Total,
    IReadOnlyDictionary<string, long> ByStatus,
    double? SuccessRate,
    IReadOnlyList<WindowStats> Windows,
    JobStats Jobs,
    long EntriesProcessed,
    long DurationMs);

public sealed record AggregationRun(string Status, double At, long? DurationMs, string? ErrorMessage, string? ErrorType);

public sealed record MissionMetricsResponse(MissionMetrics? Metrics, AggregationRun? LastRun, long Runs, long Failures);

[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower,
    DefaultIgnoreCondition = JsonIgnoreCondition.Never)]
[JsonSerializable(typeof(AggregationStartedPayload))]
[JsonSerializable(typeof(AggregationCompletedPayload))]
[JsonSerializable(typeof(AggregationFailedPayload))]
[JsonSerializable(typeof(MissionMetricsResponse))]
public sealed partial class MetricsJsonContext : JsonSerializerContext;
