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

    /// <summary>
    /// How long an offline or broken agent stays listed after it was last seen; then it is forgotten (storage, the
    /// monitor read model, the robot registry), and one that comes back registers anew.
    /// </summary>
    public TimeSpan OfflineRetention { get; set; } = TimeSpan.FromHours(24);
}

internal sealed class AgentOptionsValidator : IValidateOptions<AgentOptions>
{
    public ValidateOptionsResult Validate(string? name, AgentOptions options) =>
        options.OfflineRetention > TimeSpan.Zero
            ? ValidateOptionsResult.Success
            : ValidateOptionsResult.Fail($"{AgentOptions.Section}:OfflineRetention is {options.OfflineRetention}; it must be positive, e.g. 1.00:00:00");
}

/// <summary>The robots' own state (the telemetry service): their latest values on demand, and pruning.</summary>
public interface IRobotRoster
{
    /// <summary>The robot's latest values as JSON, rendered when asked rather than per frame.</summary>
    JsonElement? LatestTelemetry(string robotId);

    /// <summary>Forgets robots without a connection last seen before <paramref name="lastSeenBefore"/>; returns how many.</summary>
    int PruneOffline(DateTimeOffset lastSeenBefore);
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
    private IRobotRoster? _roster;

    /// <summary>Where robots' latest values are read from and pruned with them (set once by the telemetry service).</summary>
    public void Attach(IRobotRoster roster) => _roster = roster;

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

    /// <summary>
    /// A telemetry frame arrived. The telemetry service gives no values: they are read from it (the roster) when listed,
    /// instead of being copied here per frame; a caller without a roster may hand them over.
    /// </summary>
    public void RobotTelemetry(string robotId, JsonElement? latest = null)
    {
        var now = time.GetUtcNow();
        var telemetry = latest?.Clone();
        lock (_lock)
        {
            if (_robots.TryGetValue(robotId, out var known))
            {
                _robots[robotId] = known with { State = AgentState.Online, LastSeen = now, Telemetry = telemetry ?? known.Telemetry, DisconnectReason = null };
            }
        }
    }

    /// <summary>Forgets robots offline or broken since before <paramref name="lastSeenBefore"/>, here and in the roster.</summary>
    public int PruneRobots(DateTimeOffset lastSeenBefore)
    {
        var pruned = 0;
        lock (_lock)
        {
            foreach (var robot in _robots.Values.Where(r => IsGone(r.State) && r.LastSeen < lastSeenBefore).ToList())
            {
                _robots.Remove(robot.Id);
                pruned++;
            }
        }
        return Math.Max(pruned, _roster?.PruneOffline(lastSeenBefore) ?? 0);
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

    /// <summary>
    /// Every agent seen within the retention period, optionally of one kind and state, ordered by id: workers as stored
    /// (the same on every process of the hub) and this process's robots.
    /// </summary>
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
            List<AgentInfo> robots;
            lock (_lock)
            {
                robots = [.. _robots.Values];
            }
            agents.AddRange(_roster is { } roster ? robots.Select(r => r with { Telemetry = roster.LatestTelemetry(r.Id) ?? r.Telemetry }) : robots);
        }
        return [.. agents
            .Where(a => !IsGone(a.State) || a.LastSeen >= cutoff)
            .Where(a => state is null || a.State == state)
            .OrderBy(a => a.Id, StringComparer.Ordinal)];
    }

    /// <summary>This process's robots with their states, for the gauges (workers' come from the event log's view).</summary>
    public IReadOnlyList<AgentInfo> ListRobots()
    {
        var cutoff = time.GetUtcNow() - options.Value.OfflineRetention;
        lock (_lock)
        {
            return [.. _robots.Values.Where(a => !IsGone(a.State) || a.LastSeen >= cutoff)];
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

    private static bool IsGone(string state) => state is AgentState.Offline or AgentState.ConnectionBroken;

    private static bool IsBroken(string? reason) => reason is "heartbeat_timeout" or "connection_lost" or "error" or "send_queue_full";
}

public static class AgentExtensions
{
    public static IHostApplicationBuilder AddMissionHubAgents(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<AgentOptions>().BindConfiguration(AgentOptions.Section).ValidateOnStart();
        builder.Services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<AgentOptions>, AgentOptionsValidator>());
        builder.Services.TryAddSingleton<AgentRegistry>();
        builder.Services.AddHostedService<OfflinePruner>();
        return builder;
    }
}
