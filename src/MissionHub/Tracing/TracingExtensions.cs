using System.Diagnostics;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace MissionHub.Tracing;

/// <summary>
/// OpenTelemetry for the whole server: the <c>service.name</c> resource (<c>missionhub</c>, or <c>OTEL_SERVICE_NAME</c>)
/// for traces and metrics alike, traces from ASP.NET Core, HttpClient and MissionHub's own <see cref="ActivitySource"/>,
/// and OTLP export only when <c>OTEL_EXPORTER_OTLP_ENDPOINT</c> is set (the exporter reads the other standard
/// <c>OTEL_*</c> variables itself).
/// </summary>
public static class TracingExtensions
{
    public const string DefaultServiceName = "missionhub";

    public static IHostApplicationBuilder AddMissionHubTracing(this IHostApplicationBuilder builder)
    {
        var configuration = builder.Configuration;
        var serviceName = configuration["OTEL_SERVICE_NAME"] is { Length: > 0 } configured ? configured : DefaultServiceName;
        var otlp = !string.IsNullOrWhiteSpace(configuration["OTEL_EXPORTER_OTLP_ENDPOINT"]);
        var telemetry = builder.Services.AddOpenTelemetry()
            .ConfigureResource(resource => resource.AddService(serviceName, serviceVersion: typeof(TracingExtensions).Assembly.GetName().Version?.ToString()))
            .WithTracing(tracing =>
            {
                tracing.AddSource(MissionHubTracing.SourceName)
                    .AddAspNetCoreInstrumentation(aspnet => aspnet.Filter = context =>
                        !context.Request.Path.StartsWithSegments("/metrics", StringComparison.Ordinal))
                    .AddHttpClientInstrumentation();
                if (otlp)
                {
                    tracing.AddOtlpExporter();
                }
            });
        if (otlp)
        {
            telemetry.WithMetrics(metrics => metrics.AddOtlpExporter());
        }
        return builder;
    }
}
