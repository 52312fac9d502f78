using System.Globalization;
using System.Text.Json;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;
using MissionHub.ApiDocs;
using MissionHub.Auth;
using MissionHub.Events;
using MissionHub.Infrastructure;

namespace MissionHub.Hub;

/// <summary><c>/api/jobs</c> and the worker socket <c>/ws/worker</c>.</summary>
public static class JobsApi
{
    public const int MaxLimit = 500;

    public static IEndpointRouteBuilder MapJobsApi(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/api/jobs").WithTags("Jobs").RequireAuthorization(Policies.Viewer);
        group.MapPost("/", SubmitAsync)
            .RequireAuthorization(Policies.Operator)
            .WithSummary("Submit a job; it is pending until a worker with its job type has a free slot")
            .Accepts<JobSubmitRequest>("application/json")
            .WithProblems(StatusCodes.Status400BadRequest)
            .WithExamples(request: """{"job_type": "render", "priority": 5, "payload": {"frames": 3}, "max_attempts": 3, "timeout_s": 60}""");
        group.MapPost("/batch", SubmitBatchAsync)
            .RequireAuthorization(Policies.Operator)
            .WithSummary("Submit up to MaxBatchJobs (1,000) jobs in one request, all or none: one invalid job refuses the batch, naming the index and field of every invalid job. With an Idempotency-Key header (1 to 128 visible ASCII characters), the same key and body within 24 h answers 200 with the original batch (the same job ids, in order) and stores nothing, a different body 409 naming the key")
            .Accepts<JobBatchRequest>("application/json")
            .WithHeader(IdempotencyKeys.Header, "optional: the same key and body within 24 h answers 200 with the original batch; another body 409")
            .Produces<JobBatch>(StatusCodes.Status201Created)
            .Produces<JobBatch>(StatusCodes.Status200OK)
            .WithProblems(StatusCodes.Status400BadRequest, StatusCodes.Status409Conflict)
            .WithExamples(request: """{"jobs": [{"job_type": "render", "payload": {"frame": 1}}, {"job_type": "render", "priority": 5, "payload": {"frame": 2}}]}""");
        group.MapPost("/retry", RetryMatchingAsync)
            .RequireAuthorization(Policies.Operator)
            .WithSummary("Send every failed or cancelled job matching the filters back to pending (attempts from zero again); answers how many")
            .WithQuery(("status", "failed or cancelled (default both)"), ("job_type", "only this job type"), ("worker", "only jobs of this worker"),
                FinishedSinceQuery, FinishedUntilQuery)
            .Produces<BulkJobChange>(StatusCodes.Status200OK)
            .WithProblems(StatusCodes.Status400BadRequest);
        group.MapPost("/purge", PurgeMatchingAsync)
            .RequireAuthorization(Policies.Operator)
            .WithSummary("Remove every finished job matching the filters (one jobs_purged event per storage step, not one per job); answers how many")
            .WithQuery(("status", "completed, failed or cancelled (default all three)"), ("job_type", "only this job type"), ("worker", "only jobs of this worker"),
                FinishedSinceQuery, FinishedUntilQuery)
            .Produces<BulkJobChange>(StatusCodes.Status200OK)
            .WithProblems(StatusCodes.Status400BadRequest);
        group.MapGet("/", ListAsync)
            .WithSummary("List jobs, newest first; a filter that examines 5,000 jobs without filling the page answers scan_capped: true and a next_cursor to continue from")
            .Produces<JobPage>(StatusCodes.Status200OK)
            .WithQuery(("status", "pending, assigned, running, completed, failed or cancelled"), ("job_type", "only this job type"),
                ("worker", "only jobs of this worker"), ("limit", "page size, 1 to 500"), ("cursor", "next_cursor of the previous page"),
                ("due", "false: the pending jobs waiting for their run_at (or a retry's backoff), soonest first"),
                FinishedSinceQuery, FinishedUntilQuery)
            .WithProblems(StatusCodes.Status400BadRequest);
        group.MapGet("/{id}", GetAsync).WithSummary("One job").WithProblems(StatusCodes.Status404NotFound);
        group.MapPost("/{id}/retry", RetryAsync)
            .RequireAuthorization(Policies.Operator)
            .WithSummary("Send a failed or cancelled job back to pending: its attempts count from zero again, the earlier ones in prior_attempts")
            .WithProblems(StatusCodes.Status404NotFound, StatusCodes.Status409Conflict);
        group.MapPost("/{id}/cancel", CancelAsync)
            .RequireAuthorization(Policies.Operator)
            .WithSummary("Cancel a job that has not finished; its worker is told with job_cancelled")
            .WithProblems(StatusCodes.Status404NotFound, StatusCodes.Status409Conflict);
        app.Map("/ws/worker", AcceptWorkerAsync).WithTags("Jobs").RequireAuthorization(Policies.Worker);
        return app;
    }

