using Microsoft.Extensions.Options;
using MissionHub.Events;
using MissionHub.Missions;
using MissionHub.Monitor;

namespace MissionHub.History;

/// <summary>
/// Follows the log with its own <see cref="StateProjection"/> and stores it at every seq that is a multiple of
/// <see cref="HistoryOptions.CheckpointEvery"/> (the same seqs whichever process writes them), then drops the checkpoints
/// retention made useless. One process at a time writes (<see cref="ICheckpointStore.IsWriterAsync"/>); the others wait.
/// </summary>
public sealed partial class CheckpointWriter(
    IEventLog log, ICheckpointStore checkpoints, StateHistory history, MonitorState monitor, IMissionStore missions,
    IOptions<HistoryOptions> options, ILogger<CheckpointWriter> logger)
    : BackgroundService
{
    private static readonly TimeSpan NotWriterWait = TimeSpan.FromSeconds(5);
    private readonly int _every = options.Value.CheckpointEvery;
    private long _writtenSeq;

    /// <summary>The seq of the newest checkpoint this process stored (for tests and <c>/metrics</c>).</summary>
    public long WrittenSeq => Interlocked.Read(ref _writtenSeq);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                if (!await checkpoints.IsWriterAsync(stoppingToken))
                {
                    await Task.Delay(NotWriterWait, stoppingToken);
                    continue;
                }
                await FollowAsync(stoppingToken);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                LogFailed(logger, ex);
                await Task.Delay(TimeSpan.FromSeconds(1), stoppingToken);
            }
        }
    }

    /// <summary>From the newest checkpoint on, while this process is the writer and the epoch stays the same.</summary>
    private async Task FollowAsync(CancellationToken cancellationToken)
    {
        var position = await history.PositionAsync(cancellationToken);
        var epoch = position.Epoch;
        var stored = await checkpoints.LoadAtOrBeforeAsync(epoch, long.MaxValue, cancellationToken);
        var projection = stored is null ? history.NewProjection(epoch) : history.FromCheckpoint(stored);
        if (!await history.CanReplayAfterAsync(epoch, projection.Seq, cancellationToken))
        {
            // The log was trimmed past where checkpoints could follow it (a log kept before checkpoints existed): start from
            // the monitors' read model, which was loaded from storage, and history is answerable from the next checkpoint.
            LogRestarting(logger, projection.Seq, position.FirstSeq);
            projection = await SeedAsync(epoch, cancellationToken);
            if (projection is null)
            {
                return;
            }
        }
        while (!cancellationToken.IsCancellationRequested)
        {
            var next = NextCheckpointSeq(projection.Seq);
            var last = log.LastSeq;
            if (last < next)
            {
                // Keep up in steps, so reaching a checkpoint never means one long replay.
                if (last - projection.Seq >= StateHistory.ReplayPage && !await history.ReplayAsync(projection, last, cancellationToken))
                {
                    return;
                }
                await log.WaitForEventsAsync(last, TimeSpan.FromSeconds(5), cancellationToken);
                continue;
            }
            if (!await history.ReplayAsync(projection, next, cancellationToken) || !await checkpoints.IsWriterAsync(cancellationToken))
            {
                return;
            }
            await SaveAsync(projection, cancellationToken);
        }
    }

    /// <summary>
    /// The hub as the live read model holds it (exact at its seq) and the missions still open as stored just after it
    /// (their changes after that seq are applied again, which leaves them as they are); robots are learnt from their events.
    /// </summary>
    private async Task<StateProjection?> SeedAsync(string epoch, CancellationToken cancellationToken)
    {
        var (hub, monitorEpoch, seq) = monitor.Export();
        if (monitorEpoch != epoch)
        {
            return null;
        }
        var open = new List<HistoryMission>();
        foreach (var status in (MissionStatus[])[MissionStatus.Pending, MissionStatus.Running])
        {
            var listing = await missions.ListAsync(status, null, MissionProjection.FinishedKept * 10, cancellationToken);
            open.AddRange(listing.Missions.Select(m => new HistoryMission(m.Id, m.Name, MissionStatusText(m.Status), m.UpdatedAt)));
        }
        LogSeeded(logger, seq, open.Count);
        return history.Import(new StateCheckpoint(epoch, seq, null, hub, open, []));
    }

    private static string MissionStatusText(MissionStatus status) => status.ToString().ToUpperInvariant();

    private long NextCheckpointSeq(long seq) => (seq / _every + 1) * _every;

    private async Task SaveAsync(StateProjection projection, CancellationToken cancellationToken)
    {
        var bytes = CheckpointCodec.Encode(projection.Export());
        await checkpoints.SaveAsync(projection.Epoch, projection.Seq, bytes, cancellationToken);
        Interlocked.Exchange(ref _writtenSeq, projection.Seq);
        LogSaved(logger, projection.Seq, bytes.Length);
        await PruneAsync(projection.Epoch, cancellationToken);
    }

    /// <summary>Drops the checkpoints before the oldest one the retained log can still continue from.</summary>
    private async Task PruneAsync(string epoch, CancellationToken cancellationToken)
    {
        foreach (var seq in await checkpoints.ListAsync(epoch, cancellationToken))
        {
            if (await history.CanReplayAfterAsync(epoch, seq, cancellationToken))
            {
                await checkpoints.PruneAsync(epoch, seq, cancellationToken);
                return;
            }
        }
    }

    [LoggerMessage(EventId = 9001, Level = LogLevel.Debug, Message = "State checkpoint stored at seq {Seq} ({Bytes} bytes)")]
    private static partial void LogSaved(ILogger logger, long seq, int bytes);

    [LoggerMessage(EventId = 9002, Level = LogLevel.Error, Message = "State checkpoints could not follow the log; retrying")]
    private static partial void LogFailed(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 9003, Level = LogLevel.Warning, Message = "State checkpoints cannot continue from seq {Seq}: the log keeps events from seq {FirstSeq} only; starting over")]
    private static partial void LogRestarting(ILogger logger, long seq, long firstSeq);

    [LoggerMessage(EventId = 9004, Level = LogLevel.Information, Message = "State checkpoints start from the live read model at seq {Seq} ({Missions} open missions)")]
    private static partial void LogSeeded(ILogger logger, long seq, int missions);
}
