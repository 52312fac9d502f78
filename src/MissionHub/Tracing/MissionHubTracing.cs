using System.Diagnostics;
using System.Text.Json;
using MissionHub.Hub;

namespace MissionHub.Tracing;

/// <summary>
/// MissionHub's spans. A job's trace: the HTTP request → <c>job.submit</c> (its id is the job's <c>traceparent</c>,
/// kept with the job and in <c>meta.traceparent</c> of its events) → <c>job.dispatch</c> (whose id <c>job_assigned</c>
/// hands to the worker) → the worker's handler span → <c>job.complete</c> / <c>job.fail</c> on the hub.
/// </summary>
public static class MissionHubTracing
{
    public const string SourceName = "MissionHub";

    public static readonly ActivitySource Source = new(SourceName, typeof(MissionHubTracing).Assembly.GetName().Version?.ToString());

    private static readonly AsyncLocal<string?> EventTraceparent = new();

    /// <summary>The traceparent for <c>meta.traceparent</c> of the event being published: the job's, else the current span's.</summary>
    public static string? CurrentTraceparent => EventTraceparent.Value ?? Activity.Current?.Id;

    /// <summary>Runs <paramref name="publish"/> (whose synchronous part builds the envelope) with the job's traceparent.</summary>
    public static Task<T> WithTraceparent<T>(string? traceparent, Func<Task<T>> publish)
    {
        var previous = EventTraceparent.Value;
        EventTraceparent.Value = traceparent;
        try
        {
            return publish();
        }
        finally
        {
            EventTraceparent.Value = previous;
        }
    }

    /// <summary>The span around a submission; its id becomes the job's traceparent.</summary>
    public static Activity? StartSubmit(string jobType)
    {
        var activity = Source.StartActivity("job.submit", ActivityKind.Internal);
        activity?.SetTag("missionhub.job.type", jobType);
        return activity;
    }

    /// <summary>
    /// A <c>job.dispatch</c> span, child of the job's traceparent, for the hand-over to a worker; returns the traceparent
    /// to send in <c>job_assigned</c> so the worker's span is its child.
    /// </summary>
    public static string? Dispatch(Job job, string workerId)
    {
        if (!ActivityContext.TryParse(job.Traceparent, null, out var parent))
        {
            return job.Traceparent;
        }
        using var activity = Source.StartActivity("job.dispatch", ActivityKind.Producer, parent);
        if (activity is null)
        {
            return job.Traceparent;
        }
        activity.SetTag("missionhub.job.id", job.Id);
        activity.SetTag("missionhub.job.type", job.JobType);
        activity.SetTag("missionhub.job.attempt", job.Attempts);
        activity.SetTag("missionhub.worker.id", workerId);
        return activity.Id;
    }

    /// <summary>
    /// For a worker's <c>job_completed</c> / <c>job_failed</c> frame that carries the handler span's <c>traceparent</c>:
    /// the hub's span of applying it, child of that handler span. Null for every other frame.
    /// </summary>
    public static Activity? StartFromWorkerFrame(string type, JsonElement message)
    {
        if (type is not ("job_completed" or "job_failed")
            || !message.TryGetProperty("traceparent", out var traceparent) || traceparent.ValueKind != JsonValueKind.String
            || !ActivityContext.TryParse(traceparent.GetString(), null, isRemote: true, out var parent))
        {
            return null;
        }
        var activity = Source.StartActivity(type == "job_completed" ? "job.complete" : "job.fail", ActivityKind.Consumer, parent);
        if (activity is not null && message.TryGetProperty("job_id", out var jobId) && jobId.ValueKind == JsonValueKind.String)
        {
            activity.SetTag("missionhub.job.id", jobId.GetString());
        }
        return activity;
    }
}
