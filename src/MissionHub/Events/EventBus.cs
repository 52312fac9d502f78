using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Microsoft.Extensions.Options;
using MissionHub.Infrastructure;

namespace MissionHub.Events;

/// <summary>What features use to put an event into the stream.</summary>
public interface IEventPublisher
{
    /// <summary>
    /// Appends an event to the durable log and returns it with its <c>seq</c>, or null if the log could
    /// not be written (the failure is logged). Never throws and never waits on a subscriber.
    /// </summary>
    ValueTask<CharterEvent?> PublishAsync(
        string type, string source, string? target, JsonElement payload, CancellationToken cancellationToken = default);
}

public static class EventPublisherExtensions
{
    public static ValueTask<CharterEvent?> PublishAsync<TPayload>(
        this IEventPublisher publisher,
        string type,
        string source,
        string? target,
        TPayload payload,
        JsonTypeInfo<TPayload> payloadType,
        CancellationToken cancellationToken = default) =>
        publisher.PublishAsync(type, source, target, JsonSerializer.SerializeToElement(payload, payloadType), cancellationToken);
}

/// <summary>
/// The in-process publisher/subscriber over the event log. Publishing appends to the log; one dispatcher
/// follows the log's tail and hands each committed event, in seq order, to every matching subscriber's
/// bounded queue. A full queue never blocks the dispatcher: the subscriber's missed count goes up instead,
/// and it catches up from the log (see <see cref="EventFeed"/>).
/// </summary>
public sealed partial class EventBus(
    IEventLog log,
    IOptions<EventLogOptions> options,
    TimeProvider time,
    ILogger<EventBus> logger) : BackgroundService, IEventPublisher
{
    private static readonly JsonElement EmptyPayload = JsonDocument.Parse("{}").RootElement.Clone();

    private readonly Lock _subscribersLock = new();
    private EventSubscription[] _subscribers = [];
    private long _publishFailures;
    private long _published;
    private long _dispatchedSeq;

    public IEventLog Log => log;

    /// <summary>Seq of the last event handed to subscribers.</summary>
    public long DispatchedSeq => Interlocked.Read(ref _dispatchedSeq);

    /// <summary>Events this process appended to the log since start.</summary>
    public long Published => Interlocked.Read(ref _published);

    /// <summary>Publishes that did not reach the log since start.</summary>
    public long PublishFailures => Interlocked.Read(ref _publishFailures);

    public int SubscriberCount => Volatile.Read(ref _subscribers).Length;

    public async ValueTask<CharterEvent?> PublishAsync(
        string type, string source, string? target, JsonElement payload, CancellationToken cancellationToken = default)
    {
        if (!options.Value.PublishingEnabled)
        {
            return null;
        }
        try
        {
            var draft = new CharterEvent
            {
                Id = Guid.CreateVersion7().ToString(),
                Type = type,
                Source = source,
                Target = target,
                Timestamp = UnixSeconds(time.GetUtcNow()),
                Payload = payload.ValueKind == JsonValueKind.Undefined ? EmptyPayload : payload,
                Meta = EventDrafts.CurrentMeta(),
            };
            var appended = await log.AppendAsync(draft, cancellationToken);
            Interlocked.Increment(ref _published);
            return appended;
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // The caller stopped waiting; the append itself still goes ahead.
            return null;
        }
        catch (Exception ex)
        {
            Interlocked.Increment(ref _publishFailures);
            LogPublishFailed(logger, ex, type, source);
            return null;
        }
    }

    /// <summary>
    /// Receives every event committed from now on that matches <paramref name="filter"/>, in seq order.
    /// To start from a point in the past without a gap, use <see cref="EventFeed"/>.
    /// </summary>
    public EventSubscription Subscribe(EventFilter filter, int? capacity = null)
    {
        var subscription = new EventSubscription(this, filter, capacity ?? options.Value.SubscriberQueueCapacity);
        lock (_subscribersLock)
        {
            _subscribers = [.. _subscribers, subscription];
        }
        return subscription;
    }

    /// <summary>Opens a gap-free feed: every matching event after <paramref name="afterSeq"/>, then live ones.</summary>
    public EventFeed OpenFeed(EventFilter filter, long afterSeq, string epoch) =>
        new(this, filter, afterSeq, epoch);

    internal void Unsubscribe(EventSubscription subscription)
    {
        lock (_subscribersLock)
        {
            _subscribers = Array.FindAll(_subscribers, s => !ReferenceEquals(s, subscription));
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var epoch = log.Epoch;
        var cursor = log.LastSeq;
        Interlocked.Exchange(ref _dispatchedSeq, cursor);
        while (!stoppingToken.IsCancellationRequested)
        {
            EventPage page;
            try
            {
                page = await log.ReadAsync(new EventQuery(cursor, Limit: EventQuery.MaxLimit, Epoch: epoch), stoppingToken);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                break;
            }
            catch (Exception ex)
            {
                LogDispatchReadFailed(logger, ex);
                await DelayQuietly(TimeSpan.FromSeconds(1), stoppingToken);
                continue;
            }

            if (!page.Recovered)
            {
                if (page.Epoch != epoch)
                {
                    // The log was replaced: everyone following the old one must take a fresh snapshot.
                    LogEpochReset(logger, epoch, page.Epoch);
                    ResetSubscribers(new EventLogResetException(page.Epoch, page.Reason ?? "the event log was replaced"));
                    epoch = page.Epoch;
                    cursor = 0;
                    continue;
                }
                // Retention removed events the dispatcher had not handed out yet: hand out what is retained, and send
                // every subscriber to the log, which tells each exactly whether its filter lost anything.
                LogDispatchCrossedRetention(logger, cursor, page.Reason ?? "");
                page = await ReadRetainedAsync(cursor, epoch, stoppingToken);
                if (!page.Recovered)
                {
                    cursor = Math.Min(cursor, page.LastSeq);
                    await DelayQuietly(TimeSpan.FromMilliseconds(100), stoppingToken);
                    continue;
                }
                foreach (var subscriber in Volatile.Read(ref _subscribers))
                {
                    subscriber.MarkMissed();
                }
            }

            var subscribers = Volatile.Read(ref _subscribers);
            foreach (var evt in page.Events)
            {
                foreach (var subscriber in subscribers)
                {
                    if (subscriber.Filter.Matches(evt))
                    {
                        subscriber.Offer(evt);
                    }
                }
            }
            cursor = page.NextAfterSeq;
            Interlocked.Exchange(ref _dispatchedSeq, cursor);
            if (cursor >= page.LastSeq)
            {
                try
                {
                    await log.WaitForEventsAsync(cursor, TimeSpan.FromSeconds(1), stoppingToken);
                }
                catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
                {
                    break;
                }
            }
        }
    }

    private async Task<EventPage> ReadRetainedAsync(long cursor, string epoch, CancellationToken stoppingToken)
    {
        try
        {
            return await log.ReadAsync(new EventQuery(cursor, Limit: EventQuery.MaxLimit, Epoch: epoch) { SkipRemoved = true }, stoppingToken);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            LogDispatchReadFailed(logger, ex);
            return new EventPage(epoch, false, [], cursor, cursor + 1, cursor);
        }
    }

    private void ResetSubscribers(EventLogResetException reset)
    {
        foreach (var subscriber in Volatile.Read(ref _subscribers))
        {
            subscriber.Reset(reset);
        }
    }

    private static async Task DelayQuietly(TimeSpan delay, CancellationToken cancellationToken)
    {
        try
        {
            await Task.Delay(delay, cancellationToken);
        }
        catch (OperationCanceledException)
        {
        }
    }

    internal static double UnixSeconds(DateTimeOffset instant) =>
        Math.Round((instant.UtcTicks - DateTimeOffset.UnixEpoch.UtcTicks) / (double)TimeSpan.TicksPerSecond, 6);

    [LoggerMessage(EventId = 1101, Level = LogLevel.Error, Message = "Publishing {EventType} from {Source} failed; the operation that caused it is unaffected")]
    private static partial void LogPublishFailed(ILogger logger, Exception exception, string eventType, string source);

    [LoggerMessage(EventId = 1102, Level = LogLevel.Warning, Message = "Event dispatcher could not read the log; retrying")]
    private static partial void LogDispatchReadFailed(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 1104, Level = LogLevel.Warning, Message = "Event dispatcher at seq {Cursor} fell behind retention ({Reason}); subscribers check the log")]
    private static partial void LogDispatchCrossedRetention(ILogger logger, long cursor, string reason);

    [LoggerMessage(EventId = 1103, Level = LogLevel.Warning, Message = "Event log epoch changed from {OldEpoch} to {NewEpoch}; subscribers were told to resync")]
    private static partial void LogEpochReset(ILogger logger, string oldEpoch, string newEpoch);
}
