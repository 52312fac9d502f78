using System.CommandLine;
using System.Globalization;
using MissionHub.Client;

namespace MissionHub.Cli;

/// <summary><c>missionhub jobs submit [--wait]|list|show|cancel</c>; <c>retry</c> and <c>purge</c> are in <see cref="JobMaintenanceCommands"/>.</summary>
internal static class JobsCommand
{
    private static readonly string[] Statuses = ["pending", "assigned", "running", "completed", "failed", "cancelled"];

    public static Command Create(GlobalOptions globals, TextWriter output, TextWriter error)
    {
        var jobs = new Command("jobs", "Submit, list, show, cancel, retry and purge jobs");

        var submit = new Command("submit", "Submit a job; with --wait, wait for its outcome (exit 0 completed, 1 failed or cancelled, 4 timed out)");
        var jobType = new Argument<string>("job-type") { Description = "the kind of work, e.g. render" };
        var priority = new Option<int?>("--priority", "-p") { Description = "-1000 to 1000, higher runs first" };
        var payload = new Option<string?>("--payload") { Description = "a JSON object handed to the worker" };
        var workflow = new Option<string?>("--workflow-id") { Description = "a mission whose log shows the job" };
        var attempts = new Option<int?>("--max-attempts") { Description = "attempts before the job fails for good" };
        var timeout = new Option<double?>("--timeout-s") { Description = "seconds an attempt may run" };
        var wait = new Option<bool>("--wait", "-w") { Description = "wait until the job completes, fails or is cancelled, showing progress" };
        var waitTimeout = new Option<double?>("--wait-timeout") { Description = "give up waiting after this many seconds (exit 4)" };
        var delay = new Option<double?>("--delay-s") { Description = "seconds from now before the job may run (pending until then)" };
        var dependsOn = new Option<string[]>("--depends-on")
        {
            Description = "a job id this one runs after (repeat for several); it is cancelled if that one fails",
            AllowMultipleArgumentsPerToken = false,
        };
        submit.Arguments.Add(jobType);
        foreach (var option in new Option[] { priority, payload, workflow, attempts, timeout, delay, dependsOn, wait, waitTimeout })
        {
            submit.Options.Add(option);
        }
        submit.SetAction(async (parsed, cancellationToken) =>
        {
            var body = CliApp.ParseObject(parsed.GetValue(payload), "--payload");
            using var hub = globals.Connect(parsed);
            var job = await hub.Jobs.SubmitAsync(new JobSubmission
            {
                JobType = parsed.GetValue(jobType)!,
                Priority = parsed.GetValue(priority),
                Payload = body,
                WorkflowId = parsed.GetValue(workflow),
                MaxAttempts = parsed.GetValue(attempts),
                TimeoutS = parsed.GetValue(timeout),
                DelayS = parsed.GetValue(delay),
                DependsOn = parsed.GetValue(dependsOn) is { Length: > 0 } ids ? ids : null,
            }, cancellationToken);
            if (!parsed.GetValue(wait))
            {
                await ShowAsync(job, globals.Json(parsed), output);
                return ExitCodes.Ok;
            }
            using var limit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            if (parsed.GetValue(waitTimeout) is { } seconds)
            {
                limit.CancelAfter(TimeSpan.FromSeconds(seconds));
            }
            var progress = new ImmediateProgress<JobInfo>(j => error.WriteLine(
                $"job {j.Id}: {j.Status}{(j.Status == JobStatuses.Running ? $" {j.Progress * 100:0}%" : "")}{(j.WorkerId is null ? "" : $" on {j.WorkerId}")}"));
            JobInfo finished;
            try
            {
                finished = await hub.Jobs.WaitAsync(job.Id, progress: progress, cancellationToken: limit.Token);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                await error.WriteLineAsync($"missionhub: job {job.Id} did not finish within {parsed.GetValue(waitTimeout)} s");
                return ExitCodes.TimedOut;
            }
            await ShowAsync(finished, globals.Json(parsed), output);
            return finished.Status == JobStatuses.Completed ? ExitCodes.Ok : ExitCodes.Failed;
        });

        var list = new Command("list", "Jobs, newest first");
        var status = new Option<string?>("--status") { Description = "only this status" };
        status.AcceptOnlyFromAmong(Statuses);
        var type = new Option<string?>("--type") { Description = "only this job type" };
        var worker = new Option<string?>("--worker") { Description = "only jobs of this worker" };
        var limitOption = new Option<int>("--limit") { Description = "at most this many (1 to 500)", DefaultValueFactory = _ => 50 };
        foreach (var option in new Option[] { status, type, worker, limitOption })
        {
            list.Options.Add(option);
        }
        list.SetAction(async (parsed, cancellationToken) =>
        {
            using var hub = globals.Connect(parsed);
            var page = await hub.Jobs.ListAsync(parsed.GetValue(status), parsed.GetValue(type), parsed.GetValue(worker), parsed.GetValue(limitOption), cancellationToken: cancellationToken);
            var render = new Render(output);
            if (globals.Json(parsed))
            {
                await render.JsonAsync(page.Jobs.ToList(), CliJsonContext.Default.ListJobInfo);
                return ExitCodes.Ok;
            }
            render.Table(["id", "type", "status", "priority", "attempts", "worker", "progress", "created"],
                page.Jobs.Select(j => new[]
                {
                    j.Id, j.JobType, j.Status, j.Priority.ToString(CultureInfo.InvariantCulture), j.Attempts.ToString(CultureInfo.InvariantCulture),
                    j.WorkerId, Render.Number(j.Progress), Render.Time(j.CreatedAt),
                }));
            return ExitCodes.Ok;
        });

        var show = new Command("show", "One job");
        var showId = new Argument<string>("id") { Description = "the job's id" };
        show.Arguments.Add(showId);
        show.SetAction(async (parsed, cancellationToken) =>
        {
            using var hub = globals.Connect(parsed);
            await ShowAsync(await hub.Jobs.GetAsync(parsed.GetValue(showId)!, cancellationToken), globals.Json(parsed), output);
            return ExitCodes.Ok;
        });

        var cancel = new Command("cancel", "Cancel a job that has not finished");
        var cancelId = new Argument<string>("id") { Description = "the job's id" };
        cancel.Arguments.Add(cancelId);
        cancel.SetAction(async (parsed, cancellationToken) =>
        {
            using var hub = globals.Connect(parsed);
            await ShowAsync(await hub.Jobs.CancelAsync(parsed.GetValue(cancelId)!, cancellationToken), globals.Json(parsed), output);
            return ExitCodes.Ok;
        });

        jobs.Subcommands.Add(submit);
        jobs.Subcommands.Add(list);
        jobs.Subcommands.Add(show);
        jobs.Subcommands.Add(cancel);
        JobMaintenanceCommands.AddTo(jobs, globals, output, error);
        return jobs;
    }

    internal static async Task ShowAsync(JobInfo job, bool json, TextWriter output)
    {
        var render = new Render(output);
        if (json)
        {
            await render.JsonAsync(job, CliJsonContext.Default.JobInfo);
            return;
        }
        render.Properties(
        [
            ("id", job.Id), ("type", job.JobType), ("status", job.Status), ("priority", job.Priority.ToString(CultureInfo.InvariantCulture)),
            ("attempts", $"{job.Attempts} of {job.MaxAttempts}"), ("worker", job.WorkerId), ("progress", Render.Number(job.Progress)),
            ("payload", Render.Compact(job.Payload)), ("result", Render.Compact(job.Result)), ("error", job.Error),
            ("created", Render.Time(job.CreatedAt)), ("completed", Render.Time(job.CompletedAt)),
        ]);
    }
}

/// <summary>An <see cref="IProgress{T}"/> that reports at once, on the caller's thread (no synchronisation context here).</summary>
internal sealed class ImmediateProgress<T>(Action<T> report) : IProgress<T>
{
    public void Report(T value) => report(value);
}
