using System.Diagnostics;

namespace MissionHub.Tests.Hub;

/// <summary><c>system_stats</c> is coalesced under a burst and ends on the true counts, on each backend.</summary>
public abstract class SystemStatsTests : HubTestBase
{
    [Fact]
    public async Task BurstOf50Submissions_PublishesFewCoalescedSystemStats_EndingOnTheRealCounts()
    {
        var clock = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, 50).Select(_ => SubmitAsync("render")));
        var burst = clock.Elapsed;

        var stats = await Client.WaitForEventsAsync("system_stats",
            e => e.GetProperty("payload").GetProperty("stats").GetProperty("pending_jobs").GetInt64() == 50, 1);
        var all = await Client.ReadEventsAsync("system_stats");
        var last = all[^1].GetProperty("payload").GetProperty("stats");
        Assert.Equal(50, last.GetProperty("pending_jobs").GetInt64());
        Assert.Equal(50, last.GetProperty("total_jobs").GetInt64());
        Assert.Equal(0, last.GetProperty("active_jobs").GetInt64());
        Assert.Equal(0, last.GetProperty("total_workers").GetInt64());
        Assert.NotEmpty(stats);

        // At most 4 per second (the default 250 ms interval) over the burst, plus the first and the trailing one.
        var allowed = (int)Math.Floor(burst.TotalSeconds * 4) + 2;
        Assert.True(all.Count <= allowed, $"{all.Count} system_stats for a burst of {burst.TotalMilliseconds:0} ms; at most {allowed} expected");
        var timestamps = all.Select(e => e.GetProperty("timestamp").GetDouble()).ToList();
        for (var i = 1; i < timestamps.Count; i++)
        {
            Assert.True(timestamps[i] - timestamps[i - 1] >= 0.2,
                $"system_stats {i} came {(timestamps[i] - timestamps[i - 1]) * 1000:0} ms after the previous one; they are coalesced to one per 250 ms");
        }
    }

    [Fact]
    public async Task CancelledJobs_AreCounted_AndAPurgeTakesThemOff()
    {
        var ids = new List<string>();
        for (var i = 0; i < 3; i++)
        {
            ids.Add(await SubmitAsync("render"));
        }
        foreach (var id in ids.Take(2))
        {
            using var cancelled = await CancelAsync(id);
            Assert.Equal(System.Net.HttpStatusCode.OK, cancelled.StatusCode);
        }
        await Client.WaitForEventsAsync("system_stats",
            e => e.GetProperty("payload").GetProperty("stats").GetProperty("cancelled_jobs").GetInt64() == 2
                && e.GetProperty("payload").GetProperty("stats").GetProperty("pending_jobs").GetInt64() == 1, 1);

        var purgedAt = (await Client.ReadEventsAsync("system_stats"))[^1].GetProperty("seq").GetInt64();
        using var purged = await Client.PostAsync(new Uri("/api/jobs/purge?status=cancelled", UriKind.Relative), null);
        Assert.Equal(System.Net.HttpStatusCode.OK, purged.StatusCode);
        // total_jobs keeps counting every job ever submitted; cancelled_jobs says how many of them are still held as cancelled.
        var after = await Client.WaitForEventsAsync("system_stats",
            e => e.GetProperty("seq").GetInt64() > purgedAt && e.GetProperty("payload").GetProperty("stats").GetProperty("cancelled_jobs").GetInt64() == 0, 1);
        var stats = after[^1].GetProperty("payload").GetProperty("stats");
        Assert.Equal(1, stats.GetProperty("pending_jobs").GetInt64());
        Assert.Equal(3, stats.GetProperty("total_jobs").GetInt64());
    }
}

public sealed class SqliteSystemStatsTests : SystemStatsTests
{
    protected override MissionHubFactory CreateFactory(IDictionary<string, string?> settings) =>
        MissionHubFactory.WithSqlite(Folder.File("hub.db"), settings);
}

public sealed class RedisSystemStatsTests(RedisServerFixture redis) : SystemStatsTests, IClassFixture<RedisServerFixture>
{
    protected override MissionHubFactory CreateFactory(IDictionary<string, string?> settings) =>
        MissionHubFactory.WithRedis(redis.Server, $"hub{Guid.NewGuid():N}:", settings);
}
