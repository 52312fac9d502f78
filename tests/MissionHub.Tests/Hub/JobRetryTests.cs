using System.Text.Json;

namespace MissionHub.Tests.Hub;

/// <summary>Timeouts, retries with backoff and final failure, through a real worker socket, on each backend.</summary>
public abstract class JobRetryTests : HubTestBase
{
    [Fact]
    public async Task JobIgnoredPastItsTimeout_IsCancelledAtTheWorker_RetriedAfterBackoff_ThenFailsAsTimedOut()
    {
        await using var worker = await RawWorker.RegisterAsync(Factory, "w-sleepy", ["render"]);
        var jobId = await SubmitAsync("render", maxAttempts: 2, timeout: 0.3);

        var first = await worker.ReceiveJobAsync();
        Assert.Equal(1, first.GetProperty("attempt").GetInt32());
        Assert.Equal(0.3, first.GetProperty("timeout_s").GetDouble());
        await AssertCancelledForTimeoutAsync(worker, jobId);
        var second = await worker.ReceiveAsync();
        Assert.Equal("job_assigned", second.GetProperty("type").GetString());
        Assert.Equal(jobId, second.GetProperty("job").GetProperty("id").GetString());
        Assert.Equal(2, second.GetProperty("job").GetProperty("attempt").GetInt32());
        await AssertCancelledForTimeoutAsync(worker, jobId);

        var job = await WaitForStatusAsync(jobId, "failed");
        Assert.Equal(2, job.GetProperty("attempts").GetInt32());
        Assert.Contains("timed out", job.GetProperty("error").GetString(), StringComparison.Ordinal);

        // The worker wakes up and reports the job it no longer holds.
        await worker.CompleteAsync(jobId, new { late = true });
        Assert.Equal("job_not_held", await worker.ReceiveErrorCodeAsync("a late completion"));
        Assert.Equal("failed", (await GetJobAsync(jobId)).GetProperty("status").GetString());

        await Client.WaitForEventsAsync("job_failed", e => e.PayloadString("job_id") == jobId, 1);
        var all = await JobEventsAsync(jobId);
        var failed = Assert.Single(all, e => e.GetProperty("type").GetString() == "job_failed");
        Assert.Contains("timed out", failed.PayloadString("error"), StringComparison.Ordinal);
        Assert.DoesNotContain(all, e => e.GetProperty("type").GetString() == "job_completed");
        // The first timeout sent the job back to pending with a retry time; the second assignment came no earlier.
        var requeued = Assert.Single(all, e => e.GetProperty("type").GetString() == "job_status_changed" && e.PayloadString("new_status") == "pending");
        Assert.Contains("timed out", requeued.PayloadString("error"), StringComparison.Ordinal);
        var retryAt = requeued.GetProperty("payload").GetProperty("retry_at").GetDouble();
        var assignments = all.Where(e => e.GetProperty("type").GetString() == "job_assigned").ToList();
        Assert.Equal(2, assignments.Count);
        Assert.True(assignments[1].GetProperty("payload").GetProperty("assigned_at").GetDouble() >= retryAt - 0.005,
            "the retry was handed out before its backoff had passed");
    }

    [Fact]
    public async Task FailedAttempt_GoesBackToPendingWithErrorAndRetryTime_ThenSucceedsOnTheSecondAttempt()
    {
        await using var worker = await RawWorker.RegisterAsync(Factory, "w-flaky", ["render"]);
        var jobId = await SubmitAsync("render", maxAttempts: 3);

        Assert.Equal(1, (await worker.ReceiveJobAsync()).GetProperty("attempt").GetInt32());
        await worker.FailAsync(jobId, "disk full");
        var requeued = (await Client.WaitForEventsAsync("job_status_changed",
            e => e.PayloadString("job_id") == jobId && e.PayloadString("new_status") == "pending", 1))[0];
        Assert.Equal("disk full", requeued.PayloadString("error"));
        Assert.Equal("w-flaky", requeued.PayloadString("worker_id"));
        var retryAt = requeued.GetProperty("payload").GetProperty("retry_at").GetDouble();
        Assert.True(retryAt > requeued.GetProperty("timestamp").GetDouble() - 0.001, "retry_at must lie after the failure");

        var retried = await worker.ReceiveJobAsync();
        Assert.Equal(jobId, retried.GetProperty("id").GetString());
        Assert.Equal(2, retried.GetProperty("attempt").GetInt32());
        await worker.ProgressAsync(jobId, 0.5);
        await worker.CompleteAsync(jobId, new { frames = 12 });

        var job = await WaitForStatusAsync(jobId, "completed");
        Assert.Equal(2, job.GetProperty("attempts").GetInt32());
        Assert.Equal(12, job.GetProperty("result").GetProperty("frames").GetInt32());
        Assert.Equal("w-flaky", job.GetProperty("worker_id").GetString());
        Assert.Equal(1.0, job.GetProperty("progress").GetDouble());
        var created = job.GetProperty("created_at").GetDouble();
        var assigned = job.GetProperty("assigned_at").GetDouble();
        var started = job.GetProperty("started_at").GetDouble();
        var completed = job.GetProperty("completed_at").GetDouble();
        Assert.True(created <= assigned && assigned <= started && started <= completed, job.ToString());
        Assert.True(assigned >= retryAt - 0.005, "the retry was handed out before its backoff had passed");
        Assert.Single(await JobEventsAsync(jobId, "job_completed"));
    }

