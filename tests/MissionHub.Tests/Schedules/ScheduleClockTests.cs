using System.Net;
using System.Net.Http.Json;
using System.Text.Json;

namespace MissionHub.Tests.Schedules;

/// <summary>
/// A schedule in Europe/Berlin across both DST changes, through the real server on an injected clock: the daily 02:30
/// that does not exist on the spring-forward night fires once at the transition (03:00 local), the one that exists twice
/// on the fall-back night fires once, at its first occurrence — as Cronos defines them — and each tick exactly once.
/// </summary>
public abstract class ScheduleClockTests : ClockedServerTests
{
    [Fact]
    public async Task SpringForward_TheSkippedTimeFiresOnceAtTheTransition()
    {
        Start(Utc("2027-03-28T00:58:00Z")); // 01:58 CET
        var created = await CreateDailyAsync();
        var transition = Utc("2027-03-28T01:00:00Z"); // 02:00 CET is 03:00 CEST
        Assert.Equal(Unix(transition), created.GetProperty("next_run_at").GetDouble(), 3);

        Clock.Advance(TimeSpan.FromMinutes(2));
        var fired = await WaitForTicksAsync(1);
        Assert.Equal(Unix(transition), fired[0], 3);
        var next = (await Client.GetJsonAsync("/api/schedules/daily")).GetProperty("next_run_at").GetDouble();
        Assert.Equal(Unix(Utc("2027-03-29T00:30:00Z")), next, 3); // 02:30 CEST the next day

        // On to the next day's tick: it is the second one fired, nothing came between.
        Clock.SetUtcNow(Utc("2027-03-29T00:30:00Z"));
        var ticks = await WaitForTicksAsync(2);
        Assert.Equal([Unix(transition), Unix(Utc("2027-03-29T00:30:00Z"))], ticks.Select(t => Math.Round(t, 3)));
        Assert.Empty(await Client.ReadEventsAsync("schedule_skipped"));
    }

    [Fact]
    public async Task FallBack_TheRepeatedTimeFiresOnce_AtItsFirstOccurrence()
    {
        Start(Utc("2027-10-31T00:00:00Z")); // 02:00 CEST
        var created = await CreateDailyAsync();
        var first = Utc("2027-10-31T00:30:00Z"); // 02:30 CEST; 02:30 CET (01:30 UTC) comes an hour later
        Assert.Equal(Unix(first), created.GetProperty("next_run_at").GetDouble(), 3);

        Clock.Advance(TimeSpan.FromMinutes(30));
        Assert.Equal(Unix(first), (await WaitForTicksAsync(1))[0], 3);
        Assert.Equal(Unix(Utc("2027-11-01T01:30:00Z")), (await Client.GetJsonAsync("/api/schedules/daily")).GetProperty("next_run_at").GetDouble(), 3);

        // To the second 02:30 (01:30 UTC) exactly, where a tick would fire, then on to the next day's: that is the second fired.
        Clock.SetUtcNow(Utc("2027-10-31T01:30:00Z"));
        await Client.GetJsonAsync("/api/schedules/daily");
        Clock.SetUtcNow(Utc("2027-11-01T01:30:00Z"));
        var ticks = await WaitForTicksAsync(2);
        Assert.Equal([Unix(first), Unix(Utc("2027-11-01T01:30:00Z"))], ticks.Select(t => Math.Round(t, 3)));
        Assert.Empty(await Client.ReadEventsAsync("schedule_skipped"));
    }

    private async Task<JsonElement> CreateDailyAsync()
    {
        using var response = await Client.PostAsJsonAsync("/api/schedules",
            new { id = "daily", cron = "30 2 * * *", time_zone = "Europe/Berlin", job = new { job_type = "nightly" } });
        var body = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.True(response.StatusCode == HttpStatusCode.Created, body.ToString());
        return body;
    }

    private async Task<List<double>> TicksAsync() =>
        [.. (await Client.ReadEventsAsync("schedule_fired")).Select(e => e.GetProperty("payload").GetProperty("tick").GetDouble())];

    private async Task<List<double>> WaitForTicksAsync(int count)
    {
        List<double> ticks = [];
        await Eventually.TrueAsync(async () => (ticks = await TicksAsync()).Count >= count, TimeSpan.FromSeconds(10), $"{count} schedule_fired");
        return ticks;
    }
}

public sealed class SqliteScheduleClockTests : ScheduleClockTests
{
    protected override MissionHubFactory CreateFactory(IDictionary<string, string?> settings) =>
        MissionHubFactory.WithSqlite(Folder.File("clock.db"), settings);
}

public sealed class RedisScheduleClockTests(RedisServerFixture redis) : ScheduleClockTests, IClassFixture<RedisServerFixture>
{
    protected override MissionHubFactory CreateFactory(IDictionary<string, string?> settings) =>
        MissionHubFactory.WithRedis(redis.Server, $"sclock{Guid.NewGuid():N}:", settings);
}
