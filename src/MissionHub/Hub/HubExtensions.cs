using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using MissionHub.Storage;
using MissionHub.Storage.Redis;
using MissionHub.Storage.Sqlite;

namespace MissionHub.Hub;

public static class HubExtensions
{
    /// <summary>The job store on the configured backend, the broker and the system_stats publisher.</summary>
    public static IHostApplicationBuilder AddMissionHubJobs(this IHostApplicationBuilder builder)
    {
        var services = builder.Services;
        services.AddOptions<HubOptions>().BindConfiguration(HubOptions.Section).ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<HubOptions>, HubOptionsValidator>());
        services.TryAddSingleton<SqliteJobStore>();
        services.TryAddSingleton<RedisJobStore>();
        services.TryAddSingleton<IJobStore>(sp =>
            sp.GetRequiredService<IOptions<StorageOptions>>().Value.UsesRedis
                ? sp.GetRequiredService<RedisJobStore>()
                : sp.GetRequiredService<SqliteJobStore>());
        services.TryAddSingleton<MissionJobJournal>();
        services.TryAddSingleton<JobBroker>();
        services.AddHostedService(sp => sp.GetRequiredService<JobBroker>());
        services.AddHostedService<SystemStatsPublisher>();
        services.ConfigureHttpJsonOptions(json => json.SerializerOptions.TypeInfoResolverChain.Add(HubJsonContext.Default));
        return builder;
    }
}
