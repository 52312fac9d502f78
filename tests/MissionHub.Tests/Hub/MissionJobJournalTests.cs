using System.Net.Http.Json;
using System.Text.Json;

namespace MissionHub.Tests.Hub;

/// <summary>Issue 4 item 7: a job naming a mission in <c>workflow_id</c> writes its story into that mission's log, on each backend.</summary>
public abstract class MissionJobJournalTests : HubTestBase
{
    [Fact]
    public async Task JobNamingAMission_LogsAssignmentQuarterMilestonesAndCompletion_InOrder()
    {
        var missionId = await CreateMissionAsync("survey");
        await using var worker = await RawWorker.RegisterAsync(Factory, "w-journal", ["render"]);
        var jobId = await SubmitAsync("render", workflowId: missionId);

        await worker.ReceiveJobAsync();
        foreach (var progress in new[] { 0.1, 0.3, 0.6, 1.0 })
        {
            await worker.ProgressAsync(jobId, progress);
        }
        await worker.CompleteAsync(jobId, new { ok = true });
        await WaitForStatusAsync(jobId, "completed");

        var entries = await WaitForJobEntriesAsync(missionId, 5);
        Assert.Equal(
            [("info", "Job assigned"), ("info", "Job 25% done"), ("info", "Job 50% done"), ("info", "Job 100% done"), ("info", "Job completed")],
            entries.Select(e => (e.GetProperty("level").GetString(), e.GetProperty("message").GetString())));
        Assert.All(entries, e =>
        {
            var data = e.GetProperty("data");
            Assert.Equal(jobId, data.GetProperty("job_id").GetString());
            Assert.Equal("w-journal", data.GetProperty("worker_id").GetString());
            Assert.Equal(1, data.GetProperty("attempt").GetInt32());
        });
        Assert.Equal([0.3, 0.6, 1.0], entries[1..4].Select(e => e.GetProperty("data").GetProperty("progress").GetDouble()));
        var timestamps = entries.Select(e => e.GetProperty("timestamp").GetDouble()).ToList();
        Assert.Equal(timestamps.Order(), timestamps);

        // Each entry is a mission log entry like any other: published as mission.log_appended for that mission.
        var appended = await Client.WaitForEventsAsync("mission.log_appended", e => e.GetProperty("target").GetString() == $"mission_{missionId}", 5);
        Assert.Equal(entries.Select(e => e.GetProperty("message").GetString()), appended.Select(e => e.PayloadString("message")));
    }

    [Fact]
    public async Task JobNamingAMission_LogsAFailedAttemptAsWarning_AndTheFinalFailureAsError()
    {
        var missionId = await CreateMissionAsync("flaky survey");
        await using var worker = await RawWorker.RegisterAsync(Factory, "w-failing", ["render"]);
        var jobId = await SubmitAsync("render", maxAttempts: 2, workflowId: missionId);

        await worker.ReceiveJobAsync();
        await worker.FailAsync(jobId, "lens cap on");
        Assert.Equal(2, (await worker.ReceiveJobAsync()).GetProperty("attempt").GetInt32());
        await worker.FailAsync(jobId, "lens cap still on");
        await WaitForStatusAsync(jobId, "failed");

        var entries = await WaitForJobEntriesAsync(missionId, 4);
        Assert.Equal(
            [("info", "Job assigned", 1), ("warning", "Job attempt failed; it will be retried", 1), ("info", "Job assigned", 2), ("error", "Job failed", 2)],
            entries.Select(e => (e.GetProperty("level").GetString(), e.GetProperty("message").GetString(), e.GetProperty("data").GetProperty("attempt").GetInt32())));
        Assert.Equal("lens cap on", entries[1].GetProperty("data").GetProperty("error").GetString());
        Assert.True(entries[1].GetProperty("data").TryGetProperty("retry_at", out _));
        Assert.Equal("lens cap still on", entries[3].GetProperty("data").GetProperty("error").GetString());
    }

    [Fact]
    public async Task CancellingAJobNamingAMission_LogsTheCancellation()
    {
        var missionId = await CreateMissionAsync("cancelled survey");
        var jobId = await SubmitAsync("render", workflowId: missionId);

        using (var response = await CancelAsync(jobId))
        {
            response.EnsureSuccessStatusCode();
        }

        var entry = Assert.Single(await WaitForJobEntriesAsync(missionId, 1));
        Assert.Equal("warning", entry.GetProperty("level").GetString());
        Assert.Equal("Job cancelled", entry.GetProperty("message").GetString());
        Assert.Equal(jobId, entry.GetProperty("data").GetProperty("job_id").GetString());
    }

    [Fact]
    public async Task WorkerLostOnTheLastAttempt_LogsTheFailure_AndTheJobWaitingOnItIsLoggedCancelledInItsMission()
    {
        var missionId = await CreateMissionAsync("lost survey");
        var followUpId = await CreateMissionAsync("follow-up");
        var worker = await RawWorker.RegisterAsync(Factory, "w-lost", ["render"]);
        var jobId = await SubmitAsync("render", maxAttempts: 1, workflowId: missionId);
        await worker.ReceiveJobAsync();
        var dependentId = await SubmitDependentAsync(jobId, followUpId);

        worker.Kill();
        await worker.DisposeAsync();
        await WaitForStatusAsync(jobId, "failed");
        await WaitForStatusAsync(dependentId, "cancelled");

        var lost = await WaitForJobEntriesAsync(missionId, 2);
        Assert.Equal([("info", "Job assigned"), ("error", "Job failed")],
            lost.Select(e => (e.GetProperty("level").GetString(), e.GetProperty("message").GetString())));
        Assert.StartsWith("worker w-lost was lost", lost[1].GetProperty("data").GetProperty("error").GetString(), StringComparison.Ordinal);
        var cancelled = Assert.Single(await WaitForJobEntriesAsync(followUpId, 1));
        Assert.Equal(("warning", "Job cancelled", dependentId),
            (cancelled.GetProperty("level").GetString(), cancelled.GetProperty("message").GetString(),
                cancelled.GetProperty("data").GetProperty("job_id").GetString()));
    }

