using System.Globalization;
using System.Runtime.CompilerServices;
using MissionHub.Storage.Redis;
using StackExchange.Redis;

namespace MissionHub.Telemetry;

/// <summary>
/// Samples in Redis: a sorted set per robot, <c>telemetry:&lt;robot_id&gt;</c>, scored by time, each member
/// <c>&lt;unique&gt;|&lt;fields JSON&gt;</c> (the prefix keeps identical frames apart); <c>telemetry:robots</c> lists the
/// robots that have samples, for the retention sweep.
/// </summary>
public sealed class RedisTelemetryStore(RedisConnection connection, RedisKeys keys) : ITelemetryStore
{
    private const int ReadPage = 5000;

    // At most ARGV[2] of the oldest samples older than ARGV[1], in one atomic step: a sweep of a long backlog is many
    // short steps, never one that holds Redis for millions of members (another process may sweep the same key).
    private const string TrimChunkScript = """
        local n = redis.call('ZCOUNT', KEYS[1], '-inf', '(' .. ARGV[1])
        local limit = tonumber(ARGV[2])
        if n > limit then n = limit end
        if n > 0 then redis.call('ZREMRANGEBYRANK', KEYS[1], 0, n - 1) end
        return n
        """;
    private readonly string _writer = Guid.NewGuid().ToString("N")[..8];
    private long _counter;

    private RedisKey SeriesKey(string robotId) => keys.Key($"telemetry:{robotId}");

    private RedisKey RobotsKey => keys.Key("telemetry:robots");

    public Task InitializeAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public async Task AppendAsync(IReadOnlyList<TelemetrySample> samples, CancellationToken cancellationToken)
    {
        if (samples.Count == 0)
        {
            return;
        }
        var db = await connection.GetDatabaseAsync(cancellationToken);
        var writes = new List<Task>();
        foreach (var robot in samples.GroupBy(s => s.RobotId, StringComparer.Ordinal))
        {
            var entries = robot.Select(s => new SortedSetEntry(
                $"{_writer}{Interlocked.Increment(ref _counter).ToString(CultureInfo.InvariantCulture)}|{TelemetrySerialization.ValuesToJson(s.Values)}",
                s.Timestamp)).ToArray();
            writes.Add(db.SortedSetAddAsync(SeriesKey(robot.Key), entries));
            writes.Add(db.SetAddAsync(RobotsKey, robot.Key));
        }
        await Task.WhenAll(writes);
    }

    public async IAsyncEnumerable<TelemetrySample> ReadAsync(
        string robotId, double from, double to, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var db = await connection.GetDatabaseAsync(cancellationToken);
        long skip = 0;
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var page = await db.SortedSetRangeByScoreWithScoresAsync(
                SeriesKey(robotId), from, to, Exclude.Stop, Order.Ascending, skip, ReadPage);
            foreach (var entry in page)
            {
                var member = (string)entry.Element!;
                var bar = member.IndexOf('|', StringComparison.Ordinal);
                yield return new TelemetrySample(robotId, entry.Score, TelemetrySerialization.ValuesFromJson(member[(bar + 1)..]));
            }
            if (page.Length < ReadPage)
            {
                yield break;
            }
            skip += page.Length;
        }
    }

    public async Task<long> TrimAsync(double before, CancellationToken cancellationToken)
    {
        var db = await connection.GetDatabaseAsync(cancellationToken);
        long removed = 0;
        foreach (var robot in await db.SetMembersAsync(RobotsKey))
        {
            var key = SeriesKey((string)robot!);
            long deleted;
            do
            {
                deleted = (long)await db.ScriptEvaluateAsync(TrimChunkScript, [key], [before, SqliteTelemetryStore.TrimChunk]);
                removed += deleted;
            }
            while (deleted == SqliteTelemetryStore.TrimChunk);
            if (await db.SortedSetLengthAsync(key) == 0)
            {
                await db.SetRemoveAsync(RobotsKey, robot);
            }
        }
        return removed;
    }
}
