using System.Threading.Channels;

namespace MissionHub.Events;

/// <summary>
/// The part of an event log that both backends share: appends queue up and a single writer commits them
/// in groups (one transaction or one script call for many events), a ring of the newest events serves the
/// live tail from memory, and a signal wakes readers when something new is committed.
/// </summary>
public abstract partial class GroupCommitEventLog : IEventLog
{
    private readonly Channel<PendingAppend> _queue =
        Channel.CreateUnbounded<PendingAppend>(new UnboundedChannelOptions { SingleReader = true });
    private readonly RecentEvents _recent;
    private readonly int _maxBatchSize;
    private readonly int _maxBatchesInFlight;
    private readonly ILogger _logger;
    private TaskCompletionSource _committed = NewSignal();
    private Task? _writer;
    private long _lastSeq;
    private string _epoch = "";

    protected GroupCommitEventLog(int maxBatchSize, int maxBatchesInFlight, int recentCapacity, ILogger logger, long recentMaxBytes = 64L * 1024 * 1024)
    {
        _maxBatchSize = maxBatchSize;
        _maxBatchesInFlight = maxBatchesInFlight;
        _recent = new RecentEvents(recentCapacity, recentMaxBytes);
        _logger = logger;
    }

    public abstract string Provider { get; }

    public string Epoch => Volatile.Read(ref _epoch);

    public long LastSeq => Interlocked.Read(ref _lastSeq);

    /// <summary>Events this process appended: its own batches and those written beside a change (job steps).</summary>
    public long Appended => Interlocked.Read(ref _appended);

    private long _appended;
    private long _readsFromStore;

    /// <summary>
    /// Reads answered by the store, not by the ring of recent events: a reader that fell behind the ring, a query the
    /// ring cannot answer, or events another process appended.
    /// </summary>
    public long ReadsFromStore => Interlocked.Read(ref _readsFromStore);

    /// <summary>Counts events this process appended outside <see cref="AppendAsync"/>.</summary>
    protected void CountAppended(int count) => Interlocked.Add(ref _appended, count);

    /// <summary>False for a log that counts every event it commits itself, its own batches included.</summary>
    protected virtual bool CountsOwnBatches => true;

    /// <summary>Oldest seq still retained (as last seen by this process).</summary>
    protected long FirstSeq { get; set; } = 1;

    /// <summary>What retention removed (as last seen by this process): the memory ring never answers a read across it.</summary>
    protected RetentionMarks Removed
    {
        get => Volatile.Read(ref _removed);
        set => Volatile.Write(ref _removed, value);
    }

    private RetentionMarks _removed = RetentionMarks.None;

    public async Task InitializeAsync(CancellationToken cancellationToken)
    {
        var (epoch, lastSeq, firstSeq) = await OpenAsync(cancellationToken);
        _epoch = epoch;
        _lastSeq = lastSeq;
        FirstSeq = firstSeq;
        Volatile.Write(ref _writer, Task.Run(RunWriterAsync, CancellationToken.None));
    }

    public Task<CharterEvent> AppendAsync(CharterEvent draft, CancellationToken cancellationToken = default)
    {
        ThrowIfNotOpen();
        var pending = new PendingAppend(draft);
        if (!_queue.Writer.TryWrite(pending))
        {
            throw new ObjectDisposedException(GetType().Name, "the event log is closed");
        }
        // Once queued the append goes ahead; the token only stops the caller waiting for it.
        return cancellationToken.CanBeCanceled ? pending.Task.WaitAsync(cancellationToken) : pending.Task;
    }

    public async Task<EventPage> ReadAsync(EventQuery query, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(query);
        ThrowIfNotOpen();
        if (query.Since is null && !query.FromOldestRetained && (query.Epoch is null || query.Epoch == Epoch)
            && (query.SkipRemoved || Removed.Matching(query.EffectiveFilter).Seq <= query.AfterSeq)
            && _recent.TryRead(query, LastSeq, Epoch, FirstSeq) is { } fromMemory)
        {
            return fromMemory;
        }
        Interlocked.Increment(ref _readsFromStore);
        return await ReadCoreAsync(query, cancellationToken);
    }

    public async Task WaitForEventsAsync(long afterSeq, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var signal = Volatile.Read(ref _committed).Task;
        if (LastSeq > afterSeq)
        {
            return;
        }
        try
        {
            await signal.WaitAsync(timeout, cancellationToken);
        }
        catch (TimeoutException)
        {
            // A quiet log: the caller re-reads, which also notices a changed epoch.
        }
    }

    // Before the store answered once (Redis down at start-up) there is no epoch or position to append after or read from.
    private void ThrowIfNotOpen()
    {
        if (Volatile.Read(ref _writer) is null)
        {
            throw new Storage.StorageUnavailableException($"the {Provider} event log is not open yet");
        }
    }

    public abstract Task<long> TrimAsync(EventRetentionPolicy policy, CancellationToken cancellationToken);

    /// <summary>Opens or creates the store; returns its epoch, last seq and first retained seq.</summary>
    protected abstract Task<(string Epoch, long LastSeq, long FirstSeq)> OpenAsync(CancellationToken cancellationToken);

