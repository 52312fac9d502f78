using System.Net;
using System.Net.Http.Json;
using System.Text.Json;

namespace MissionHub.Tests.Cluster;

/// <summary>
/// A pause is the hub's, not a process's: paused through one process, the job type is not handed out by another;
/// resumed through the first, the other hands its jobs out at once (the resume wakes every dispatcher).
/// </summary>
[Collection(ClusterCollection.Name)]
public sealed class ClusterQueueTests(ClusterFixture fixture) : IClassFixture<ClusterFixture>
{
    [Fact]
    public async Task PauseThroughOneProcess_HoldsOnTheOther_AndResumeThroughTheFirst_ReleasesItThere()
    {
        await using var cluster = await fixture.StartClusterAsync(2);
        using (var paused = await cluster.Client(0).PostAsync(new Uri("/api/queues/cluster-held/pause", UriKind.Relative), null))
        {
            Assert.Equal(HttpStatusCode.OK, paused.StatusCode);
        }
        await using var worker = await RawWorker.RegisterAsync(cluster[1].BaseAddress, "w-cluster-queues", ["cluster-held", "cluster-flowing"]);

        // The held job has the better priority: only the pause explains the worker getting the flowing one.
        var held = await SubmitAsync(cluster.Client(1), new { job_type = "cluster-held", priority = 10 });
        var flowing = await SubmitAsync(cluster.Client(1), new { job_type = "cluster-flowing" });
        Assert.Equal(flowing, (await worker.ReceiveJobAsync(TimeSpan.FromSeconds(20))).GetProperty("id").GetString());
        await worker.CompleteAsync(flowing);
        var queues = (await cluster.Client(1).GetJsonAsync("/api/queues")).GetProperty("queues").EnumerateArray()
            .ToDictionary(q => q.GetProperty("job_type").GetString()!, q => q);
        Assert.True(queues["cluster-held"].GetProperty("paused").GetBoolean());
        Assert.Equal(1, queues["cluster-held"].GetProperty("pending").GetInt64());

        using (var resumed = await cluster.Client(0).PostAsync(new Uri("/api/queues/cluster-held/resume", UriKind.Relative), null))
        {
            Assert.Equal(HttpStatusCode.OK, resumed.StatusCode);
        }
        Assert.Equal(held, (await worker.ReceiveJobAsync(TimeSpan.FromSeconds(20))).GetProperty("id").GetString());
    }

    private static async Task<string> SubmitAsync(HttpClient client, object body)
    {
        using var response = await client.PostAsJsonAsync("/api/jobs", body);
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        return (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetString()!;
    }
}
