using System.Net.Http.Json;
using System.Text.Json;

namespace MissionHub.Tests.Monitor;

/// <summary>A monitor that stops reading: nobody else waits for it, its misses are counted exactly, and resync makes it whole.</summary>
public sealed class SlowMonitorTests
{
    [Fact]
    public async Task StalledMonitor_DoesNotSlowOthers_CountsMissedExactly_AndResyncMakesItWhole()
    {
        using var folder = new TempFolder();
        // The default 1 MiB queue per monitor; the stalled one also fills its socket buffers first.
        await using var factory = MissionHubFactory.WithSqlite(folder.File("slow.db"));
        using var client = factory.CreateClient();
        async Task<RawWorker> Monitor()
        {
            var monitor = await RawWorker.ConnectAsync(factory, "/ws/monitor");
            await monitor.SendAsync(new { type = "monitor_connect", request_full_state = true });
            await monitor.ReceiveTypeAsync("full_state_snapshot");
            await monitor.SendAsync(new { type = "subscribe", topics = new[] { "missions" } });
            await monitor.ReceiveTypeAsync("subscribed");
            return monitor;
        }
        await using var slow = await Monitor();
        await using var fast = await Monitor();
        slow.PauseReading();

        // Large events straight from the publisher (the monitor is what is under test), paced by the
        // reading monitor so that only the stalled one can fall behind.
        const int count = 400;
        var bus = factory.Services.GetRequiredService<MissionHub.Events.IEventPublisher>();
        var padding = new string('x', 50_000);
        var created = new List<string>();
        var fastIds = new List<string>();
        for (var i = 0; i < count; i++)
        {
            var id = $"bulk-{i}";
            var evt = await bus.PublishAsync("mission.load_test", "missions_service", null,
                JsonSerializer.SerializeToElement(new { mission_id = id, padding }));
            Assert.NotNull(evt);
            created.Add(id);
            if (i % 20 == 19)
            {
                while (fastIds.Count <= i)
                {
                    var frame = await fast.ReceiveAsync();
                    Assert.Equal("mission.load_test", frame.GetProperty("type").GetString());
                    fastIds.Add(frame.GetProperty("payload").GetProperty("mission_id").GetString()!);
                }
            }
        }
        Assert.Equal(created, fastIds);

        slow.ResumeReading();
        var delivered = new List<JsonElement>();
        JsonElement notice;
        while (true)
        {
            var frame = await slow.ReceiveAsync();
            if (frame.GetProperty("type").GetString() == "events_missed")
            {
                notice = frame;
                break;
            }
            delivered.Add(frame);
        }
        await slow.SendAsync(new { type = "heartbeat" });
        var ack = await slow.ReceiveTypeAsync("heartbeat_ack");
        var missed = ack.GetProperty("events_missed").GetInt64();

        Assert.True(missed > 0, "the stalled monitor must have overflowed for this test to mean anything");
        Assert.Equal(count, delivered.Count + missed);
        var firstMissed = notice.GetProperty("first_missed_seq").GetInt64();
        Assert.Equal(delivered[^1].GetProperty("seq").GetInt64() + 1, firstMissed);

        await slow.SendAsync(new { type = "resync_request", last_seq = firstMissed - 1, topics = new[] { "missions" } });
        var recovered = new List<JsonElement>();
        while (true)
        {
            var chunk = await slow.ReceiveTypeAsync("resync_data");
            Assert.True(chunk.GetProperty("recovered").GetBoolean());
            recovered.AddRange(chunk.GetProperty("events").EnumerateArray());
            if (chunk.GetProperty("done").GetBoolean())
            {
                break;
            }
        }
        Assert.Equal(missed, recovered.Count);
        Assert.Equal(created, delivered.Concat(recovered).Select(e => e.GetProperty("payload").GetProperty("mission_id").GetString()));
        await slow.SendAsync(new { type = "heartbeat" });
        Assert.Equal(0, (await slow.ReceiveTypeAsync("heartbeat_ack")).GetProperty("events_missed").GetInt64());
    }
}
