using System.Net.Http.Json;
using System.Net.WebSockets;
using System.Text.Json;
using MissionHub.Tests.Cluster;

namespace MissionHub.Tests.Faults;

/// <summary>
/// A worker frame that storage cannot take (Redis gone while the worker completes a job) is answered with an
/// <c>error</c> frame and a close that names the cause — never an abort — and the job, never settled, goes to the
/// worker when it reconnects and is completed once.
/// </summary>
[Collection(ClusterCollection.Name)]
public sealed class WorkerStorageFaultTests
{
    private const string JobType = "storage-fault";

    [Fact]
    public async Task CompletionStorageCannotTake_ClosesTheSocketNamingTheCause_AndTheJobIsCompletedOnceAfterTheReconnect()
    {
        // Append-only, fsynced: what Redis acknowledged before it was killed is there when it starts again.
        var redis = new RedisServer(appendOnly: true);
        await using var _ = redis;
        await redis.StartAsync();
        await using var server = FaultServer.Redis(redis.Configuration);
        await server.StartAsync();

        await using (var worker = await RawWorker.RegisterAsync(server.Address(0), "w-fault", [JobType]))
        {
            using var submitted = await server.Client.PostAsJsonAsync("/api/jobs", new { job_type = JobType });
            submitted.EnsureSuccessStatusCode();
            var jobId = (await submitted.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetString()!;
            Assert.Equal(jobId, (await worker.ReceiveJobAsync(TimeSpan.FromSeconds(20))).GetProperty("id").GetString());

            await redis.StopAsync();
            await worker.CompleteAsync(jobId, new { done = true });
            Assert.Equal("storage_unavailable", await worker.ReceiveErrorCodeAsync("a completion storage could not take", TimeSpan.FromSeconds(20)));
            Assert.Equal(WebSocketCloseStatus.InternalServerError, await worker.WaitForCloseAsync(TimeSpan.FromSeconds(20)));
            Assert.Equal("storage_unavailable", worker.CloseDescription);

            await redis.StartAsync();
            await server.WaitForHealthAsync("ok", TimeSpan.FromSeconds(30));
            // The worker believes it finished the job, so it does not list it; the job never started (no progress), so
            // the hub hands it to the returning worker again, which completes it.
            await using var back = await RawWorker.RegisterAsync(server.Address(0), "w-fault", [JobType]);
            var again = await back.ReceiveJobAsync(TimeSpan.FromSeconds(20));
            Assert.Equal(jobId, again.GetProperty("id").GetString());
            await back.CompleteAsync(jobId, new { done = true });
            await Eventually.TrueAsync(async () =>
                (await server.Client.GetJsonAsync($"/api/jobs/{jobId}")).GetProperty("status").GetString() == "completed",
                TimeSpan.FromSeconds(20), $"job {jobId} to be completed after the reconnect");

            var events = await server.Client.GetJsonAsync("/api/events?type=job_completed&limit=1000");
            Assert.Single(events.GetProperty("events").EnumerateArray(), e => e.GetProperty("payload").GetProperty("job_id").GetString() == jobId);
            Assert.False(server.Process.HasExited);
        }
    }
}
