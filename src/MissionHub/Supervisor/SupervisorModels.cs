using System.Text.Json;
using System.Text.Json.Serialization;
using MissionHub.Agents;
using MissionHub.Events;

namespace MissionHub.Supervisor;

/// <summary>Overall and per-check health states, worst last.</summary>
public static class HealthState
{
    public const string Ok = "ok";
    public const string Degraded = "degraded";
    public const string Error = "error";

    public static int Rank(string state) => state switch
    {
        Ok => 0,
        Degraded => 1,
        _ => 2,
    };

    public static string Worst(IEnumerable<string> states) =>
        states.Aggregate(Ok, (worst, state) => Rank(state) > Rank(worst) ? state : worst);
}

// ---- HTTP responses ----

/// <summary>One component's health: <see cref="State"/> is one of <see cref="HealthState"/>.</summary>
public sealed record HealthCheckResult(string Name, string State, double LatencyMs, string Detail);

/// <summary><c>GET /api/supervisor/health</c>: the worst check decides <see cref="Status"/>; <c>error</c> answers 503.</summary>
public sealed record SupervisorHealth(string Status, DateTime Timestamp, IReadOnlyDictionary<string, HealthCheckResult> Checks);

/// <summary>What an agent can do: job types and slots for workers; empty for robots.</summary>
public sealed record AgentCapabilities(IReadOnlyList<string> JobTypes, int? MaxConcurrentJobs);

/// <summary>One worker or robot. Times are Unix seconds, like the rest of the API.</summary>
public sealed record AgentResponse(
    string Id,
    string Kind,
    string State,
    AgentCapabilities Capabilities,
    double? ConnectedAt,
    double LastSeen,
    IReadOnlyList<string> CurrentJobs,
    JsonElement? Telemetry,
    string? DisconnectReason)
{
    public static AgentResponse From(AgentInfo agent) => new(
        agent.Id,
        agent.Kind,
        agent.State,
        new AgentCapabilities(agent.JobTypes, agent.MaxConcurrentJobs),
        agent.ConnectedAt is { } connected ? EventBus.UnixSeconds(connected) : null,
        EventBus.UnixSeconds(agent.LastSeen),
        agent.CurrentJobs,
        agent.Telemetry,
        agent.DisconnectReason);
}

/// <summary><c>GET /api/supervisor/status</c> (spec 000 <c>SupervisorStatus</c>), from the maintained mission counters.</summary>
public sealed record SupervisorStatus(
    string Status,
    DateTime Timestamp,
    long TotalMissions,
    long RunningMissions,
    long PendingMissions,
    long CompletedMissions,
    long FailedMissions,
    long CancelledMissions,
    IReadOnlyList<AgentResponse> Agents);

// ---- Event payloads (spec 000; keys exactly as there) ----

public sealed record HealthCheckedPayload(string Status, double CheckedAt);

public sealed record StatusQueriedPayload(
    long TotalMissions,
    long RunningMissions,
    long PendingMissions,
    long CompletedMissions,
    long FailedMissions,
    long CancelledMissions,
    int AgentCount,
    double QueriedAt);

public sealed record AgentsListedPayload(int AgentCount, double QueriedAt);

public static class SupervisorEvents
{
    public const string Source = "supervisor_service";
    public const string HealthChecked = "supervisor.health_checked";
    public const string StatusQueried = "supervisor.status_queried";
    public const string AgentsListed = "supervisor.agents_listed";
}

[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower,
    DefaultIgnoreCondition = JsonIgnoreCondition.Never)]
[JsonSerializable(typeof(SupervisorHealth))]
[JsonSerializable(typeof(SupervisorStatus))]
[JsonSerializable(typeof(List<AgentResponse>))]
[JsonSerializable(typeof(IReadOnlyList<AgentResponse>))]
[JsonSerializable(typeof(HealthCheckedPayload))]
[JsonSerializable(typeof(StatusQueriedPayload))]
[JsonSerializable(typeof(AgentsListedPayload))]
public sealed partial class SupervisorJsonContext : JsonSerializerContext;
