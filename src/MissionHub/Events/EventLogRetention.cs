using Microsoft.Extensions.Options;

namespace MissionHub.Events;

/// <summary>Applies the retention policy (the default limits and the rules by type) on a schedule.</summary>
internal sealed partial class EventLogRetention(
    IEventLog log,
    IOptions<EventLogOptions> options,
    TimeProvider time,
    ILogger<EventLogRetention> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var settings = options.Value;
        var policy = EventRetentionPolicy.From(settings);
        if (!policy.LimitsAnything)
        {
            return;
        }
        using var timer = new PeriodicTimer(settings.TrimInterval, time);
        do
        {
            try
            {
                var removed = await log.TrimAsync(policy, stoppingToken);
                if (removed > 0)
                {
                    LogTrimmed(logger, removed, log.Provider);
                }
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                LogTrimFailed(logger, ex);
            }
        }
        while (await WaitAsync(timer, stoppingToken));
    }

    private static async Task<bool> WaitAsync(PeriodicTimer timer, CancellationToken cancellationToken)
    {
        try
        {
            return await timer.WaitForNextTickAsync(cancellationToken);
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    [LoggerMessage(EventId = 1201, Level = LogLevel.Information, Message = "Retention removed {Count} events from the {Provider} event log")]
    private static partial void LogTrimmed(ILogger logger, long count, string provider);

    [LoggerMessage(EventId = 1202, Level = LogLevel.Warning, Message = "Applying event-log retention failed; will retry")]
    private static partial void LogTrimFailed(ILogger logger, Exception exception);
}
