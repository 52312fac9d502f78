using Microsoft.Extensions.Options;
using MissionHub.Events;

namespace MissionHub.Hub;

/// <summary>Publishes <c>system_stats</c> when the counts change, coalesced to one per interval (4 per second by default).</summary>
internal sealed class SystemStatsPublisher(JobBroker broker, IEventPublisher events, IOptions<HubOptions> options, TimeProvider time)
    : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        // The state at start is what snapshots show; only changes are news.
        var published = broker.GetStats();
        try
        {
            while (!stoppingToken.IsCancellationRequested)
            {
                var changed = broker.WaitForStatsChangeAsync(stoppingToken);
                var stats = broker.GetStats();
                if (stats != published)
                {
                    await events.PublishAsync("system_stats", JobBroker.Source, null, new SystemStatsPayload(stats),
                        HubJsonContext.Default.SystemStatsPayload, stoppingToken);
                    published = stats;
                    await Task.Delay(options.Value.SystemStatsInterval, time, stoppingToken);
                    continue;
                }
                await changed;
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }
}
