using System.Text.Json;
using MissionHub.Events;

namespace MissionHub.Monitor;

/// <summary>
/// What one monitor asked for in <c>subscribe</c>: topics (DESIGN.md §4 maps them to event types) and
/// filters that apply by a job's own attributes, even when an event's payload lacks them.
/// </summary>
internal sealed class MonitorSubscription
{
    public const string HeartbeatTopic = "heartbeat";

    private static readonly Dictionary<string, string> TopicPatterns = new(StringComparer.Ordinal)
    {
        ["workers"] = "worker_connected,worker_disconnected,worker_status_changed",
        ["jobs"] = "job_*,jobs_purged",
        ["jobs:progress"] = "job_progress",
        ["jobs:status"] = "job_submitted,job_assigned,job_status_changed,job_completed,job_failed,jobs_purged,queue_paused,queue_resumed",
        ["system_stats"] = "system_stats",
        ["schedules"] = "schedule_*",
        [HeartbeatTopic] = "",
        ["missions"] = "mission.*",
        ["agents"] = "worker_connected,worker_disconnected,worker_status_changed,telemetry.connection_*",
        ["supervisor"] = "supervisor.*",
        ["telemetry"] = "telemetry.*",
        ["metrics"] = "metrics.*",
    };

    public static IReadOnlyCollection<string> KnownTopics => TopicPatterns.Keys;

    private MonitorSubscription(
        IReadOnlyList<string> topics, EventFilter filter, HashSet<string>? jobTypes, HashSet<string>? workerIds,
        (double Min, double Max)? priorityRange, MonitorBatching? batching)
    {
        Topics = topics;
        Filter = filter;
        JobTypes = jobTypes;
        WorkerIds = workerIds;
        PriorityRange = priorityRange;
        Batching = batching;
    }

    public IReadOnlyList<string> Topics { get; }

    /// <summary>The event types the topics cover; what the monitor's feed reads.</summary>
    public EventFilter Filter { get; }

    public HashSet<string>? JobTypes { get; }

    public HashSet<string>? WorkerIds { get; }

    public (double Min, double Max)? PriorityRange { get; }

    /// <summary>How events are grouped into <c>event_batch</c> frames; null: one frame per event (spec 003's frames).</summary>
    public MonitorBatching? Batching { get; }

    public bool WantsHeartbeat => Topics.Contains(HeartbeatTopic);

    /// <summary>Whether matching needs the monitor read model's view of a job (type, priority, worker).</summary>
    public bool NeedsJobAttributes => JobTypes is not null || WorkerIds is not null || PriorityRange is not null;

    /// <summary>Most ids or names one filter list may hold, and the longest of them (a job type or worker id is at most 128).</summary>
    public const int MaxFilterValues = 1000;

    public const int MaxFilterValueLength = 128;

    /// <summary>
    /// Parses <c>topics</c>, <c>filters</c> and <c>batching</c>; on failure returns an error code and message.
    /// <paramref name="topicsProperty"/> is where the topics are: <c>topics</c>, or <c>subscriptions</c> in spec 003 §2's
    /// <c>monitor_subscribe</c>.
    /// </summary>
    public static (MonitorSubscription? Subscription, string? Code, string? Error) Parse(
        JsonElement message, MonitorSubscription? previous = null, string topicsProperty = "topics")
    {
        IReadOnlyList<string> topics;
        if (message.TryGetProperty(topicsProperty, out var topicsElement))
        {
            if (topicsElement.ValueKind != JsonValueKind.Array || topicsElement.EnumerateArray().Any(t => t.ValueKind != JsonValueKind.String))
            {
                return (null, "invalid_topics", $"{topicsProperty} must be a list of topic names");
            }
            topics = [.. topicsElement.EnumerateArray().Select(t => t.GetString()!).Distinct(StringComparer.Ordinal)];
            var unknown = topics.Where(t => !TopicPatterns.ContainsKey(t)).ToList();
            if (unknown.Count > 0)
            {
                // Named back cut short: the answer is bounded whatever the client sent.
                var named = string.Join(", ", unknown.Take(10).Select(t => t.Length <= 40 ? t : t[..40] + "…"));
                return (null, "invalid_topics", $"unknown {topicsProperty}: {named}; valid topics: {string.Join(", ", TopicPatterns.Keys)}");
            }
        }
        else if (previous is not null)
        {
            topics = previous.Topics;
        }
        else
        {
            return (null, "invalid_topics", $"topics is required; valid topics: {string.Join(", ", TopicPatterns.Keys)}");
        }

        HashSet<string>? jobTypes = previous?.JobTypes, workerIds = previous?.WorkerIds;
        var priorityRange = previous?.PriorityRange;
        if (message.TryGetProperty("filters", out var filters) && filters.ValueKind != JsonValueKind.Null)
        {
            if (filters.ValueKind != JsonValueKind.Object)
            {
                return (null, "invalid_filter", "filters must be an object with job_types, worker_ids and/or priority_range");
            }
            jobTypes = null;
            workerIds = null;
            priorityRange = null;
            foreach (var filter in filters.EnumerateObject())
            {
                switch (filter.Name)
                {
                    case "job_types":
                        if (!TryStringSet(filter.Value, out jobTypes))
                        {
                            return (null, "invalid_filter", $"filters.job_types must be a list of at most {MaxFilterValues} job type names of at most {MaxFilterValueLength} characters");
                        }
                        break;
                    case "worker_ids":
                        if (!TryStringSet(filter.Value, out workerIds))
                        {
                            return (null, "invalid_filter", $"filters.worker_ids must be a list of at most {MaxFilterValues} worker ids of at most {MaxFilterValueLength} characters");
                        }
                        break;
                    case "priority_range":
                        var range = filter.Value;
                        if (range.ValueKind != JsonValueKind.Array || range.GetArrayLength() != 2
                            || range[0].ValueKind != JsonValueKind.Number || range[1].ValueKind != JsonValueKind.Number)
                        {
                            return (null, "invalid_filter", "filters.priority_range must be [min, max], two numbers");
                        }
                        var (min, max) = (range[0].GetDouble(), range[1].GetDouble());
                        if (min > max)
                        {
                            return (null, "invalid_filter", $"filters.priority_range is reversed: {min} > {max}; give [min, max]");
                        }
                        priorityRange = (min, max);
                        break;
                    default:
                        return (null, "invalid_filter", $"unknown filter '{(filter.Name.Length <= 40 ? filter.Name : filter.Name[..40] + "…")}'; valid filters: job_types, worker_ids, priority_range");
                }
            }
        }
        var batching = previous?.Batching;
        if (message.TryGetProperty("batching", out var batchingElement))
        {
            (batching, var batchingError) = MonitorBatching.Parse(batchingElement);
            if (batchingError is not null)
            {
                return (null, "invalid_field", batchingError);
            }
        }
        var patterns = topics.SelectMany(t => TopicPatterns[t].Split(',', StringSplitOptions.RemoveEmptyEntries)).ToList();
        // Only a heartbeat (or nothing): a filter that matches no type at all.
        var typeFilter = EventFilter.FromPatterns(patterns.Count > 0 ? patterns : ["-none-"]);
        return (new MonitorSubscription(topics, typeFilter, jobTypes, workerIds, priorityRange, batching), null, null);
    }

