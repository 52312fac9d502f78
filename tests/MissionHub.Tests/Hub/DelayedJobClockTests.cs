using System.Net;
using System.Net.Http.Json;
using System.Text.Json;

namespace MissionHub.Tests.Hub;

/// <summary>
/// Delayed jobs against the server's own clock, injected: the hub's timer on the earliest due job, not a polling loop,
/// releases it, so in the server's time a job is offered at its <c>run_at</c> exactly — never before, and within 50 ms
/// after — however far ahead it was delayed. (On the real clock the same is checked more loosely in
/// <see cref="DelayedJobTests"/>; real lateness under load is the timing benchmark's.)
/// </summary>
public abstract class DelayedJobClockTests : ClockedServerTests
{
    [Theory]
    [InlineData(60)]
    [InlineData(3600)]
    public async Task DelayedJob_IsOfferedAtItsRunAt_OnTheServersClock_NotBefore(double delaySeconds)
    {
        Start(DateTimeOffset.UtcNow);
        await using var worker = await RawWorker.RegisterAsync(Factory, "w-clock", ["clocked"]);
        using var response = await Client.PostAsJsonAsync("/api/jobs", new { job_type = "clocked", delay_s = delaySeconds });
        var job = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        var id = job.GetProperty("id").GetString()!;
        var runAt = job.GetProperty("run_at").GetDouble();
        Assert.InRange(runAt - (Unix(Clock.GetUtcNow()) + delaySeconds), -0.002, 0.002);

        // 20 ms short of it: not offered.
        Clock.Advance(TimeSpan.FromSeconds(delaySeconds - 0.02));
        await worker.AssertNothingReceivedAsync(TimeSpan.FromMilliseconds(500));
        Assert.Equal("pending", (await Client.GetJsonAsync($"/api/jobs/{id}")).GetProperty("status").GetString());

        // Its time comes: offered at once, without the clock moving on.
        Clock.Advance(TimeSpan.FromMilliseconds(20));
        var offered = await worker.ReceiveJobAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(id, offered.GetProperty("id").GetString());
        var assigned = (await Client.ReadEventsAsync("job_assigned")).Single(e => e.PayloadString("job_id") == id);
        var assignedAt = assigned.GetProperty("payload").GetProperty("assigned_at").GetDouble();
        Assert.InRange(assignedAt - runAt, -0.001, 0.05);
    }
}

public sealed class SqliteDelayedJobClockTests : DelayedJobClockTests
{
    protected override MissionHubFactory CreateFactory(IDictionary<string, string?> settings) =>
        MissionHubFactory.WithSqlite(Folder.File("clock.db"), settings);
}

public sealed class RedisDelayedJobClockTests(RedisServerFixture redis) : DelayedJobClockTests, IClassFixture<RedisServerFixture>
{
    protected override MissionHubFactory CreateFactory(IDictionary<string, string?> settings) =>
        MissionHubFactory.WithRedis(redis.Server, $"clock{Guid.NewGuid():N}:", settings);
}
