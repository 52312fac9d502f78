using System.Net;
using System.Net.Http.Json;
using System.Text.Json;

namespace MissionHub.Tests.Cluster;

/// <summary>Submit with an <c>idempotency_key</c> (DESIGN §8), on one process and across processes.</summary>
[Collection(ClusterCollection.Name)]
public sealed class ClusterSubmitTests(ClusterFixture fixture) : IClassFixture<ClusterFixture>
{
    [Fact]
    public async Task IdempotencyKey_ReturnsTheOriginalJob()
    {
        await using var cluster = await fixture.StartClusterAsync(2);
        var body = new { job_type = "idem", priority = 3, payload = new { n = 1 }, idempotency_key = "order-42" };

        using var created = await cluster.Client(0).PostAsJsonAsync(new Uri("/api/jobs", UriKind.Relative), body);
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        var original = await created.Content.ReadFromJsonAsync<JsonElement>();
        var id = original.GetProperty("id").GetString();

        foreach (var p in new[] { 0, 1 })
        {
            using var again = await cluster.Client(p).PostAsJsonAsync(new Uri("/api/jobs", UriKind.Relative), body);
            var text = await again.Content.ReadAsStringAsync();
            Assert.True(again.StatusCode == HttpStatusCode.OK, $"the same key on process {p} answered {(int)again.StatusCode}: {text}");
            var replay = JsonDocument.Parse(text).RootElement;
            Assert.Equal(id, replay.GetProperty("id").GetString());
            Assert.Equal(3, replay.GetProperty("priority").GetInt32());
        }

        // One job, one job_submitted event, whichever process is asked.
        foreach (var p in new[] { 0, 1 })
        {
            Assert.Equal(1, await ClusterViews.CountJobsAsync(cluster.Client(p), "pending", "idem"));
        }
        var submitted = (await cluster.Client(1).ReadEventsAsync("job_submitted")).Count(e => e.PayloadString("job_id") == id);
        Assert.Equal(1, submitted);

        // Another key is another job.
        using var other = await cluster.Client(1).PostAsJsonAsync(new Uri("/api/jobs", UriKind.Relative), body with { idempotency_key = "order-43" });
        Assert.Equal(HttpStatusCode.Created, other.StatusCode);
        Assert.NotEqual(id, (await other.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetString());
    }
}

/// <summary>DESIGN §6: SQLite is the single-process deployment; a second process on the same file is refused.</summary>
[Collection(ClusterCollection.Name)]
public sealed class ClusterSqliteLockTests
{
    [Fact]
    public async Task SecondProcessOnTheSameSqliteFile_IsRefusedWithOneLine()
    {
        using var folder = new TempFolder();
        var database = folder.File("hub.db");
        var environment = new Dictionary<string, string> { ["MissionHub__Storage__Sqlite__Path"] = database };
        await using var first = ServerProcess.Start(environment);
        await first.WaitUntilReadyAsync();

        await using var second = ServerProcess.Start(environment);
        using (var probe = second.CreateClient())
        {
            // Refused means it exits; a second process that starts serving on the same file is the defect.
            await Eventually.TrueAsync(async () =>
            {
                if (second.HasExited)
                {
                    return true;
                }
                try
                {
                    using var health = await probe.GetAsync(new Uri("/api/health", UriKind.Relative));
                    Assert.Fail($"a second process on {database} started and answered /api/health with {(int)health.StatusCode}; it must be refused at start-up");
                }
                catch (HttpRequestException)
                {
                }
                return false;
            }, TimeSpan.FromSeconds(60), "the second process to exit");
        }
        var exitCode = await second.WaitForExitAsync(TimeSpan.FromSeconds(10));

        Assert.NotEqual(0, exitCode);
        var lines = second.Errors.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var line = Assert.Single(lines);
        Assert.Contains("lock", line, StringComparison.OrdinalIgnoreCase);
        Assert.Contains(database, line, StringComparison.Ordinal);
        // The first process is untouched and still serves.
        using var client = first.CreateClient();
        Assert.Equal("ok", (await client.GetJsonAsync("/api/health")).GetProperty("status").GetString());
        Assert.False(first.HasExited);
    }
}
