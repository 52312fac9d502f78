using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using MissionHub.Auth;
using OpenTelemetry.Metrics;

namespace MissionHub.Metrics;

/// <summary><c>GET /api/metrics/missions</c> (the latest aggregation) and <c>GET /metrics</c> (Prometheus text format).</summary>
public static class MetricsApi
{
    /// <summary>The aggregation job, the <c>MissionHub</c> meter and the Prometheus exporter. Needs storage, events, missions, jobs, monitor, agents and telemetry.</summary>
    public static IHostApplicationBuilder AddMissionHubMetrics(this IHostApplicationBuilder builder)
    {
        var services = builder.Services;
        services.AddOptions<MetricsOptions>().BindConfiguration(MetricsOptions.Section).ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<MetricsOptions>, MetricsOptionsValidator>());
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<MissionMetricsAggregator>();
        services.AddHostedService(sp => sp.GetRequiredService<MissionMetricsAggregator>());
        services.TryAddSingleton<MissionHubInstruments>();
        services.AddHostedService<InstrumentsStartup>();
        services.AddOpenTelemetry().WithMetrics(metrics => ((IDeferredMeterProviderBuilder)metrics)
            // The raw setting, not the validated options: this runs while the host is being built, where a
            // validation failure would crash instead of giving the one-line message at start-up.
            .Configure((sp, configured) => configured.AddMeter(
                sp.GetRequiredService<IConfiguration>()[$"{MetricsOptions.Section}:{nameof(MetricsOptions.MeterName)}"] ?? new MetricsOptions().MeterName))
            .AddMeter("Microsoft.AspNetCore.Hosting")
            .AddMeter("Microsoft.AspNetCore.Server.Kestrel")
            .AddPrometheusExporter());
        services.ConfigureHttpJsonOptions(json => json.SerializerOptions.TypeInfoResolverChain.Insert(0, MetricsJsonContext.Default));
        return builder;
    }

    public static IEndpointRouteBuilder MapMetricsApi(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/api/metrics").WithTags("Metrics").RequireAuthorization(Policies.Viewer);
        group.MapGet("/missions", GetMissionMetrics).WithSummary("The latest mission-metrics aggregation (every 30 s)");
        app.MapPrometheusScrapingEndpoint("/metrics").RequireAuthorization(Policies.Viewer);
        return app;
    }

    internal static Ok<MissionMetricsResponse> GetMissionMetrics(MissionMetricsAggregator aggregator) =>
        TypedResults.Ok(aggregator.Describe());
}

/// <summary>Creates the instruments when the host starts, so the first scrape already has them.</summary>
internal sealed class InstrumentsStartup(MissionHubInstruments instruments) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken)
    {
        GC.KeepAlive(instruments);
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
