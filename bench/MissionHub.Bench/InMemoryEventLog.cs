using Microsoft.Extensions.Logging.Abstractions;
using MissionHub.Events;

namespace MissionHub.Bench;

/// <summary>
/// A log with no store behind it, for <c>--backend memory</c>: what the shared group-commit machinery
/// (queue, single writer, a TaskCompletionSource per append, the ring of recent events) costs on its own,
/// as a ceiling for the real backends. Reads are not supported.
/// </summary>
internal sealed class InMemoryEventLog()
    : GroupCommitEventLog(new EventLogOptions().MaxBatchSize, maxBatchesInFlight: 1, new EventLogOptions().RecentEventsInMemory, NullLogger.Instance)
{
    private const string FixedEpoch = "inmemory";
    private long _nextSeq = 1;

    public override string Provider => "memory";

    public override Task<long> TrimAsync(EventRetentionPolicy policy, CancellationToken cancellationToken) =>
        Task.FromResult(0L);

    protected override Task<(string Epoch, long LastSeq, long FirstSeq)> OpenAsync(CancellationToken cancellationToken) =>
        Task.FromResult((FixedEpoch, 0L, 1L));

    protected override async Task<(string Epoch, CharterEvent[] Events)> CommitBatchAsync(
        IReadOnlyList<CharterEvent> drafts, CancellationToken cancellationToken)
    {
        // A real commit completes asynchronously; so does this one.
        await Task.Yield();
        var committed = new CharterEvent[drafts.Count];
        for (var i = 0; i < committed.Length; i++)
        {
            committed[i] = drafts[i] with { Seq = _nextSeq++ };
        }
        return (FixedEpoch, committed);
    }

    protected override Task<EventPage> ReadCoreAsync(EventQuery query, CancellationToken cancellationToken) =>
        throw new NotSupportedException("the in-memory benchmark log is append-only");

    protected override ValueTask DisposeCoreAsync() => ValueTask.CompletedTask;
}