    // The range is on when jobs finished, not when they were submitted: "retry everything that failed in the last hour".
    private static readonly (string, string) FinishedSinceQuery = ("finished_since",
        "only jobs that finished (completed, failed or cancelled) at or after this Unix time in seconds, by their completed_at; "
        + "with finished_since or finished_until the list runs by finish time, newest finished first, and its next_cursor continues that order");

    private static readonly (string, string) FinishedUntilQuery = ("finished_until",
        "only jobs that finished before this Unix time in seconds (by completed_at); not before finished_since");

    public static bool IsValidJobType(string jobType) =>
        jobType.Length is > 0 and <= 100 && jobType.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.' or ':');

    internal static async Task<Results<Created<Job>, Ok<Job>, ProblemHttpResult>> SubmitAsync(
        HttpRequest request, JobHub hub, IOptions<HubOptions> options, TimeProvider time)
    {
        var settings = options.Value;
        // A submit that was sent whole is carried out whole, whether or not its client waits for the answer: the body is
        // read without the request's abort token (a client gone mid-body still fails the read), and storing it is not
        // cancellable either.
        var (body, problem) = await JsonBody.ReadObjectAsync(request, settings.MaxPayloadBytes + 16 * 1024, CancellationToken.None);
        if (problem is not null)
        {
            return problem;
        }
        if (!TryParseNewJob(body, settings, EventBus.UnixSeconds(time.GetUtcNow()), out var newJob, out problem))
        {
            return problem;
        }
        using var span = Tracing.MissionHubTracing.StartSubmit(newJob.JobType);
        SubmitResult submitted;
        try
        {
            submitted = await hub.SubmitAsync(newJob);
        }
        catch (UnknownDependenciesException unknown)
        {
            return UnknownDependencies("depends_on", unknown);
        }
        var (job, created) = submitted;
        span?.SetTag("missionhub.job.id", job.Id);
        // A repeated idempotency key answers with the job it created the first time.
        return created ? TypedResults.Created($"/api/jobs/{job.Id}", job) : TypedResults.Ok(job);
    }

