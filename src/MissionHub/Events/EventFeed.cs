namespace MissionHub.Events;

/// <summary>
/// Every event matching a filter after a given seq, in order, with no gap and no duplicate: it reads the
/// log until it reaches the head, then follows a live subscription (registered first, so the two overlap
/// and are stitched by seq). If the subscription overflows, it goes back to the log from where it was.
/// </summary>
public sealed class EventFeed : IDisposable
{
    private const int BatchSize = 500;

    private readonly EventBus _bus;
    private readonly EventFilter _filter;
    private readonly EventSubscription _live;
    private bool _catchingUp = true;
    private long _missedSeen;

    internal EventFeed(EventBus bus, EventFilter filter, long afterSeq, string epoch)
    {
        _bus = bus;
        _filter = filter;
        _live = bus.Subscribe(filter);
        Cursor = afterSeq;
        Epoch = epoch;
    }

    public string Epoch { get; }

    /// <summary>The seq up to which this feed has delivered (or skipped as not matching).</summary>
    public long Cursor { get; private set; }

    /// <summary>True once the feed has reached the head of the log and follows live events.</summary>
    public bool IsLive => !_catchingUp;

    /// <summary>Whether the last batch returned came from the log (catch-up) rather than the live queue.</summary>
    public bool LastBatchFromLog { get; private set; }

    /// <summary>Events the live queue dropped and this feed then recovered from the log.</summary>
    public long Recovered => _live.Missed;

    /// <summary>
    /// The next events, or an empty list if none arrived within <paramref name="idleTimeout"/>.
    /// Throws <see cref="EventLogResetException"/> when the log no longer holds what comes after the cursor.
    /// </summary>
    public async ValueTask<IReadOnlyList<CharterEvent>> NextAsync(TimeSpan idleTimeout, CancellationToken cancellationToken)
    {
        while (true)
        {
            if (_catchingUp)
            {
                var page = await _bus.Log.ReadAsync(
                    new EventQuery(Cursor, _filter, Limit: BatchSize, Epoch: Epoch), cancellationToken);
                if (!page.Recovered)
                {
                    throw new EventLogResetException(page.Epoch, page.Reason ?? "the event log no longer holds this position");
                }
                Cursor = page.NextAfterSeq;
                _catchingUp = page.NextAfterSeq < page.LastSeq;
                if (page.Events.Count > 0)
                {
                    LastBatchFromLog = true;
                    return page.Events;
                }
                continue;
            }

            var batch = DrainLive();
            if (_live.Missed != _missedSeen)
            {
                // Something was dropped before or between these: the log has all of it, in order.
                _missedSeen = _live.Missed;
                _catchingUp = true;
                continue;
            }
            if (batch is not null)
            {
                Cursor = batch[^1].Seq;
                LastBatchFromLog = false;
                return batch;
            }

            using var idle = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            idle.CancelAfter(idleTimeout);
            try
            {
                if (!await _live.Reader.WaitToReadAsync(idle.Token))
                {
                    await _live.Reader.Completion; // rethrows a reset
                    throw new ObjectDisposedException(nameof(EventFeed), "the event bus stopped");
                }
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                LastBatchFromLog = false;
                return [];
            }
        }
    }

    private List<CharterEvent>? DrainLive()
    {
        List<CharterEvent>? batch = null;
        while ((batch?.Count ?? 0) < BatchSize && _live.Reader.TryRead(out var evt))
        {
            if (evt.Seq <= Cursor)
            {
                continue; // already delivered from the log
            }
            (batch ??= []).Add(evt);
        }
        return batch;
    }

    public void Dispose() => _live.Dispose();
}