    /// <summary>Whether an event the feed delivered passes the attribute filters.</summary>
    public bool Matches(CharterEvent evt, MonitorState state)
    {
        if (evt.Type.StartsWith("job_", StringComparison.Ordinal))
        {
            if (JobTypes is null && WorkerIds is null && PriorityRange is null)
            {
                return true;
            }
            var jobId = StringProperty(evt.Payload, "job_id");
            if (jobId is null || !state.TryGetJob(jobId, out var job))
            {
                return false; // a job the monitor state does not know cannot be shown to match
            }
            if (JobTypes is not null && !JobTypes.Contains(job.JobType))
            {
                return false;
            }
            if (PriorityRange is { } range && (job.Priority < range.Min || job.Priority > range.Max))
            {
                return false;
            }
            if (WorkerIds is not null)
            {
                var workerId = StringProperty(evt.Payload, "worker_id") ?? job.WorkerId;
                return workerId is not null && WorkerIds.Contains(workerId);
            }
            return true;
        }
        if (evt.Type.StartsWith("worker_", StringComparison.Ordinal) && WorkerIds is not null)
        {
            return StringProperty(evt.Payload, "worker_id") is { } workerId && WorkerIds.Contains(workerId);
        }
        return true;
    }

    private static bool TryStringSet(JsonElement value, out HashSet<string>? set)
    {
        set = null;
        if (value.ValueKind != JsonValueKind.Array || value.GetArrayLength() > MaxFilterValues
            || value.EnumerateArray().Any(v => v.ValueKind != JsonValueKind.String || v.GetString()!.Length > MaxFilterValueLength))
        {
            return false;
        }
        set = [.. value.EnumerateArray().Select(v => v.GetString()!)];
        return true;
    }

    private static string? StringProperty(JsonElement payload, string name) =>
        payload.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;
}

/// <summary>
/// A monitor's <c>batching</c>: <c>true</c> sends what is queued as one <c>event_batch</c> (up to 1000 events, no wait);
/// <c>{"max_events": N, "max_delay_ms": M}</c> sends batches of up to N events, waiting up to M ms after the first for
/// more: fewer, larger frames (and better compression) for a little latency.
/// </summary>
internal sealed record MonitorBatching(int MaxEvents, TimeSpan MaxDelay)
{
    public const int MaxEventsLimit = 1000;

    public const int MaxDelayMsLimit = 1000;

    public static readonly MonitorBatching WhatIsQueued = new(MaxEventsLimit, TimeSpan.Zero);

    private const string Expected =
        "batching must be true, false or {\"max_events\": 1 to 1000, \"max_delay_ms\": 0 to 1000}";

    public static (MonitorBatching? Batching, string? Error) Parse(JsonElement value)
    {
        switch (value.ValueKind)
        {
            case JsonValueKind.True:
                return (WhatIsQueued, null);
            case JsonValueKind.False or JsonValueKind.Null:
                return (null, null);
            case JsonValueKind.Object:
                var maxEvents = MaxEventsLimit;
                var maxDelayMs = 0;
                foreach (var property in value.EnumerateObject())
                {
                    switch (property.Name)
                    {
                        case "max_events" when property.Value.TryGetInt32(out var n) && n is >= 1 and <= MaxEventsLimit:
                            maxEvents = n;
                            break;
                        case "max_delay_ms" when property.Value.TryGetInt32(out var ms) && ms is >= 0 and <= MaxDelayMsLimit:
                            maxDelayMs = ms;
                            break;
                        default:
                            return (null, Expected);
                    }
                }
                return (new MonitorBatching(maxEvents, TimeSpan.FromMilliseconds(maxDelayMs)), null);
            default:
                return (null, Expected);
        }
    }
}
