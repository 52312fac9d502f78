using System.Text.Json;

namespace MissionHub.Tests.Hub;

/// <summary><c>POST /api/jobs/{id}/cancel</c> for pending, running, finished and unknown jobs, on each backend.</summary>
public abstract class JobCancelTests : HubTestBase
{
    [Fact]
    public async Task CancellingAPendingJob_Answers200Cancelled_AndPublishesTheStatusChange()
    {
        var jobId = await SubmitAsync("render");

        using var response = await CancelAsync(jobId);
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, body);
        Assert.Equal("cancelled", JsonDocument.Parse(body).RootElement.GetProperty("status").GetString());
        Assert.Equal("cancelled", (await GetJobAsync(jobId)).GetProperty("status").GetString());

        var change = (await Client.WaitForEventsAsync("job_status_changed", e => e.PayloadString("job_id") == jobId, 1)).Single();
        Assert.Equal("pending", change.PayloadString("old_status"));
        Assert.Equal("cancelled", change.PayloadString("new_status"));
    }

    [Fact]
    public async Task CancellingTwice_Is409NamingTheState()
    {
        var jobId = await SubmitAsync("render");
        using (var first = await CancelAsync(jobId))
        {
            first.EnsureSuccessStatusCode();
        }

        using var again = await CancelAsync(jobId);
        var problem = await again.AssertProblemAsync(409);
        Assert.Contains("cancelled", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Equal("cancelled", problem.GetProperty("current_status").GetString());
        Assert.Single(await JobEventsAsync(jobId, "job_status_changed"));
    }

    [Fact]
    public async Task CancellingACompletedJob_Is409NamingTheState()
    {
        await using var worker = await RawWorker.RegisterAsync(Factory, "w-done", ["render"]);
        var jobId = await SubmitAsync("render");
        await worker.ReceiveJobAsync();
        await worker.CompleteAsync(jobId);
        await WaitForStatusAsync(jobId, "completed");

        using var response = await CancelAsync(jobId);
        var problem = await response.AssertProblemAsync(409);
        Assert.Equal("completed", problem.GetProperty("current_status").GetString());
    }

    [Fact]
    public async Task CancellingAnUnknownJob_Is404()
    {
        using var response = await CancelAsync("no-such-job");
        await response.AssertProblemAsync(404);
    }

    [Fact]
    public async Task CancellingARunningJob_TellsTheWorker_FreesItsSlotForTheNextJob_AndRefusesItsLateCompletion()
    {
        await using var worker = await RawWorker.RegisterAsync(Factory, "w-busy", ["render"], slots: 1);
        var running = await SubmitAsync("render");
        Assert.Equal(running, (await worker.ReceiveJobAsync()).GetProperty("id").GetString());
        await worker.ProgressAsync(running, 0.2);
        await WaitForStatusAsync(running, "running");
        var next = await SubmitAsync("render");
        await worker.AssertNothingReceivedAsync(TimeSpan.FromMilliseconds(200)); // its only slot is taken

        using (var response = await CancelAsync(running))
        {
            response.EnsureSuccessStatusCode();
        }

        // The cancellation and the next assignment travel on different job chains: either may come first.
        var frames = new[] { await worker.ReceiveAsync(), await worker.ReceiveAsync() };
        var cancelled = Assert.Single(frames, f => f.GetProperty("type").GetString() == "job_cancelled");
        Assert.Equal(running, cancelled.GetProperty("job_id").GetString());
        Assert.Equal("cancelled", cancelled.GetProperty("reason").GetString());
        var assigned = Assert.Single(frames, f => f.GetProperty("type").GetString() == "job_assigned");
        Assert.Equal(next, assigned.GetProperty("job").GetProperty("id").GetString());

        await worker.CompleteAsync(running, new { late = true });
        Assert.Equal("job_not_held", await worker.ReceiveErrorCodeAsync("the completion of a cancelled job"));
        await worker.CompleteAsync(next);
        await WaitForStatusAsync(next, "completed");
        var job = await GetJobAsync(running);
        Assert.Equal("cancelled", job.GetProperty("status").GetString());
        Assert.Equal(JsonValueKind.Null, job.GetProperty("result").ValueKind);
        var change = (await Client.WaitForEventsAsync("job_status_changed",
            e => e.PayloadString("job_id") == running && e.PayloadString("new_status") == "cancelled", 1)).Single();
        Assert.Equal("running", change.PayloadString("old_status"));
        Assert.Equal("w-busy", change.PayloadString("worker_id"));
        Assert.Empty(await JobEventsAsync(running, "job_completed"));
    }
}

public sealed class SqliteJobCancelTests : JobCancelTests
{
    protected override MissionHubFactory CreateFactory(IDictionary<string, string?> settings) =>
        MissionHubFactory.WithSqlite(Folder.File("hub.db"), settings);
}

public sealed class RedisJobCancelTests(RedisServerFixture redis) : JobCancelTests, IClassFixture<RedisServerFixture>
{
    protected override MissionHubFactory CreateFactory(IDictionary<string, string?> settings) =>
        MissionHubFactory.WithRedis(redis.Server, $"hub{Guid.NewGuid():N}:", settings);
}
