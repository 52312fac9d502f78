using MissionHub.Hub;
using MissionHub.History;
using StackExchange.Redis;

namespace MissionHub.Storage.Redis;

/// <summary>
/// State checkpoints under the hub's prefix: one string per checkpoint and a sorted set of their seqs per epoch.
/// The processes of one hub take turns writing them with a short lease (as <c>system_stats</c> does).
/// </summary>
public sealed class RedisCheckpointStore(RedisConnection connection, RedisKeys keys, IHubSignals signals) : ICheckpointStore
{
    private static readonly TimeSpan WriterLease = TimeSpan.FromSeconds(30);
    private DateTimeOffset _renewAfter = DateTimeOffset.MinValue;

    public async Task SaveAsync(string epoch, long seq, ReadOnlyMemory<byte> checkpoint, CancellationToken cancellationToken)
    {
        var db = await connection.GetDatabaseAsync(cancellationToken);
        var batch = db.CreateTransaction();
        _ = batch.StringSetAsync(keys.HistoryCheckpoint(epoch, seq), checkpoint);
        _ = batch.SortedSetAddAsync(keys.HistoryCheckpoints(epoch), seq, seq);
        _ = batch.SetAddAsync(keys.HistoryEpochs, epoch);
        await batch.ExecuteAsync();
    }

    public async Task<byte[]?> LoadAtOrBeforeAsync(string epoch, long seq, CancellationToken cancellationToken)
    {
        var db = await connection.GetDatabaseAsync(cancellationToken);
        var newest = await db.SortedSetRangeByScoreAsync(keys.HistoryCheckpoints(epoch), double.NegativeInfinity, seq, Exclude.None, Order.Descending, 0, 1);
        if (newest.Length == 0)
        {
            return null;
        }
        var value = await db.StringGetAsync(keys.HistoryCheckpoint(epoch, (long)newest[0]));
        return value.IsNull ? null : (byte[]?)value;
    }

    public async Task<IReadOnlyList<long>> ListAsync(string epoch, CancellationToken cancellationToken)
    {
        var db = await connection.GetDatabaseAsync(cancellationToken);
        return [.. (await db.SortedSetRangeByScoreAsync(keys.HistoryCheckpoints(epoch))).Select(v => (long)v)];
    }

    public async Task PruneAsync(string epoch, long seq, CancellationToken cancellationToken)
    {
        var db = await connection.GetDatabaseAsync(cancellationToken);
        foreach (var other in (await db.SetMembersAsync(keys.HistoryEpochs)).Select(e => e.ToString()).Where(e => e != epoch))
        {
            var seqs = await db.SortedSetRangeByScoreAsync(keys.HistoryCheckpoints(other));
            await db.KeyDeleteAsync([.. seqs.Select(s => keys.HistoryCheckpoint(other, (long)s)), keys.HistoryCheckpoints(other)]);
            await db.SetRemoveAsync(keys.HistoryEpochs, other);
        }
        var old = await db.SortedSetRangeByScoreAsync(keys.HistoryCheckpoints(epoch), double.NegativeInfinity, seq, Exclude.Stop);
        if (old.Length > 0)
        {
            await db.KeyDeleteAsync([.. old.Select(s => keys.HistoryCheckpoint(epoch, (long)s))]);
            await db.SortedSetRemoveRangeByScoreAsync(keys.HistoryCheckpoints(epoch), double.NegativeInfinity, seq, Exclude.Stop);
        }
    }

    public async ValueTask<bool> IsWriterAsync(CancellationToken cancellationToken)
    {
        var now = DateTimeOffset.UtcNow;
        if (now < _renewAfter)
        {
            return true;
        }
        try
        {
            var db = await connection.GetDatabaseAsync(cancellationToken);
            // Take the lease if free, or extend it if ours.
            var ours = await db.StringSetAsync(keys.HistoryWriter, signals.NodeId, WriterLease, When.NotExists)
                || (await db.StringGetAsync(keys.HistoryWriter) == signals.NodeId && await db.KeyExpireAsync(keys.HistoryWriter, WriterLease));
            _renewAfter = ours ? now + WriterLease / 2 : DateTimeOffset.MinValue;
            return ours;
        }
        catch (RedisException)
        {
            // Without Redis there is nothing to write to either; the writer asks again shortly.
            _renewAfter = DateTimeOffset.MinValue;
            return false;
        }
    }
}
