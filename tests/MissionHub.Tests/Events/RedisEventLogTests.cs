using System.Collections.Concurrent;
using Microsoft.Extensions.Options;
using MissionHub.Events;
using MissionHub.Storage;
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
    public async Task ConcurrentStepsOfThisProcess_ReachItsReadersFromMemory_InOrder()
    {
        var prefix = $"{_run}:steps:";
        var (log, connection) = await EventLogs.OpenRedisAsync(redis.Server, prefix);
        _connections.Add(connection);
        await using var disposeLog = log;
        var storage = Options.Create(new StorageOptions { Provider = "redis", Redis = { Configuration = redis.Server.Configuration, KeyPrefix = prefix } });
        var steps = new RedisStepEvents(connection, new RedisKeys(storage), log, TimeProvider.System);
        // A step like a job's: two events beside its change, in one script.
        var script = new RedisScript(RedisStepEvents.Prelude + """

            redis.call('INCR', KEYS[2] .. ':steps')
            emit_event('test_source', 'test.step', nil, '{"n":' .. ARGV[A] .. '}')
            emit_event('test_source', 'test.step', nil, '{"n":' .. ARGV[A] .. '}')
            return step_reply(1)
            """);
        const int Writers = 64, StepsEach = 50, Total = Writers * StepsEach * 2;
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var storeReadsBefore = log.ReadsFromStore;

        // A reader following the log as the event bus does: read after its position, wait when there is nothing new.
        var seen = new List<long>(Total);
        var reader = Task.Run(async () =>
        {
            long after = 0;
            while (seen.Count < Total)
            {
                var page = await log.ReadAsync(new EventQuery(after, Limit: 1000), timeout.Token);
                seen.AddRange(page.Events.Select(e => e.Seq));
                after = page.NextAfterSeq;
                if (page.Events.Count == 0)
                {
                    await log.WaitForEventsAsync(after, TimeSpan.FromSeconds(1), timeout.Token);
                }
            }
        });
        await Task.WhenAll(Enumerable.Range(0, Writers).Select(w => Task.Run(async () =>
        {
            for (var i = 0; i < StepsEach; i++)
            {
                await steps.RunAsync(script, prefix, "test", null, [w * 1000 + i], CancellationToken.None);
            }
        })));
        await reader;

        Assert.Equal(Enumerable.Range(1, Total).Select(i => (long)i), seen);
        // The first reads may find the ring still empty; after them, every event this process appended came from memory
        // (announced in the order they came, the reader went back to Redis 40 to 50 times in this test).
        var storeReads = log.ReadsFromStore - storeReadsBefore;
        Assert.True(storeReads <= 10, $"{storeReads} reads went to Redis for events this process had appended itself");
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