    internal static async Task<Results<Created<JobBatch>, Ok<JobBatch>, ProblemHttpResult>> SubmitBatchAsync(
        HttpRequest request, JobHub hub, IOptions<HubOptions> options, TimeProvider time)
    {
        var settings = options.Value;
        if (!IdempotencyKeys.TryRead(request, out var idempotencyKey, out var badKey))
        {
            return badKey!;
        }
        // As a single submit: once sent whole, the batch is stored whether or not its client waits.
        var (body, problem) = await JsonBody.ReadObjectAsync(request, settings.MaxBatchBytes, CancellationToken.None);
        if (problem is not null)
        {
            return problem;
        }
        if (!body.TryGetProperty("jobs", out var jobsElement) || jobsElement.ValueKind != JsonValueKind.Array)
        {
            return Problems.Invalid("jobs", "jobs is required: a list of jobs, each as POST /api/jobs takes it");
        }
        var count = jobsElement.GetArrayLength();
        if (count is 0 || count > settings.MaxBatchJobs)
        {
            return Problems.Invalid("jobs", $"jobs must hold 1 to {settings.MaxBatchJobs} jobs, not {count}");
        }
        var jobs = new List<NewJob>(count);
        var errors = new List<JobBatchError>();
        var now = EventBus.UnixSeconds(time.GetUtcNow());
        var index = 0;
        foreach (var element in jobsElement.EnumerateArray())
        {
            if (element.ValueKind != JsonValueKind.Object)
            {
                errors.Add(new JobBatchError(index, $"jobs[{index}]", $"each job must be a JSON object, not {JsonBody.Describe(element.ValueKind)}"));
            }
            else if (TryParseNewJob(element, settings, now, out var job, out var refused))
            {
                jobs.Add(job);
            }
            else
            {
                var field = refused.ProblemDetails.Extensions.TryGetValue("field", out var name) ? name as string : null;
                errors.Add(new JobBatchError(index, field is null ? $"jobs[{index}]" : $"jobs[{index}].{field}", refused.ProblemDetails.Detail ?? "invalid"));
            }
            index++;
        }
        if (errors.Count > 0)
        {
            return TypedResults.Problem(
                detail: $"{errors.Count} of {count} jobs are invalid, so none was stored; first: {errors[0].Field}: {errors[0].Detail}",
                statusCode: StatusCodes.Status400BadRequest,
                title: "Invalid request",
                extensions: new Dictionary<string, object?>
                {
                    ["field"] = errors[0].Field,
                    // A JsonElement, so the problem writer needs no contract for the list.
                    ["errors"] = JsonSerializer.SerializeToElement(errors, HubJsonContext.Default.ListJobBatchError),
                });
        }
        using var span = Tracing.MissionHubTracing.StartSubmit(jobs[0].JobType);
        IReadOnlyList<SubmitResult> results;
        try
        {
            if (idempotencyKey is not null)
            {
                var fingerprint = IdempotencyKeys.Fingerprint(body);
                var once = await hub.SubmitBatchOnceAsync(jobs, idempotencyKey, fingerprint);
                if (once.Known is not { } known)
                {
                    span?.SetTag("missionhub.batch.size", once.Stored.Count);
                    return TypedResults.Created((string?)null, new JobBatch([.. once.Stored.Select(r => r.Job)], once.Stored.Count(r => r.Created)));
                }
                if (known.Fingerprint != fingerprint)
                {
                    return Problems.Conflict(
                        $"{IdempotencyKeys.Header} '{idempotencyKey}' was used with a different batch; use a new key for a new batch",
                        new Dictionary<string, object?> { ["field"] = IdempotencyKeys.Header, ["job_ids"] = known.Jobs.Select(j => j.Id).ToArray() });
                }
                // A retry of the same batch: the jobs it stored, as they are now.
                return TypedResults.Ok(new JobBatch(known.Jobs, known.Created));
            }
            results = await hub.SubmitBatchAsync(jobs);
        }
        catch (UnknownDependenciesException unknown)
        {
            return UnknownDependencies($"jobs[{unknown.Index}].depends_on", unknown);
        }
        span?.SetTag("missionhub.batch.size", results.Count);
        return TypedResults.Created((string?)null, new JobBatch([.. results.Select(r => r.Job)], results.Count(r => r.Created)));
    }

