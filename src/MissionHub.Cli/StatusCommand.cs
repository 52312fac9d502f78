using System.CommandLine;
using System.Text.Json;

namespace MissionHub.Cli;

/// <summary><c>missionhub status</c>: health, the event log's position, missions, agents and job throughput.</summary>
internal static class StatusCommand
{
    public static Command Create(GlobalOptions globals, TextWriter output, TextWriter error)
    {
        var command = new Command("status", "The hub at a glance: health, event log, missions by status, agents, job throughput");
        command.SetAction(async (parsed, cancellationToken) =>
        {
            using var hub = globals.Connect(parsed);
            var liveness = await hub.Events.GetHealthAsync(cancellationToken);
            var health = await hub.Supervisor.GetHealthAsync(cancellationToken);
            var missions = await hub.Missions.GetStatsAsync(cancellationToken);
            var agents = await hub.Supervisor.ListAgentsAsync(cancellationToken: cancellationToken);
            var metrics = await hub.Telemetry.GetMissionMetricsAsync(cancellationToken);
            JsonElement? jobs = metrics.TryGetProperty("metrics", out var m) && m.ValueKind == JsonValueKind.Object && m.TryGetProperty("jobs", out var j) ? j.Clone() : null;
            var byState = agents.GroupBy(a => $"{a.Kind} {a.State}").OrderBy(g => g.Key, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.Count());
            var report = new StatusReport(health.Status, liveness.Storage, liveness.Epoch, liveness.LastSeq, missions, byState, jobs);
            var render = new Render(output);
            if (globals.Json(parsed))
            {
                await render.JsonAsync(report, CliJsonContext.Default.StatusReport);
                return ExitCodes.Ok;
            }
            var rows = new List<(string, string?)>
            {
                ("health", report.Health),
                ("storage", report.Storage),
                ("event log", $"epoch {report.Epoch}, last seq {report.LastSeq}"),
                ("missions", $"{missions.Total} total: " + string.Join(", ", missions.ByStatus.Select(s => $"{s.Key} {s.Value}"))),
                ("agents", byState.Count == 0 ? "none" : string.Join(", ", byState.Select(s => $"{s.Value} {s.Key}"))),
            };
            if (jobs is { } counts)
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
            render.Properties(rows, "MissionHub " + globals.LastServer);
            return ExitCodes.Ok;
        });
        return command;
    }
}