    [Fact]
    public async Task JobCompletedAfterAFailedAttempt_NoLongerShowsThatAttemptsError()
    {
        await using var worker = await RawWorker.RegisterAsync(Factory, "w-second-try", ["render"]);
        var jobId = await SubmitAsync("render", maxAttempts: 2);
        await worker.ReceiveJobAsync();
        await worker.FailAsync(jobId, "transient glitch");
        Assert.Equal(2, (await worker.ReceiveJobAsync()).GetProperty("attempt").GetInt32());
        Assert.Equal("transient glitch", (await GetJobAsync(jobId)).GetProperty("error").GetString()); // while retrying, it shows why

        await worker.CompleteAsync(jobId, new { ok = true });

        var job = await WaitForStatusAsync(jobId, "completed");
        Assert.Equal(JsonValueKind.Null, job.GetProperty("error").ValueKind);
        Assert.True(job.GetProperty("result").GetProperty("ok").GetBoolean());
    }

    [Fact]
    public async Task FailureOfTheLastAttempt_FailsTheJob_WithOneJobFailedEventCarryingTheError()
    {
        await using var worker = await RawWorker.RegisterAsync(Factory, "w-doomed", ["render"]);
        var jobId = await SubmitAsync("render", maxAttempts: 1);

        await worker.ReceiveJobAsync();
        await worker.FailAsync(jobId, "out of memory");

        var job = await WaitForStatusAsync(jobId, "failed");
        Assert.Equal("out of memory", job.GetProperty("error").GetString());
        Assert.Equal(1, job.GetProperty("attempts").GetInt32());
        Assert.NotEqual(JsonValueKind.Null, job.GetProperty("completed_at").ValueKind);
        var failed = (await Client.WaitForEventsAsync("job_failed", e => e.PayloadString("job_id") == jobId, 1)).Single();
        Assert.Equal("out of memory", failed.PayloadString("error"));
        Assert.Equal("w-doomed", failed.PayloadString("worker_id"));
        var events = await JobEventsAsync(jobId);
        Assert.DoesNotContain(events, e => e.PayloadString("new_status") == "pending");
        await worker.AssertNothingReceivedAsync(TimeSpan.FromMilliseconds(200)); // not handed out again
    }

    private static async Task AssertCancelledForTimeoutAsync(RawWorker worker, string jobId)
    {
        var cancelled = await worker.ReceiveAsync();
        Assert.Equal("job_cancelled", cancelled.GetProperty("type").GetString());
        Assert.Equal(jobId, cancelled.GetProperty("job_id").GetString());
        Assert.Equal("timeout", cancelled.GetProperty("reason").GetString());
    }
}

public sealed class SqliteJobRetryTests : JobRetryTests
{
    protected override MissionHubFactory CreateFactory(IDictionary<string, string?> settings) =>
        MissionHubFactory.WithSqlite(Folder.File("hub.db"), settings);
}

public sealed class RedisJobRetryTests(RedisServerFixture redis) : JobRetryTests, IClassFixture<RedisServerFixture>
{
    protected override MissionHubFactory CreateFactory(IDictionary<string, string?> settings) =>
        MissionHubFactory.WithRedis(redis.Server, $"hub{Guid.NewGuid():N}:", settings);
}
