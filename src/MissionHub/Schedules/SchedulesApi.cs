using System.Text.Json;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;
using MissionHub.ApiDocs;
using MissionHub.Auth;
using MissionHub.Hub;
using MissionHub.Infrastructure;

namespace MissionHub.Schedules;

/// <summary><c>/api/schedules</c>: recurring schedules that submit a job at every tick of their cron.</summary>
public static class SchedulesApi
{
    public const int MaxLimit = 1000;

    public static IEndpointRouteBuilder MapSchedulesApi(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/api/schedules").WithTags("Schedules").RequireAuthorization(Policies.Viewer);
        group.MapPost("/", CreateAsync)
            .RequireAuthorization(Policies.Operator)
            .WithSummary("Create a recurring schedule: at every tick of its cron (in its IANA time zone) it submits its job; each tick fires once across all processes and restarts")
            .Accepts<ScheduleRequest>("application/json")
            .Produces<Schedule>(StatusCodes.Status201Created)
            .WithProblems(StatusCodes.Status400BadRequest, StatusCodes.Status409Conflict)
            .WithExamples(request: """{"id": "nightly-report", "cron": "0 3 * * *", "time_zone": "Europe/Berlin", "job": {"job_type": "report", "payload": {"kind": "daily"}}, "overlap": "skip", "catch_up": "one"}""");
        group.MapGet("/", ListAsync)
            .WithSummary("Schedules by id, each with its next run, last run (and that job's status) and counts")
            .WithQuery(("limit", "page size, 1 to 1000 (default 500)"), ("cursor", "next_cursor of the previous page"))
            .Produces<SchedulePage>(StatusCodes.Status200OK)
            .WithProblems(StatusCodes.Status400BadRequest);
        group.MapGet("/{id}", GetAsync).WithSummary("One schedule").WithProblems(StatusCodes.Status404NotFound);
        group.MapDelete("/{id}", DeleteAsync)
            .RequireAuthorization(Policies.Operator)
            .WithSummary("Delete a schedule (the jobs it fired stay)")
            .WithProblems(StatusCodes.Status404NotFound);
        group.MapPost("/{id}/pause", PauseAsync)
            .RequireAuthorization(Policies.Operator)
            .WithSummary("Pause a schedule: no tick fires until it is resumed")
            .WithProblems(StatusCodes.Status404NotFound);
        group.MapPost("/{id}/resume", ResumeAsync)
            .RequireAuthorization(Policies.Operator)
            .WithSummary("Resume a schedule from its next tick after now (ticks that passed while paused are not caught up)")
            .WithProblems(StatusCodes.Status404NotFound);
        group.MapPost("/{id}/trigger", TriggerAsync)
            .RequireAuthorization(Policies.Operator)
            .WithSummary("Fire the schedule's job now, outside its cron (its next run is unchanged)")
            .Produces<ScheduleTriggered>(StatusCodes.Status200OK)
            .WithProblems(StatusCodes.Status404NotFound);
        return app;
    }

    internal static async Task<Results<Created<Schedule>, ProblemHttpResult>> CreateAsync(
        HttpRequest request, ScheduleService schedules, IOptions<HubOptions> hubOptions)
    {
        var (body, problem) = await JsonBody.ReadObjectAsync(request, hubOptions.Value.MaxPayloadBytes + 16 * 1024, CancellationToken.None);
        if (problem is not null)
        {
            return problem;
        }
        if (!TryParse(body, hubOptions.Value, schedules.Now(), out var definition, out var times, out problem))
        {
            return problem;
        }
        var (outcome, created) = await schedules.CreateAsync(definition, times);
        return outcome switch
        {
            ScheduleCreation.Created => TypedResults.Created($"/api/schedules/{created.Id}", created),
            ScheduleCreation.LimitReached => Problems.Conflict(
                $"this hub already has {schedules.Options.MaxSchedules} schedules (MissionHub:Schedules:MaxSchedules); delete one first"),
            _ => Problems.Conflict($"a schedule with id '{definition.Id}' already exists", new Dictionary<string, object?> { ["field"] = "id" }),
        };
    }

