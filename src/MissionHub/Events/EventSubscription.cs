using System.Threading.Channels;

namespace MissionHub.Events;

/// <summary>
/// A live subscription to the bus: a bounded queue of matching events in seq order. When the queue is full
/// the event is not queued and <see cref="Missed"/> goes up; the reader can recover it from the log.
/// If the log is replaced, the queue completes with <see cref="EventLogResetException"/>.
/// </summary>
public sealed class EventSubscription : IDisposable
{
    private readonly EventBus _bus;
    private readonly Channel<CharterEvent> _queue;
    private long _missed;

    internal EventSubscription(EventBus bus, EventFilter filter, int capacity)
    {
        _bus = bus;
        Filter = filter;
        _queue = Channel.CreateBounded<CharterEvent>(new BoundedChannelOptions(capacity)
        {
            SingleReader = true,
            SingleWriter = true,
            FullMode = BoundedChannelFullMode.Wait, // TryWrite fails when full: the dispatcher never waits.
        });
    }

    public EventFilter Filter { get; }

    public ChannelReader<CharterEvent> Reader => _queue.Reader;

    /// <summary>Events that matched but were dropped because the queue was full.</summary>
    public long Missed => Interlocked.Read(ref _missed);

    internal void Offer(CharterEvent evt)
    {
        if (!_queue.Writer.TryWrite(evt))
        {
            Interlocked.Increment(ref _missed);
        }
    }

    /// <summary>Events may have been removed before they reached this queue: the reader goes back to the log.</summary>
    internal void MarkMissed() => Interlocked.Increment(ref _missed);

    internal void Reset(EventLogResetException reset) => _queue.Writer.TryComplete(reset);

    public void Dispose()
    {
        _bus.Unsubscribe(this);
        _queue.Writer.TryComplete();
    }
}
