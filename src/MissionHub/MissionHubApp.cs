using MissionHub.Agents;
using MissionHub.ApiDocs;
using MissionHub.Auth;
using MissionHub.Events;
using MissionHub.History;
using MissionHub.Hub;
using MissionHub.Infrastructure;
using MissionHub.Metrics;
using MissionHub.Missions;
using MissionHub.Monitor;
using MissionHub.Schedules;
using MissionHub.Storage;
using MissionHub.Supervisor;
using MissionHub.Telemetry;
using MissionHub.Tracing;

namespace MissionHub;

/// <summary>The whole server in two calls, for <c>Program.cs</c> and for anything that hosts it in-process (benchmarks).</summary>
public static class MissionHubApp
{
    /// <summary>Every feature, storage first so the store is open before anything uses it.</summary>
    public static IHostApplicationBuilder AddMissionHub(this IHostApplicationBuilder builder)
    {
        builder.AddMissionHubStorage();
        builder.AddMissionHubEvents();
        builder.AddMissionHubAuth();
        builder.AddMissionHubMissions();
        builder.AddMissionHubJobs();
        builder.AddMissionHubSchedules();
        builder.AddMissionHubMonitor();
        builder.AddMissionHubHistory();
        builder.AddMissionHubAgents();
        builder.AddMissionHubSupervisor();
        builder.AddMissionHubTelemetry();
        builder.AddMissionHubMetrics();
        builder.AddMissionHubApiDocs();
        builder.AddMissionHubTracing();
        builder.Services.AddProblemDetails();
        builder.Services.AddExceptionHandler<StorageFaultHandler>();
        builder.Services.ConfigureHttpJsonOptions(json =>
        {
            json.SerializerOptions.PropertyNamingPolicy = System.Text.Json.JsonNamingPolicy.SnakeCaseLower;
            // Numbers are numbers on the wire (the web default would also read them from strings, and document them so).
            json.SerializerOptions.NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.Strict;
        });
        // Last: every feature's hosted services are registered now, and each waits for storage rather than failing the start.
        builder.Services.StartHostedServicesAfterStorage();
        return builder;
    }

    /// <summary>The middleware and every endpoint: REST, SSE, the sockets and the dashboard at <c>/</c>.</summary>
    public static WebApplication MapMissionHub(this WebApplication app)
    {
        app.UseExceptionHandler();
        app.UseStatusCodePages();
        app.UseWebSockets(new WebSocketOptions { KeepAliveInterval = TimeSpan.FromSeconds(15) });
        app.UseMissionHubCorrelation();
        app.UseMissionHubProtectedMode();
        app.UseMissionHubStorageGate();
        // The dashboard (wwwroot/index.html at /): static files, no build step, served to anyone protected mode lets in.
        app.UseDefaultFiles();
        app.UseStaticFiles();
        app.UseMissionHubAuth();
        app.MapAuthApi();
        app.MapEventsApi();
        app.MapMissionsApi();
        app.MapJobsApi();
        app.MapQueuesApi();
        app.MapSchedulesApi();
        app.MapSupervisorApi();
        app.MapMonitorSocket();
        app.MapHistoryEndpoints();
        app.MapTelemetryApi();
        app.MapMetricsApi();
        app.MapMissionHubApiDocs();
        return app;
    }
}
