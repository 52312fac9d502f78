using System.Net.Http.Json;
using System.Text.Json;

namespace MissionHub.Tests.Hub;

/// <summary>
/// <c>GET /api/queues</c> counts, on each backend: a job waiting for its retry is pending and delayed; completed and
/// failed jobs count in the last hour; a job type with neither is all zeros.
/// </summary>
public abstract class QueueActivityTests : HubTestBase
{
    // Retries wait a minute here, so the retried job is still delayed when the queues are read.
    protected override Dictionary<string, string?> Settings => new(base.Settings)
    {
        ["MissionHub:Hub:RetryBaseDelay"] = "00:01:00",
        ["MissionHub:Hub:RetryMaxDelay"] = "00:05:00",
    };

    [Fact]
    public async Task Queues_CountDelayedRetries_AndCompletedAndFailedInTheLastHour()
    {
        await using var worker = await RawWorker.RegisterAsync(Factory, "w-activity", ["activity"]);
        var retried = await SubmitAsync("activity", maxAttempts: 3);
        Assert.Equal(retried, (await worker.ReceiveJobAsync()).GetProperty("id").GetString());
        await worker.FailAsync(retried, "try again later");
        var done = await SubmitAsync("activity");
        Assert.Equal(done, (await worker.ReceiveJobAsync()).GetProperty("id").GetString());
        await worker.CompleteAsync(done);
        var failed = await SubmitAsync("activity", maxAttempts: 1);
        Assert.Equal(failed, (await worker.ReceiveJobAsync()).GetProperty("id").GetString());
        await worker.FailAsync(failed, "for good");
        await WaitForStatusAsync(failed, "failed");
        await SubmitAsync("idle-type", priority: 0);
        await worker.AssertNothingReceivedAsync(TimeSpan.FromMilliseconds(200)); // the retry is not due for a minute

        var list = await Client.GetFromJsonAsync<JsonElement>("/api/queues");
        Assert.False(list.GetProperty("scan_capped").GetBoolean());
        var queues = list.GetProperty("queues").EnumerateArray().ToDictionary(q => q.GetProperty("job_type").GetString()!, q => q);
        var activity = queues["activity"];
        Assert.Equal(1, activity.GetProperty("pending").GetInt64());
        Assert.Equal(1, activity.GetProperty("delayed").GetInt64());
        Assert.Equal(1, activity.GetProperty("completed_last_hour").GetInt64());
        Assert.Equal(1, activity.GetProperty("failed_last_hour").GetInt64());
        Assert.Equal(1, activity.GetProperty("completed").GetInt64());
        Assert.Equal(1, activity.GetProperty("failed").GetInt64());
        var idle = queues["idle-type"];
        Assert.Equal(1, idle.GetProperty("pending").GetInt64());
        Assert.Equal(0, idle.GetProperty("delayed").GetInt64());
        Assert.Equal(0, idle.GetProperty("completed_last_hour").GetInt64());
    }
}

public sealed class SqliteQueueActivityTests : QueueActivityTests
{
    protected override MissionHubFactory CreateFactory(IDictionary<string, string?> settings) =>
        MissionHubFactory.WithSqlite(Folder.File("activity.db"), settings);
}

public sealed class RedisQueueActivityTests(RedisServerFixture redis) : QueueActivityTests, IClassFixture<RedisServerFixture>
{
    protected override MissionHubFactory CreateFactory(IDictionary<string, string?> settings) =>
        MissionHubFactory.WithRedis(redis.Server, $"activity{Guid.NewGuid():N}:", settings);
}
