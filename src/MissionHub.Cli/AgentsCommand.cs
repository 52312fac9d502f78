using System.CommandLine;
using System.Globalization;
using MissionHub.Client;
using Spectre.Console;

namespace MissionHub.Cli;

/// <summary><c>missionhub workers</c> and <c>missionhub agents</c>: the supervisor's agent list, once or live with <c>--watch</c>.</summary>
internal static class AgentsCommand
{
    /// <summary>What changes the agent list: connections, states, and jobs taken or given back (never <c>supervisor.*</c>, which listing emits).</summary>
    private const string AgentEvents = "worker_*,job_assigned,job_status_changed,job_completed,job_failed,telemetry.connection_*";

    public static Command Create(string name, string description, string? fixedKind, GlobalOptions globals, TextWriter output, TextWriter error)
    {
        var command = new Command(name, description);
        var kind = new Option<string?>("--kind") { Description = "worker or robot" };
        kind.AcceptOnlyFromAmong("worker", "robot");
        var state = new Option<string?>("--state") { Description = "idle, busy, online, offline or connection_broken" };
        state.AcceptOnlyFromAmong("idle", "busy", "online", "offline", "connection_broken");
        var (watch, interval) = LiveView.CreateOptions("table");
        if (fixedKind is null)
        {
            command.Options.Add(kind);
        }
        command.Options.Add(state);
        command.Options.Add(watch);
        command.Options.Add(interval);
        command.SetAction(async (parsed, cancellationToken) =>
        {
            using var hub = globals.Connect(parsed);
            Task<IReadOnlyList<Agent>> ReadAsync(CancellationToken token) =>
                hub.Supervisor.ListAgentsAsync(fixedKind ?? parsed.GetValue(kind), parsed.GetValue(state), token);
            var render = new Render(output, globals.Terminal.OutputIsTerminal);
            if (globals.Json(parsed))
            {
                await render.JsonAsync((await ReadAsync(cancellationToken)).ToList(), CliJsonContext.Default.ListAgent);
                return ExitCodes.Ok;
            }
            if (parsed.GetValue(watch) && render.IsTerminal)
            {
                return await LiveView.RunAsync(hub, render, AgentEvents, TimeSpan.FromSeconds(parsed.GetValue(interval)), async token => Table(await ReadAsync(token)), cancellationToken);
            }
            render.Ansi.Write(Table(await ReadAsync(cancellationToken)));
            return ExitCodes.Ok;
        });
        return command;
    }

    private static Table Table(IReadOnlyList<Agent> agents) => Render.BuildTable(
        ["id", "kind", "state", "job types", "slots", "current jobs", "last seen"],
        agents.Select(a => new[]
        {
            a.Id, a.Kind, a.State, string.Join(",", a.Capabilities.JobTypes), a.Capabilities.MaxConcurrentJobs?.ToString(CultureInfo.InvariantCulture),
            string.Join(",", a.CurrentJobs), Render.Time(a.LastSeen),
        }));
}
