using System.CommandLine;
using System.Globalization;
using MissionHub.Client;

namespace MissionHub.Cli;

/// <summary><c>missionhub queues [list]|pause|resume</c>: each job type's backlog, and stopping or restarting its dispatch.</summary>
internal static class QueuesCommand
{
    public static Command Create(GlobalOptions globals, TextWriter output, TextWriter error)
    {
        var queues = new Command("queues", "Each job type: pending, delayed, active, paused, completed and failed in the last hour, workers");
        queues.SetAction((parsed, cancellationToken) => ListAsync(globals, parsed, output, error, cancellationToken));

        var list = new Command("list", "Each job type with its counts (the same as 'queues')");
        list.SetAction((parsed, cancellationToken) => ListAsync(globals, parsed, output, error, cancellationToken));

        queues.Subcommands.Add(list);
        queues.Subcommands.Add(CreateChange("pause", "Stop handing out jobs of this type (running ones finish; new ones wait pending)", paused: true, globals, output));
        queues.Subcommands.Add(CreateChange("resume", "Hand out jobs of this type again", paused: false, globals, output));
        return queues;
    }

    private static async Task<int> ListAsync(GlobalOptions globals, ParseResult parsed, TextWriter output, TextWriter error, CancellationToken cancellationToken)
    {
        using var hub = globals.Connect(parsed);
        var answer = await hub.Queues.ListAsync(cancellationToken);
        var render = new Render(output);
        if (globals.Json(parsed))
        {
            await render.JsonAsync(answer, CliJsonContext.Default.QueueList);
            return ExitCodes.Ok;
        }
        render.Table(["job type", "state", "pending", "delayed", "active", "completed 1h", "failed 1h", "workers"],
            answer.Queues.Select(q => new[]
            {
                q.JobType, q.Paused ? $"paused since {Render.Time(q.PausedAt)}" : "running", Count(q.Pending), Count(q.Delayed), Count(q.Active),
                Count(q.CompletedLastHour), Count(q.FailedLastHour), q.Workers.Count == 0 ? "none" : $"{q.Workers.Count}: {string.Join(",", q.Workers)}",
            }));
        if (answer.ScanCapped)
        {
            await error.WriteLineAsync("missionhub: the hub stopped counting delayed and last-hour jobs at its scan cap; those counts may be low");
        }
        return ExitCodes.Ok;
    }

    private static Command CreateChange(string name, string description, bool paused, GlobalOptions globals, TextWriter output)
    {
        var command = new Command(name, description);
        var jobType = new Argument<string>("job-type") { Description = "the job type, e.g. render" };
        command.Arguments.Add(jobType);
        command.SetAction(async (parsed, cancellationToken) =>
        {
            using var hub = globals.Connect(parsed);
            var type = parsed.GetValue(jobType)!;
            var change = paused ? await hub.Queues.PauseAsync(type, cancellationToken) : await hub.Queues.ResumeAsync(type, cancellationToken);
            var state = change.Paused ? "paused" : "running";
            await new Render(output).JsonOrLineAsync(globals.Json(parsed), change, CliJsonContext.Default.QueueChange,
                change.Changed ? $"queue {change.JobType}: {state}" : $"queue {change.JobType}: already {state}");
            return ExitCodes.Ok;
        });
        return command;
    }

    private static string Count(long value) => value.ToString(CultureInfo.InvariantCulture);
}
