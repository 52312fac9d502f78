using Microsoft.Extensions.Options;
using MissionHub.Events;
using MissionHub.Storage;

namespace MissionHub.Hub;

/// <summary>
/// Keeps storage bounded however long the hub runs: finished jobs (completed, failed, cancelled) are removed once they
/// finished more than <see cref="HubOptions.FinishedJobRetention"/> ago, and the oldest beyond
/// <see cref="HubOptions.FinishedJobMaxCount"/>. Each sweep works in storage steps of <see cref="Chunk"/> jobs, each with
/// one <c>jobs_purged</c> event (reason <c>retention</c>). Several processes may sweep at once: a step removes only
/// what is still there.
/// </summary>
public sealed partial class FinishedJobRetention(
    IJobStore store, IOptions<HubOptions> options, TimeProvider time, ILogger<FinishedJobRetention> logger) : BackgroundService
{
    public const int Chunk = 500;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var every = options.Value.FinishedJobSweepInterval;
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(every, time, stoppingToken);
                await SweepOnceAsync(time.GetUtcNow(), stoppingToken);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex) when (StorageStatus.IsUnavailable(ex))
            {
                LogSweepFailed(logger, ex.Message);
            }
            catch (Exception ex)
            {
                LogSweepError(logger, ex);
            }
        }
    }

    /// <summary>One sweep as of <paramref name="now"/>: removes everything due, chunk by chunk; returns how many jobs.</summary>
    public async Task<int> SweepOnceAsync(DateTimeOffset now, CancellationToken cancellationToken)
    {
        var settings = options.Value;
        var before = EventBus.UnixSeconds(now) - settings.FinishedJobRetention.TotalSeconds;
        var total = 0;
        while (!cancellationToken.IsCancellationRequested)
        {
            var due = await store.FinishedDueAsync(before, settings.FinishedJobMaxCount, Chunk, cancellationToken);
            if (due.Count == 0)
            {
                break;
            }
            var purged = await store.PurgeAsync(due, "retention", CancellationToken.None);
            total += purged.Count;
            if (purged.Count == 0)
            {
                break; // another process took them meanwhile; the next sweep sees what is left
            }
        }
        if (total > 0)
        {
            LogSwept(logger, total, settings.FinishedJobRetention, settings.FinishedJobMaxCount);
        }
        return total;
    }

    [LoggerMessage(EventId = 3020, Level = LogLevel.Information, Message = "Retention removed {Count} finished jobs (kept: finished within {Retention}, at most {MaxCount})")]
    private static partial void LogSwept(ILogger logger, int count, TimeSpan retention, long maxCount);

    [LoggerMessage(EventId = 3022, Level = LogLevel.Error, Message = "The finished-job retention sweep failed; retrying at the next interval")]
    private static partial void LogSweepError(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 3021, Level = LogLevel.Warning, Message = "The finished-job retention sweep could not reach storage ({Detail}); retrying at the next interval")]
    private static partial void LogSweepFailed(ILogger logger, string detail);
}
