using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using MissionHub.Infrastructure;

namespace MissionHub.Events;

public static class EventsExtensions
{
    /// <summary>The event bus (publisher, dispatcher) and log retention. Needs <c>AddMissionHubStorage</c>.</summary>
    public static IHostApplicationBuilder AddMissionHubEvents(this IHostApplicationBuilder builder)
    {
        var services = builder.Services;
        services.AddOptions<EventLogOptions>().BindConfiguration(EventLogOptions.Section).ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<EventLogOptions>, EventLogOptionsValidator>());
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<EventBus>();
        services.TryAddSingleton<IEventPublisher>(sp => sp.GetRequiredService<EventBus>());
        services.AddHostedService(sp => sp.GetRequiredService<EventBus>());
        services.AddHostedService<EventLogRetention>();
        services.ConfigureHttpJsonOptions(json => json.SerializerOptions.TypeInfoResolverChain.Add(EventsJsonContext.Default));
        return builder;
    }

    /// <summary>Takes <c>X-Correlation-ID</c> from each request (or makes one) and echoes it back.</summary>
    public static IApplicationBuilder UseMissionHubCorrelation(this IApplicationBuilder app) =>
        app.UseMiddleware<CorrelationIdMiddleware>();
}
