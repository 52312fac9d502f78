using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace MissionHub.Hub;

public static class HubExtensions
{
    /// <summary>The hub on the job store of the configured backend: dispatch, leases, worker sessions and the system_stats publisher.</summary>
    public static IHostApplicationBuilder AddMissionHubJobs(this IHostApplicationBuilder builder)
    {
        var services = builder.Services;
        services.AddOptions<HubOptions>().BindConfiguration(HubOptions.Section).ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<HubOptions>, HubOptionsValidator>());
        services.TryAddSingleton<MissionJobJournal>();
        services.TryAddSingleton<WorkerSessions>();
        services.TryAddSingleton<JobDispatcher>();
        services.TryAddSingleton<JobHub>();
        services.TryAddSingleton<LeaseKeeper>();
        services.TryAddSingleton<FinishedJobRetention>();
        services.AddHostedService<HubNode>();
        services.AddHostedService(sp => sp.GetRequiredService<LeaseKeeper>());
        services.AddHostedService<SystemStatsPublisher>();
        services.AddHostedService(sp => sp.GetRequiredService<FinishedJobRetention>());
        services.ConfigureHttpJsonOptions(json => json.SerializerOptions.TypeInfoResolverChain.Add(HubJsonContext.Default));
        return builder;
    }
}
