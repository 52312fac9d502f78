using System.Net.Http.Json;
using System.Net.WebSockets;
using System.Text.Json;
using Xunit.Abstractions;

namespace MissionHub.Tests.Monitor;

/// <summary>What a monitor may ask of the server is bounded: its queue in bytes (snapshots included), and its strings.</summary>
public sealed class MonitorBoundsTests(ITestOutputHelper output)
{
    private const int SendQueueBytes = 1024 * 1024;

    [Fact]
    public async Task MonitorThatNeverReads_AndRepeatsMonitorConnect_IsClosedWith1008_HeapStaysBounded_OthersUnaffected()
    {
        using var folder = new TempFolder();
        await using var factory = MissionHubFactory.WithSqlite(folder.File("flood.db"), new Dictionary<string, string?>
        {
            ["MissionHub:Monitor:MaxQueuedBytes"] = "262144",
            ["MissionHub:Monitor:MaxSendQueueBytes"] = SendQueueBytes.ToString(System.Globalization.CultureInfo.InvariantCulture),
        });
        using var client = factory.CreateClient();
        // 400 pending jobs make every snapshot about 100 KB: thousands of them unbounded would be hundreds of MB.
        for (var i = 0; i < 400; i++)
        {
            using var submitted = await client.PostAsJsonAsync("/api/jobs", new { job_type = "backlog", payload = new { i } });
            submitted.EnsureSuccessStatusCode();
        }
        await using var worker = await RawWorker.RegisterAsync(factory, "w-bystander", ["render"]);
        await using var watcher = await RawWorker.ConnectAsync(factory, "/ws/monitor");
        await watcher.SendAsync(new { type = "monitor_connect", monitor_id = "watcher" });
        var firstSnapshot = await watcher.ReceiveTypeAsync("full_state_snapshot");
        var snapshotBytes = firstSnapshot.GetRawText().Length;
        Assert.True(snapshotBytes > 50_000, $"the snapshot is {snapshotBytes} bytes: too small for the flood to mean anything");
        await watcher.SendAsync(new { type = "subscribe", topics = new[] { "jobs" } });
        await watcher.ReceiveTypeAsync("subscribed");

        var baseline = GC.GetTotalMemory(forceFullCollection: true);
        await using var flood = await RawWorker.ConnectAsync(factory, "/ws/monitor");
        flood.PauseReading();
        // Logged the moment the queue refuses a frame (the close handshake then gets its timeout).
        bool Closed() => factory.Logs.Entries.Any(e => e.EventId.Id == 4105 && e.Message.Contains("monitor flood", StringComparison.Ordinal));
        var sent = 0;
        for (; sent < 5_000 && !Closed(); sent++)
        {
            try
            {
                await flood.SendAsync(new { type = "monitor_connect", monitor_id = "monitor flood" });
            }
            catch (WebSocketException)
            {
                break; // the server gave up on the socket
            }
        }
        await Eventually.TrueAsync(Closed, TimeSpan.FromSeconds(10), "the flooding monitor to be closed for its queue");
        var grown = GC.GetTotalMemory(forceFullCollection: true) - baseline;

        flood.ResumeReading();
        Assert.Equal(WebSocketCloseStatus.PolicyViolation, await flood.WaitForCloseAsync(TimeSpan.FromSeconds(10)));
        Assert.Equal($"send queue over {SendQueueBytes} bytes", flood.CloseDescription);
        output.WriteLine($"{sent} monitor_connect frames (snapshot {snapshotBytes} bytes each): heap grew {grown / 1024.0 / 1024:0.0} MiB, closed with 1008");
        // The queue's bound plus what sockets and the serializer hold: far below the flood's hundreds of MB.
        Assert.True(grown < 48L * 1024 * 1024, $"the managed heap grew by {grown / 1024 / 1024} MiB after {sent} monitor_connect frames");
        Assert.True(sent * (long)snapshotBytes > 8L * SendQueueBytes, $"only {sent} frames were sent: the flood asked for too little");

        // The other monitor and the worker were not touched.
        using var render = await client.PostAsJsonAsync("/api/jobs", new { job_type = "render", payload = new { } });
        var renderId = (await render.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetString();
        var job = await worker.ExpectJobAsync(TimeSpan.FromSeconds(10), "the render job, after the flood");
        Assert.Equal(renderId, job.GetProperty("id").GetString());
        while (true)
        {
            var evt = await watcher.ReceiveAsync(TimeSpan.FromSeconds(10));
            if (evt.GetProperty("type").GetString() == "job_submitted" && evt.GetProperty("job_id").GetString() == renderId)
            {
                break;
            }
        }
    }

    [Fact]
    public async Task Monitor_subscribe_with_subscriptions_field_subscribes_like_subscribe()
    {
        using var folder = new TempFolder();
        await using var factory = MissionHubFactory.WithSqlite(folder.File("handshake.db"));
        using var client = factory.CreateClient();
        await using var monitor = await RawWorker.ConnectAsync(factory, "/ws/monitor");

        // Spec 003 §2, steps 1 to 3, exactly as written there.
        await monitor.SendAsync(new { type = "monitor_connect", monitor_id = "spec-monitor", request_full_state = true, timestamp = 1703001234567 });
        await monitor.ReceiveTypeAsync("full_state_snapshot");
        await monitor.SendAsync(new { type = "monitor_subscribe", monitor_id = "spec-monitor", subscriptions = new[] { "workers", "jobs", "system_stats" }, timestamp = 1703001234568 });
        var subscribed = await monitor.ReceiveAsync();
        Assert.Equal("subscribed", subscribed.GetProperty("type").GetString());
        Assert.Equal(["workers", "jobs", "system_stats"], subscribed.GetProperty("topics").EnumerateArray().Select(t => t.GetString()));

        using var submitted = await client.PostAsJsonAsync("/api/jobs", new { job_type = "render", payload = new { } });
        var id = (await submitted.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetString();
        while (true)
        {
            var evt = await monitor.ReceiveAsync();
            if (evt.GetProperty("type").GetString() == "job_submitted")
            {
                Assert.Equal(id, evt.GetProperty("job_id").GetString());
                break;
            }
        }

        // A wrong topic under that name is refused naming the field.
        await monitor.SendAsync(new { type = "monitor_subscribe", subscriptions = new[] { "jobz" } });
        var error = await monitor.ReceiveTypeAsync("error");
        Assert.Equal("invalid_topics", error.GetProperty("code").GetString());
        Assert.Contains("subscriptions", error.GetProperty("message").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task OverlongClientStrings_AreRefusedWithAnErrorNamingTheField_AndTheConnectionKeepsWorking()
    {
        using var folder = new TempFolder();
        await using var factory = MissionHubFactory.WithSqlite(folder.File("strings.db"));
        await using var monitor = await RawWorker.ConnectAsync(factory, "/ws/monitor");
        var longText = new string('m', 10_000);

        await monitor.SendAsync(new { type = "monitor_connect", monitor_id = longText });
        var error = await monitor.ReceiveTypeAsync("error");
        Assert.Equal("invalid_field", error.GetProperty("code").GetString());
        Assert.StartsWith("monitor_id ", error.GetProperty("message").GetString(), StringComparison.Ordinal);

        await monitor.SendAsync(new { type = "monitor_connect", monitor_id = "m-ok" });
        await monitor.ReceiveTypeAsync("full_state_snapshot");

        await monitor.SendAsync(new { type = "subscribe", topics = new[] { "jobs" }, filters = new { worker_ids = new[] { longText } } });
        error = await monitor.ReceiveTypeAsync("error");
        Assert.Equal("invalid_filter", error.GetProperty("code").GetString());
        Assert.Contains("filters.worker_ids", error.GetProperty("message").GetString(), StringComparison.Ordinal);

        await monitor.SendAsync(new { type = "subscribe", topics = new[] { longText } });
        error = await monitor.ReceiveTypeAsync("error");
        Assert.Equal("invalid_topics", error.GetProperty("code").GetString());
        Assert.True(error.GetProperty("message").GetString()!.Length < 1000, "the refusal echoed the whole string back");

        await monitor.SendAsync(new { type = "subscribe", topics = new[] { "jobs" } });
        await monitor.ReceiveTypeAsync("subscribed");
    }
}
