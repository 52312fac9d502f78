using System.Net;
using System.Text.Json;

namespace MissionHub.Tests.Hub;

/// <summary>
/// Retry and purge on each backend: a failed job retried starts its attempts over (the earlier ones kept in
/// <c>prior_attempts</c>) and completes; a bulk retry of 1,000 failed jobs of one type takes exactly those while another
/// type keeps flowing; a purge by filter removes exactly the matching finished jobs, with one <c>jobs_purged</c> event,
/// and the monitor's view and the counts follow.
/// </summary>
public abstract class JobRetryPurgeTests : HubTestBase
{
    [Fact]
    public async Task JobThatFailedAfterThreeAttempts_Retried_StartsOver_AndCompletes()
    {
        var id = await SubmitAsync("flaky", maxAttempts: 3);
        await using var worker = await RawWorker.RegisterAsync(Factory, "w-flaky", ["flaky"]);
        for (var attempt = 1; attempt <= 3; attempt++)
        {
            var job = await worker.ReceiveJobAsync();
            Assert.Equal(attempt, job.GetProperty("attempt").GetInt32());
            await worker.FailAsync(id, $"boom {attempt}");
        }
        await WaitForStatusAsync(id, "failed");

        var retried = await PostOkAsync($"/api/jobs/{id}/retry");
        Assert.Equal("pending", retried.GetProperty("status").GetString());
        Assert.Equal(0, retried.GetProperty("attempts").GetInt32());
        Assert.Equal(3, retried.GetProperty("prior_attempts").GetInt32());
        Assert.Equal(1, retried.GetProperty("retries").GetInt32());
        Assert.Equal(JsonValueKind.Null, retried.GetProperty("error").ValueKind);

        var again = await worker.ReceiveJobAsync();
        Assert.Equal(1, again.GetProperty("attempt").GetInt32());
        await worker.CompleteAsync(id, new { ok = true });
        var done = await WaitForStatusAsync(id, "completed");
        Assert.Equal(1, done.GetProperty("attempts").GetInt32());
        Assert.Equal(3, done.GetProperty("prior_attempts").GetInt32());

        // The history stays in the log: three failed attempts, the retry, the successful one.
        var events = await JobEventsAsync(id);
        Assert.Contains(events, e => e.GetProperty("type").GetString() == "job_status_changed"
            && e.PayloadString("old_status") == "failed" && e.PayloadString("new_status") == "pending");
        Assert.Equal(4, events.Count(e => e.GetProperty("type").GetString() == "job_assigned"));
    }

    [Fact]
    public async Task RetryOfAJobThatIsNotFailedOrCancelled_Is409NamingItsStatus_AndOfAnUnknownJob404()
    {
        var pending = await SubmitAsync("idle-type");

        using var conflict = await Client.PostAsync(new Uri($"/api/jobs/{pending}/retry", UriKind.Relative), null);
        var problem = await conflict.AssertProblemAsync(409);
        Assert.Equal("pending", problem.GetProperty("current_status").GetString());

        using var missing = await Client.PostAsync(new Uri("/api/jobs/no-such-job/retry", UriKind.Relative), null);
        await missing.AssertProblemAsync(404);
    }

    [Fact]
    public async Task BulkRetryOfAThousandFailedJobs_TakesExactlyTheFilteredOnes_WhileAnotherTypeKeepsFlowing()
    {
        await SubmitBatchAsync(Enumerable.Range(0, 1000).Select(i => new { job_type = "bulk", max_attempts = 1, payload = new { n = i } }));
        await SubmitBatchAsync(Enumerable.Range(0, 5).Select(i => new { job_type = "other-failing", max_attempts = 1 }));
        await using (var failer = await RawWorker.RegisterAsync(Factory, "w-failer", ["bulk", "other-failing"], slots: 100))
        {
            for (var i = 0; i < 1005; i++)
            {
                var job = await failer.ReceiveJobAsync();
                await failer.FailAsync(job.GetProperty("id").GetString()!, "downstream is down");
            }
            await Eventually.TrueAsync(async () => (await ListAllJobsAsync("&status=failed")).Count == 1005, TimeSpan.FromSeconds(30),
                "the 1,005 jobs to be failed");
        }

        await using var steady = await RawWorker.RegisterAsync(Factory, "w-steady", ["steady"]);
        var before = await SubmitAsync("steady");
        var retrying = PostOkAsync("/api/jobs/retry?job_type=bulk");
        var during = await SubmitAsync("steady");
        foreach (var expected in new[] { before, during })
        {
            var job = await steady.ReceiveJobAsync();
            Assert.Equal(expected, job.GetProperty("id").GetString());
            await steady.CompleteAsync(expected);
        }

        var answer = await retrying;
        Assert.Equal(1000, answer.GetProperty("retried").GetInt32());
        Assert.Equal(1000, (await ListAllJobsAsync("&job_type=bulk&status=pending")).Count);
        Assert.Equal(5, (await ListAllJobsAsync("&job_type=other-failing&status=failed")).Count);
        await WaitForStatusAsync(during, "completed");
        Assert.Equal(0, (await PostOkAsync("/api/jobs/retry?job_type=bulk")).GetProperty("retried").GetInt32());
    }

