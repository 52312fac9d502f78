using MissionHub.Events;

namespace MissionHub.Storage.Redis;

/// <summary>
/// Hands this process's own appends to its readers in the order Redis ran them. Every script that appends events (a
/// batch of the log, a store's step) goes out on the one multiplexer, so Redis runs them in the order they were sent
/// and their seqs follow that order; but their replies are handled on whatever thread pool thread comes first. Announced
/// as they came, a later step's events reached the in-memory ring before an earlier step's, the ring saw a gap, dropped
/// everything it held, and readers went back to Redis for events this process had just been given.
///
/// So each append takes a ticket as it is sent (<see cref="Send{T}"/>), and its events are announced once every
/// earlier ticket has been (<see cref="Done"/>: with the events, or with none when the append failed). A wake-up from
/// the notify channel names a seq but not who appended it: it is held until the appends sent before it arrived are
/// announced (<see cref="Notified"/>), so this process's own wake-ups find their events in memory and another
/// process's still wake the readers after at most the replies already on their way.
/// </summary>
internal sealed class AnnouncementOrder(Action<IReadOnlyList<CharterEvent>> announce, Action<long> notify)
{
    // Wake-ups held at once, at most: past it the newest is passed on at once (readers then read from Redis).
    private const int MaxHeldNotifications = 4096;

    private readonly Lock _lock = new();
    private readonly SortedDictionary<long, IReadOnlyList<CharterEvent>?> _finished = [];
    private readonly Queue<(long Ticket, long Seq)> _notifications = new();
    private long _sent;
    private long _announced;

    /// <summary>Appends sent and not announced yet (a gauge for tests and diagnostics).</summary>
    public long Pending
    {
        get
        {
            lock (_lock)
            {
                return _sent - _announced;
            }
        }
    }

    /// <summary>
    /// Sends an append with the next ticket: <paramref name="send"/> must put its command on the connection before it
    /// returns (it runs under the lock that orders the tickets). The caller must pass the ticket to <see cref="Done"/>
    /// exactly once, whatever happens to the append.
    /// </summary>
    public long Send<T>(Func<Task<T>> send, out Task<T> reply)
    {
        ArgumentNullException.ThrowIfNull(send);
        lock (_lock)
        {
            var ticket = ++_sent;
            try
            {
                reply = send();
            }
            catch
            {
                // Nothing was sent: nothing may wait for this ticket.
                FinishLocked(ticket, null);
                throw;
            }
            return ticket;
        }
    }

    /// <summary>The append of <paramref name="ticket"/> finished with these events (null or empty: none, or it failed).</summary>
    public void Done(long ticket, IReadOnlyList<CharterEvent>? committed)
    {
        lock (_lock)
        {
            FinishLocked(ticket, committed);
        }
    }

    /// <summary>The notify channel said the log reached <paramref name="seq"/>.</summary>
    public void Notified(long seq)
    {
        lock (_lock)
        {
            if (_announced == _sent || _notifications.Count >= MaxHeldNotifications)
            {
                notify(seq);
                return;
            }
            _notifications.Enqueue((_sent, seq));
        }
    }

    private void FinishLocked(long ticket, IReadOnlyList<CharterEvent>? committed)
    {
        _finished[ticket] = committed;
        while (_finished.Remove(_announced + 1, out var events))
        {
            _announced++;
            if (events is { Count: > 0 })
            {
                announce(events);
            }
            while (_notifications.TryPeek(out var held) && held.Ticket <= _announced)
            {
                notify(_notifications.Dequeue().Seq);
            }
        }
    }
}
