using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using MissionHub.Auth;
using MissionHub.Events;
using MissionHub.Hub;
using MissionHub.Storage.Redis;
using MissionHub.Storage.Sqlite;

namespace MissionHub.Storage;

public static class StorageExtensions
{
    /// <summary>
    /// The configured backend (<c>MissionHub:Storage:Provider</c>): the SQLite file or Redis, and the event log on it.
    /// Call before the features so the store is open before anything uses it.
    /// </summary>
    public static IHostApplicationBuilder AddMissionHubStorage(this IHostApplicationBuilder builder)
    {
        var services = builder.Services;
        services.AddOptions<StorageOptions>().BindConfiguration(StorageOptions.Section).ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<StorageOptions>, StorageOptionsValidator>());
        services.TryAddSingleton<SqliteDatabase>();
        services.TryAddSingleton<SqliteFileLock>();
        services.TryAddSingleton<RedisConnection>();
        services.TryAddSingleton<RedisKeys>();
        services.TryAddSingleton<SqliteEventLog>();
        services.TryAddSingleton<RedisEventLog>();
        services.TryAddSingleton<IEventLog>(sp =>
            sp.GetRequiredService<IOptions<StorageOptions>>().Value.UsesRedis
                ? sp.GetRequiredService<RedisEventLog>()
                : sp.GetRequiredService<SqliteEventLog>());
        services.TryAddSingleton<SqliteJobStore>();
        services.TryAddSingleton<RedisStepEvents>();
        services.TryAddSingleton<RedisJobStore>();
        services.TryAddSingleton<IJobStore>(sp =>
            sp.GetRequiredService<IOptions<StorageOptions>>().Value.UsesRedis
                ? sp.GetRequiredService<RedisJobStore>()
                : sp.GetRequiredService<SqliteJobStore>());
        // The processes of one hub wake each other through Redis; the SQLite deployment is one process.
        services.TryAddSingleton<IHubSignals>(sp =>
            sp.GetRequiredService<IOptions<StorageOptions>>().Value.UsesRedis
                ? ActivatorUtilities.CreateInstance<RedisHubSignals>(sp)
                : new LocalHubSignals());
        services.TryAddSingleton<SqliteApiKeyStore>();
        services.TryAddSingleton<RedisApiKeyStore>();
        services.TryAddSingleton<IApiKeyStore>(sp =>
            sp.GetRequiredService<IOptions<StorageOptions>>().Value.UsesRedis
                ? sp.GetRequiredService<RedisApiKeyStore>()
                : sp.GetRequiredService<SqliteApiKeyStore>());
        services.AddHostedService<StorageStartup>();
        return builder;
    }
}

/// <summary>Takes the SQLite file for this process, opens the event log before any other hosted service runs, and says where it is.</summary>
internal sealed partial class StorageStartup(IEventLog log, IServiceProvider services, IOptions<StorageOptions> options, ILogger<StorageStartup> logger)
    : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var settings = options.Value;
        if (!settings.UsesRedis)
        {
            services.GetRequiredService<SqliteFileLock>().Take();
        }
        await log.InitializeAsync(cancellationToken);
        var where = settings.UsesRedis ? settings.Redis.Configuration : Path.GetFullPath(settings.Sqlite.Path);
        LogOpened(logger, log.Provider, where, log.Epoch, log.LastSeq);
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    [LoggerMessage(EventId = 1, Level = LogLevel.Information, Message = "Storage: {Provider} at {Location}; event log epoch {Epoch}, last seq {LastSeq}")]
    private static partial void LogOpened(ILogger logger, string provider, string location, string epoch, long lastSeq);
}
