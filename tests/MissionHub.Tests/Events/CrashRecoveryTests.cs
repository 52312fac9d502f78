using System.Net.Http.Json;

namespace MissionHub.Tests.Events;

/// <summary>The server process is killed (SIGKILL) mid-run: everything it acknowledged is there after a restart.</summary>
public sealed class CrashRecoveryTests
{
    [Fact]
    public async Task KilledServer_LosesNoAcknowledgedMissionOrEvent()
    {
        using var folder = new TempFolder();
        var environment = new Dictionary<string, string>
        {
            ["MissionHub__Storage__Sqlite__Path"] = folder.File("crash.db"),
            ["MissionHub__Storage__Sqlite__Synchronous"] = "full",
        };
        var acknowledged = new List<string>();
        string epoch;
        long lastSeq;
        await using (var server = ServerProcess.Start(environment))
        {
            await server.WaitUntilReadyAsync();
            using var client = server.CreateClient();
            // Many writers at once, so the kill lands while group commits are in flight.
            var writers = Enumerable.Range(0, 8).Select(async w =>
            {
                var mine = new List<string>();
                for (var i = 0; i < 25; i++)
                {
                    using var response = await client.PostAsJsonAsync("/api/missions", new { name = $"crash test {w}-{i}" });
                    response.EnsureSuccessStatusCode();
                    var mission = await response.Content.ReadFromJsonAsync<System.Text.Json.JsonElement>();
                    mine.Add(mission.GetProperty("id").GetString()!);
                }
                return mine;
            }).ToList();
            foreach (var ids in await Task.WhenAll(writers))
            {
                acknowledged.AddRange(ids);
            }
            var health = await client.GetJsonAsync("/api/health");
            epoch = health.GetProperty("epoch").GetString()!;
            lastSeq = health.GetProperty("last_seq").GetInt64();
            await server.KillAsync();
        }

        await using var restarted = ServerProcess.Start(environment);
        await restarted.WaitUntilReadyAsync();
        using var after = restarted.CreateClient();

        var healthAfter = await after.GetJsonAsync("/api/health");
        Assert.Equal(epoch, healthAfter.GetProperty("epoch").GetString());
        Assert.True(healthAfter.GetProperty("last_seq").GetInt64() >= lastSeq);
        var events = await after.ReadEventsAsync();
        Assert.Equal(Enumerable.Range(1, events.Count).Select(i => (long)i), events.Select(e => e.GetProperty("seq").GetInt64()));
        var created = events.Where(e => e.GetProperty("type").GetString() == "mission.created").Select(e => e.PayloadString("mission_id")).ToHashSet();
        Assert.Equal(200, acknowledged.Count);
        Assert.All(acknowledged, id => Assert.Contains(id, created));
        foreach (var id in acknowledged.Take(20))
        {
            var mission = await after.GetJsonAsync($"/api/missions/{id}");
            Assert.Equal("PENDING", mission.GetProperty("status").GetString());
        }
        var stats = await after.GetJsonAsync("/api/missions/stats");
        Assert.Equal(200, stats.GetProperty("total").GetInt64());
    }
}
