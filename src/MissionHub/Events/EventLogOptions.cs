using Microsoft.Extensions.Options;

namespace MissionHub.Events;

/// <summary>Section <c>MissionHub:Events</c>: retention of the log and limits of its readers.</summary>
public sealed class EventLogOptions
{
    public const string Section = "MissionHub:Events";

    /// <summary>
    /// Publish events through <see cref="IEventPublisher"/> at all (supervisor and telemetry events). Only for measuring
    /// what the event stream costs (bench/). Changes that are written together with their events — missions and
    /// jobs — always write them: there is no change without its event.
    /// </summary>
    public bool PublishingEnabled { get; set; } = true;

    /// <summary>Keep at most this many events (null: no limit by count).</summary>
    public long? MaxEvents { get; set; } = 1_000_000;

    /// <summary>Keep events at most this old (null: no limit by age).</summary>
    public TimeSpan? MaxAge { get; set; } = TimeSpan.FromDays(7);

    /// <summary>How often retention is applied.</summary>
    public TimeSpan TrimInterval { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>Most events committed in one transaction or script call.</summary>
    public int MaxBatchSize { get; set; } = 1024;

    /// <summary>Newest events kept in memory to serve live readers without touching the store.</summary>
    public int RecentEventsInMemory { get; set; } = 16_384;

    /// <summary>Estimated bytes those newest events may take; past it the oldest leave the ring (reads fall back to the store).</summary>
    public long RecentEventsMaxBytes { get; set; } = 64L * 1024 * 1024;

    /// <summary>Events queued for one in-process subscriber before it counts as overflowing.</summary>
    public int SubscriberQueueCapacity { get; set; } = 4096;

    /// <summary>Interval of the SSE comment that keeps idle connections (and proxies) open.</summary>
    public TimeSpan SseKeepAlive { get; set; } = TimeSpan.FromSeconds(15);
}

internal sealed class EventLogOptionsValidator : IValidateOptions<EventLogOptions>
{
    public ValidateOptionsResult Validate(string? name, EventLogOptions options)
    {
        var failures = new List<string>();
        if (options.MaxEvents is < 1)
        {
            failures.Add($"{EventLogOptions.Section}:MaxEvents is {options.MaxEvents}; it must be at least 1 (or empty for no limit)");
        }
        if (options.MaxAge is { } age && age <= TimeSpan.Zero)
        {
            failures.Add($"{EventLogOptions.Section}:MaxAge is {age}; it must be positive, e.g. 7.00:00:00 (or empty for no limit)");
        }
        if (options.TrimInterval <= TimeSpan.Zero)
        {
            failures.Add($"{EventLogOptions.Section}:TrimInterval is {options.TrimInterval}; it must be positive, e.g. 00:01:00");
        }
        if (options.MaxBatchSize is < 1 or > 10_000)
        {
            failures.Add($"{EventLogOptions.Section}:MaxBatchSize is {options.MaxBatchSize}; valid values: 1 to 10000");
        }
        if (options.RecentEventsMaxBytes < 64 * 1024)
        {
            failures.Add($"{EventLogOptions.Section}:RecentEventsMaxBytes is {options.RecentEventsMaxBytes}; it must be at least 65536");
        }
        if (options.SubscriberQueueCapacity < 1)
        {
            failures.Add($"{EventLogOptions.Section}:SubscriberQueueCapacity is {options.SubscriberQueueCapacity}; it must be at least 1");
        }
        if (options.SseKeepAlive <= TimeSpan.Zero)
        {
            failures.Add($"{EventLogOptions.Section}:SseKeepAlive is {options.SseKeepAlive}; it must be positive, e.g. 00:00:15");
        }
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
