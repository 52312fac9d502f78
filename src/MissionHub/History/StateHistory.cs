using Microsoft.Extensions.Options;
using MissionHub.Agents;
using MissionHub.Events;
using MissionHub.Hub;

namespace MissionHub.History;

/// <summary>
/// Rebuilds the console at a seq: the nearest stored checkpoint at or before it (or the start of the log), then the
/// events after the checkpoint up to that seq, through the same projection. Costs at most
/// <see cref="HistoryOptions.CheckpointEvery"/> events however long the log is.
/// </summary>
public sealed class StateHistory(
    IEventLog log, ICheckpointStore checkpoints, IOptions<HistoryOptions> historyOptions, IOptions<HubOptions> hubOptions,
    IOptions<AgentOptions> agentOptions)
{
    /// <summary>States recently rebuilt, kept so that stepping through time (a dashboard's slider) replays only the step.</summary>
    private const int RecentKept = 8;

    private readonly int _every = historyOptions.Value.CheckpointEvery;
    private readonly Lock _recentLock = new();
    private readonly LinkedList<(StateCheckpoint State, long BaseSeq)> _recent = new();

    /// <summary>Events read per page while replaying (the log's reads take any size; larger pages mean fewer round trips).</summary>
    internal const int ReplayPage = 5000;

    private readonly int _maxInlineResultBytes = hubOptions.Value.MaxInlineResultBytes;
    private readonly TimeSpan _offlineRetention = agentOptions.Value.OfflineRetention;

    public StateProjection NewProjection(string epoch) => StateProjection.Empty(epoch, _maxInlineResultBytes, _offlineRetention);

    public StateProjection FromCheckpoint(byte[] stored) => Import(CheckpointCodec.Decode(stored));

    public StateProjection Import(StateCheckpoint checkpoint) => StateProjection.Import(checkpoint, _maxInlineResultBytes, _offlineRetention);

    /// <summary>The log's epoch, oldest retained seq and last seq.</summary>
    public async Task<EventPage> PositionAsync(CancellationToken cancellationToken) =>
        await log.ReadAsync(new EventQuery(log.LastSeq, Limit: 1) { SkipRemoved = true }, cancellationToken);

    /// <summary>The seq of the last event at or before <paramref name="time"/> (Unix s): 0 if none is.</summary>
    public async Task<long> SeqAtTimeAsync(double time, EventPage position, CancellationToken cancellationToken)
    {
        // The first event after that time, read from the time index; the one before it is the answer.
        var after = await log.ReadAsync(
            new EventQuery(0, Since: Math.BitIncrement(time), Limit: 1) { FromOldestRetained = true, SkipRemoved = true }, cancellationToken);
        return after.Events.Count == 0 ? position.LastSeq : after.Events[0].Seq - 1;
    }

    /// <summary>True when every event a rebuild needs after <paramref name="seq"/> is still in the log.</summary>
    public async Task<bool> CanReplayAfterAsync(string epoch, long seq, CancellationToken cancellationToken) =>
        (await log.ReadAsync(new EventQuery(seq, StateProjection.Requires, Limit: 1, Epoch: epoch), cancellationToken)).Recovered;

    /// <summary>The oldest seq a state can be rebuilt at (the start of the log, or the oldest usable checkpoint), or null if none.</summary>
    public async Task<long?> OldestAnswerableAsync(string epoch, CancellationToken cancellationToken)
    {
        if (await CanReplayAfterAsync(epoch, 0, cancellationToken))
        {
            return 0;
        }
        foreach (var seq in await checkpoints.ListAsync(epoch, cancellationToken))
        {
            if (await CanReplayAfterAsync(epoch, seq, cancellationToken))
            {
                return seq;
            }
        }
        return null;
    }

    /// <summary>The state right after event <paramref name="seq"/>, or null if it cannot be rebuilt (its events are trimmed).</summary>
    public async Task<StateProjection?> RebuildAsync(string epoch, long seq, CancellationToken cancellationToken)
    {
        StateProjection projection;
        if (Recent(epoch, seq) is { } recent)
        {
            projection = StateProjection.Import(recent.State, _maxInlineResultBytes, _offlineRetention, recent.BaseSeq);
        }
        else
        {
            var stored = await checkpoints.LoadAtOrBeforeAsync(epoch, seq, cancellationToken);
            projection = stored is null ? NewProjection(epoch) : FromCheckpoint(stored);
        }
        if (projection.Seq < seq && !await CanReplayAfterAsync(epoch, projection.Seq, cancellationToken))
        {
            return null;
        }
        if (!await ReplayAsync(projection, seq, cancellationToken))
        {
            return null;
        }
        Remember(projection.Export(), projection.BaseSeq);
        return projection;
    }

    /// <summary>The newest recent state at or before <paramref name="seq"/> that is no further from it than the stored checkpoint before it.</summary>
    private (StateCheckpoint State, long BaseSeq)? Recent(string epoch, long seq)
    {
        var storedBefore = seq / _every * _every;
        lock (_recentLock)
        {
            (StateCheckpoint State, long BaseSeq)? best = null;
            foreach (var entry in _recent)
            {
                if (entry.State.Epoch == epoch && entry.State.Seq <= seq && entry.State.Seq >= storedBefore
                    && (best is null || entry.State.Seq > best.Value.State.Seq))
                {
                    best = entry;
                }
            }
            return best;
        }
    }

    private void Remember(StateCheckpoint state, long baseSeq)
    {
        lock (_recentLock)
        {
            _recent.AddFirst((state, baseSeq));
            if (_recent.Count > RecentKept)
            {
                _recent.RemoveLast();
            }
        }
    }

    /// <summary>Applies the events after the projection's seq up to <paramref name="through"/>; false if the epoch changed meanwhile.</summary>
    public async Task<bool> ReplayAsync(StateProjection projection, long through, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(projection);
        while (projection.Seq < through)
        {
            // Unfiltered and past other types' trimming: the check above covered the types the projection reads.
            var page = await log.ReadAsync(
                new EventQuery(projection.Seq, Limit: (int)Math.Min(ReplayPage, through - projection.Seq), Epoch: projection.Epoch) { SkipRemoved = true },
                cancellationToken);
            if (!page.Recovered)
            {
                return false;
            }
            foreach (var evt in page.Events)
            {
                if (evt.Seq > through)
                {
                    projection.SkipTo(through);
                    return true;
                }
                projection.Apply(evt);
            }
            if (page.Events.Count == 0)
            {
                // The events left up to there were of other types and are trimmed, or the log ends before it.
                if (page.LastSeq < through)
                {
                    return false;
                }
                projection.SkipTo(through);
            }
        }
        return true;
    }
}
