using System.Text.Json;
using MissionHub.Events;

namespace MissionHub.Tests.Events;

/// <summary>Redis goes away mid-run: publishing must not throw, must log, and must recover.</summary>
public sealed class RedisOutageTests
{
    [Fact]
    public async Task RedisStoppedMidRun_PublishDoesNotThrow_IsLogged_AndRecoversWhenRedisIsBack()
    {
        await using var redis = await RedisServer.StartNewAsync();
        await using var factory = MissionHubFactory.WithRedis(redis);
        var bus = factory.Services.GetRequiredService<EventBus>();
        var payload = JsonSerializer.SerializeToElement(new { n = 1 });
        Assert.NotNull(await bus.PublishAsync("before.outage", "test_source", null, payload));

        await redis.StopAsync();
        var duringOutage = await bus.PublishAsync("during.outage", "test_source", null, payload);

        Assert.Null(duringOutage);
        Assert.Equal(1, bus.PublishFailures);
        Assert.Contains(factory.Logs.Entries, e => e.Level == LogLevel.Error && e.EventId.Id == 1101 && e.Message.Contains("during.outage", StringComparison.Ordinal));

        await redis.StartAsync();
        CharterEvent? afterOutage = null;
        await Eventually.TrueAsync(async () =>
            (afterOutage = await bus.PublishAsync("after.outage", "test_source", null, payload)) is not null,
            TimeSpan.FromSeconds(30), "publishing to work again once Redis is back");

        // Redis came back empty (no persistence): a new epoch, which readers are told about.
        var page = await bus.Log.ReadAsync(new EventQuery(0, Limit: 10) { FromOldestRetained = true });
        Assert.Equal("after.outage", page.Events[0].Type);
        Assert.Equal(page.Epoch, bus.Log.Epoch);
    }
}
