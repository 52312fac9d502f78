using Microsoft.Extensions.Options;
using MissionHub.Events;
using MissionHub.Hub;

namespace MissionHub.Agents;

/// <summary>
/// Forgets workers and robots offline for longer than <see cref="AgentOptions.OfflineRetention"/>, so memory and the agent
/// lists follow the agents of the retention period, not every id ever seen. Workers are pruned in storage (shared by every
/// process) in chunks of <see cref="Chunk"/>, one storage step each, so no step holds the store for long.
/// </summary>
internal sealed partial class OfflinePruner(
    IJobStore store, AgentRegistry agents, IOptions<AgentOptions> options, TimeProvider time, ILogger<OfflinePruner> logger) : BackgroundService
{
    internal const int Chunk = 500;

    /// <summary>A quarter of the retention, between one second and a minute: pruning lags the retention by at most that.</summary>
    internal static TimeSpan Interval(TimeSpan retention) =>
        TimeSpan.FromTicks(Math.Clamp(retention.Ticks / 4, TimeSpan.TicksPerSecond, TimeSpan.TicksPerMinute));

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var retention = options.Value.OfflineRetention;
        using var timer = new PeriodicTimer(Interval(retention), time);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                try
                {
                    await PruneAsync(time.GetUtcNow() - retention, stoppingToken);
                }
                catch (Exception ex) when (ex is not OperationCanceledException)
                {
                    LogPruneFailed(logger, ex);
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    internal async Task PruneAsync(DateTimeOffset cutoff, CancellationToken cancellationToken)
    {
        var workers = 0;
        int pruned;
        do
        {
            pruned = await store.PruneWorkersAsync(EventBus.UnixSeconds(cutoff), Chunk, cancellationToken);
            workers += pruned;
        }
        while (pruned == Chunk);
        var robots = agents.PruneRobots(cutoff);
        if (workers + robots > 0)
        {
            LogPruned(logger, workers, robots);
        }
    }

    [LoggerMessage(EventId = 6001, Level = LogLevel.Information, Message = "Forgot {Workers} workers and {Robots} robots offline for longer than the retention")]
    private static partial void LogPruned(ILogger logger, int workers, int robots);

    [LoggerMessage(EventId = 6002, Level = LogLevel.Warning, Message = "Pruning offline agents failed; the next run will retry")]
    private static partial void LogPruneFailed(ILogger logger, Exception exception);
}