    [Fact]
    public async Task WorkerReconnectingWithoutItsRunningJob_OnTheLastAttempt_LogsTheFailure_AndTheJobWaitingOnItIsLoggedCancelled()
    {
        var missionId = await CreateMissionAsync("forgotten survey");
        var followUpId = await CreateMissionAsync("follow-up");
        await using var first = await RawWorker.RegisterAsync(Factory, "w-forgetful", ["render"]);
        var jobId = await SubmitAsync("render", maxAttempts: 1, workflowId: missionId);
        await first.ReceiveJobAsync();
        await first.ProgressAsync(jobId, 0.1);
        await WaitForStatusAsync(jobId, "running");
        var dependentId = await SubmitDependentAsync(jobId, followUpId);

        // A second connection under the same id, listing no held jobs, replaces the first: the running job is not its.
        await using var second = await RawWorker.RegisterAsync(Factory, "w-forgetful", ["render"]);
        await WaitForStatusAsync(jobId, "failed");
        await WaitForStatusAsync(dependentId, "cancelled");

        var forgotten = await WaitForJobEntriesAsync(missionId, 2);
        Assert.Equal([("info", "Job assigned"), ("error", "Job failed")],
            forgotten.Select(e => (e.GetProperty("level").GetString(), e.GetProperty("message").GetString())));
        Assert.Equal("worker w-forgetful reconnected without it", forgotten[1].GetProperty("data").GetProperty("error").GetString());
        var cancelled = Assert.Single(await WaitForJobEntriesAsync(followUpId, 1));
        Assert.Equal(dependentId, cancelled.GetProperty("data").GetProperty("job_id").GetString());
    }

    /// <summary>A job of a type no worker takes, waiting on <paramref name="dependsOn"/>, naming a mission.</summary>
    private async Task<string> SubmitDependentAsync(string dependsOn, string missionId)
    {
        using var response = await Client.PostAsJsonAsync("/api/jobs", new { job_type = "publish", depends_on = new[] { dependsOn }, workflow_id = missionId });
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == System.Net.HttpStatusCode.Created, body);
        return JsonDocument.Parse(body).RootElement.GetProperty("id").GetString()!;
    }

    [Fact]
    public async Task JobNamingNoExistingMission_RunsNormally_AndLogsNothing()
    {
        await using var worker = await RawWorker.RegisterAsync(Factory, "w-orphan", ["render"]);
        var jobId = await SubmitAsync("render", workflowId: "no-such-mission");

        await worker.ReceiveJobAsync();
        await worker.ProgressAsync(jobId, 0.5);
        await worker.CompleteAsync(jobId);
        await WaitForStatusAsync(jobId, "completed");

        Assert.Empty(await Client.ReadEventsAsync("mission.*"));
        Assert.DoesNotContain(Factory.Logs.Entries, e => e.Level >= LogLevel.Warning && e.Category.StartsWith("MissionHub.", StringComparison.Ordinal));
    }

    private async Task<string> CreateMissionAsync(string name)
    {
        using var response = await Client.PostAsJsonAsync("/api/missions", new { name });
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == System.Net.HttpStatusCode.Created, body);
        return JsonDocument.Parse(body).RootElement.GetProperty("id").GetString()!;
    }

    /// <summary>The mission's log entries written for jobs (those carrying a job_id), once there are <paramref name="count"/>.</summary>
    private async Task<List<JsonElement>> WaitForJobEntriesAsync(string missionId, int count)
    {
        List<JsonElement> entries = [];
        await Eventually.TrueAsync(async () =>
        {
            var log = await Client.GetJsonAsync($"/api/missions/{missionId}/log");
            entries = [.. log.GetProperty("entries").EnumerateArray()
                .Where(e => e.GetProperty("data").ValueKind == JsonValueKind.Object && e.GetProperty("data").TryGetProperty("job_id", out _))];
            return entries.Count >= count;
        }, TimeSpan.FromSeconds(10), $"{count} job entries in the log of mission {missionId}");
        Assert.Equal(count, entries.Count);
        return entries;
    }
}

public sealed class SqliteMissionJobJournalTests : MissionJobJournalTests
{
    protected override MissionHubFactory CreateFactory(IDictionary<string, string?> settings) =>
        MissionHubFactory.WithSqlite(Folder.File("hub.db"), settings);
}

public sealed class RedisMissionJobJournalTests(RedisServerFixture redis) : MissionJobJournalTests, IClassFixture<RedisServerFixture>
{
    protected override MissionHubFactory CreateFactory(IDictionary<string, string?> settings) =>
        MissionHubFactory.WithRedis(redis.Server, $"hub{Guid.NewGuid():N}:", settings);
}
