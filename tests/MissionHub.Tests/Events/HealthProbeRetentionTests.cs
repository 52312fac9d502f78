using System.Net;
using System.Text;
using System.Text.Json;

namespace MissionHub.Tests.Events;

/// <summary>
/// Read endpoints append events (a health probe appends supervisor.health_checked): with retention by type they are
/// trimmed among themselves, so a flood of probes never pushes a mission event out of reach of a resuming client.
/// </summary>
public abstract class HealthProbeRetentionTests : IDisposable
{
    private const int Probes = 10_001;

    protected TempFolder Folder { get; } = new();

    protected abstract MissionHubFactory CreateFactory(IDictionary<string, string?> settings);

    public void Dispose()
    {
        Folder.Dispose();
        GC.SuppressFinalize(this);
    }

    [Fact]
    public async Task TenThousandAndOneHealthProbes_WithMaxEvents10000_LeaveAMissionEventResumable()
    {
        using var factory = CreateFactory(new Dictionary<string, string?>
        {
            ["MissionHub:Events:MaxEvents"] = "10000",
            ["MissionHub:Events:TrimInterval"] = "00:00:01",
        });
        using var client = factory.CreateClient();
        using var created = await client.PostAsync(new Uri("/api/missions", UriKind.Relative),
            new StringContent("""{"name":"must stay resumable"}""", Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        var mission = Assert.Single(await client.ReadEventsAsync("mission.created"));
        var missionSeq = mission.GetProperty("seq").GetInt64();

        var next = 0;
        await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => Task.Run(async () =>
        {
            while (Interlocked.Increment(ref next) <= Probes)
            {
                using var probe = await client.GetAsync(new Uri("/api/supervisor/health", UriKind.Relative));
                Assert.True(probe.IsSuccessStatusCode, $"health answered {(int)probe.StatusCode}");
            }
        })));

        // Retention ran once the probes beyond their rule's 10,000 are gone from just after the mission event.
        var before = missionSeq - 1;
        await Eventually.TrueAsync(async () =>
            !(await client.GetJsonAsync($"/api/events?after_seq={missionSeq}&type=supervisor.*&limit=1")).GetProperty("recovered").GetBoolean(),
            TimeSpan.FromSeconds(60), "retention to remove the oldest probe");

        var missions = await client.GetJsonAsync($"/api/events?after_seq={before}&type=mission.*&limit=10");
        Assert.True(missions.GetProperty("recovered").GetBoolean(), missions.GetProperty("reason").ToString());
        Assert.Equal(missionSeq, missions.GetProperty("events")[0].GetProperty("seq").GetInt64());
        var unfiltered = await client.GetJsonAsync($"/api/events?after_seq={before}&limit=10");
        Assert.False(unfiltered.GetProperty("recovered").GetBoolean(), "an unfiltered read across the removed probe must say so");
        var epoch = unfiltered.GetProperty("epoch").GetString()!;

        using var cancel = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var (filteredResponse, filtered) = await client.OpenEventStreamAsync("/api/events/stream?type=mission.*", $"{epoch}:{before}", cancel.Token);
        using (filteredResponse)
        using (filtered)
        {
            var first = await filtered.ReadAsync(cancel.Token);
            Assert.NotNull(first);
            Assert.Equal("mission.created", first.Event);
            Assert.Equal($"{epoch}:{missionSeq}", first.Id);
        }
        var (allResponse, all) = await client.OpenEventStreamAsync("/api/events/stream", $"{epoch}:{before}", cancel.Token);
        using (allResponse)
        using (all)
        {
            var first = await all.ReadAsync(cancel.Token);
            Assert.NotNull(first);
            Assert.Equal("reset", first.Event);
            Assert.False(JsonDocument.Parse(first.Data).RootElement.GetProperty("recovered").GetBoolean());
        }
    }
}

public sealed class SqliteHealthProbeRetentionTests : HealthProbeRetentionTests
{
    protected override MissionHubFactory CreateFactory(IDictionary<string, string?> settings) =>
        MissionHubFactory.WithSqlite(Folder.File("hub.db"), settings);
}

public sealed class RedisHealthProbeRetentionTests(RedisServerFixture redis) : HealthProbeRetentionTests, IClassFixture<RedisServerFixture>
{
    protected override MissionHubFactory CreateFactory(IDictionary<string, string?> settings) =>
        MissionHubFactory.WithRedis(redis.Server, extra: settings);
}
