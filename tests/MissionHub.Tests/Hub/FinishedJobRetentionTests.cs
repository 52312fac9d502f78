using System.Net;
using MissionHub.Hub;

namespace MissionHub.Tests.Hub;

/// <summary>
/// Storage stays bounded however long the hub runs, on each backend: a sweep as of a time past the retention window
/// (the sweep's clock is handed in) removes every finished job older than the window in chunks — live jobs and jobs
/// inside the window untouched, a few <c>jobs_purged</c> events (reason <c>retention</c>) instead of one per job, and
/// the stored size goes back down; past <c>FinishedJobMaxCount</c> the oldest go first.
/// </summary>
public abstract class FinishedJobTestsBase : HubTestBase
{
    protected override Dictionary<string, string?> Settings => new(base.Settings)
    {
        ["MissionHub:Hub:FinishedJobMaxCount"] = MaxCount.ToString(System.Globalization.CultureInfo.InvariantCulture),
    };

    protected virtual long MaxCount => 1_000_000;

    /// <summary>What the backend stores for jobs: a measure that shrinks when jobs are removed.</summary>
    protected abstract Task<long> StoredJobsSizeAsync();

    protected async Task<List<string>> FinishAsync(int count, string jobType)
    {
        var store = Factory.Services.GetRequiredService<IJobStore>();
        var hub = Factory.Services.GetRequiredService<JobHub>();
        var ids = new List<string>();
        for (var submitted = 0; submitted < count; submitted += 1000)
        {
            var batch = await hub.SubmitBatchAsync([.. Enumerable.Range(0, Math.Min(1000, count - submitted)).Select(_ =>
                new NewJob(jobType, 0, System.Text.Json.JsonSerializer.SerializeToElement(new { blob = new string('x', 200) }), null, 1, null))]);
            ids.AddRange(batch.Select(r => r.Job.Id));
        }
        foreach (var id in ids)
        {
            Assert.Equal(StepOutcome.Done, (await store.CancelAsync(id)).Outcome);
        }
        return ids;
    }
}

public abstract class FinishedJobRetentionTests : FinishedJobTestsBase
{
    [Fact]
    public Task SweepPastTheWindow_RemovesEveryOldFinishedJob_InChunks_LeavesLiveJobs_AndTheStoredSizeGoesDown() =>
        SweepPastTheWindowAsync(10_000);

    [Cluster.SoakFact("100,000 finished jobs removed by one retention sweep")]
    public Task HundredThousandFinishedJobs_AreGoneAfterOneSweep() => SweepPastTheWindowAsync(100_000);

    private async Task SweepPastTheWindowAsync(int finished)
    {
        await FinishAsync(finished, "old");
        var live = await SubmitAsync("still-pending");
        var sweeper = Factory.Services.GetRequiredService<FinishedJobRetention>();
        var before = await StoredJobsSizeAsync();

        // Inside the window nothing goes.
        Assert.Equal(0, await sweeper.SweepOnceAsync(DateTimeOffset.UtcNow, CancellationToken.None));

        var removed = await sweeper.SweepOnceAsync(DateTimeOffset.UtcNow.AddDays(8), CancellationToken.None);

        Assert.Equal(finished, removed);
        var after = await StoredJobsSizeAsync();
        Assert.True(after < before / 10, $"stored jobs size {before} before, {after} after the sweep");
        var left = await ListAllJobsAsync();
        Assert.Equal([live], left.Select(j => j.GetProperty("id").GetString()));
        Assert.Equal("pending", (await GetJobAsync(live)).GetProperty("status").GetString());
        var events = await Client.ReadEventsAsync("jobs_purged");
        Assert.Equal(finished / FinishedJobRetention.Chunk, events.Count);
        Assert.All(events, e => Assert.Equal("retention", e.PayloadString("reason")));
        Assert.Equal(finished, events.Sum(e => e.GetProperty("payload").GetProperty("count").GetInt32()));
        Assert.Equal(0, await sweeper.SweepOnceAsync(DateTimeOffset.UtcNow.AddDays(8), CancellationToken.None));
    }
}

