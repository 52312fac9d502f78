using System.CommandLine;
using MissionHub.Client;

namespace MissionHub.Cli;

/// <summary><c>missionhub missions create|list|show|status|log</c>.</summary>
internal static class MissionsCommand
{
    public static Command Create(GlobalOptions globals, TextWriter output, TextWriter error)
    {
        var missions = new Command("missions", "Create, list, show and move missions; read and write their logs");

        var create = new Command("create", "Create a mission (PENDING)");
        var name = new Argument<string>("name") { Description = "what the mission is called" };
        var description = new Option<string?>("--description", "-d") { Description = "free text" };
        var id = new Option<string?>("--id") { Description = "an id of your own (default: a new UUID)" };
        var data = new Option<string?>("--data") { Description = "a JSON object kept with the mission" };
        create.Arguments.Add(name);
        create.Options.Add(description);
        create.Options.Add(id);
        create.Options.Add(data);
        create.SetAction(async (parsed, cancellationToken) =>
        {
            var body = CliApp.ParseObject(parsed.GetValue(data), "--data");
            using var hub = globals.Connect(parsed);
            var mission = await hub.Missions.CreateAsync(new NewMission(parsed.GetValue(name)!, parsed.GetValue(description), parsed.GetValue(id), body), cancellationToken);
            await ShowAsync(mission, globals.Json(parsed), output);
            return ExitCodes.Ok;
        });

        var list = new Command("list", "Missions, newest first");
        var status = new Option<string?>("--status") { Description = "only this status" };
        status.AcceptOnlyFromAmong([.. MissionStatuses.All]);
        var limit = new Option<int>("--limit") { Description = "at most this many", DefaultValueFactory = _ => 50 };
        list.Options.Add(status);
        list.Options.Add(limit);
        list.SetAction(async (parsed, cancellationToken) =>
        {
            using var hub = globals.Connect(parsed);
            var page = await hub.Missions.ListAsync(parsed.GetValue(status), parsed.GetValue(limit), cancellationToken: cancellationToken);
            var render = new Render(output);
            if (globals.Json(parsed))
            {
                await render.JsonAsync(page, CliJsonContext.Default.MissionPage);
                return ExitCodes.Ok;
            }
            render.Table(["id", "name", "status", "created", "updated"],
                page.Missions.Select(m => new[] { m.Id, m.Name, m.Status, Render.Time(m.CreatedAt), Render.Time(m.UpdatedAt) }));
            return ExitCodes.Ok;
        });

        var show = new Command("show", "One mission");
        var showId = new Argument<string>("id") { Description = "the mission's id" };
        show.Arguments.Add(showId);
        show.SetAction(async (parsed, cancellationToken) =>
        {
            using var hub = globals.Connect(parsed);
            await ShowAsync(await hub.Missions.GetAsync(parsed.GetValue(showId)!, cancellationToken), globals.Json(parsed), output);
            return ExitCodes.Ok;
        });

        var setStatus = new Command("status", "Change a mission's status (PENDING→RUNNING|FAILED|CANCELLED, RUNNING→COMPLETED|FAILED|CANCELLED)");
        var statusId = new Argument<string>("id") { Description = "the mission's id" };
        var newStatus = new Argument<string>("status") { Description = "RUNNING, COMPLETED, FAILED or CANCELLED" };
        newStatus.AcceptOnlyFromAmong([.. MissionStatuses.All]);
        setStatus.Arguments.Add(statusId);
        setStatus.Arguments.Add(newStatus);
        setStatus.SetAction(async (parsed, cancellationToken) =>
        {
            using var hub = globals.Connect(parsed);
            await ShowAsync(await hub.Missions.ChangeStatusAsync(parsed.GetValue(statusId)!, parsed.GetValue(newStatus)!, cancellationToken), globals.Json(parsed), output);
            return ExitCodes.Ok;
        });

        var log = new Command("log", "Read a mission's log, or append to it with --message");
        var logId = new Argument<string>("id") { Description = "the mission's id" };
        var message = new Option<string?>("--message", "-m") { Description = "append this entry instead of reading" };
        var level = new Option<string>("--level", "-l") { Description = "debug, info, warning or error", DefaultValueFactory = _ => "info" };
        level.AcceptOnlyFromAmong("debug", "info", "warning", "error");
        var logData = new Option<string?>("--data") { Description = "a JSON object with the entry" };
        log.Arguments.Add(logId);
        log.Options.Add(message);
        log.Options.Add(level);
        log.Options.Add(logData);
        log.SetAction(async (parsed, cancellationToken) =>
        {
            var render = new Render(output);
            using var hub = globals.Connect(parsed);
            var missionId = parsed.GetValue(logId)!;
            if (parsed.GetValue(message) is { } text)
            {
                var entry = await hub.Missions.AppendLogAsync(missionId, parsed.GetValue(level)!, text, CliApp.ParseObject(parsed.GetValue(logData), "--data"), cancellationToken);
                if (globals.Json(parsed))
                {
                    await render.JsonAsync(entry, CliJsonContext.Default.MissionLogEntry);
                }
                else
                {
                    render.Line($"{Render.Time(entry.Timestamp)}  {entry.Level}  {entry.Message}");
                }
                return ExitCodes.Ok;
            }
            var page = await hub.Missions.ReadLogAsync(missionId, cancellationToken: cancellationToken);
            if (globals.Json(parsed))
            {
                await render.JsonAsync(page, CliJsonContext.Default.MissionLogPage);
                return ExitCodes.Ok;
            }
            render.Table(["time", "level", "message", "data"], page.Entries.Select(e => new[] { Render.Time(e.Timestamp), e.Level, e.Message, Render.Compact(e.Data) }));
            return ExitCodes.Ok;
        });

        missions.Subcommands.Add(create);
        missions.Subcommands.Add(list);
        missions.Subcommands.Add(show);
        missions.Subcommands.Add(setStatus);
        missions.Subcommands.Add(log);
        return missions;
    }

    private static async Task ShowAsync(Mission mission, bool json, TextWriter output)
    {
        var render = new Render(output);
        if (json)
        {
            await render.JsonAsync(mission, CliJsonContext.Default.Mission);
            return;
        }
        render.Properties(
        [
            ("id", mission.Id), ("name", mission.Name), ("description", mission.Description), ("status", mission.Status),
            ("data", Render.Compact(mission.Data)), ("created", Render.Time(mission.CreatedAt)), ("updated", Render.Time(mission.UpdatedAt)),
        ]);
    }
}
