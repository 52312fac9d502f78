using System.Runtime.InteropServices;

namespace MissionHub.Events;

/// <summary>
/// A ring of the newest committed events, contiguous by seq, so the live tail and catch-up reads of
/// recent history are answered from memory instead of the store. Bounded by count and by estimated bytes:
/// the oldest leave first, and an event larger than the whole budget is never held (reads of it go to the store).
/// </summary>
internal sealed class RecentEvents(int capacity, long maxBytes = long.MaxValue)
{
    private readonly CharterEvent[] _ring = new CharterEvent[Math.Max(capacity, 1)];
    private readonly long[] _sizes = new long[Math.Max(capacity, 1)];
    private readonly Lock _lock = new();
    private long _first = 1; // seq of the oldest event held
    private long _count;
    private long _bytes;

    /// <summary>Estimated bytes held now.</summary>
    public long Bytes
    {
        get
        {
            lock (_lock)
            {
                return _bytes;
            }
        }
    }

    public long Count
    {
        get
        {
            lock (_lock)
            {
                return _count;
            }
        }
    }

    /// <summary>
    /// What one event keeps alive: its payload document (about its JSON size again in token metadata), the envelope
    /// serialized once for readers, the monitor frame rendered once, and the strings around them.
    /// </summary>
    internal static long EstimateBytes(CharterEvent evt) =>
        4L * JsonMarshal.GetRawUtf8Value(evt.Payload).Length + 2L * (evt.Id.Length + evt.Type.Length + (evt.Target?.Length ?? 0)) + 512;

    public void Add(IReadOnlyList<CharterEvent> committed)
    {
        lock (_lock)
        {
            foreach (var evt in committed)
            {
                if (_count > 0 && evt.Seq < _first + _count)
                {
                    // Held already (announced when its transaction committed), or older than what is held: readers
                    // positioned before the ring read it from the store.
                    continue;
                }
                if (_count > 0 && evt.Seq != _first + _count)
                {
                    // A gap (another process appended in between): start again from here.
                    ClearLocked();
                }
                var size = EstimateBytes(evt);
                if (size > maxBytes)
                {
                    // Holding it would leave nothing else; the ring starts again after it.
                    ClearLocked();
                    continue;
                }
                while (_count > 0 && (_count == _ring.Length || _bytes + size > maxBytes))
                {
                    var oldest = (int)(_first % _ring.Length);
                    _bytes -= _sizes[oldest];
                    _ring[oldest] = null!;
                    _first++;
                    _count--;
                }
                if (_count == 0)
                {
                    _first = evt.Seq;
                }
                var slot = (int)(evt.Seq % _ring.Length);
                _ring[slot] = evt;
                _sizes[slot] = size;
                _bytes += size;
                _count++;
            }
        }
    }

    public void Clear()
    {
        lock (_lock)
        {
            ClearLocked();
        }
    }

    private void ClearLocked()
    {
        // Dropped references must not outlive the byte count.
        for (var seq = _first; seq < _first + _count; seq++)
        {
            _ring[seq % _ring.Length] = null!;
        }
        _count = 0;
        _bytes = 0;
    }

    /// <summary>
    /// Answers the query from memory if the ring covers it up to the log's last seq (a ring a moment ahead of it, just
    /// announced, covers it too), else returns null.
    /// </summary>
    public EventPage? TryRead(EventQuery query, long lastSeq, string epoch, long firstSeq)
    {
        var filter = query.EffectiveFilter;
        lock (_lock)
        {
            var last = _first + _count - 1;
            if (_count == 0 || query.AfterSeq < _first - 1 || query.AfterSeq < firstSeq - 1 || query.AfterSeq > last || last < lastSeq)
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