    internal static async Task<Results<Ok<SchedulePage>, ProblemHttpResult>> ListAsync(
        HttpRequest request, IScheduleStore store, IJobStore jobs, CancellationToken cancellationToken)
    {
        var limit = 500;
        if (request.Query["limit"].ToString() is { Length: > 0 } limitText && (!int.TryParse(limitText, out limit) || limit is < 1 or > MaxLimit))
        {
            return Problems.Invalid("limit", $"limit must be between 1 and {MaxLimit}");
        }
        var after = request.Query["cursor"].ToString() is { Length: > 0 } cursor ? cursor : null;
        var page = await store.ListAsync(after, limit + 1, cancellationToken);
        var next = page.Count > limit ? page[limit - 1].Id : null;
        var shown = await Task.WhenAll(page.Take(limit).Select(s => WithJobStatusAsync(s, jobs, cancellationToken)));
        return TypedResults.Ok(new SchedulePage(shown, next));
    }

    internal static async Task<Results<Ok<Schedule>, ProblemHttpResult>> GetAsync(string id, IScheduleStore store, IJobStore jobs, CancellationToken cancellationToken) =>
        await store.GetAsync(id, cancellationToken) is { } schedule
            ? TypedResults.Ok(await WithJobStatusAsync(schedule, jobs, cancellationToken))
            : NotFound(id);

    internal static async Task<Results<NoContent, ProblemHttpResult>> DeleteAsync(string id, ScheduleService schedules) =>
        await schedules.DeleteAsync(id) ? TypedResults.NoContent() : NotFound(id);

    internal static Task<Results<Ok<Schedule>, ProblemHttpResult>> PauseAsync(string id, ScheduleService schedules, IJobStore jobs) =>
        SetPausedAsync(id, paused: true, schedules, jobs);

    internal static Task<Results<Ok<Schedule>, ProblemHttpResult>> ResumeAsync(string id, ScheduleService schedules, IJobStore jobs) =>
        SetPausedAsync(id, paused: false, schedules, jobs);

    private static async Task<Results<Ok<Schedule>, ProblemHttpResult>> SetPausedAsync(string id, bool paused, ScheduleService schedules, IJobStore jobs) =>
        await schedules.SetPausedAsync(id, paused) is { } schedule
            ? TypedResults.Ok(await WithJobStatusAsync(schedule, jobs, CancellationToken.None))
            : NotFound(id);

    internal static async Task<Results<Ok<ScheduleTriggered>, ProblemHttpResult>> TriggerAsync(string id, ScheduleService schedules) =>
        await schedules.TriggerAsync(id) is { Outcome: ScheduleStepOutcome.Fired, Job: { } job }
            ? TypedResults.Ok(new ScheduleTriggered(id, job))
            : NotFound(id);

    private static ProblemHttpResult NotFound(string id) => Problems.NotFound($"no schedule with id '{id}'");

    /// <summary>The schedule with the status its last job has now (null once that job was purged).</summary>
    private static async Task<Schedule> WithJobStatusAsync(Schedule schedule, IJobStore jobs, CancellationToken cancellationToken) =>
        schedule.LastRun is { } run
            ? schedule with { LastRun = run with { JobStatus = (await jobs.GetAsync(run.JobId, cancellationToken))?.Status } }
            : schedule;

