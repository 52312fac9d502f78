namespace MissionHub.Events;

/// <summary>
/// The durable, ordered event log. <c>seq</c> is strictly increasing and gap-free within an <see cref="Epoch"/>.
/// Implementations: <c>SqliteEventLog</c> (embedded default) and <c>RedisEventLog</c> (a Redis Stream).
/// </summary>
public interface IEventLog : IAsyncDisposable
{
    /// <summary>Name of the backend, for health and logs.</summary>
    string Provider { get; }

    /// <summary>The id of this log's life; changes when the log is lost or replaced.</summary>
    string Epoch { get; }

    /// <summary>The highest seq this process knows to be committed.</summary>
    long LastSeq { get; }

    /// <summary>Events this process appended (published, or written beside a change).</summary>
    long Appended { get; }

    Task InitializeAsync(CancellationToken cancellationToken);

    /// <summary>
    /// Appends one event; concurrent appends are group-committed. Returns the event with its <c>seq</c>
    /// once it is durable. Throws when the store cannot be written.
    /// </summary>
    Task<CharterEvent> AppendAsync(CharterEvent draft, CancellationToken cancellationToken = default);

    Task<EventPage> ReadAsync(EventQuery query, CancellationToken cancellationToken = default);

    /// <summary>Completes when an event after <paramref name="afterSeq"/> may exist, or after <paramref name="timeout"/>.</summary>
    Task WaitForEventsAsync(long afterSeq, TimeSpan timeout, CancellationToken cancellationToken);

    /// <summary>
    /// Drops events beyond the retention policy, each rule's events among themselves; returns how many were removed.
    /// Whatever it removes is recorded by type, so reads can tell exactly which filters lost events (<see cref="RetentionMarks"/>).
    /// </summary>
    Task<long> TrimAsync(EventRetentionPolicy policy, CancellationToken cancellationToken);
}

/// <summary>
/// A read of the log: events after <paramref name="AfterSeq"/> (and, if given, with timestamp at or after
/// <paramref name="Since"/>) that match <paramref name="Filter"/>, at most <paramref name="Limit"/>.
/// <paramref name="Epoch"/>, when given, must be the log's current epoch or the answer is <c>recovered: false</c>.
/// </summary>
public sealed record EventQuery(
    long AfterSeq = 0,
    EventFilter? Filter = null,
    double? Since = null,
    int Limit = EventQuery.DefaultLimit,
    string? Epoch = null)
{
    /// <summary>Read from the oldest retained event instead of <see cref="AfterSeq"/> (a plain history read).</summary>
    public bool FromOldestRetained { get; init; }

    /// <summary>
    /// For the bus's own dispatcher only: read what is retained after <see cref="AfterSeq"/> even if retention removed some
    /// of it (the dispatcher then tells its subscribers to check the log themselves).
    /// </summary>
    public bool SkipRemoved { get; init; }

    /// <summary>
    /// Why this query cannot be answered completely against a log at the given position, or null if it can: the epoch
    /// changed, the position is beyond the log, or retention removed an event this query's filter matches from the
    /// range it covers.
    /// </summary>
    public string? WhyNotRecoverable(string epoch, long firstSeq, long lastSeq, RetentionMarks removed)
    {
        ArgumentNullException.ThrowIfNull(removed);
        if (Epoch is not null && Epoch != epoch)
        {
            return $"epoch '{Epoch}' is not the log's current epoch '{epoch}': take a fresh snapshot";
        }
        if (!FromOldestRetained && AfterSeq > lastSeq)
        {
            return $"after_seq {AfterSeq} is beyond the last seq {lastSeq} of epoch '{epoch}'";
        }
        if (SkipRemoved)
        {
            return null;
        }
        var filter = EffectiveFilter;
        var through = removed.Matching(filter);
        if (Since is { } since && since <= through.Timestamp)
        {
            return $"events since {since} are no longer retained (retention removed events matching '{filter}' up to {through.Timestamp})";
        }
        var start = EffectiveAfterSeq(firstSeq);
        if (through.Seq > start)
        {
            return $"events after seq {start} are no longer retained (retention removed events matching '{filter}' up to seq {through.Seq}; oldest retained seq is {firstSeq})";
        }
        return null;
    }

    /// <summary>The seq to read after, once the oldest retained seq is known.</summary>
    public long EffectiveAfterSeq(long firstSeq) => FromOldestRetained ? Math.Max(AfterSeq, firstSeq - 1) : AfterSeq;

    public const int DefaultLimit = 100;

    /// <summary>Most events one filtered read examines before it answers with what it found (<see cref="EventPage.ScanCapped"/>).</summary>
    public const int MaxScanned = 20_000;
    public const int MaxLimit = 1000;

    public EventFilter EffectiveFilter => Filter ?? EventFilter.All;
}

public static class EventLogExtensions
{
    /// <summary>Retention by count and age alone, with no rules by type.</summary>
    public static Task<long> TrimAsync(this IEventLog log, long? maxEvents, TimeSpan? maxAge, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(log);
        return log.TrimAsync(new EventRetentionPolicy(maxEvents, maxAge), cancellationToken);
    }

    /// <summary>
    /// Every event after <paramref name="afterSeq"/>, in order, then new ones as they are committed.
    /// Ends (with <see cref="EventLogResetException"/>) if the log's epoch changes underneath.
    /// </summary>
    public static async IAsyncEnumerable<CharterEvent> TailAsync(
        this IEventLog log,
        long afterSeq,
        EventFilter? filter = null,
        [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var epoch = log.Epoch;
        var cursor = afterSeq;
        while (!cancellationToken.IsCancellationRequested)
        {
            var page = await log.ReadAsync(
                new EventQuery(cursor, filter, Limit: EventQuery.MaxLimit, Epoch: epoch), cancellationToken);
            if (!page.Recovered)
            {
                throw new EventLogResetException(page.Epoch, page.Reason ?? "the log changed");
            }
            foreach (var evt in page.Events)
            {
                yield return evt;
            }
            var caughtUp = page.NextAfterSeq >= page.LastSeq;
            cursor = page.NextAfterSeq;
            if (caughtUp)
            {
                await log.WaitForEventsAsync(cursor, TimeSpan.FromSeconds(1), cancellationToken);
            }
        }
    }
}

/// <summary>The log was recreated (new epoch) or trimmed past a reader's position: take a fresh snapshot.</summary>
public sealed class EventLogResetException(string epoch, string reason)
    : Exception($"event log reset (epoch {epoch}): {reason}")
{
    public string Epoch { get; } = epoch;

    public string Reason { get; } = reason;
}
