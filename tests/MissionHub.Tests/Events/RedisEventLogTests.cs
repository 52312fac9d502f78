using System.Collections.Concurrent;
using MissionHub.Events;
using MissionHub.Storage.Redis;

namespace MissionHub.Tests.Events;

public sealed class RedisEventLogTests(RedisServerFixture redis) : EventLogContractTests, IClassFixture<RedisServerFixture>, IAsyncLifetime
{
    private readonly string _run = Guid.NewGuid().ToString("N")[..8];
    private readonly List<RedisConnection> _connections = [];

    protected override async Task<IEventLog> OpenAsync(string name, EventLogOptions? options = null)
    {
        var (log, connection) = await EventLogs.OpenRedisAsync(redis.Server, $"{_run}:{name}:", options);
        _connections.Add(connection);
        return log;
    }

    protected override async Task<IEventLog?> ReopenForFieldsAsync(IEventLog log) => await OpenAsync("fields");

    [Fact]
    public async Task TwoProcessesOnOneRedis_ShareOneGapFreeSequence()
    {
        await using var first = await OpenAsync("shared");
        await using var second = await OpenAsync("shared");
        Assert.Equal(first.Epoch, second.Epoch);
        var seqs = new ConcurrentBag<long>();

        await Task.WhenAll(
            Task.Run(async () => { for (var i = 0; i < 2000; i++) { seqs.Add((await first.AppendAsync(EventLogs.Draft("from.first"))).Seq); } }),
            Task.Run(async () => { for (var i = 0; i < 2000; i++) { seqs.Add((await second.AppendAsync(EventLogs.Draft("from.second"))).Seq); } }));

        Assert.Equal(Enumerable.Range(1, 4000).Select(i => (long)i), seqs.Order());
        var fromFirst = await EventLogs.ReadAllAsync(first);
        Assert.Equal(4000, fromFirst.Count);
        Assert.Equal(2000, fromFirst.Count(e => e.Type == "from.second"));
    }

    [Fact]
    public async Task AppendInAnotherProcess_WakesThisProcessTail()
    {
        await using var writer = await OpenAsync("wake");
        await using var reader = await OpenAsync("wake");
        using var cancel = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        var waiting = reader.WaitForEventsAsync(0, TimeSpan.FromSeconds(30), cancel.Token);

        await writer.AppendAsync(EventLogs.Draft("remote"));

        await waiting; // a 30 s timeout would fail the 10 s token: the wake-up came from the other process
        Assert.Equal(1, reader.LastSeq);
    }

    [Fact]
    public async Task FlushedRedis_StartsANewEpoch_AndOldPositionsAreNotRecovered()
    {
        await using var log = await OpenAsync("flushed");
        var oldEpoch = log.Epoch;
        await log.AppendAsync(EventLogs.Draft("before"));
        await log.AppendAsync(EventLogs.Draft("before"));
        var connection = _connections[^1];
        var db = await connection.GetDatabaseAsync();
        foreach (var key in new[] { "stream", "seq", "epoch", "first", "tindex", "tindex_last", "trimmed_ts" })
        {
            await db.KeyDeleteAsync($"{_run}:flushed:{{events}}:{key}");
        }

        var after = await log.AppendAsync(EventLogs.Draft("after"));
        var page = await log.ReadAsync(new EventQuery(2, Epoch: oldEpoch));

        Assert.Equal(1, after.Seq);
        Assert.NotEqual(oldEpoch, log.Epoch);
        Assert.False(page.Recovered);
        Assert.Equal(log.Epoch, page.Epoch);
    }

    public Task InitializeAsync() => Task.CompletedTask;

    async Task IAsyncLifetime.DisposeAsync()
    {
        foreach (var connection in _connections)
        {
            await connection.DisposeAsync();
        }
    }
}