public abstract class FinishedJobMaxCountTests : FinishedJobTestsBase
{
    protected override long MaxCount => 100;

    [Fact]
    public async Task BeyondTheMaxCount_TheOldestFinishedJobsGo_AndTheNewestStay()
    {
        var oldest = await FinishAsync(250, "counted");
        var newest = await FinishAsync(100, "counted");
        var sweeper = Factory.Services.GetRequiredService<FinishedJobRetention>();

        Assert.Equal(250, await sweeper.SweepOnceAsync(DateTimeOffset.UtcNow, CancellationToken.None));

        var left = (await ListAllJobsAsync()).Select(j => j.GetProperty("id").GetString()!).ToHashSet();
        Assert.Equal(newest.ToHashSet(), left);
        using var gone = await Client.GetAsync(new Uri($"/api/jobs/{oldest[0]}", UriKind.Relative));
        Assert.Equal(HttpStatusCode.NotFound, gone.StatusCode);
    }
}

internal static class SqliteJobsSize
{
    /// <summary>
    /// Bytes of the stored job documents (the file itself keeps its pages for reuse, and it also holds the event log,
    /// which retention of jobs does not touch).
    /// </summary>
    public static async Task<long> JobBytesAsync(string path)
    {
        await using var connection = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={path};Mode=ReadOnly;Pooling=False");
        await connection.OpenAsync();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT COALESCE(SUM(length(doc)), 0) FROM jobs";
        return (long)(await command.ExecuteScalarAsync())!;
    }
}

internal static class RedisJobsSize
{
    /// <summary>Job hashes stored under the prefix.</summary>
    public static async Task<long> JobKeysAsync(RedisServer redis, string prefix)
    {
        await using var connection = await StackExchange.Redis.ConnectionMultiplexer.ConnectAsync(redis.Configuration);
        var server = connection.GetServers()[0];
        long count = 0;
        await foreach (var _ in server.KeysAsync(pattern: $"{prefix}*job:*", pageSize: 1000))
        {
            count++;
        }
        return count;
    }
}

public sealed class SqliteFinishedJobRetentionTests : FinishedJobRetentionTests
{
    protected override MissionHubFactory CreateFactory(IDictionary<string, string?> settings) =>
        MissionHubFactory.WithSqlite(Folder.File("retention.db"), settings);

    protected override Task<long> StoredJobsSizeAsync() => SqliteJobsSize.JobBytesAsync(Folder.File("retention.db"));
}

public sealed class RedisFinishedJobRetentionTests(RedisServerFixture redis) : FinishedJobRetentionTests, IClassFixture<RedisServerFixture>
{
    private readonly string _prefix = $"retention{Guid.NewGuid():N}:";

    protected override MissionHubFactory CreateFactory(IDictionary<string, string?> settings) =>
        MissionHubFactory.WithRedis(redis.Server, _prefix, settings);

    protected override Task<long> StoredJobsSizeAsync() => RedisJobsSize.JobKeysAsync(redis.Server, _prefix);
}

public sealed class SqliteFinishedJobMaxCountTests : FinishedJobMaxCountTests
{
    protected override MissionHubFactory CreateFactory(IDictionary<string, string?> settings) =>
        MissionHubFactory.WithSqlite(Folder.File("retention.db"), settings);

    protected override Task<long> StoredJobsSizeAsync() => SqliteJobsSize.JobBytesAsync(Folder.File("retention.db"));
}

public sealed class RedisFinishedJobMaxCountTests(RedisServerFixture redis) : FinishedJobMaxCountTests, IClassFixture<RedisServerFixture>
{
    private readonly string _prefix = $"maxcount{Guid.NewGuid():N}:";

    protected override MissionHubFactory CreateFactory(IDictionary<string, string?> settings) =>
        MissionHubFactory.WithRedis(redis.Server, _prefix, settings);

    protected override Task<long> StoredJobsSizeAsync() => RedisJobsSize.JobKeysAsync(redis.Server, _prefix);
}
