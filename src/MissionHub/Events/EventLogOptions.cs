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

    /// <summary>Keep at most this many events that no <see cref="Retention"/> rule holds (null: no limit by count).</summary>
    public long? MaxEvents { get; set; } = 1_000_000;

    /// <summary>Keep events that no <see cref="Retention"/> rule holds at most this old (null: no limit by age).</summary>
    public TimeSpan? MaxAge { get; set; } = TimeSpan.FromDays(7);

    /// <summary>
    /// Retention by type, by rule name: each rule keeps the events its <c>Types</c> match within its own limits, apart
    /// from the rest, so the events read endpoints append (health probes, metric reads) never push mission or job history
    /// out. A rule's types may not overlap another's; a rule with empty <c>Types</c> is off.
    /// </summary>
    public Dictionary<string, EventRetentionRuleOptions> Retention { get; set; } = new(StringComparer.OrdinalIgnoreCase)
    {
        ["supervisor"] = new() { Types = "supervisor.*", MaxEvents = 10_000, MaxAge = TimeSpan.FromHours(1) },
        ["telemetry_metrics"] = new() { Types = "telemetry.metrics_published", MaxEvents = 10_000, MaxAge = TimeSpan.FromHours(1) },
    };

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

/// <summary>One rule of <c>MissionHub:Events:Retention</c>.</summary>
public sealed class EventRetentionRuleOptions
{
    /// <summary>Type patterns, comma separated, as in event filters: <c>supervisor.*</c>, <c>telemetry.metrics_published</c>.</summary>
    public string? Types { get; set; }

    public long? MaxEvents { get; set; }

    public TimeSpan? MaxAge { get; set; }
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
        ValidateRules(options, failures);
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

    private static void ValidateRules(EventLogOptions options, List<string> failures)
    {
        var accepted = new List<(string Name, EventFilter Types)>();
        foreach (var (name, rule) in options.Retention.OrderBy(r => r.Key, StringComparer.Ordinal))
        {
            var setting = $"{EventLogOptions.Section}:Retention:{name}";
            if (string.IsNullOrWhiteSpace(rule.Types))
            {
                continue;
            }
            if (!EventFilter.TryCreate(rule.Types, null, out var types, out var error))
            {
                failures.Add($"{setting}:Types is '{rule.Types}': {error}");
                continue;
            }
            if (rule.MaxEvents is < 1)
            {
                failures.Add($"{setting}:MaxEvents is {rule.MaxEvents}; it must be at least 1 (or empty for no limit by count)");
            }
            if (rule.MaxAge is { } age && age <= TimeSpan.Zero)
            {
                failures.Add($"{setting}:MaxAge is {age}; it must be positive, e.g. 01:00:00 (or empty for no limit by age)");
            }
            if (rule.MaxEvents is null && rule.MaxAge is null)
            {
                failures.Add($"{setting} has neither MaxEvents nor MaxAge; give it a limit, or empty Types to turn it off");
            }
            if (accepted.FirstOrDefault(a => Overlap(a.Types, types) is not null) is { Name: not null } other)
            {
                failures.Add($"{setting}:Types '{rule.Types}' overlaps {EventLogOptions.Section}:Retention:{other.Name} " +
                    $"('{Overlap(other.Types, types)}' would match both); a type may belong to one rule only");
            }
            accepted.Add((name, types));
        }
    }

    /// <summary>A pattern pair of the two filters that some type matches both of, or null.</summary>
    private static string? Overlap(EventFilter a, EventFilter b)
    {
        foreach (var pa in a.Patterns)
        {
            foreach (var pb in b.Patterns)
            {
                var (prefixA, prefixB) = (pa.EndsWith('*'), pb.EndsWith('*'));
                var (stemA, stemB) = (prefixA ? pa[..^1] : pa, prefixB ? pb[..^1] : pb);
                var overlaps = (prefixA, prefixB) switch
                {
                    (false, false) => stemA == stemB,
                    (true, false) => stemB.StartsWith(stemA, StringComparison.Ordinal),
                    (false, true) => stemA.StartsWith(stemB, StringComparison.Ordinal),
                    _ => stemA.StartsWith(stemB, StringComparison.Ordinal) || stemB.StartsWith(stemA, StringComparison.Ordinal),
                };
                if (overlaps)
                {
                    return $"{pa}' and '{pb}";
                }
            }
        }
        return null;
    }
}