    internal static bool TryParse(JsonElement body, HubOptions settings, double now, out Schedule schedule, out CronTimes times, out ProblemHttpResult problem)
    {
        schedule = null!;
        times = null!;
        if (!body.TryGetProperty("id", out var idElement) || idElement.ValueKind != JsonValueKind.String || !IsValidId(idElement.GetString()!))
        {
            problem = Problems.Invalid("id", "id is required: 1 to 128 letters, digits, '-', '_', '.' or ':', e.g. \"nightly-report\"");
            return false;
        }
        if (!body.TryGetProperty("cron", out var cronElement) || cronElement.ValueKind != JsonValueKind.String || cronElement.GetString()!.Length is 0 or > 200)
        {
            problem = Problems.Invalid("cron", "cron is required: a cron expression of 5 fields, or 6 with seconds first, e.g. \"0 3 * * *\"");
            return false;
        }
        var timeZone = "UTC";
        if (body.TryGetProperty("time_zone", out var zoneElement) && zoneElement.ValueKind != JsonValueKind.Null)
        {
            if (zoneElement.ValueKind != JsonValueKind.String || zoneElement.GetString()!.Length is 0 or > 100)
            {
                problem = Problems.Invalid("time_zone", "time_zone must be an IANA time zone name, e.g. \"Europe/Berlin\"");
                return false;
            }
            timeZone = zoneElement.GetString()!;
        }
        if (!CronTimes.TryParse(cronElement.GetString()!, timeZone, out times, out var field, out var error))
        {
            problem = Problems.Invalid(field, error);
            return false;
        }
        if (!TryParseChoice(body, "overlap", ScheduleOverlap.All, ScheduleOverlap.Allow, out var overlap, out problem)
            || !TryParseChoice(body, "catch_up", ScheduleCatchUp.All, ScheduleCatchUp.None, out var catchUp, out problem))
        {
            return false;
        }
        if (!body.TryGetProperty("job", out var jobElement) || jobElement.ValueKind != JsonValueKind.Object)
        {
            problem = Problems.Invalid("job", "job is required: the job to submit at each tick, as POST /api/jobs takes it");
            return false;
        }
        foreach (var notTaken in new[] { "run_at", "delay_s", "idempotency_key", "depends_on" })
        {
            if (jobElement.TryGetProperty(notTaken, out var value) && value.ValueKind != JsonValueKind.Null)
            {
                problem = Problems.Invalid($"job.{notTaken}", $"a schedule's job takes no {notTaken}: the schedule decides when it runs, and each tick is its own job");
                return false;
            }
        }
        if (!JobsApi.TryParseNewJob(jobElement, settings, now, out var job, out var refused))
        {
            var name = refused.ProblemDetails.Extensions.TryGetValue("field", out var refusedField) ? refusedField as string : null;
            problem = Problems.Invalid(name is null ? "job" : $"job.{name}", refused.ProblemDetails.Detail ?? "invalid job");
            return false;
        }
        if (CronNeverFires(times, now))
        {
            problem = Problems.Invalid("cron", $"cron '{cronElement.GetString()}' has no tick after now");
            return false;
        }
        schedule = new Schedule
        {
            Id = idElement.GetString()!,
            Cron = cronElement.GetString()!,
            TimeZone = timeZone,
            Job = new ScheduleJob(job.JobType, job.Priority, job.Payload, job.MaxAttempts, job.TimeoutS, job.WorkflowId),
            Overlap = overlap,
            CatchUp = catchUp,
        };
        problem = null!;
        return true;
    }

    private static bool CronNeverFires(CronTimes times, double now) => times.NextAfter(now) is null;

    private static bool TryParseChoice(JsonElement body, string name, string[] allowed, string fallback, out string value, out ProblemHttpResult problem)
    {
        value = fallback;
        problem = null!;
        if (!body.TryGetProperty(name, out var element) || element.ValueKind == JsonValueKind.Null)
        {
            return true;
        }
        if (element.ValueKind != JsonValueKind.String || !allowed.Contains(element.GetString()))
        {
            problem = Problems.Invalid(name, $"{name} must be one of {string.Join(", ", allowed)}");
            return false;
        }
        value = element.GetString()!;
        return true;
    }

    private static bool IsValidId(string id) =>
        id.Length is > 0 and <= 128 && id.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.' or ':');
}
