using System.Text.Json;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using MissionHub.Hub;

namespace MissionHub.Agents;

/// <summary>Agent kinds and states (spec 000 agents, with the connection states an operator needs).</summary>
public static class AgentKind
{
    public const string Worker = "worker";
    public const string Robot = "robot";
    public static readonly string[] All = [Worker, Robot];
}

public static class AgentState
{
    public const string Idle = "idle";
    public const string Busy = "busy";
    public const string Online = "online";
    public const string Offline = "offline";

    /// <summary>The link dropped without a goodbye (missed heartbeats, a reset connection): not the same as a clean close.</summary>
    public const string ConnectionBroken = "connection_broken";

    public static readonly string[] All = [Idle, Busy, Online, Offline, ConnectionBroken];
}

/// <summary>One worker or robot as listed by the supervisor and shown by monitors.</summary>
public sealed record AgentInfo(
    string Id,
    string Kind,
    string State,
    IReadOnlyList<string> JobTypes,
    int? MaxConcurrentJobs,
    DateTimeOffset? ConnectedAt,
    DateTimeOffset LastSeen,
    IReadOnlyList<string> CurrentJobs,
    JsonElement? Telemetry,
    string? DisconnectReason);

/// <summary>Section <c>MissionHub:Agents</c>.</summary>
public sealed class AgentOptions
{
    public const string Section = "MissionHub:Agents";

    /// <summary>How long an offline or broken agent stays listed after it was last seen.</summary>
    public TimeSpan OfflineRetention { get; set; } = TimeSpan.FromHours(24);
}

/// <summary>
/// The one registry of agents: workers as storage knows them (connected, and those that left, with
/// why) and robots as their telemetry sockets report them. Offline agents stay listed for a retention period,
/// marked as such, instead of vanishing.
/// </summary>
public sealed class AgentRegistry(IJobStore store, IOptions<AgentOptions> options, TimeProvider time)
{
    private readonly Lock _lock = new();
    private readonly Dictionary<string, AgentInfo> _robots = new(StringComparer.Ordinal);

    /// <summary>A robot's telemetry socket opened (or replaced an older one).</summary>
    public void RobotConnected(string robotId)
    {
        var now = time.GetUtcNow();
        lock (_lock)
        {
            _robots.TryGetValue(robotId, out var known);
            _robots[robotId] = new AgentInfo(robotId, AgentKind.Robot, AgentState.Online, [], null, now, now, [], known?.Telemetry, null);
        }
    }

    /// <summary>A telemetry frame arrived: the robot's latest values.</summary>
    public void RobotTelemetry(string robotId, JsonElement latest)
    {
        var now = time.GetUtcNow();
        lock (_lock)
        {
            if (_robots.TryGetValue(robotId, out var known))
            {
                _robots[robotId] = known with { State = AgentState.Online, LastSeen = now, Telemetry = latest.Clone(), DisconnectReason = null };
            }
        }
    }

    /// <summary>
    /// The robot's socket closed. <paramref name="reason"/> is the spec 004 close reason: <c>heartbeat_timeout</c>
    /// and <c>error</c> mean the link broke; <c>replaced</c> leaves the robot online on its new connection.
    /// </summary>
    public void RobotDisconnected(string robotId, string reason)
    {
        if (reason == "replaced")
        {
            return;
        }
        lock (_lock)
        {
            if (_robots.TryGetValue(robotId, out var known))
            {
                _robots[robotId] = known with { State = IsBroken(reason) ? AgentState.ConnectionBroken : AgentState.Offline, DisconnectReason = reason };
            }
        }
    }

    /// <summary>Every agent seen within the retention period, optionally of one kind and state, ordered by id.</summary>
    /// <summary>Workers as stored (the same on every process of the hub) and this process's robots.</summary>
    public async Task<IReadOnlyList<AgentInfo>> ListAsync(string? kind = null, string? state = null, CancellationToken cancellationToken = default)
    {
        var cutoff = time.GetUtcNow() - options.Value.OfflineRetention;
        var agents = new List<AgentInfo>();
        if (kind is null or AgentKind.Worker)
        {
            agents.AddRange((await store.ListWorkersAsync(cancellationToken)).Select(ToAgent));
        }
        if (kind is null or AgentKind.Robot)
        {
            lock (_lock)
            {
                agents.AddRange(_robots.Values);
            }
        }
        return [.. agents
            .Where(a => a.State is not (AgentState.Offline or AgentState.ConnectionBroken) || a.LastSeen >= cutoff)
            .Where(a => state is null || a.State == state)
            .OrderBy(a => a.Id, StringComparer.Ordinal)];
    }

    /// <summary>This process's robots with their states, for the gauges (workers' come from the event log's view).</summary>
    public IReadOnlyList<AgentInfo> ListRobots()
    {
        var cutoff = time.GetUtcNow() - options.Value.OfflineRetention;
        lock (_lock)
        {
            return [.. _robots.Values.Where(a => a.State is not (AgentState.Offline or AgentState.ConnectionBroken) || a.LastSeen >= cutoff)];
        }
    }

    private static AgentInfo ToAgent(WorkerInfo worker) => new(
        worker.Id,
        AgentKind.Worker,
        worker.Status == WorkerStatus.Offline ? (IsBroken(worker.DisconnectReason) ? AgentState.ConnectionBroken : AgentState.Offline) : worker.Status,
        worker.JobTypes,
        worker.MaxConcurrentJobs,
        worker.ConnectedAt,
        worker.LastSeen,
        worker.CurrentJobs,
        null,
        worker.DisconnectReason);

    private static bool IsBroken(string? reason) => reason is "heartbeat_timeout" or "connection_lost" or "error" or "send_queue_full";
}

public static class AgentExtensions
{
    public static IHostApplicationBuilder AddMissionHubAgents(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<AgentOptions>().BindConfiguration(AgentOptions.Section);
        builder.Services.TryAddSingleton<AgentRegistry>();
        return builder;
    }
}
