using System.Text.Json;
using MissionHub.Agents;
using MissionHub.Events;
using MissionHub.Telemetry;

namespace MissionHub.History;

/// <summary>
/// Robots as their telemetry events (spec 004) describe them: connected or not, last heard of, the metrics last published
/// and the alerts active. Telemetry frames themselves are not events, so the metrics are those of the latest
/// <c>telemetry.metrics_published</c>. Bounded: at most <see cref="MaxRobots"/>, the longest-silent disconnected one leaving first.
/// </summary>
public sealed class RobotProjection
{
    public const int MaxRobots = 1000;

    private readonly Dictionary<string, HistoryRobot> _robots = new(StringComparer.Ordinal);

    public IReadOnlyDictionary<string, HistoryRobot> Robots => _robots;

    public void Apply(CharterEvent evt)
    {
        ArgumentNullException.ThrowIfNull(evt);
        if (evt.Source != TelemetryEvents.Source || !evt.Payload.TryGetProperty("robot_id", out var idValue) || idValue.GetString() is not { } id)
        {
            return;
        }
        var p = evt.Payload;
        var robot = _robots.GetValueOrDefault(id) ?? new HistoryRobot(id, AgentState.Offline, evt.Timestamp, null, null, null, null, null, []);
        robot = evt.Type switch
        {
            TelemetryEvents.ConnectionEstablished => robot with { Status = AgentState.Online, ConnectedAt = Num(p, "connected_at") ?? evt.Timestamp },
            TelemetryEvents.ConnectionClosed => robot with
            {
                Status = Str(p, "reason") is TelemetryCloseReasons.HeartbeatTimeout or TelemetryCloseReasons.Error ? AgentState.ConnectionBroken : AgentState.Offline,
            },
            TelemetryEvents.MetricsPublished when p.TryGetProperty("metrics", out var m) && m.ValueKind == JsonValueKind.Object => robot with
            {
                CpuUsage = Num(m, TelemetryMetricNames.CpuUsage),
                MemoryUsage = Num(m, TelemetryMetricNames.MemoryUsage),
                NetworkLatencyMs = Num(m, TelemetryMetricNames.NetworkLatencyMs),
                BatteryPercentage = Num(m, TelemetryMetricNames.BatteryPercentage),
            },
            TelemetryEvents.AlertRaised when Str(p, "alert") is { } alert => robot with { ActiveAlerts = [.. robot.ActiveAlerts.Append(alert).Distinct()] },
            TelemetryEvents.AlertCleared when Str(p, "alert") is { } alert => robot with { ActiveAlerts = [.. robot.ActiveAlerts.Where(a => a != alert)] },
            _ => robot,
        };
        _robots[id] = robot with { LastSeen = evt.Timestamp };
        if (_robots.Count > MaxRobots)
        {
            var silent = _robots.Values.Where(r => r.Status != AgentState.Online).DefaultIfEmpty(_robots.Values.First())
                .MinBy(r => r.LastSeen)!;
            _robots.Remove(silent.Id);
        }
    }

    /// <summary>Robots disconnected and silent since before <paramref name="cutoff"/> (Unix seconds) leave, as they leave the registry.</summary>
    public void PruneOffline(double cutoff)
    {
        foreach (var robot in _robots.Values.Where(r => r.Status != AgentState.Online && r.LastSeen < cutoff).ToList())
        {
            _robots.Remove(robot.Id);
        }
    }

    public IReadOnlyList<HistoryRobot> Export() => [.. _robots.Values];

    public void Import(IEnumerable<HistoryRobot> robots)
    {
        ArgumentNullException.ThrowIfNull(robots);
        _robots.Clear();
        foreach (var robot in robots)
        {
            _robots[robot.Id] = robot;
        }
    }

    private static string? Str(JsonElement element, string name) =>
        element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;

    private static double? Num(JsonElement element, string name) =>
        element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.Number ? value.GetDouble() : null;
}

/// <summary>A robot in a history view: its state, when last heard of (Unix s), and the latest published metrics.</summary>
public sealed record HistoryRobot(
    string Id,
    string Status,
    double LastSeen,
    double? ConnectedAt,
    double? CpuUsage,
    double? MemoryUsage,
    double? NetworkLatencyMs,
    double? BatteryPercentage,
    IReadOnlyList<string> ActiveAlerts);
