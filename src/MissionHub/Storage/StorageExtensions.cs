using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using MissionHub.Auth;
using MissionHub.Events;
using MissionHub.History;
using MissionHub.Hub;
using MissionHub.Schedules;
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
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<StorageStatus>();
        services.TryAddSingleton<StorageStartupSequence>();
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
        services.TryAddSingleton<SqliteScheduleStore>();
        services.TryAddSingleton<RedisScheduleStore>();
        services.TryAddSingleton<IScheduleStore>(sp =>
            sp.GetRequiredService<IOptions<StorageOptions>>().Value.UsesRedis
                ? sp.GetRequiredService<RedisScheduleStore>()
                : sp.GetRequiredService<SqliteScheduleStore>());
        services.TryAddSingleton<SqliteApiKeyStore>();
        services.TryAddSingleton<RedisApiKeyStore>();
        services.TryAddSingleton<IApiKeyStore>(sp =>
            sp.GetRequiredService<IOptions<StorageOptions>>().Value.UsesRedis
                ? sp.GetRequiredService<RedisApiKeyStore>()
                : sp.GetRequiredService<SqliteApiKeyStore>());
        services.TryAddSingleton<SqliteCheckpointStore>();
        services.TryAddSingleton<RedisCheckpointStore>();
        services.TryAddSingleton<ICheckpointStore>(sp =>
            sp.GetRequiredService<IOptions<StorageOptions>>().Value.UsesRedis
                ? sp.GetRequiredService<RedisCheckpointStore>()
                : sp.GetRequiredService<SqliteCheckpointStore>());
        services.TryAddSingleton<IEventChainReader>(sp =>
            sp.GetRequiredService<IOptions<StorageOptions>>().Value.UsesRedis
                ? ActivatorUtilities.CreateInstance<WindowedEventChainReader>(sp)
                : ActivatorUtilities.CreateInstance<SqliteEventChainReader>(sp));
        services.AddHostedService<StorageStartup>();
        return builder;
    }
}
