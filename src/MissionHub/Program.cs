using Microsoft.Extensions.Options;
using MissionHub.Agents;
using MissionHub.Events;
using MissionHub.Hub;
using MissionHub.Metrics;
using MissionHub.Missions;
using MissionHub.Monitor;
using MissionHub.Storage;
using MissionHub.Supervisor;
using MissionHub.Telemetry;

var builder = WebApplication.CreateBuilder(args);

builder.AddMissionHubStorage();
builder.AddMissionHubEvents();
builder.AddMissionHubMissions();
builder.AddMissionHubJobs();
builder.AddMissionHubMonitor();
builder.AddMissionHubAgents();
builder.AddMissionHubSupervisor();
builder.AddMissionHubTelemetry();
builder.AddMissionHubMetrics();
builder.Services.AddProblemDetails();
builder.Services.ConfigureHttpJsonOptions(json =>
    json.SerializerOptions.PropertyNamingPolicy = System.Text.Json.JsonNamingPolicy.SnakeCaseLower);

var app = builder.Build();

app.UseExceptionHandler();
app.UseStatusCodePages();
app.UseWebSockets(new WebSocketOptions { KeepAliveInterval = TimeSpan.FromSeconds(15) });
app.UseMissionHubCorrelation();
// The dashboard (wwwroot/index.html at /): static files, no build step.
app.UseDefaultFiles();
app.UseStaticFiles();
app.MapEventsApi();
app.MapMissionsApi();
app.MapJobsApi();
app.MapSupervisorApi();
app.MapMonitorSocket();
app.MapTelemetryApi();
app.MapMetricsApi();

try
{
    await app.RunAsync();
    return 0;
}
catch (OptionsValidationException invalid)
{
    // One clear line naming the setting and what it may be.
    Console.Error.WriteLine($"MissionHub: invalid configuration: {string.Join("; ", invalid.Failures)}");
    return 2;
}

public partial class Program;
