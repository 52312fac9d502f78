using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using MissionHub.Tests.Cluster;
using Xunit.Abstractions;

namespace MissionHub.Tests.Faults;

/// <summary>Redis unreachable when the server starts: it starts anyway, degraded, and opens storage when Redis answers.</summary>
[Collection(ClusterCollection.Name)]
public sealed class RedisStartupTests(ITestOutputHelper output)
{
    [Fact]
    public async Task RedisDownAtStartUp_ServerStartsDegraded_Answers503NamingRedis_AndRecoversWithoutRestartWhenRedisStarts()
    {
        var redis = new RedisServer(); // a port, nothing listening on it yet
        await using var _ = redis;
        await using var server = FaultServer.Redis(redis.Configuration, withApiKey: true);
        await server.StartAsync();
        var pid = server.Process.ProcessId;

        var health = await server.WaitForHealthAsync("error", TimeSpan.FromSeconds(20));
        var storage = health.GetProperty("checks").GetProperty("storage");
        Assert.Equal("error", storage.GetProperty("state").GetString());
        Assert.Contains($"redis 127.0.0.1:{redis.Port}", storage.GetProperty("detail").GetString(), StringComparison.Ordinal);

        using (var create = await server.Client.PostAsJsonAsync("/api/missions", new { name = "while redis is down" }))
        {
            var problem = await create.AssertProblemAsync(503);
            Assert.Equal($"storage unavailable: redis 127.0.0.1:{redis.Port} unreachable", problem.GetProperty("detail").GetString());
        }
        using (var submit = await server.Client.PostAsJsonAsync("/api/jobs", new { job_type = FaultLoad.JobType }))
        {
            await submit.AssertProblemAsync(503);
        }
        using (var read = await server.Client.GetAsync(new Uri("/api/missions", UriKind.Relative)))
        {
            await read.AssertProblemAsync(503);
        }
        output.WriteLine($"while Redis was down: health {storage.GetProperty("detail").GetString()}");

        await redis.StartAsync();
        await server.WaitForHealthAsync("ok", TimeSpan.FromSeconds(30));
        using var created = await server.Client.PostAsJsonAsync("/api/missions", new { name = "after redis started" });
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        var missionId = (await created.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetString()!;

        await using var worker = new ClusterWorker(server.Address, "startup-worker", 0, [FaultLoad.JobType], apiKey: FaultServer.ApiKey);
        await worker.WaitUntilRegisteredAsync(TimeSpan.FromSeconds(20));
        using var submitted = await server.Client.PostAsJsonAsync("/api/jobs", new { job_type = FaultLoad.JobType });
        Assert.Equal(HttpStatusCode.Created, submitted.StatusCode);
        var jobId = (await submitted.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetString()!;
        await Eventually.TrueAsync(async () =>
            (await server.Client.GetJsonAsync($"/api/jobs/{jobId}")).GetProperty("status").GetString() == "completed",
            TimeSpan.FromSeconds(20), $"job {jobId} to be completed by the worker");

        // Still the first process: it recovered by itself.
        Assert.Equal(pid, server.Process.ProcessId);
        Assert.False(server.Process.HasExited);
        var events = await server.Client.ReadEventsAsync("mission.created,job_completed");
        Assert.Contains(events, e => e.PayloadString("mission_id") == missionId);
        Assert.Contains(events, e => e.PayloadString("job_id") == jobId);
    }
}