    [Fact]
    public async Task PurgeByFilter_RemovesExactlyTheMatchingFinishedJobs_WithOneEvent_AndTheMonitorViewFollows()
    {
        await using var worker = await RawWorker.RegisterAsync(Factory, "w-purge", ["alpha", "beta"], slots: 10);
        var alphaDone = new List<string>();
        for (var i = 0; i < 5; i++)
        {
            alphaDone.Add(await RunAsync(worker, "alpha", fail: false));
        }
        var betaDone = new List<string>();
        for (var i = 0; i < 3; i++)
        {
            betaDone.Add(await RunAsync(worker, "beta", fail: false));
        }
        var alphaFailed = new[] { await RunAsync(worker, "alpha", fail: true), await RunAsync(worker, "alpha", fail: true) };
        var alphaPending = await SubmitAsync("nobody-takes-this");

        var answer = await PostOkAsync("/api/jobs/purge?status=completed&job_type=alpha");

        Assert.Equal(5, answer.GetProperty("purged").GetInt32());
        var left = (await ListAllJobsAsync()).Select(j => j.GetProperty("id").GetString()!).ToHashSet();
        Assert.Equal(betaDone.Concat(alphaFailed).Append(alphaPending).ToHashSet(), left);
        foreach (var id in alphaDone)
        {
            using var gone = await Client.GetAsync(new Uri($"/api/jobs/{id}", UriKind.Relative));
            Assert.Equal(HttpStatusCode.NotFound, gone.StatusCode);
        }
        var purged = Assert.Single(await Client.ReadEventsAsync("jobs_purged"));
        Assert.Equal(5, purged.GetProperty("payload").GetProperty("count").GetInt32());
        Assert.Equal(alphaDone.ToHashSet(), purged.GetProperty("payload").GetProperty("job_ids").EnumerateArray().Select(i => i.GetString()!).ToHashSet());

        var queues = (await Client.GetJsonAsync("/api/queues")).GetProperty("queues").EnumerateArray()
            .ToDictionary(q => q.GetProperty("job_type").GetString()!, q => q);
        Assert.Equal(0, queues["alpha"].GetProperty("completed").GetInt64());
        Assert.Equal(2, queues["alpha"].GetProperty("failed").GetInt64());
        Assert.Equal(3, queues["beta"].GetProperty("completed").GetInt64());

        // The monitor's read model drops them too: its snapshot lists the completed beta jobs only.
        await using var monitor = await RawWorker.ConnectAsync(Factory, "/ws/monitor");
        await monitor.SendAsync(new { type = "monitor_connect", monitor_id = "purge-check", request_full_state = true, timestamp = 0 });
        var jobs = (await monitor.ReceiveTypeAsync("full_state_snapshot")).GetProperty("data").GetProperty("jobs");
        Assert.Equal(betaDone.ToHashSet(), jobs.GetProperty("completed").EnumerateArray().Select(j => j.GetProperty("id").GetString()!).ToHashSet());
        Assert.Equal(alphaFailed.ToHashSet(), jobs.GetProperty("failed").EnumerateArray().Select(j => j.GetProperty("id").GetString()!).ToHashSet());

        // A purge that matches nothing changes nothing and writes no event.
        Assert.Equal(0, (await PostOkAsync("/api/jobs/purge?status=completed&job_type=alpha")).GetProperty("purged").GetInt32());
        Assert.Single(await Client.ReadEventsAsync("jobs_purged"));
    }

    [Theory]
    [InlineData("/api/jobs/retry?status=completed", "status")]
    [InlineData("/api/jobs/retry?status=pending", "status")]
    [InlineData("/api/jobs/purge?status=running", "status")]
    [InlineData("/api/jobs/purge?job_type=has%20spaces", "job_type")]
    public async Task BulkChangeWithABadFilter_Is400NamingIt(string url, string field)
    {
        using var response = await Client.PostAsync(new Uri(url, UriKind.Relative), null);

        await response.AssertProblemAsync(400, field);
    }

    private async Task<string> RunAsync(RawWorker worker, string jobType, bool fail)
    {
        var id = await SubmitAsync(jobType, maxAttempts: 1);
        Assert.Equal(id, (await worker.ReceiveJobAsync()).GetProperty("id").GetString());
        await (fail ? worker.FailAsync(id, "no") : worker.CompleteAsync(id));
        await WaitForStatusAsync(id, fail ? "failed" : "completed");
        return id;
    }

    private async Task SubmitBatchAsync(IEnumerable<object> jobs)
    {
        using var response = await Client.PostAsync(new Uri("/api/jobs/batch", UriKind.Relative),
            new StringContent(JsonSerializer.Serialize(new { jobs }), System.Text.Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
    }

    private async Task<JsonElement> PostOkAsync(string url)
    {
        using var response = await Client.PostAsync(new Uri(url, UriKind.Relative), null);
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"POST {url} answered {(int)response.StatusCode}: {body}");
        return JsonDocument.Parse(body).RootElement.Clone();
    }
}

public sealed class SqliteJobRetryPurgeTests : JobRetryPurgeTests
{
    protected override MissionHubFactory CreateFactory(IDictionary<string, string?> settings) =>
        MissionHubFactory.WithSqlite(Folder.File("retry.db"), settings);
}

public sealed class RedisJobRetryPurgeTests(RedisServerFixture redis) : JobRetryPurgeTests, IClassFixture<RedisServerFixture>
{
    protected override MissionHubFactory CreateFactory(IDictionary<string, string?> settings) =>
        MissionHubFactory.WithRedis(redis.Server, $"retry{Guid.NewGuid():N}:", settings);
}
