using Microsoft.AspNetCore.Http.HttpResults;
using MissionHub.ApiDocs;
using MissionHub.Auth;
using MissionHub.Infrastructure;

namespace MissionHub.Hub;

/// <summary><c>/api/queues</c>: the jobs of each job type at a glance, and pausing and resuming their dispatch.</summary>
public static class QueuesApi
{
    public static IEndpointRouteBuilder MapQueuesApi(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/api/queues").WithTags("Queues").RequireAuthorization(Policies.Viewer);
        group.MapGet("/", ListAsync)
            .WithSummary("Every job type: paused or not, its jobs by status (active = assigned + running; delayed = pending retries not yet due), completed and failed in the last hour, and the connected workers that take it")
            .Produces<QueueList>(StatusCodes.Status200OK);
        group.MapPost("/{job_type}/pause", (string job_type, JobHub hub) => SetPausedAsync(job_type, true, hub))
            .RequireAuthorization(Policies.Operator)
            .WithSummary("Stop handing out jobs of this type, on every process and across restarts; running jobs finish, new ones wait pending")
            .Produces<QueueChange>(StatusCodes.Status200OK)
            .WithProblems(StatusCodes.Status400BadRequest);
        group.MapPost("/{job_type}/resume", (string job_type, JobHub hub) => SetPausedAsync(job_type, false, hub))
            .RequireAuthorization(Policies.Operator)
            .WithSummary("Hand out jobs of this type again, best priority first")
            .Produces<QueueChange>(StatusCodes.Status200OK)
            .WithProblems(StatusCodes.Status400BadRequest);
        return app;
    }

    internal static async Task<Ok<QueueList>> ListAsync(IJobStore store, TimeProvider time, CancellationToken cancellationToken)
    {
        var counts = await store.CountByTypeAsync(cancellationToken);
        var paused = await store.ListPausedQueuesAsync(cancellationToken);
        var now = Events.EventBus.UnixSeconds(time.GetUtcNow());
        var activity = await store.QueueActivityAsync(now, now - 3600, cancellationToken);
        var workers = (await store.ListWorkersAsync(cancellationToken)).Where(w => w.Status != WorkerStatus.Offline).ToList();
        var types = counts.Keys.Concat(paused.Keys).Concat(workers.SelectMany(w => w.JobTypes)).Distinct(StringComparer.Ordinal)
            .Order(StringComparer.Ordinal);
        var none = new JobCounts(0, 0, 0, 0, 0, 0);
        return TypedResults.Ok(new QueueList([.. types.Select(type =>
        {
            var count = counts.GetValueOrDefault(type, none);
            var (delayed, completedLastHour, failedLastHour) = activity.ByType.GetValueOrDefault(type);
            return new QueueInfo(type, paused.ContainsKey(type), paused.TryGetValue(type, out var at) ? at : null,
                count.Pending, delayed, count.Active, count.Completed, count.Failed, count.Cancelled, completedLastHour, failedLastHour,
                [.. workers.Where(w => w.JobTypes.Contains(type)).Select(w => w.Id)]);
        })], activity.Capped));
    }

    private static async Task<Results<Ok<QueueChange>, ProblemHttpResult>> SetPausedAsync(string jobType, bool paused, JobHub hub)
    {
        if (!JobsApi.IsValidJobType(jobType))
        {
            return Problems.Invalid("job_type", "job_type must be 1 to 100 letters, digits, '-', '_', '.' or ':'");
        }
        var changed = await hub.SetQueuePausedAsync(jobType, paused);
        return TypedResults.Ok(new QueueChange(jobType, paused, changed));
    }
}

/// <summary>The answer to pause or resume: the queue's state now, and whether this request changed it.</summary>
public sealed record QueueChange(string JobType, bool Paused, bool Changed);
