using MissionHub.Agents;
using MissionHub.Events;
using MissionHub.Missions;

namespace MissionHub.Supervisor;

/// <summary>
/// The supervisor of spec 000: health from real checks, status from the maintained mission counters (never a
/// scan) and the agents from the one <see cref="AgentRegistry"/>. Each answer publishes its <c>supervisor.*</c>
/// event without waiting for it.
/// </summary>
public sealed partial class SupervisorService(
    IMissionStore missions,
    AgentRegistry agents,
    IEnumerable<ISupervisorHealthCheck> checks,
    SupervisorEventPublisher events,
    TimeProvider time,
    ILogger<SupervisorService> logger)
{
    private readonly ISupervisorHealthCheck[] _checks = [.. checks];

    /// <summary>Runs every check concurrently (each bounds itself); the worst state is the overall status.</summary>
    public async Task<SupervisorHealth> GetHealthAsync(CancellationToken cancellationToken)
    {
        var results = await Task.WhenAll(_checks.Select(check => RunCheckAsync(check, cancellationToken)));
        var status = HealthState.Worst(results.Select(r => r.State));
        var now = time.GetUtcNow();
        if (status != HealthState.Ok)
        {
            LogUnhealthy(logger, status, string.Join("; ", results.Where(r => r.State != HealthState.Ok).Select(r => $"{r.Name}: {r.Detail}")));
        }
        events.Publish(SupervisorEvents.HealthChecked, new HealthCheckedPayload(status, EventBus.UnixSeconds(now)),
            SupervisorJsonContext.Default.HealthCheckedPayload);
        return new SupervisorHealth(status, now.UtcDateTime, results.ToDictionary(r => r.Name, StringComparer.Ordinal));
    }

    /// <summary>The mission counters (one small read) and the agents; null if the counters cannot be read (logged).</summary>
    public async Task<SupervisorStatus?> GetStatusAsync(CancellationToken cancellationToken)
    {
        MissionStats stats;
        try
        {
            stats = await missions.GetStatsAsync(cancellationToken);
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            LogStatsUnavailable(logger, ex);
            return null;
        }
        var listed = await agents.ListAsync(cancellationToken: cancellationToken);
        var now = time.GetUtcNow();
        var result = new SupervisorStatus(
            HealthState.Ok,
            now.UtcDateTime,
            stats.Total,
            Count(stats, MissionStatus.Running),
            Count(stats, MissionStatus.Pending),
            Count(stats, MissionStatus.Completed),
            Count(stats, MissionStatus.Failed),
            Count(stats, MissionStatus.Cancelled),
            [.. listed.Select(AgentResponse.From)]);
        events.Publish(
            SupervisorEvents.StatusQueried,
            new StatusQueriedPayload(
                result.TotalMissions,
                result.RunningMissions,
                result.PendingMissions,
                result.CompletedMissions,
                result.FailedMissions,
                result.CancelledMissions,
                result.Agents.Count,
                EventBus.UnixSeconds(now)),
            SupervisorJsonContext.Default.StatusQueriedPayload);
        return result;
    }

    /// <summary>Agents of the given kind and state (both already validated; null for all).</summary>
    public async Task<IReadOnlyList<AgentResponse>> ListAgentsAsync(string? kind, string? state, CancellationToken cancellationToken)
    {
        var listed = await agents.ListAsync(kind, state, cancellationToken);
        events.Publish(SupervisorEvents.AgentsListed, new AgentsListedPayload(listed.Count, EventBus.UnixSeconds(time.GetUtcNow())),
            SupervisorJsonContext.Default.AgentsListedPayload);
        return [.. listed.Select(AgentResponse.From)];
    }

    private async Task<HealthCheckResult> RunCheckAsync(ISupervisorHealthCheck check, CancellationToken cancellationToken)
    {
        try
        {
            return await check.CheckAsync(cancellationToken);
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            // A check is meant to turn failures into results; one that throws is itself an error to report, not a 500.
            LogCheckThrew(logger, ex, check.Name);
            return new HealthCheckResult(check.Name, HealthState.Error, 0, $"the check failed: {ex.GetType().Name}: {ex.Message}");
        }
    }

    private static long Count(MissionStats stats, MissionStatus status) =>
        stats.ByStatus.TryGetValue(status.ToWire(), out var count) ? count : 0;

    [LoggerMessage(EventId = 5001, Level = LogLevel.Warning, Message = "Supervisor health is {Status}: {Problems}")]
    private static partial void LogUnhealthy(ILogger logger, string status, string problems);

    [LoggerMessage(EventId = 5002, Level = LogLevel.Error, Message = "Supervisor status: the mission counters could not be read")]
    private static partial void LogStatsUnavailable(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 5003, Level = LogLevel.Error, Message = "Health check {Check} threw instead of reporting")]
    private static partial void LogCheckThrew(ILogger logger, Exception exception, string check);
}
