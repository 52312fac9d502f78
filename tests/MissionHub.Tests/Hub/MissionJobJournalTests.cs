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
