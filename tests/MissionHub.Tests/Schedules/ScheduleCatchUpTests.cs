using System.Net;
using System.Net.Http.Json;
using System.Text.Json;

namespace MissionHub.Tests.Schedules;

/// <summary>
/// Ticks missed while no process ran (the SQLite server stopped, then started again on the same file): with
/// <c>catch_up: none</c> they are skipped (one <c>schedule_skipped</c>, reason <c>missed</c>, counting them), with
/// <c>catch_up: one</c> the schedule fires once for all of them; then both carry on with the ticks after the restart.
/// </summary>
public sealed class ScheduleCatchUpTests : IDisposable
{
    private readonly TempFolder _folder = new();

    private static readonly Dictionary<string, string?> Settings = new() { ["MissionHub:Schedules:MisfireTolerance"] = "00:00:01" };

    [Fact]
    public async Task MissedTicks_AreSkippedOrFiredOnce_AsCatchUpSays_AfterADowntime()
    {
        var file = _folder.File("catch-up.db");
        await using (var before = MissionHubFactory.WithSqlite(file, Settings))
        {
            using var client = before.CreateClient();
            foreach (var catchUp in new[] { "none", "one" })
            {
                using var created = await client.PostAsJsonAsync("/api/schedules",
                    new { id = $"catch-{catchUp}", cron = "* * * * * *", catch_up = catchUp, job = new { job_type = "catch-up" } });
                Assert.Equal(HttpStatusCode.Created, created.StatusCode);
            }
            await client.WaitForEventsAsync("schedule_fired", _ => true, 2, TimeSpan.FromSeconds(10));
        }
        // Once the server has stopped: it fires ticks until then (stopping takes a while on a busy machine).
        var stoppedAt = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() / 1000.0;

        // The downtime itself: no process runs for four ticks.
        await Task.Delay(TimeSpan.FromSeconds(4));

        await using var after = MissionHubFactory.WithSqlite(file, Settings);
        using var again = after.CreateClient();
        var restartedAt = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() / 1000.0;
        var skipped = (await again.WaitForEventsAsync("schedule_skipped", e => e.PayloadString("schedule_id") == "catch-none", 1, TimeSpan.FromSeconds(10))).Single();
        Assert.Equal("missed", skipped.GetProperty("payload").GetProperty("reason").GetString());
        Assert.InRange(skipped.GetProperty("payload").GetProperty("missed").GetInt32(), 3, 8);

        // Both carry on after the restart; the catch_up: one schedule fired exactly once for the ticks of the downtime.
        await again.WaitForEventsAsync("schedule_fired", e => Tick(e) > restartedAt, 2, TimeSpan.FromSeconds(10));
        var fired = await again.ReadEventsAsync("schedule_fired");
        List<JsonElement> During(string id) => [.. fired.Where(e => e.PayloadString("schedule_id") == id && Tick(e) > stoppedAt && Tick(e) < restartedAt - 0.5)];
        Assert.Empty(During("catch-none"));
        Assert.Single(During("catch-one"));
        var one = await again.GetJsonAsync("/api/schedules/catch-one");
        Assert.Equal(JsonValueKind.Null, one.GetProperty("last_skip").ValueKind);
        var none = await again.GetJsonAsync("/api/schedules/catch-none");
        Assert.Equal("missed", none.GetProperty("last_skip").GetProperty("reason").GetString());
    }

    private static double Tick(JsonElement fired) => fired.GetProperty("payload").GetProperty("tick").GetDouble();

    public void Dispose() => _folder.Dispose();
}