    /// <summary>Durably appends the drafts in order, assigning consecutive seqs. Returns the epoch written to.</summary>
    protected abstract Task<(string Epoch, CharterEvent[] Events)> CommitBatchAsync(
        IReadOnlyList<CharterEvent> drafts, CancellationToken cancellationToken);

    protected abstract Task<EventPage> ReadCoreAsync(EventQuery query, CancellationToken cancellationToken);

    protected abstract ValueTask DisposeCoreAsync();

    /// <summary>
    /// Events committed beside a change, outside this log's own batches (a job step's transaction): serve them from
    /// memory and wake the readers. Called in seq order.
    /// </summary>
    protected void AnnounceCommitted(IReadOnlyList<CharterEvent> committed)
    {
        if (committed.Count == 0)
        {
            return;
        }
        _recent.Add(committed);
        AdvanceLastSeq(committed[^1].Seq);
        Signal();
    }

    /// <summary>
    /// Events up to <paramref name="seq"/> were committed outside this log's batches, by this process or another
    /// (a Redis script of a job step): wake the readers, who read them from the store.
    /// </summary>
    public void OnCommittedElsewhere(long seq) => OnExternalCommit(seq);

    /// <summary>Another process committed up to <paramref name="seq"/> (Redis): wake the readers.</summary>
    protected void OnExternalCommit(long seq)
    {
        AdvanceLastSeq(seq);
        Signal();
    }

    /// <summary>The store was found empty or replaced: adopt the new epoch and position.</summary>
    protected void OnEpochChanged(string epoch, long lastSeq, long firstSeq)
    {
        if (Epoch == epoch)
        {
            return;
        }
        LogEpochChanged(_logger, Provider, Epoch, epoch);
        _recent.Clear();
        Removed = RetentionMarks.None;
        Volatile.Write(ref _epoch, epoch);
        Interlocked.Exchange(ref _lastSeq, lastSeq);
        FirstSeq = firstSeq;
        Signal();
    }

    private async Task RunWriterAsync()
    {
        var reader = _queue.Reader;
        using var inFlight = new SemaphoreSlim(_maxBatchesInFlight);
        var running = new List<Task>();
        while (await reader.WaitToReadAsync())
        {
            var batch = new List<PendingAppend>(Math.Min(_maxBatchSize, 64));
            while (batch.Count < _maxBatchSize && reader.TryRead(out var pending))
            {
                batch.Add(pending);
            }
            await inFlight.WaitAsync();
            var commit = CommitAndCompleteAsync(batch, inFlight);
            if (_maxBatchesInFlight == 1)
            {
                await commit;
            }
            else
            {
                running.RemoveAll(t => t.IsCompleted);
                running.Add(commit);
            }
        }
        await Task.WhenAll(running);
    }

    private async Task CommitAndCompleteAsync(List<PendingAppend> batch, SemaphoreSlim inFlight)
    {
        try
        {
            var drafts = new CharterEvent[batch.Count];
            for (var i = 0; i < drafts.Length; i++)
            {
                drafts[i] = batch[i].Draft;
            }
            var (epoch, committed) = await CommitBatchAsync(drafts, CancellationToken.None);
            if (epoch != Epoch)
            {
                OnEpochChanged(epoch, committed[0].Seq - 1, 1);
            }
            _recent.Add(committed);
            AdvanceLastSeq(committed[^1].Seq);
            Signal();
            if (CountsOwnBatches)
            {
                CountAppended(committed.Length);
            }
            for (var i = 0; i < committed.Length; i++)
            {
                batch[i].TrySetResult(committed[i]);
            }
        }
        catch (Exception ex)
        {
            LogCommitFailed(_logger, ex, Provider, batch.Count);
            foreach (var pending in batch)
            {
                pending.TrySetException(ex);
            }
        }
        finally
        {
            inFlight.Release();
        }
    }

    private void AdvanceLastSeq(long seq)
    {
        var current = Interlocked.Read(ref _lastSeq);
        while (seq > current)
        {
            var seen = Interlocked.CompareExchange(ref _lastSeq, seq, current);
            if (seen == current)
            {
                return;
            }
            current = seen;
        }
    }

    /// <summary>A new epoch id: 16 hex characters, unique per log life.</summary>
    protected static string NewEpochId() => Guid.NewGuid().ToString("N")[..16];

    private void Signal() => Interlocked.Exchange(ref _committed, NewSignal()).TrySetResult();

    private static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    public async ValueTask DisposeAsync()
    {
        _queue.Writer.TryComplete();
        if (_writer is not null)
        {
            await _writer;
        }
        await DisposeCoreAsync();
        GC.SuppressFinalize(this);
    }

    private sealed class PendingAppend(CharterEvent draft)
        : TaskCompletionSource<CharterEvent>(TaskCreationOptions.RunContinuationsAsynchronously)
    {
        public CharterEvent Draft { get; } = draft;
    }

    [LoggerMessage(EventId = 1001, Level = LogLevel.Error, Message = "Event log ({Provider}) failed to commit a batch of {Count} events")]
    private static partial void LogCommitFailed(ILogger logger, Exception exception, string provider, int count);

    [LoggerMessage(EventId = 1002, Level = LogLevel.Warning, Message = "Event log ({Provider}) epoch changed from {OldEpoch} to {NewEpoch}: the store was emptied or replaced")]
    private static partial void LogEpochChanged(ILogger logger, string provider, string oldEpoch, string newEpoch);
}
