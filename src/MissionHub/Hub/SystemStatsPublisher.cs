using Microsoft.Extensions.Options;
using MissionHub.Events;
using MissionHub.Monitor;

namespace MissionHub.Hub;

/// <summary>
/// Publishes <c>system_stats</c> when the counts change, coalesced to one per interval (4 per second by default).
/// The counts are the hub's as the shared event log tells them, the same in every process; only one process at a
/// time publishes them, so the hub has one stream of stats however many processes it runs on.
/// </summary>
internal sealed class SystemStatsPublisher(MonitorState state, IHubSignals signals, IEventPublisher events, IOptions<HubOptions> options, TimeProvider time)
    : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        // The state at start is what snapshots show; only changes are news.
        var published = state.Stats();
        try
        {
            while (!stoppingToken.IsCancellationRequested)
            {
                var changed = state.WaitForChangeAsync(stoppingToken);
                var stats = state.Stats();
                if (stats != published && await signals.IsStatsPublisherAsync(stoppingToken))
                {
                    await events.PublishAsync("system_stats", HubEvents.Source, null, new SystemStatsPayload(stats),
                        HubJsonContext.Default.SystemStatsPayload, stoppingToken);
                    published = stats;
                    await Task.Delay(options.Value.SystemStatsInterval, time, stoppingToken);
                    continue;
                }
                published = stats;
                await changed;
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }
}