    internal static bool TryParseNewJob(JsonElement body, HubOptions settings, double now, out NewJob newJob, out ProblemHttpResult problem)
    {
        newJob = null!;
        problem = null!;
        if (!body.TryGetProperty("job_type", out var typeElement) || typeElement.ValueKind != JsonValueKind.String
            || string.IsNullOrWhiteSpace(typeElement.GetString()))
        {
            problem = Problems.Invalid("job_type", "job_type is required: the name of the kind of work, e.g. \"render\"");
            return false;
        }
        var jobType = typeElement.GetString()!;
        if (!IsValidJobType(jobType))
        {
            problem = Problems.Invalid("job_type", "job_type must be 1 to 100 letters, digits, '-', '_', '.' or ':'");
            return false;
        }
        var priority = 0;
        if (body.TryGetProperty("priority", out var priorityElement) && priorityElement.ValueKind != JsonValueKind.Null
            && (priorityElement.ValueKind != JsonValueKind.Number || !priorityElement.TryGetInt32(out priority) || priority is < -1000 or > 1000))
        {
            problem = Problems.Invalid("priority", "priority must be a whole number from -1000 to 1000 (higher runs first)");
            return false;
        }
        var payload = JsonSerializer.SerializeToElement(new Dictionary<string, object>());
        if (body.TryGetProperty("payload", out var payloadElement) && payloadElement.ValueKind != JsonValueKind.Null)
        {
            if (payloadElement.ValueKind != JsonValueKind.Object)
            {
                problem = Problems.Invalid("payload", $"payload must be a JSON object, not {JsonBody.Describe(payloadElement.ValueKind)}");
                return false;
            }
            if (payloadElement.GetRawText().Length > settings.MaxPayloadBytes)
            {
                problem = Problems.Invalid("payload", $"payload is larger than {settings.MaxPayloadBytes} bytes");
                return false;
            }
            payload = payloadElement.Clone();
        }
        string? workflowId = null;
        if (body.TryGetProperty("workflow_id", out var workflowElement) && workflowElement.ValueKind != JsonValueKind.Null)
        {
            if (workflowElement.ValueKind != JsonValueKind.String || workflowElement.GetString() is not { Length: > 0 and <= 128 } workflow)
            {
                problem = Problems.Invalid("workflow_id", "workflow_id must be a mission id of 1 to 128 characters");
                return false;
            }
            workflowId = workflow;
        }
        var maxAttempts = settings.DefaultMaxAttempts;
        if (body.TryGetProperty("max_attempts", out var attemptsElement) && attemptsElement.ValueKind != JsonValueKind.Null
            && (attemptsElement.ValueKind != JsonValueKind.Number || !attemptsElement.TryGetInt32(out maxAttempts) || maxAttempts is < 1 or > 100))
        {
            problem = Problems.Invalid("max_attempts", "max_attempts must be a whole number from 1 to 100");
            return false;
        }
        double? timeout = null;
        if (body.TryGetProperty("timeout_s", out var timeoutElement) && timeoutElement.ValueKind != JsonValueKind.Null)
        {
            if (timeoutElement.ValueKind != JsonValueKind.Number || !timeoutElement.TryGetDouble(out var seconds) || seconds is <= 0 or > 7 * 86400)
            {
                problem = Problems.Invalid("timeout_s", "timeout_s must be a number of seconds above 0 and at most 604800");
                return false;
            }
            timeout = seconds;
        }
        string? idempotencyKey = null;
        if (body.TryGetProperty("idempotency_key", out var keyElement) && keyElement.ValueKind != JsonValueKind.Null)
        {
            if (keyElement.ValueKind != JsonValueKind.String || keyElement.GetString() is not { Length: > 0 and <= 128 } key
                || !key.All(c => c is > ' ' and <= '~'))
            {
                problem = Problems.Invalid("idempotency_key", "idempotency_key must be 1 to 128 visible ASCII characters");
                return false;
            }
            idempotencyKey = key;
        }
        if (!TryParseRunAt(body, now, out var runAt, out problem) || !TryParseDependsOn(body, out var dependsOn, out problem))
        {
            return false;
        }
        newJob = new NewJob(jobType, priority, payload, workflowId, maxAttempts, timeout, idempotencyKey, runAt, DependsOn: dependsOn);
        return true;
    }

