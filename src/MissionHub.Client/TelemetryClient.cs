using System.Text.Json;

namespace MissionHub.Client;

/// <summary>The telemetry REST API (<c>/api/telemetry</c>) and the mission metrics. A refusal surfaces as <see cref="MissionHubApiException"/>.</summary>
public sealed class TelemetryClient
{
    private readonly ApiTransport _api;

    /// <summary>A client on <paramref name="http"/>, whose <see cref="HttpClient.BaseAddress"/> is the hub.</summary>
    public TelemetryClient(HttpClient http) => _api = new ApiTransport(http);

    /// <summary><c>GET /api/telemetry/robots</c>.</summary>
    public Task<RobotList> ListRobotsAsync(CancellationToken cancellationToken = default) =>
        _api.GetAsync("api/telemetry/robots", ApiJsonContext.Default.RobotList, cancellationToken);

    /// <summary><c>GET /api/telemetry/robots/{robot_id}/metrics</c>: the latest metrics (the hub emits <c>telemetry.metrics_published</c>).</summary>
    public Task<RobotMetricsReading> GetMetricsAsync(string robotId, CancellationToken cancellationToken = default) =>
        _api.GetAsync($"api/telemetry/robots/{ApiTransport.Segment(robotId)}/metrics", ApiJsonContext.Default.RobotMetricsReading, cancellationToken);

    /// <summary><c>GET /api/telemetry/robots/{robot_id}/history</c>: buckets of <paramref name="step"/> seconds (Unix-second range).</summary>
    public Task<RobotHistory> GetHistoryAsync(string robotId, double? from = null, double? to = null, double? step = null, CancellationToken cancellationToken = default) =>
        _api.GetAsync(ApiTransport.Query($"api/telemetry/robots/{ApiTransport.Segment(robotId)}/history", ("from", from), ("to", to), ("step", step)),
            ApiJsonContext.Default.RobotHistory, cancellationToken);

    /// <summary><c>GET /api/metrics/missions</c>: the latest mission-metrics aggregation, as JSON.</summary>
    public Task<JsonElement> GetMissionMetricsAsync(CancellationToken cancellationToken = default) =>
        _api.GetAsync("api/metrics/missions", ApiJsonContext.Default.JsonElement, cancellationToken);
}
