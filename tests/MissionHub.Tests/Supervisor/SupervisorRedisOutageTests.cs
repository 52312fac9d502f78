using System.Diagnostics;
using System.Net;
using System.Text.Json;
using MissionHub.Supervisor;

namespace MissionHub.Tests.Supervisor;

/// <summary>Redis goes away under a running hub: the supervisor's health says so (503) promptly, and recovers.</summary>
public sealed class SupervisorRedisOutageTests
{
    [Fact]
    public async Task Health_IsErrorWith503_WhileRedisIsStopped_AndOkAgainOnceItReturns()
    {
        await using var redis = await RedisServer.StartNewAsync();
        await using var factory = MissionHubFactory.WithRedis(redis, extra: new Dictionary<string, string?>
        {
            ["MissionHub:Supervisor:StorageTimeout"] = "00:00:01",
        });
        using var client = factory.CreateClient();
        Assert.Equal("ok", (await client.GetJsonAsync("/api/supervisor/health")).GetProperty("status").GetString());

        await redis.StopAsync();

        var (status, health) = await GetHealthAsync(client);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, status);
        Assert.Equal("error", health.GetProperty("status").GetString());
        var storage = health.GetProperty("checks").GetProperty("storage");
        Assert.Equal("error", storage.GetProperty("state").GetString());
        Assert.Contains("redis", storage.GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Equal("ok", health.GetProperty("checks").GetProperty("background_jobs").GetProperty("state").GetString());

        // The appends the health checks make fail too, and the event-log check reports it.
        await Eventually.TrueAsync(async () =>
        {
            var (_, now) = await GetHealthAsync(client);
            return now.GetProperty("checks").GetProperty("event_log").GetProperty("state").GetString() == "error";
        }, TimeSpan.FromSeconds(20), "the event-log check to see the failed appends");

        // Bounded by the storage timeout: an outage is answered, not hung on.
        var timer = Stopwatch.StartNew();
        (status, _) = await GetHealthAsync(client);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, status);
        Assert.True(timer.Elapsed < TimeSpan.FromSeconds(4), $"health took {timer.Elapsed} during the outage");

        await redis.StartAsync();

        JsonElement recovered = default;
        await Eventually.TrueAsync(async () =>
        {
            (status, recovered) = await GetHealthAsync(client);
            return status == HttpStatusCode.OK && recovered.GetProperty("status").GetString() == "ok";
        }, TimeSpan.FromSeconds(30), "health to be ok once Redis is back");
        Assert.All(recovered.GetProperty("checks").EnumerateObject(), c => Assert.Equal("ok", c.Value.GetProperty("state").GetString()));

        // Redis came back empty (no persistence); the health checks since are in its new log.
        await client.WaitForEventsAsync(SupervisorEvents.HealthChecked, e => e.PayloadString("status") == "ok", 1, TimeSpan.FromSeconds(10));
    }

    private static async Task<(HttpStatusCode Status, JsonElement Body)> GetHealthAsync(HttpClient client)
    {
        using var response = await client.GetAsync(new Uri("/api/supervisor/health", UriKind.Relative));
        var body = await response.Content.ReadAsStringAsync();
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        return (response.StatusCode, JsonDocument.Parse(body).RootElement.Clone());
    }
}