    /// <summary><c>depends_on</c>: ids of stored jobs (whether they exist is the storage step's to check), each once.</summary>
    private static bool TryParseDependsOn(JsonElement body, out IReadOnlyList<string>? dependsOn, out ProblemHttpResult problem)
    {
        dependsOn = null;
        problem = null!;
        if (!body.TryGetProperty("depends_on", out var element) || element.ValueKind == JsonValueKind.Null)
        {
            return true;
        }
        if (element.ValueKind != JsonValueKind.Array)
        {
            problem = Problems.Invalid("depends_on", $"depends_on must be a list of job ids, not {JsonBody.Describe(element.ValueKind)}");
            return false;
        }
        if (element.GetArrayLength() > JobDependencies.MaxPerJob)
        {
            problem = Problems.Invalid("depends_on", $"depends_on may name at most {JobDependencies.MaxPerJob} jobs, not {element.GetArrayLength()}");
            return false;
        }
        var ids = new List<string>();
        foreach (var item in element.EnumerateArray())
        {
            if (item.ValueKind != JsonValueKind.String || item.GetString() is not { Length: > 0 and <= 128 } id)
            {
                problem = Problems.Invalid("depends_on", "each entry of depends_on must be a job id (a string of 1 to 128 characters)");
                return false;
            }
            if (ids.Contains(id, StringComparer.Ordinal))
            {
                problem = Problems.Invalid("depends_on", $"depends_on names job {id} twice");
                return false;
            }
            ids.Add(id);
        }
        dependsOn = ids.Count > 0 ? ids : null;
        return true;
    }

    private static ProblemHttpResult UnknownDependencies(string field, UnknownDependenciesException unknown) =>
        Problems.Invalid(field, $"depends_on names jobs that do not exist: {string.Join(", ", unknown.JobIds)}");

    /// <summary>How far in the past a <c>run_at</c> may be (clock skew, a slow client) and still mean "now".</summary>
    public static readonly TimeSpan RunAtPastTolerance = TimeSpan.FromMinutes(1);

    /// <summary>How far ahead a job may be delayed.</summary>
    public static readonly TimeSpan MaxDelay = TimeSpan.FromDays(366);

    /// <summary><c>run_at</c> (Unix seconds) or <c>delay_s</c> (seconds from now), at most one of them.</summary>
    private static bool TryParseRunAt(JsonElement body, double now, out double? runAt, out ProblemHttpResult problem)
    {
        runAt = null;
        problem = null!;
        var hasRunAt = body.TryGetProperty("run_at", out var runAtElement) && runAtElement.ValueKind != JsonValueKind.Null;
        var hasDelay = body.TryGetProperty("delay_s", out var delayElement) && delayElement.ValueKind != JsonValueKind.Null;
        if (hasRunAt && hasDelay)
        {
            problem = Problems.Invalid("delay_s", "give run_at or delay_s, not both");
            return false;
        }
        if (hasRunAt)
        {
            if (runAtElement.ValueKind != JsonValueKind.Number || !runAtElement.TryGetDouble(out var at) || !double.IsFinite(at))
            {
                problem = Problems.Invalid("run_at", "run_at must be a time in Unix seconds, e.g. 1767225600.5");
                return false;
            }
            if (at < now - RunAtPastTolerance.TotalSeconds)
            {
                problem = Problems.Invalid("run_at", $"run_at is {now - at:0} s in the past; it may be at most {RunAtPastTolerance.TotalSeconds:0} s behind the server's clock (now {now:0.###})");
                return false;
            }
            if (at > now + MaxDelay.TotalSeconds)
            {
                problem = Problems.Invalid("run_at", $"run_at may be at most {MaxDelay.TotalDays:0} days ahead");
                return false;
            }
            runAt = at;
        }
        else if (hasDelay)
        {
            if (delayElement.ValueKind != JsonValueKind.Number || !delayElement.TryGetDouble(out var delay) || delay is < 0 || delay > MaxDelay.TotalSeconds)
            {
                problem = Problems.Invalid("delay_s", $"delay_s must be a number of seconds from 0 to {MaxDelay.TotalSeconds:0}");
                return false;
            }
            runAt = now + delay;
        }
        return true;
    }

