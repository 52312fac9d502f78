using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using MissionHub.Agents;
using MissionHub.Storage;
using MissionHub.Storage.Redis;
using MissionHub.Storage.Sqlite;

namespace MissionHub.Supervisor;

public static class SupervisorExtensions
{
    /// <summary>
    /// The supervisor, its health checks and the background-job heartbeat registry. Needs storage, events,
    /// missions and agents registered (any order: they are resolved when first used).
    /// </summary>
    public static IHostApplicationBuilder AddMissionHubSupervisor(this IHostApplicationBuilder builder)
    {
        var services = builder.Services;
        services.AddOptions<SupervisorOptions>().BindConfiguration(SupervisorOptions.Section).ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<SupervisorOptions>, SupervisorOptionsValidator>());
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<BackgroundJobRegistry>();
        services.TryAddSingleton<IBackgroundJobHeartbeat>(sp => sp.GetRequiredService<BackgroundJobRegistry>());
        services.TryAddSingleton<IStorageProbe>(sp =>
            sp.GetRequiredService<IOptions<StorageOptions>>().Value.UsesRedis
                ? new RedisStorageProbe(sp.GetRequiredService<RedisConnection>())
                : new SqliteStorageProbe(sp.GetRequiredService<SqliteDatabase>()));
        services.TryAddSingleton<SupervisorEventPublisher>();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<ISupervisorHealthCheck, StorageHealthCheck>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<ISupervisorHealthCheck, EventLogHealthCheck>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<ISupervisorHealthCheck, BackgroundJobsHealthCheck>());
        services.TryAddSingleton<SupervisorService>();
        // First in the chain: the reflection resolver ASP.NET Core puts there would otherwise answer for these types.
        services.ConfigureHttpJsonOptions(json => json.SerializerOptions.TypeInfoResolverChain.Insert(0, SupervisorJsonContext.Default));
        return builder;
    }
}
