using System.CommandLine;
using System.Globalization;
using MissionHub.Client;

namespace MissionHub.Cli;

/// <summary><c>missionhub schedules list|show|create|delete|pause|resume|trigger</c>: recurring jobs on a cron.</summary>
internal static class SchedulesCommand
{
    public static Command Create(GlobalOptions globals, TextWriter output, TextWriter error)
    {
        var schedules = new Command("schedules", "Recurring jobs: list, show, create, delete, pause, resume, trigger now");

        var list = new Command("list", "Every schedule, by id");
        list.SetAction(async (parsed, cancellationToken) =>
        {
            using var hub = globals.Connect(parsed);
            var all = new List<Schedule>();
            await foreach (var schedule in hub.Schedules.ListAllAsync(cancellationToken: cancellationToken))
            {
                all.Add(schedule);
            }
            var render = new Render(output);
            if (globals.Json(parsed))
            {
                await render.JsonAsync(all, CliJsonContext.Default.ListSchedule);
                return ExitCodes.Ok;
            }
            render.Table(["id", "cron", "time zone", "job type", "state", "next run", "fired", "skipped", "last job"],
                all.Select(s => new[]
                {
                    s.Id, s.Cron, s.TimeZone, s.Job.JobType, s.Paused ? "paused" : "active", Render.Time(s.NextRunAt), Count(s.Fired), Count(s.Skipped),
                    s.LastRun is { } run ? $"{run.JobId} ({run.JobStatus ?? "gone"})" : "",
                }));
            return ExitCodes.Ok;
        });

        var create = new Command("create", "Create a schedule: its job is submitted at every tick of the cron expression");
        var id = new Option<string>("--id") { Description = "the schedule's id, e.g. nightly-report", Required = true };
        var cron = new Option<string>("--cron") { Description = "5 fields (minute first) or 6 (seconds first), e.g. '0 2 * * *'", Required = true };
        var timeZone = new Option<string?>("--time-zone") { Description = "IANA time zone the cron is read in (default UTC), e.g. Europe/Berlin" };
        var jobType = new Option<string>("--job-type") { Description = "the job each tick submits, e.g. report", Required = true };
        var payload = new Option<string?>("--payload") { Description = "a JSON object handed to the worker" };
        var priority = new Option<int?>("--priority", "-p") { Description = "-1000 to 1000, higher runs first" };
        var overlap = new Option<string?>("--overlap") { Description = "when the last run's job is still pending or running: skip the tick, or allow (default)" };
        overlap.AcceptOnlyFromAmong(ScheduleOverlap.Skip, ScheduleOverlap.Allow);
        var catchUp = new Option<string?>("--catch-up") { Description = "ticks missed while the hub was down: none (default) or one run for all" };
        catchUp.AcceptOnlyFromAmong(ScheduleCatchUp.None, ScheduleCatchUp.One);
        foreach (var option in new Option[] { id, cron, timeZone, jobType, payload, priority, overlap, catchUp })
        {
            create.Options.Add(option);
        }
        create.SetAction(async (parsed, cancellationToken) =>
        {
            var body = CliApp.ParseObject(parsed.GetValue(payload), "--payload");
            using var hub = globals.Connect(parsed);
            var schedule = await hub.Schedules.CreateAsync(new ScheduleDefinition
            {
                Id = parsed.GetValue(id)!,
                Cron = parsed.GetValue(cron)!,
                TimeZone = parsed.GetValue(timeZone),
                Job = new ScheduledJob { JobType = parsed.GetValue(jobType)!, Payload = body, Priority = parsed.GetValue(priority) },
                Overlap = parsed.GetValue(overlap),
                CatchUp = parsed.GetValue(catchUp),
            }, cancellationToken);
            await ShowAsync(schedule, globals.Json(parsed), output);
            return ExitCodes.Ok;
        });

        schedules.Subcommands.Add(list);
        schedules.Subcommands.Add(ById("show", "One schedule, with its last run and last skip", globals, output,
            async (hub, scheduleId, json, cancellationToken) => await ShowAsync(await hub.Schedules.GetAsync(scheduleId, cancellationToken), json, output)));
        schedules.Subcommands.Add(create);
        schedules.Subcommands.Add(ById("delete", "Delete a schedule (jobs it already fired stay)", globals, output, async (hub, scheduleId, json, cancellationToken) =>
        {
            await hub.Schedules.DeleteAsync(scheduleId, cancellationToken);
            await new Render(output).JsonOrLineAsync(json, new Removed(scheduleId, true), CliJsonContext.Default.Removed, $"deleted schedule {scheduleId}");
        }));
        schedules.Subcommands.Add(ById("pause", "Stop firing on the cron until resumed", globals, output,
            async (hub, scheduleId, json, cancellationToken) => await ShowAsync(await hub.Schedules.PauseAsync(scheduleId, cancellationToken), json, output)));
        schedules.Subcommands.Add(ById("resume", "Fire again from the next tick", globals, output,
            async (hub, scheduleId, json, cancellationToken) => await ShowAsync(await hub.Schedules.ResumeAsync(scheduleId, cancellationToken), json, output)));
        schedules.Subcommands.Add(ById("trigger", "Submit the schedule's job now, outside its cron (also when paused)", globals, output, async (hub, scheduleId, json, cancellationToken) =>
        {
            var fired = await hub.Schedules.TriggerAsync(scheduleId, cancellationToken);
            if (json)
            {
                await new Render(output).JsonAsync(fired, CliJsonContext.Default.ScheduleTriggerResult);
                return;
            }
            await JobsCommand.ShowAsync(fired.Job, json: false, output);
        }));
        return schedules;
    }

