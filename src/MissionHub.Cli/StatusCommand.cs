using System.CommandLine;
using System.Text.Json;
using MissionHub.Client;
using Spectre.Console;

namespace MissionHub.Cli;

/// <summary><c>missionhub status</c>: health, the event log's position, missions, agents and job throughput, once or live with <c>--watch</c>.</summary>
internal static class StatusCommand
{
    /// <summary>What changes the report (never <c>supervisor.*</c>, which reading it emits).</summary>
    private const string StatusEvents = "mission.created,mission.status_changed,worker_*,job_*,queue_*,telemetry.connection_*";

    public static Command Create(GlobalOptions globals, TextWriter output, TextWriter error)
    {
        var command = new Command("status", "The hub at a glance: health, event log, missions by status, agents, job throughput");
        var (watch, interval) = LiveView.CreateOptions("report");
        command.Options.Add(watch);
        command.Options.Add(interval);
        command.SetAction(async (parsed, cancellationToken) =>
        {
            using var hub = globals.Connect(parsed);
            var render = new Render(output, globals.Terminal.OutputIsTerminal);
            var title = "MissionHub " + globals.LastServer;
            if (globals.Json(parsed))
            {
                await render.JsonAsync(await ReadAsync(hub, cancellationToken), CliJsonContext.Default.StatusReport);
                return ExitCodes.Ok;
            }
            if (parsed.GetValue(watch) && render.IsTerminal)
            {
                return await LiveView.RunAsync(hub, render, StatusEvents, TimeSpan.FromSeconds(parsed.GetValue(interval)), async token => Table(await ReadAsync(hub, token), title), cancellationToken);
            }
            render.Ansi.Write(Table(await ReadAsync(hub, cancellationToken), title));
            return ExitCodes.Ok;
        });
        return command;
    }

    private static async Task<StatusReport> ReadAsync(MissionHubClient hub, CancellationToken cancellationToken)
    {
        var liveness = await hub.Events.GetHealthAsync(cancellationToken);
        var health = await hub.Supervisor.GetHealthAsync(cancellationToken);
        var missions = await hub.Missions.GetStatsAsync(cancellationToken);
        var agents = await hub.Supervisor.ListAgentsAsync(cancellationToken: cancellationToken);
        var metrics = await hub.Telemetry.GetMissionMetricsAsync(cancellationToken);
        JsonElement? jobs = metrics.TryGetProperty("metrics", out var m) && m.ValueKind == JsonValueKind.Object && m.TryGetProperty("jobs", out var j) ? j.Clone() : null;
        var byState = agents.GroupBy(a => $"{a.Kind} {a.State}").OrderBy(g => g.Key, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.Count());
        return new StatusReport(health.Status, liveness.Storage, liveness.Epoch, liveness.LastSeq, missions, byState, jobs);
    }

    private static Table Table(StatusReport report, string title)
    {
        var rows = new List<(string, string?)>
        {
            ("health", report.Health),
            ("storage", report.Storage),
            ("event log", $"epoch {report.Epoch}, last seq {report.LastSeq}"),
            ("missions", $"{report.Missions.Total} total: " + string.Join(", ", report.Missions.ByStatus.Select(s => $"{s.Key} {s.Value}"))),
            ("agents", report.Agents.Count == 0 ? "none" : string.Join(", ", report.Agents.Select(s => $"{s.Value} {s.Key}"))),
        };
        if (report.Jobs is { } counts)
        {
            if (counts.TryGetProperty("by_status", out var byStatus) && byStatus.ValueKind == JsonValueKind.Object)
            {
                rows.Add(("jobs", string.Join(", ", byStatus.EnumerateObject().Select(p => $"{p.Name} {p.Value}"))));
            }
            if (counts.TryGetProperty("completed_per_minute", out var perMinute) && perMinute.ValueKind == JsonValueKind.Number)
            {
                rows.Add(("throughput", $"{Render.Number(perMinute.GetDouble())} completed/min (last aggregation)"));
            }
        }
        return Render.BuildProperties(rows, title);
    }
}