    internal static async Task<Results<Ok<JobPage>, ProblemHttpResult>> ListAsync(
        HttpRequest request, IJobStore store, TimeProvider time, CancellationToken cancellationToken)
    {
        var query = request.Query;
        var status = query["status"].ToString();
        if (status.Length > 0 && !JobStatus.All.Contains(status))
        {
            return Problems.Invalid("status", $"status '{status}' is not a job status; valid values: {string.Join(", ", JobStatus.All)}");
        }
        var limit = 50;
        if (query["limit"].ToString() is { Length: > 0 } limitText
            && (!int.TryParse(limitText, NumberStyles.None, CultureInfo.InvariantCulture, out limit) || limit is < 1 or > MaxLimit))
        {
            return Problems.Invalid("limit", $"limit must be between 1 and {MaxLimit}");
        }
        if (!TryParseFinishedRange(query, out var since, out var until, out var badRange))
        {
            return badRange!;
        }
        var byFinishTime = since is not null || until is not null;
        if (byFinishTime && status.Length > 0 && !JobStatus.IsFinal(status))
        {
            return Problems.Invalid("status", $"finished_since and finished_until select finished jobs: status must be completed, failed or cancelled, not '{status}'");
        }
        long? before = null;
        FinishedPosition? beforeFinished = null;
        if (query["cursor"].ToString() is { Length: > 0 } cursorText)
        {
            // A finish-time range pages by finish time, so its cursor is a place in that order.
            if (byFinishTime && FinishedPosition.TryParse(cursorText, out var position))
            {
                beforeFinished = position;
            }
            else if (!byFinishTime && long.TryParse(cursorText, NumberStyles.None, CultureInfo.InvariantCulture, out var order))
            {
                before = order;
            }
            else
            {
                return Problems.Invalid("cursor", "cursor must be a next_cursor value from a previous page of the same filter");
            }
        }
        if (query["due"].ToString() is { Length: > 0 } due)
        {
            if (due != "false")
            {
                return Problems.Invalid("due", "due=false lists the pending jobs waiting for their run_at, soonest first; status=pending lists every pending job");
            }
            if (status.Length > 0 && status != JobStatus.Pending || query["worker"].Count > 0 || before is not null || byFinishTime)
            {
                return Problems.Invalid("due", "due=false lists pending jobs soonest first and takes only job_type and limit");
            }
            var waiting = await store.ListWaitingAsync(EventBus.UnixSeconds(time.GetUtcNow()), NullIfEmpty(query["job_type"]), limit, cancellationToken);
            return TypedResults.Ok(new JobPage(waiting.Jobs, null, waiting.ScanCapped));
        }
        var listing = await store.ListAsync(new JobListQuery(
            status.Length > 0 ? status : null, NullIfEmpty(query["job_type"]), NullIfEmpty(query["worker"]), limit, before)
        {
            FinishedSince = since, FinishedUntil = until, BeforeFinished = beforeFinished,
        }, cancellationToken);
        return TypedResults.Ok(new JobPage(listing.Jobs, listing.NextCursor, listing.ScanCapped));
    }

    /// <summary>
    /// <c>finished_since</c> and <c>finished_until</c> (Unix seconds, either or both): the jobs that finished — completed,
    /// failed or cancelled — at or after the one and before the other, as their <c>completed_at</c> says.
    /// </summary>
    private static bool TryParseFinishedRange(IQueryCollection query, out double? since, out double? until, out ProblemHttpResult? problem)
    {
        since = until = null;
        problem = null;
        foreach (var name in new[] { "finished_since", "finished_until" })
        {
            if (!query.TryGetValue(name, out var values))
            {
                continue;
            }
            if (values.Count != 1 || !double.TryParse(values[0], NumberStyles.Float, CultureInfo.InvariantCulture, out var seconds)
                || !double.IsFinite(seconds) || seconds < 0)
            {
                problem = Problems.Invalid(name, $"{name} must be one time in Unix seconds, e.g. 1767225600.5, not '{values}'");
                return false;
            }
            if (name == "finished_since")
            {
                since = seconds;
            }
            else
            {
                until = seconds;
            }
        }
        if (since > until)
        {
            problem = Problems.Invalid("finished_until", $"finished_until ({until:0.###}) is before finished_since ({since:0.###})");
            return false;
        }
        return true;
    }

    internal static async Task<Results<Ok<Job>, ProblemHttpResult>> GetAsync(string id, JobHub hub, CancellationToken cancellationToken) =>
        await hub.GetAsync(id, cancellationToken) is { } job
            ? TypedResults.Ok(job)
            : Problems.NotFound($"no job with id '{id}'");

