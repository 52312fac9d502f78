using Microsoft.Extensions.DependencyInjection.Extensions;

namespace MissionHub.Schedules;

public static class ScheduleExtensions
{
    /// <summary>Recurring schedules on the configured backend's store, and this process's runner that fires their ticks.</summary>
    public static IHostApplicationBuilder AddMissionHubSchedules(this IHostApplicationBuilder builder)
    {
        var services = builder.Services;
        services.AddOptions<ScheduleOptions>().BindConfiguration(ScheduleOptions.Section);
        services.TryAddSingleton<ScheduleService>();
        services.AddHostedService<ScheduleRunner>();
        services.ConfigureHttpJsonOptions(json => json.SerializerOptions.TypeInfoResolverChain.Add(ScheduleJsonContext.Default));
        return builder;
    }
}
