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

    /// <summary>Drops events beyond the retention policy; returns how many were removed.</summary>
    Task<long> TrimAsync(long? maxEvents, TimeSpan? maxAge, CancellationToken cancellationToken);
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
    /// Why this query cannot be answered completely against a log at the given position, or null if it can.
    /// </summary>
    public string? WhyNotRecoverable(string epoch, long firstSeq, long lastSeq, double trimmedThroughTimestamp)
    {
        if (Epoch is not null && Epoch != epoch)
        {
            return $"epoch '{Epoch}' is not the log's current epoch '{epoch}': take a fresh snapshot";
        }
        if (Since is { } since && since <= trimmedThroughTimestamp)
        {
            return $"events since {since} are no longer all retained (history is trimmed through {trimmedThroughTimestamp})";
        }
        if (FromOldestRetained)
        {
            return null;
        }
        if (AfterSeq > lastSeq)
        {
            return $"after_seq {AfterSeq} is beyond the last seq {lastSeq} of epoch '{epoch}'";
        }
        if (AfterSeq < firstSeq - 1)
        {
            return $"events after seq {AfterSeq} are no longer retained (oldest retained seq is {firstSeq})";
        }
        return null;
    }

    /// <summary>The seq to read after, once the oldest retained seq is known.</summary>
    public long EffectiveAfterSeq(long firstSeq) => FromOldestRetained ? Math.Max(AfterSeq, firstSeq - 1) : AfterSeq;

    public const int DefaultLimit = 100;
    public const int MaxLimit = 1000;

    public EventFilter EffectiveFilter => Filter ?? EventFilter.All;
}

public static class EventLogExtensions
{
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