    internal static async Task<Results<Ok<Job>, ProblemHttpResult>> CancelAsync(string id, JobHub hub)
    {
        var (outcome, job, _) = await hub.CancelAsync(id);
        return outcome switch
        {
            StepOutcome.Done => TypedResults.Ok(job!),
            StepOutcome.NotFound => Problems.NotFound($"no job with id '{id}'"),
            _ => Problems.Conflict($"job '{id}' is already {job!.Status} and cannot be cancelled",
                new Dictionary<string, object?> { ["current_status"] = job.Status }),
        };
    }

    internal static async Task<Results<Ok<Job>, ProblemHttpResult>> RetryAsync(string id, JobHub hub, CancellationToken cancellationToken)
    {
        if (await hub.RetryAsync(id) is { } retried)
        {
            return TypedResults.Ok(retried);
        }
        return await hub.GetAsync(id, cancellationToken) is { } job
            ? Problems.Conflict($"job '{id}' is {job.Status}; only failed or cancelled jobs can be retried",
                new Dictionary<string, object?> { ["current_status"] = job.Status })
            : Problems.NotFound($"no job with id '{id}'");
    }

    internal static Task<Results<Ok<BulkJobChange>, ProblemHttpResult>> RetryMatchingAsync(HttpRequest request, JobHub hub, CancellationToken cancellationToken) =>
        BulkAsync(request, [JobStatus.Failed, JobStatus.Cancelled], hub.RetryMatchingAsync, count => new BulkJobChange(count, 0), cancellationToken);

    internal static Task<Results<Ok<BulkJobChange>, ProblemHttpResult>> PurgeMatchingAsync(HttpRequest request, JobHub hub, CancellationToken cancellationToken) =>
        BulkAsync(request, [JobStatus.Completed, JobStatus.Failed, JobStatus.Cancelled], hub.PurgeMatchingAsync, count => new BulkJobChange(0, count), cancellationToken);

    private static async Task<Results<Ok<BulkJobChange>, ProblemHttpResult>> BulkAsync(
        HttpRequest request, string[] allowed, Func<IReadOnlyList<string>, JobListQuery, CancellationToken, Task<int>> change,
        Func<int, BulkJobChange> answer, CancellationToken cancellationToken)
    {
        var status = request.Query["status"].ToString();
        if (status.Length > 0 && !allowed.Contains(status))
        {
            return Problems.Invalid("status", $"status must be one of {string.Join(", ", allowed)}, not '{status}'");
        }
        var jobType = NullIfEmpty(request.Query["job_type"]);
        if (jobType is not null && !IsValidJobType(jobType))
        {
            return Problems.Invalid("job_type", "job_type must be 1 to 100 letters, digits, '-', '_', '.' or ':'");
        }
        if (!TryParseFinishedRange(request.Query, out var since, out var until, out var badRange))
        {
            return badRange!;
        }
        var filter = new JobListQuery(null, jobType, NullIfEmpty(request.Query["worker"]), JobHub.BulkChunk, null) { FinishedSince = since, FinishedUntil = until };
        return TypedResults.Ok(answer(await change(status.Length > 0 ? [status] : allowed, filter, cancellationToken)));
    }

    internal static async Task AcceptWorkerAsync(HttpContext context, JobHub hub, IOptions<HubOptions> options, TimeProvider time, ILoggerFactory loggers)
    {
        if (!context.WebSockets.IsWebSocketRequest)
        {
            await Problems.Invalid("Upgrade", "/ws/worker speaks WebSocket: connect with a WebSocket client").ExecuteAsync(context);
            return;
        }
        using var socket = await context.WebSockets.AcceptWebSocketAsync();
        using var connection = new WorkerConnection(socket, hub, options.Value, time, loggers.CreateLogger("MissionHub.Hub.WorkerConnection"));
        await connection.RunAsync(context.RequestAborted);
    }

    private static string? NullIfEmpty(Microsoft.Extensions.Primitives.StringValues value) =>
        value.Count == 0 || string.IsNullOrEmpty(value[0]) ? null : value[0];
}
