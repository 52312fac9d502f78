using System.Globalization;
using Xunit.Abstractions;

namespace MissionHub.Tests.Cluster;

/// <summary>
/// DESIGN §6: several server processes on one Redis are one hub. Jobs are submitted round-robin to every
/// process, workers are spread over them; every job completes exactly once, and every process tells the same.
/// </summary>
[Collection(ClusterCollection.Name)]
public sealed class ClusterOneHubTests(ClusterFixture fixture, ITestOutputHelper output) : IClassFixture<ClusterFixture>
{
    private static readonly string[] JobTypes = ["cluster"];

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public async Task JobsSubmittedToEveryProcess_CompleteExactlyOnce_AndEveryProcessTellsTheSame(int processes)
    {
        const int jobsPerProcess = 300;
        const int workersPerProcess = 2;
        await using var cluster = await fixture.StartClusterAsync(processes, new Dictionary<string, string>
        {
            ["MissionHub__Hub__WorkerHeartbeatTimeout"] = "00:00:03",
        });
        var workers = new List<ClusterWorker>();
        try
        {
            for (var i = 0; i < Math.Max(processes * workersPerProcess, 4); i++)
            {
                workers.Add(new ClusterWorker(cluster, $"w{i}", homeIndex: i % processes, JobTypes, slots: 4, maxWorkMs: 2));
            }
            foreach (var worker in workers)
            {
                await worker.WaitUntilRegisteredAsync(TimeSpan.FromSeconds(15));
            }

            var submitter = new ClusterSubmitter(cluster, JobTypes[0]);
            var total = jobsPerProcess * processes;
            await submitter.SubmitAsync(0, total, concurrency: 8);
            var ids = submitter.Ids.Values.ToList();
            await ClusterEvents.WaitForCompletionsAsync(cluster, ids, TimeSpan.FromSeconds(60));

            var history = await ClusterEvents.ReadHistoryAsync(cluster.Client(0));
            history.AssertExactlyOnce(ids);
            Assert.Equal(0, history.Requeued);
            Assert.All(workers, w => Assert.Equal(0, w.Reconnects));
            output.WriteLine($"{total} jobs on {processes} processes, completions by worker: {string.Join(", ", workers.Select(w => $"{w.WorkerId}={w.CompletionsSent}"))}");

            await AssertEveryProcessTellsTheSameAsync(cluster, ids, workers.Select(w => w.WorkerId).ToList());
        }
        finally
        {
            foreach (var worker in workers)
            {
                await worker.DisposeAsync();
            }
        }
    }

    private async Task AssertEveryProcessTellsTheSameAsync(ServerCluster cluster, List<string> ids, List<string> workerIds)
    {
        var total = ids.Count;
        var expectedWorkers = string.Join(',', workerIds.Order(StringComparer.Ordinal));

        // The same job, field for field, on every process.
        foreach (var id in ids.Where((_, i) => i % (ids.Count / 30) == 0))
        {
            var views = new List<string>();
            for (var p = 0; p < cluster.Count; p++)
            {
                var job = await cluster.Client(p).GetJsonAsync($"/api/jobs/{id}");
                Assert.Equal("completed", job.GetProperty("status").GetString());
                views.Add($"{job.GetProperty("status").GetString()} attempts={job.GetProperty("attempts")} worker={job.GetProperty("worker_id")} updated={job.GetProperty("updated_at")}");
            }
            Assert.True(views.Distinct().Count() == 1, $"job {id} differs between processes:\n{string.Join('\n', views)}");
        }

        // The listings, the counters, the agents and the snapshot: eventually equal everywhere, and right.
        string[] last = [];
        try
        {
            await Eventually.TrueAsync(async () =>
            {
                var views = new List<string>();
                var right = true;
                for (var p = 0; p < cluster.Count; p++)
                {
                    var client = cluster.Client(p);
                    var completed = await ClusterViews.CountJobsAsync(client, "completed", "cluster");
                    var unfinished = await ClusterViews.CountJobsAsync(client, "pending", "cluster")
                        + await ClusterViews.CountJobsAsync(client, "assigned", "cluster")
                        + await ClusterViews.CountJobsAsync(client, "running", "cluster");
                    var gauges = await ClusterViews.JobGaugesAsync(client);
                    var agents = await ClusterViews.WorkerAgentsAsync(client);
                    var status = await ClusterViews.StatusSummaryAsync(client);
                    var snapshot = ClusterViews.SnapshotSummary(await ClusterViews.SnapshotAsync(cluster[p].BaseAddress));
                    views.Add(string.Create(CultureInfo.InvariantCulture,
                        $"listed completed={completed} unfinished={unfinished}; metrics {string.Join(',', gauges.Select(g => $"{g.Key}={g.Value}"))}; " +
                        $"agents {string.Join(',', agents.Select(a => $"{a.Key}:{a.Value}"))}; status {status}; snapshot {snapshot}"));
                    right &= completed == total && unfinished == 0 && gauges.GetValueOrDefault("completed") == total
                        && string.Join(',', agents.Where(a => a.Value is "idle" or "busy").Select(a => a.Key)) == expectedWorkers
                        && snapshot.Contains($"completed={total} ", StringComparison.Ordinal)
                        && snapshot.Contains("pending=0 active=0 ", StringComparison.Ordinal)
                        && snapshot.Contains($"workers [{expectedWorkers}]", StringComparison.Ordinal);
                }
                last = [.. views];
                return right && views.Distinct().Count() == 1;
            }, TimeSpan.FromSeconds(15), "every process to give the same, right, view of the hub");
        }
        catch (TimeoutException ex)
        {
            throw new TimeoutException($"{ex.Message}; what each process said (expected {total} completed, workers {expectedWorkers}):\n" +
                string.Join('\n', last.Select((v, i) => $"process {i}: {v}")), ex);
        }
        output.WriteLine($"every process: {last[0]}");
    }
}
