using System.CommandLine;

namespace MissionHub.Cli;

/// <summary><c>missionhub workers</c> and <c>missionhub agents</c>: the supervisor's agent list.</summary>
internal static class AgentsCommand
{
    public static Command Create(string name, string description, string? fixedKind, GlobalOptions globals, TextWriter output, TextWriter error)
    {
        var command = new Command(name, description);
        var kind = new Option<string?>("--kind") { Description = "worker or robot" };
        kind.AcceptOnlyFromAmong("worker", "robot");
        var state = new Option<string?>("--state") { Description = "idle, busy, online, offline or connection_broken" };
        state.AcceptOnlyFromAmong("idle", "busy", "online", "offline", "connection_broken");
        if (fixedKind is null)
        {
            command.Options.Add(kind);
        }
        command.Options.Add(state);
        command.SetAction(async (parsed, cancellationToken) =>
        {
            using var hub = globals.Connect(parsed);
            var agents = await hub.Supervisor.ListAgentsAsync(fixedKind ?? parsed.GetValue(kind), parsed.GetValue(state), cancellationToken);
            var render = new Render(output);
            if (globals.Json(parsed))
            {
                await render.JsonAsync(agents.ToList(), CliJsonContext.Default.ListAgent);
                return ExitCodes.Ok;
            }
            render.Table(
                ["id", "kind", "state", "job types", "slots", "current jobs", "last seen"],
                agents.Select(a => new[]
                {
                    a.Id, a.Kind, a.State, string.Join(",", a.Capabilities.JobTypes), a.Capabilities.MaxConcurrentJobs?.ToString(System.Globalization.CultureInfo.InvariantCulture),
                    string.Join(",", a.CurrentJobs), Render.Time(a.LastSeen),
                }));
            return ExitCodes.Ok;
        });
        return command;
    }
}
