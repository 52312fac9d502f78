using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using MissionHub.Storage;

namespace MissionHub.Telemetry;

public static class TelemetryExtensions
{
    /// <summary>Robot telemetry on the configured backend. Needs storage, events and agents.</summary>
    public static IHostApplicationBuilder AddMissionHubTelemetry(this IHostApplicationBuilder builder)
    {
        var services = builder.Services;
        services.AddOptions<TelemetryOptions>().BindConfiguration(TelemetryOptions.Section).ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<TelemetryOptions>, TelemetryOptionsValidator>());
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<SqliteTelemetryStore>();
        services.TryAddSingleton<RedisTelemetryStore>();
        services.TryAddSingleton<ITelemetryStore>(sp =>
            sp.GetRequiredService<IOptions<StorageOptions>>().Value.UsesRedis
                ? sp.GetRequiredService<RedisTelemetryStore>()
                : sp.GetRequiredService<SqliteTelemetryStore>());
        services.TryAddSingleton<TelemetryService>();
        services.AddHostedService<TelemetryRetention>();
        services.ConfigureHttpJsonOptions(json => json.SerializerOptions.TypeInfoResolverChain.Insert(0, TelemetryJsonContext.Default));
        return builder;
    }
}

/// <summary>Creates the time series table at start, then deletes samples older than the retention, periodically.</summary>
internal sealed partial class TelemetryRetention(
    ITelemetryStore store, IOptions<TelemetryOptions> options, TimeProvider time, ILogger<TelemetryRetention> logger) : BackgroundService
{
    public override async Task StartAsync(CancellationToken cancellationToken)
    {
        await store.InitializeAsync(cancellationToken);
        await base.StartAsync(cancellationToken);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var settings = options.Value;
        using var timer = new PeriodicTimer(settings.RetentionSweepInterval, time);
        do
        {
            try
            {
                var before = (time.GetUtcNow() - settings.Retention).ToUnixTimeMilliseconds() / 1000.0;
                var removed = await store.TrimAsync(before, stoppingToken);
                if (removed > 0)
                {
                    LogTrimmed(logger, removed);
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

    private static async Task<bool> WaitAsync(PeriodicTimer timer, CancellationToken stoppingToken)
    {
        try
        {
            return await timer.WaitForNextTickAsync(stoppingToken);
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    [LoggerMessage(EventId = 4201, Level = LogLevel.Information, Message = "Telemetry retention deleted {Count} old samples")]
    private static partial void LogTrimmed(ILogger logger, long count);

    [LoggerMessage(EventId = 4202, Level = LogLevel.Warning, Message = "Telemetry retention sweep failed; it will retry")]
    private static partial void LogTrimFailed(ILogger logger, Exception exception);
}
