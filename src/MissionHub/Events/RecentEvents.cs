namespace MissionHub.Events;

/// <summary>
/// A ring of the newest committed events, contiguous by seq, so the live tail and catch-up reads of
/// recent history are answered from memory instead of the store.
/// </summary>
internal sealed class RecentEvents(int capacity)
{
    private readonly CharterEvent[] _ring = new CharterEvent[Math.Max(capacity, 1)];
    private readonly Lock _lock = new();
    private long _first = 1; // seq of the oldest event held
    private long _count;

    public void Add(IReadOnlyList<CharterEvent> committed)
    {
        lock (_lock)
        {
            foreach (var evt in committed)
            {
                if (_count > 0 && evt.Seq >= _first && evt.Seq < _first + _count)
                {
                    continue; // held already: announced when its transaction committed
                }
                if (_count > 0 && evt.Seq != _first + _count)
                {
                    // A gap (another process appended in between): start again from here.
                    _count = 0;
                }
                if (_count == 0)
                {
                    _first = evt.Seq;
                }
                _ring[evt.Seq % _ring.Length] = evt;
                if (_count == _ring.Length)
                {
                    _first++;
                }
                else
                {
                    _count++;
                }
            }
        }
    }

    public void Clear()
    {
        lock (_lock)
        {
            _count = 0;
        }
    }

    /// <summary>Answers the query from memory if the ring covers it completely, else returns null.</summary>
    public EventPage? TryRead(EventQuery query, long lastSeq, string epoch, long firstSeq)
    {
        var filter = query.EffectiveFilter;
        lock (_lock)
        {
            var last = _first + _count - 1;
            if (_count == 0 || query.AfterSeq < _first - 1 || query.AfterSeq < firstSeq - 1 || query.AfterSeq > last || last != lastSeq)
            {
                return null;
            }
            var events = new List<CharterEvent>(Math.Min(query.Limit, (int)(last - query.AfterSeq)));
            var scanned = query.AfterSeq;
            for (var seq = query.AfterSeq + 1; seq <= last && events.Count < query.Limit; seq++)
            {
                var evt = _ring[seq % _ring.Length];
                scanned = seq;
                if (filter.Matches(evt))
                {
                    events.Add(evt);
                }
            }
            if (events.Count < query.Limit)
            {
                scanned = last;
            }
            return new EventPage(epoch, true, events, scanned, firstSeq, last);
        }
    }
}
