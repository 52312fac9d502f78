namespace MissionHub.Events;

/// <summary>
/// What retention keeps: each rule holds the events whose type its patterns match (the first rule that matches), within
/// its own count and age; every other event falls under the default limits. So events of one kind (health probes, metric
/// reads) are trimmed among themselves and can never push another kind's history out.
/// </summary>
public sealed class EventRetentionPolicy
{
    public EventRetentionPolicy(long? maxEvents, TimeSpan? maxAge, IReadOnlyList<EventRetentionClass>? rules = null)
    {
        Default = new EventRetentionClass("default", EventFilter.All, maxEvents, maxAge);
        Rules = rules ?? [];
    }

    /// <summary>Events no rule claims.</summary>
    public EventRetentionClass Default { get; }

    public IReadOnlyList<EventRetentionClass> Rules { get; }

    public bool LimitsAnything => Default.HasLimit || Rules.Any(r => r.HasLimit);

    /// <summary>The index of the rule that holds events of <paramref name="type"/>, or -1 for the default.</summary>
    public int RuleOf(string type)
    {
        for (var i = 0; i < Rules.Count; i++)
        {
            if (Rules[i].Types.Matches(type, null))
            {
                return i;
            }
        }
        return -1;
    }

    /// <summary>Identifies the rules (not their limits): stores keep per-rule bookkeeping that is rebuilt when it changes.</summary>
    public string Signature => string.Join(';', Rules.Select(r => string.Join(',', r.Types.Patterns)));

    public static EventRetentionPolicy From(EventLogOptions options) =>
        new(options.MaxEvents, options.MaxAge, [.. options.Retention
            .Where(r => !string.IsNullOrWhiteSpace(r.Value.Types))
            .OrderBy(r => r.Key, StringComparer.Ordinal)
            .Select(r => new EventRetentionClass(r.Key, EventFilter.Create(r.Value.Types), r.Value.MaxEvents, r.Value.MaxAge))]);
}

/// <summary>One retention rule: the types it holds and how many / how old it keeps them (null: no limit).</summary>
public sealed record EventRetentionClass(string Name, EventFilter Types, long? MaxEvents, TimeSpan? MaxAge)
{
    public bool HasLimit => MaxEvents is not null || MaxAge is not null;

    /// <summary>The Unix time before which this class's events are too old, or null.</summary>
    public double? AgeCutoff(DateTimeOffset now) =>
        MaxAge is { } age ? now.Subtract(age).ToUnixTimeMilliseconds() / 1000.0 : null;
}

/// <summary>
/// What retention removed, per event type: the highest seq and the latest timestamp of any removed event of that type.
/// A read that covers seqs after <c>Seq</c> (or times from <c>Timestamp</c>) of a type it matches has lost events.
/// The type <c>*</c> stands for events removed before types were tracked.
/// </summary>
public sealed class RetentionMarks
{
    public const string AnyType = "*";

    public static readonly RetentionMarks None = new(new Dictionary<string, RemovedThrough>());

    private readonly IReadOnlyDictionary<string, RemovedThrough> _byType;

    public RetentionMarks(IReadOnlyDictionary<string, RemovedThrough> byType) => _byType = byType;

    public IReadOnlyDictionary<string, RemovedThrough> ByType => _byType;

    /// <summary>
    /// The newest removal among the types <paramref name="filter"/> matches. Targets are not tracked, so a filter with
    /// a target is judged by its types alone.
    /// </summary>
    public RemovedThrough Matching(EventFilter filter)
    {
        var seq = 0L;
        var ts = double.NegativeInfinity;
        foreach (var (type, removed) in _byType)
        {
            if (type == AnyType || filter.Matches(type, filter.Target))
            {
                seq = Math.Max(seq, removed.Seq);
                ts = Math.Max(ts, removed.Timestamp);
            }
        }
        return new RemovedThrough(seq, ts);
    }
}

public readonly record struct RemovedThrough(long Seq, double Timestamp);
