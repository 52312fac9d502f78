namespace MissionHub.Schedules;

/// <summary>
/// Fires the schedules' ticks in this process: it sleeps until the earliest next run in storage (at most a second, so a
/// schedule created or resumed by another process, or one whose process died, is picked up within it), then carries out
/// what is due. Every process runs one; storage decides which of them fires each tick.
/// </summary>
public sealed partial class ScheduleRunner(IScheduleStore store, ScheduleService schedules, TimeProvider time, ILogger<ScheduleRunner> logger)
    : BackgroundService
{
    private static readonly TimeSpan MaxSleep = TimeSpan.FromSeconds(1);
    private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public override async Task StartAsync(CancellationToken cancellationToken)
    {
        await store.InitializeAsync(cancellationToken);
        schedules.Changed += () => Volatile.Read(ref _changed).TrySetResult();
        await base.StartAsync(cancellationToken);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            var changed = Volatile.Read(ref _changed).Task;
            var sleep = MaxSleep;
            try
            {
                await schedules.RunDueAsync(stoppingToken);
                if (await schedules.NextDueAsync(stoppingToken) is { } next)
                {
                    var untilNext = TimeSpan.FromSeconds(Math.Max(0, next - schedules.Now()));
                    sleep = untilNext < sleep ? untilNext : sleep;
                }
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                LogRunFailed(logger, ex);
            }
            if (changed.IsCompleted)
            {
                Volatile.Write(ref _changed, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));
                continue;
            }
            if (sleep > TimeSpan.Zero)
            {
                try
                {
                    await Task.WhenAny(changed, Task.Delay(sleep, time, stoppingToken));
                }
                catch (OperationCanceledException)
                {
                    return;
                }
            }
            if (changed.IsCompleted)
            {
                Volatile.Write(ref _changed, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));
            }
        }
    }

    [LoggerMessage(EventId = 3303, Level = LogLevel.Error, Message = "Firing due schedules failed; retrying")]
    private static partial void LogRunFailed(ILogger logger, Exception exception);
}
