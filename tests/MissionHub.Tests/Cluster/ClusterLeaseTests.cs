using System.Net.WebSockets;
using System.Text.Json;

namespace MissionHub.Tests.Cluster;

/// <summary>
/// DESIGN §6 leases: a worker that stops sending frames (its socket left open) is offline after
/// <c>WorkerHeartbeatTimeout</c> (3 s here); its job is requeued exactly once, with the attempt counted, and handed
/// to another worker; a late <c>job_completed</c> from the silent one does not complete it.
/// </summary>
[Collection(ClusterCollection.Name)]
public sealed class ClusterLeaseTests(ClusterFixture fixture) : IClassFixture<ClusterFixture>
{
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task SilentWorker_LosesItsJobOnce_ToAnotherWorker_AndItsLateCompletionIsRefused(bool otherWorkerOnAnotherProcess)
    {
        await using var cluster = await fixture.StartClusterAsync(2, new Dictionary<string, string>
        {
            ["MissionHub__Hub__WorkerHeartbeatTimeout"] = "00:00:03",
        });
        await using var silent = await RawWorker.RegisterAsync(cluster[0].BaseAddress, "w-silent", ["lease"]);
        using var submit = await cluster.Client(0).PostAsync(new Uri("/api/jobs", UriKind.Relative),
            new StringContent("""{"job_type":"lease","max_attempts":5}""", System.Text.Encoding.UTF8, "application/json"));
        submit.EnsureSuccessStatusCode();
        var id = JsonDocument.Parse(await submit.Content.ReadAsStringAsync()).RootElement.GetProperty("id").GetString()!;
        var first = await silent.ExpectJobAsync(TimeSpan.FromSeconds(15), "the job, first attempt");
        Assert.Equal(id, first.GetProperty("id").GetString());
        Assert.Equal(1, first.GetProperty("attempt").GetInt32());
        // From here the silent worker sends nothing at all; its socket stays open (and read).

        await using var other = await RawWorker.RegisterAsync(cluster[otherWorkerOnAnotherProcess ? 1 : 0].BaseAddress, "w-other", ["lease"]);
        other.StartHeartbeats(TimeSpan.FromMilliseconds(500));
        var second = await other.ExpectJobAsync(TimeSpan.FromSeconds(20), "the silent worker's job, requeued after its lease expired (3 s), attempt 2");
        Assert.Equal(id, second.GetProperty("id").GetString());
        Assert.Equal(2, second.GetProperty("attempt").GetInt32());

        // The silent worker wakes up and reports the job done: refused (job_not_held), or its socket is closed already.
        try
        {
            await silent.CompleteAsync(id, new { by = "w-silent" });
            var answer = await silent.ReceiveTypeAsync("error", TimeSpan.FromSeconds(10));
            Assert.Equal("job_not_held", answer.GetProperty("code").GetString());
        }
        catch (Exception ex) when (ex is WebSocketException or InvalidOperationException)
        {
            // The hub closed the silent worker's socket when it declared it offline: the late frame never counts.
        }
        var job = await cluster.Client(1).GetJsonAsync($"/api/jobs/{id}");
        Assert.NotEqual("completed", job.GetProperty("status").GetString());
        Assert.Equal("w-other", job.GetProperty("worker_id").GetString());

        await other.CompleteAsync(id, new { by = "w-other" });
        await Eventually.TrueAsync(async () => (await cluster.Client(1).GetJsonAsync($"/api/jobs/{id}")).GetProperty("status").GetString() == "completed",
            TimeSpan.FromSeconds(10), "the job to complete by the other worker");
        job = await cluster.Client(0).GetJsonAsync($"/api/jobs/{id}");
        Assert.Equal(2, job.GetProperty("attempts").GetInt32());
        Assert.Equal("w-other", job.GetProperty("worker_id").GetString());
        Assert.Equal("w-other", job.GetProperty("result").GetProperty("by").GetString());

        var history = await ClusterEvents.ReadHistoryAsync(cluster.Client(1));
        history.AssertExactlyOnce([id]);
        Assert.Equal([1, 2], history.Attempts[id]); // requeued exactly once
        await other.AssertNothingReceivedAsync(TimeSpan.FromMilliseconds(300)); // and not handed out a third time
    }

    [Fact]
    public async Task WorkerOfAKilledProcess_IsListedOfflineByTheOtherProcess_OnceAfterTheHeartbeatTimeout()
    {
        await using var cluster = await fixture.StartClusterAsync(2, new Dictionary<string, string>
        {
            ["MissionHub__Hub__WorkerHeartbeatTimeout"] = "00:00:03",
        });
        await using var orphan = await RawWorker.RegisterAsync(cluster[0].BaseAddress, "w-orphan", ["orphaned"]);
        orphan.StartHeartbeats(TimeSpan.FromMilliseconds(500));
        await Eventually.TrueAsync(async () => await WorkerStateAsync(cluster.Client(1), "w-orphan") == "idle", TimeSpan.FromSeconds(10),
            "the worker listed idle by the other process");

        // The process holding its connection dies without telling storage; the worker's heartbeats now go nowhere.
        await cluster.KillAsync(0);

        await Eventually.TrueAsync(async () => await WorkerStateAsync(cluster.Client(1), "w-orphan") == "connection_broken", TimeSpan.FromSeconds(30),
            "the other process to list the worker of the killed process offline (heartbeat timeout 3 s)");
        var agent = (await cluster.Client(1).GetJsonAsync("/api/supervisor/agents?kind=worker")).EnumerateArray()
            .Single(a => a.GetProperty("id").GetString() == "w-orphan");
        Assert.Equal("heartbeat_timeout", agent.GetProperty("disconnect_reason").GetString());
        var events = await cluster.Client(1).GetJsonAsync("/api/events?type=worker_disconnected&limit=1000");
        var disconnects = events.GetProperty("events").EnumerateArray()
            .Where(e => e.GetProperty("payload").GetProperty("worker_id").GetString() == "w-orphan").ToList();
        var only = Assert.Single(disconnects); // swept once, whichever process got there
        Assert.Equal("heartbeat_timeout", only.GetProperty("payload").GetProperty("reason").GetString());
    }

    private static async Task<string?> WorkerStateAsync(HttpClient client, string workerId) =>
        (await client.GetJsonAsync("/api/supervisor/agents?kind=worker")).EnumerateArray()
            .FirstOrDefault(a => a.GetProperty("id").GetString() == workerId) is { ValueKind: JsonValueKind.Object } agent
            ? agent.GetProperty("state").GetString()
            : null;
}