    /// <summary>A subcommand taking one schedule id, the shape of show, delete, pause, resume and trigger.</summary>
    private static Command ById(
        string name, string description, GlobalOptions globals, TextWriter output, Func<MissionHubClient, string, bool, CancellationToken, Task> run)
    {
        var command = new Command(name, description);
        var id = new Argument<string>("id") { Description = "the schedule's id" };
        command.Arguments.Add(id);
        command.SetAction(async (parsed, cancellationToken) =>
        {
            using var hub = globals.Connect(parsed);
            await run(hub, parsed.GetValue(id)!, globals.Json(parsed), cancellationToken);
            return ExitCodes.Ok;
        });
        return command;
    }

    private static async Task ShowAsync(Schedule schedule, bool json, TextWriter output)
    {
        var render = new Render(output);
        if (json)
        {
            await render.JsonAsync(schedule, CliJsonContext.Default.Schedule);
            return;
        }
        render.Properties(
        [
            ("id", schedule.Id), ("cron", schedule.Cron), ("time zone", schedule.TimeZone), ("state", schedule.Paused ? "paused" : "active"),
            ("job type", schedule.Job.JobType), ("priority", schedule.Job.Priority?.ToString(CultureInfo.InvariantCulture)),
            ("payload", Render.Compact(schedule.Job.Payload)), ("overlap", schedule.Overlap), ("catch up", schedule.CatchUp),
            ("next run", Render.Time(schedule.NextRunAt)), ("fired", Count(schedule.Fired)), ("skipped", Count(schedule.Skipped)),
            ("last run", schedule.LastRun is { } run ? $"{Render.Time(run.FiredAt)} {run.Trigger}: job {run.JobId} ({run.JobStatus ?? "gone"})" : ""),
            ("last skip", schedule.LastSkip is { } skip ? $"{Render.Time(skip.Tick)} {skip.Reason} ({skip.Missed} ticks)" : ""),
            ("created", Render.Time(schedule.CreatedAt)),
        ]);
    }

    private static string Count(long value) => value.ToString(CultureInfo.InvariantCulture);
}
