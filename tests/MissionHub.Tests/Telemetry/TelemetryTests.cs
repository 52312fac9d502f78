using System.Net;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using MissionHub.Agents;
using MissionHub.Telemetry;

namespace MissionHub.Tests.Telemetry;

/// <summary>
/// The robot telemetry socket and API (spec 004 events 4–6, DESIGN.md §4, issue 7) through a real server and real
/// WebSockets, asserted on the events read back from <c>GET /api/events</c>. Run once per backend by the subclasses.
/// </summary>
public abstract class TelemetryTests : IDisposable
{
    private static readonly string[] EstablishedKeys = ["connected_at", "connection_id", "robot_id"];
    private static readonly string[] ClosedKeys = ["connection_id", "disconnected_at", "duration_seconds", "reason", "robot_id"];
    private static readonly string[] PublishedKeys = ["metrics", "published_at", "robot_id"];
    private static readonly string[] SpecMetricKeys = ["battery_percentage", "cpu_usage", "memory_usage", "network_latency_ms"];

    private readonly List<MissionHubFactory> _factories = [];

    protected TempFolder Folder { get; } = new();

    /// <summary>A server on this test's store (the same store every time it is called within one test).</summary>
    protected abstract MissionHubFactory CreateFactory(IDictionary<string, string?> settings);

    protected MissionHubFactory StartServer(IDictionary<string, string?>? settings = null)
    {
        var factory = CreateFactory(settings ?? new Dictionary<string, string?>());
        _factories.Add(factory);
        return factory;
    }

    public void Dispose()
    {
        foreach (var factory in _factories)
        {
            factory.Dispose();
        }
        Folder.Dispose();
        GC.SuppressFinalize(this);
    }

    private static object Frame(double cpu = 45.2, double memory = 62.8, double latency = 12.5, double battery = 78.0) =>
        new { cpu_usage = cpu, memory_usage = memory, network_latency_ms = latency, battery_percentage = battery };

    private static async Task<JsonElement> WaitForRobotAsync(HttpClient client, string robotId, Func<JsonElement, bool> condition, string what)
    {
        JsonElement found = default;
        await Eventually.TrueAsync(async () =>
        {
            var list = await client.GetJsonAsync("/api/telemetry/robots");
            foreach (var robot in list.GetProperty("robots").EnumerateArray())
            {
                if (robot.GetProperty("robot_id").GetString() == robotId && condition(robot))
                {
                    found = robot;
                    return true;
                }
            }
            return false;
        }, TimeSpan.FromSeconds(10), what);
        return found;
    }

    private static Task<List<JsonElement>> ClosedEventsAsync(HttpClient client, string robotId, int count = 1) =>
        client.WaitForEventsAsync("telemetry.connection_closed", e => e.PayloadString("robot_id") == robotId, count);

    // ---- spec 004 scenarios 3 and 4 ----

    [Fact]
    public async Task Scenario3_RobotSession_PublishesEstablishedThenClosedWithClientDisconnect()
    {
        var factory = StartServer();
        using var client = factory.CreateClient();
        var before = DateTimeOffset.UtcNow.ToUnixTimeSeconds();

        await using (var robot = await RawWorker.ConnectAsync(factory, "/api/telemetry/ws/robot_001"))
        {
            await robot.SendAsync(Frame());
            await WaitForRobotAsync(client, "robot_001", r => r.GetProperty("metrics").GetProperty("cpu_usage").ValueKind == JsonValueKind.Number, "the frame");
        }

        await ClosedEventsAsync(client, "robot_001");
        var events = (await client.ReadEventsAsync("telemetry.*")).Where(e => e.PayloadString("robot_id") == "robot_001").ToList();
        Assert.Equal(["telemetry.connection_established", "telemetry.connection_closed"], events.Select(e => e.GetProperty("type").GetString()));
        Assert.All(events, e =>
        {
            Assert.Equal("telemetry_service", e.GetProperty("source").GetString());
            Assert.Equal(JsonValueKind.Null, e.GetProperty("target").ValueKind);
            Assert.Equal("1.0", e.GetProperty("meta").GetProperty("version").GetString());
        });

        var established = events[0].GetProperty("payload");
        Assert.Equal(EstablishedKeys, Keys(established));
        var connectionId = established.GetProperty("connection_id").GetString()!;
        Assert.StartsWith("ws_robot_001_", connectionId, StringComparison.Ordinal);
        var unix = long.Parse(connectionId["ws_robot_001_".Length..], System.Globalization.CultureInfo.InvariantCulture);
        Assert.InRange(unix, before, before + 60);
        var connectedAt = established.GetProperty("connected_at").GetDouble();

        var closed = events[1].GetProperty("payload");
        Assert.Equal(ClosedKeys, Keys(closed));
        Assert.Equal(connectionId, closed.GetProperty("connection_id").GetString());
        Assert.Equal("client_disconnect", closed.GetProperty("reason").GetString());
        var duration = closed.GetProperty("duration_seconds").GetDouble();
        Assert.InRange(duration, 0, 60);
        Assert.InRange(Math.Abs(closed.GetProperty("disconnected_at").GetDouble() - connectedAt - duration), 0, 0.01);

        var listed = await WaitForRobotAsync(client, "robot_001", r => r.GetProperty("state").GetString() == "offline", "the robot to be offline");
        Assert.False(listed.GetProperty("connected").GetBoolean());
        Assert.Equal("client_disconnect", listed.GetProperty("disconnect_reason").GetString());
        var agent = Assert.Single(factory.Services.GetRequiredService<AgentRegistry>().ListRobots());
        Assert.Equal(AgentState.Offline, agent.State);
    }

    [Fact]
    public async Task Scenario4_MetricsQuery_ReturnsLatestAndPublishesMetricsPublished()
    {
        var factory = StartServer();
        using var client = factory.CreateClient();
        await using var robot = await RawWorker.ConnectAsync(factory, "/api/telemetry/ws/robot_001");
        await robot.SendAsync(Frame(cpu: 10));
        await robot.SendTextAsync("""{"cpu_usage":45.2,"memory_usage":62.8,"network_latency_ms":12.5,"battery_percentage":78.0,"motor_temp_c":41.5}""");
        await WaitForRobotAsync(client, "robot_001", r => r.GetProperty("metrics").GetProperty("cpu_usage").ValueKind == JsonValueKind.Number
            && r.GetProperty("metrics").GetProperty("cpu_usage").GetDouble() == 45.2, "the second frame");

        var metrics = await client.GetJsonAsync("/api/telemetry/robots/robot_001/metrics");
        Assert.Equal("robot_001", metrics.GetProperty("robot_id").GetString());
        Assert.Equal("online", metrics.GetProperty("state").GetString());
        Assert.Equal(41.5, metrics.GetProperty("extra").GetProperty("motor_temp_c").GetDouble());

        var published = Assert.Single(await client.WaitForEventsAsync("telemetry.metrics_published", _ => true, 1));
        Assert.Equal("telemetry_service", published.GetProperty("source").GetString());
        var payload = published.GetProperty("payload");
        Assert.Equal(PublishedKeys, Keys(payload));
        Assert.Equal("robot_001", payload.GetProperty("robot_id").GetString());
        Assert.Equal(SpecMetricKeys, Keys(payload.GetProperty("metrics")));
        Assert.Equal(45.2, payload.GetProperty("metrics").GetProperty("cpu_usage").GetDouble());
        Assert.Equal(62.8, payload.GetProperty("metrics").GetProperty("memory_usage").GetDouble());
        Assert.Equal(12.5, payload.GetProperty("metrics").GetProperty("network_latency_ms").GetDouble());
        Assert.Equal(78.0, payload.GetProperty("metrics").GetProperty("battery_percentage").GetDouble());
        Assert.True(payload.GetProperty("published_at").GetDouble() > 1_700_000_000);
    }

    [Fact]
    public async Task Metrics_OfUnknownRobot_Is404_AndPublishesNothing()
    {
        using var client = StartServer().CreateClient();
        using var response = await client.GetAsync(new Uri("/api/telemetry/robots/nobody/metrics", UriKind.Relative));
        await response.AssertProblemAsync(404);
        Assert.Empty(await client.ReadEventsAsync("telemetry.metrics_published"));
    }

    // ---- close reasons ----

    [Fact]
    public async Task NoFrameForTheHeartbeatTimeout_ClosesWithHeartbeatTimeout_AndRobotIsConnectionBroken()
    {
        var factory = StartServer(new Dictionary<string, string?> { ["MissionHub:Telemetry:HeartbeatTimeout"] = "00:00:01.500" });
        using var client = factory.CreateClient();
        await using var robot = await RawWorker.ConnectAsync(factory, "/api/telemetry/ws/quiet");
        await robot.SendAsync(Frame());

        await robot.WaitForCloseAsync();
        var closed = Assert.Single(await ClosedEventsAsync(client, "quiet"));
        Assert.Equal("heartbeat_timeout", closed.PayloadString("reason"));
        await WaitForRobotAsync(client, "quiet", r => r.GetProperty("state").GetString() == "connection_broken", "connection_broken");
        var agent = Assert.Single(factory.Services.GetRequiredService<AgentRegistry>().ListRobots());
        Assert.Equal(AgentState.ConnectionBroken, agent.State);
    }

    [Fact]
    public async Task HeartbeatFrames_KeepTheConnectionOpen()
    {
        // Heartbeats every 250 ms for 2.5 timeouts; the timeout leaves the read of the log after them 1.75 s of margin.
        var factory = StartServer(new Dictionary<string, string?> { ["MissionHub:Telemetry:HeartbeatTimeout"] = "00:00:02" });
        using var client = factory.CreateClient();
        await using var robot = await RawWorker.ConnectAsync(factory, "/api/telemetry/ws/beating");
        var until = DateTime.UtcNow.AddSeconds(5);
        while (DateTime.UtcNow < until)
        {
            await robot.SendTextAsync("""{"type":"heartbeat"}""");
            await robot.AssertNothingReceivedAsync(TimeSpan.FromMilliseconds(250));
        }
        await robot.SendTextAsync("""{"type":"heartbeat"}""");
        Assert.Empty(await client.ReadEventsAsync("telemetry.connection_closed"));
        Assert.Equal(WebSocketState.Open, robot.Socket.State);
    }

    [Fact]
    public async Task SecondConnectionForTheSameRobot_ClosesTheFirstWithReplaced_ThenEstablishes()
    {
        var factory = StartServer();
        using var client = factory.CreateClient();
        await using var first = await RawWorker.ConnectAsync(factory, "/api/telemetry/ws/twin");
        await client.WaitForEventsAsync("telemetry.connection_established", e => e.PayloadString("robot_id") == "twin", 1);

        await using var second = await RawWorker.ConnectAsync(factory, "/api/telemetry/ws/twin");
        await first.WaitForCloseAsync();

        var events = await client.WaitForEventsAsync("telemetry.*", e => e.PayloadString("robot_id") == "twin", 3);
        Assert.Equal(["telemetry.connection_established", "telemetry.connection_closed", "telemetry.connection_established"],
            events.Select(e => e.GetProperty("type").GetString()));
        Assert.Equal("replaced", events[1].PayloadString("reason"));

        await second.SendAsync(Frame(cpu: 33));
        var listed = await WaitForRobotAsync(client, "twin", r => r.GetProperty("metrics").GetProperty("cpu_usage").ValueKind == JsonValueKind.Number, "a frame on the new connection");
        Assert.Equal("online", listed.GetProperty("state").GetString());
        Assert.True(listed.GetProperty("connected").GetBoolean());
        Assert.Equal(AgentState.Online, Assert.Single(factory.Services.GetRequiredService<AgentRegistry>().ListRobots()).State);
    }

    [Fact]
    public async Task DroppedLink_ClosesWithError_AndRobotIsConnectionBroken()
    {
        var factory = StartServer();
        using var client = factory.CreateClient();
        var robot = await RawWorker.ConnectAsync(factory, "/api/telemetry/ws/crashy");
        await robot.SendAsync(Frame());
        await WaitForRobotAsync(client, "crashy", r => r.GetProperty("metrics").GetProperty("cpu_usage").ValueKind == JsonValueKind.Number, "the frame");

        robot.Kill();
        await robot.DisposeAsync();

        var closed = Assert.Single(await ClosedEventsAsync(client, "crashy"));
        Assert.Equal("error", closed.PayloadString("reason"));
        await WaitForRobotAsync(client, "crashy", r => r.GetProperty("state").GetString() == "connection_broken", "connection_broken");
    }

    [Fact]
    public async Task ServerShutdown_ClosesWithServerShutdown_AndTheEventIsInTheLog()
    {
        var factory = StartServer();
        var robot = await RawWorker.ConnectAsync(factory, "/api/telemetry/ws/stayer");
        using (var client = factory.CreateClient())
        {
            await client.WaitForEventsAsync("telemetry.connection_established", _ => true, 1);
        }

        await factory.DisposeAsync();
        Assert.Equal(WebSocketCloseStatus.EndpointUnavailable, await robot.WaitForCloseAsync());
        await robot.DisposeAsync();

        using var after = StartServer().CreateClient();
        var closed = Assert.Single(await ClosedEventsAsync(after, "stayer"));
        Assert.Equal("server_shutdown", closed.PayloadString("reason"));
    }

    // ---- bad input ----

    [Theory]
    [InlineData("bad!id")]
    [InlineData("has%20space")]
    [InlineData("ümlaut")]
    public async Task InvalidRobotId_IsRefusedWith400BeforeAccept(string robotId)
    {
        var factory = StartServer();
        using var client = factory.CreateClient();
        using var response = await client.GetAsync(new Uri($"/api/telemetry/ws/{robotId}", UriKind.Relative));
        await response.AssertProblemAsync(400, "robot_id");

        using var socket = new ClientWebSocket();
        var refused = await Assert.ThrowsAsync<WebSocketException>(() =>
            socket.ConnectAsync(new Uri(factory.BaseAddress, $"/api/telemetry/ws/{robotId}").ToWs(), CancellationToken.None));
        Assert.Contains("400", refused.Message, StringComparison.Ordinal);
        Assert.Empty(await client.ReadEventsAsync("telemetry.*"));
    }

    [Fact]
    public async Task RobotIdEmptyOrOver128Characters_IsRefusedWith400()
    {
        using var client = StartServer().CreateClient();
        using (var empty = await client.GetAsync(new Uri("/api/telemetry/ws/", UriKind.Relative)))
        {
            await empty.AssertProblemAsync(400, "robot_id");
        }
        using (var tooLong = await client.GetAsync(new Uri($"/api/telemetry/ws/{new string('a', 129)}", UriKind.Relative)))
        {
            await tooLong.AssertProblemAsync(400, "robot_id");
        }
        using var notSocket = await client.GetAsync(new Uri($"/api/telemetry/ws/{new string('a', 128)}", UriKind.Relative));
        await notSocket.AssertProblemAsync(400, "Upgrade");
    }

    [Theory]
    [InlineData("not json", "malformed_json")]
    [InlineData("[1,2]", "invalid_frame")]
    [InlineData("""{"cpu_usage":"high"}""", "non_numeric")]
    [InlineData("""{"cpu_usage":45,"battery_percentage":null}""", "non_numeric")]
    [InlineData("""{"cpu_usage":{"core0":5}}""", "non_numeric")]
    [InlineData("""{"cpu_usage":true}""", "non_numeric")]
    [InlineData("{}", "empty_frame")]
    [InlineData("""{"type":"reboot"}""", "unknown_type")]
    [InlineData("""{"bad name":1}""", "invalid_field")]
    public async Task BadFrame_GetsAnErrorFrame_AndTheConnectionStaysOpen(string frame, string code)
    {
        var factory = StartServer();
        using var client = factory.CreateClient();
        await using var robot = await RawWorker.ConnectAsync(factory, "/api/telemetry/ws/r1");

        await robot.SendTextAsync(frame);
        var error = await robot.ReceiveAsync();
        Assert.Equal("error", error.GetProperty("type").GetString());
        Assert.Equal(code, error.GetProperty("code").GetString());
        Assert.False(string.IsNullOrWhiteSpace(error.GetProperty("message").GetString()));

        await robot.SendAsync(Frame(cpu: 51));
        var listed = await WaitForRobotAsync(client, "r1", r => r.GetProperty("metrics").GetProperty("cpu_usage").ValueKind == JsonValueKind.Number, "the good frame after the bad one");
        Assert.Equal(51, listed.GetProperty("metrics").GetProperty("cpu_usage").GetDouble());
        Assert.Empty(await client.ReadEventsAsync("telemetry.connection_closed"));
    }

    [Fact]
    public async Task BinaryFrame_GetsAnErrorFrame()
    {
        var factory = StartServer();
        await using var robot = await RawWorker.ConnectAsync(factory, "/api/telemetry/ws/r1");
        await robot.Socket.SendAsync(new byte[] { 1, 2, 3 }, WebSocketMessageType.Binary, true, CancellationToken.None);
        Assert.Equal("unsupported_frame", (await robot.ReceiveAsync()).GetProperty("code").GetString());
    }

    [Fact]
    public async Task FrameOver64KiB_ClosesWith1009_AndReasonError()
    {
        var factory = StartServer();
        using var client = factory.CreateClient();
        var robot = await RawWorker.ConnectAsync(factory, "/api/telemetry/ws/chatty");
        var big = new StringBuilder("{\"cpu_usage\":1,\"pad\":1");
        big.Append(' ', 64 * 1024);
        big.Append('}');
        await robot.SendTextAsync(big.ToString());

        Assert.Equal(WebSocketCloseStatus.MessageTooBig, await robot.WaitForCloseAsync());
        await robot.DisposeAsync();
        Assert.Equal("error", Assert.Single(await ClosedEventsAsync(client, "chatty")).PayloadString("reason"));
    }

    [Fact]
    public async Task FrameJustUnder64KiB_IsAccepted()
    {
        var factory = StartServer();
        using var client = factory.CreateClient();
        await using var robot = await RawWorker.ConnectAsync(factory, "/api/telemetry/ws/roomy");
        var frame = new StringBuilder("{\"cpu_usage\":7");
        frame.Append(' ', 64 * 1024 - 20);
        frame.Append('}');
        Assert.True(Encoding.UTF8.GetByteCount(frame.ToString()) <= 64 * 1024);
        await robot.SendTextAsync(frame.ToString());
        await WaitForRobotAsync(client, "roomy", r => r.GetProperty("metrics").GetProperty("cpu_usage").ValueKind == JsonValueKind.Number, "the large frame");
    }

    // ---- history ----

    [Fact]
    public async Task History_DownsamplesKnownSamplesIntoBucketsWithMinAvgMax()
    {
        var factory = StartServer();
        using var client = factory.CreateClient();
        var store = factory.Services.GetRequiredService<ITelemetryStore>();
        var t0 = Math.Floor(DateTimeOffset.UtcNow.ToUnixTimeSeconds() / 100.0) * 100 - 1000;
        // Bucket [t0, t0+10): cpu 10, 20, 60; bucket [t0+10, t0+20): nothing; bucket [t0+20, t0+30): cpu 5 and a battery.
        await store.AppendAsync(
        [
            Sample("hist", t0 + 0, ("cpu_usage", 10)),
            Sample("hist", t0 + 3.5, ("cpu_usage", 20)),
            Sample("hist", t0 + 9.999, ("cpu_usage", 60)),
            Sample("hist", t0 + 20, ("cpu_usage", 5), ("battery_percentage", 80)),
            Sample("hist", t0 + 30, ("cpu_usage", 99)), // at `to`: excluded
            Sample("other", t0 + 1, ("cpu_usage", 77)),
        ], CancellationToken.None);

        var history = await client.GetJsonAsync(FormattableString.Invariant($"/api/telemetry/robots/hist/history?from={t0}&to={t0 + 30}&step=10"));

        Assert.Equal(4, history.GetProperty("sample_count").GetInt32());
        Assert.Equal(10, history.GetProperty("step").GetDouble());
        var buckets = history.GetProperty("buckets").EnumerateArray().ToList();
        Assert.Equal(2, buckets.Count);
        Assert.Equal(t0, buckets[0].GetProperty("start").GetDouble());
        Assert.Equal(t0 + 10, buckets[0].GetProperty("end").GetDouble());
        Assert.Equal(3, buckets[0].GetProperty("count").GetInt32());
        var cpu = buckets[0].GetProperty("metrics").GetProperty("cpu_usage");
        Assert.Equal(10, cpu.GetProperty("min").GetDouble());
        Assert.Equal(30, cpu.GetProperty("avg").GetDouble());
        Assert.Equal(60, cpu.GetProperty("max").GetDouble());
        Assert.Equal(t0 + 20, buckets[1].GetProperty("start").GetDouble());
        Assert.Equal(1, buckets[1].GetProperty("count").GetInt32());
        Assert.Equal(80, buckets[1].GetProperty("metrics").GetProperty("battery_percentage").GetProperty("avg").GetDouble());
    }

    [Fact]
    public async Task History_OfStreamedFrames_HoldsEveryFrame()
    {
        var factory = StartServer();
        using var client = factory.CreateClient();
        await using var robot = await RawWorker.ConnectAsync(factory, "/api/telemetry/ws/streamer");
        for (var i = 1; i <= 20; i++)
        {
            await robot.SendAsync(new { cpu_usage = i, battery_percentage = 100 - i });
        }
        var service = factory.Services.GetRequiredService<TelemetryService>();
        await Eventually.TrueAsync(() => service.SamplesWritten >= 20, TimeSpan.FromSeconds(10), "20 samples written");

        var history = await client.GetJsonAsync("/api/telemetry/robots/streamer/history?step=3600");
        Assert.Equal(20, history.GetProperty("sample_count").GetInt32());
        var metrics = history.GetProperty("buckets").EnumerateArray().Select(b => b.GetProperty("metrics").GetProperty("cpu_usage")).ToList();
        Assert.Equal(1, metrics.Min(m => m.GetProperty("min").GetDouble()));
        Assert.Equal(20, metrics.Max(m => m.GetProperty("max").GetDouble()));
    }

    [Theory]
    [InlineData("from=200&to=100", "from")]
    [InlineData("from=abc", "from")]
    [InlineData("to=-5", "to")]
    [InlineData("to=soon", "to")]
    [InlineData("from=0&to=100&step=0", "step")]
    [InlineData("from=0&to=100&step=-1", "step")]
    [InlineData("from=0&to=100&step=abc", "step")]
    [InlineData("from=0&to=100&step=NaN", "step")]
    [InlineData("from=0&to=1000000&step=0.001", "step")]
    public async Task History_WithBadParameters_Is400NamingTheParameter(string query, string field)
    {
        using var client = StartServer().CreateClient();
        using var response = await client.GetAsync(new Uri($"/api/telemetry/robots/r1/history?{query}", UriKind.Relative));
        await response.AssertProblemAsync(400, field);
    }

    [Fact]
    public async Task History_OfUnknownRobotWithNoSamples_Is404()
    {
        using var client = StartServer().CreateClient();
        using var response = await client.GetAsync(new Uri("/api/telemetry/robots/ghost/history", UriKind.Relative));
        await response.AssertProblemAsync(404);
    }

    [Fact]
    public async Task Retention_DeletesSamplesOlderThanTheRetention()
    {
        var factory = StartServer(new Dictionary<string, string?>
        {
            ["MissionHub:Telemetry:Retention"] = "01:00:00",
            ["MissionHub:Telemetry:RetentionSweepInterval"] = "00:00:00.200",
        });
        using var client = factory.CreateClient();
        var store = factory.Services.GetRequiredService<ITelemetryStore>();
        var now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        await store.AppendAsync([Sample("aged", now - 7200, ("cpu_usage", 1)), Sample("aged", now - 60, ("cpu_usage", 2))], CancellationToken.None);

        await Eventually.TrueAsync(async () =>
        {
            var history = await client.GetJsonAsync(FormattableString.Invariant($"/api/telemetry/robots/aged/history?from={now - 10000}&to={now + 1}&step=100"));
            return history.GetProperty("sample_count").GetInt32() == 1;
        }, TimeSpan.FromSeconds(10), "the old sample to be deleted");
    }

    // ---- alerts ----

    [Fact]
    public async Task BatteryAlert_RaisedAfterConsecutiveFrames_ClearedOnlyPastTheHysteresisBand()
    {
        var factory = StartServer(new Dictionary<string, string?> { ["MissionHub:Telemetry:Alerts:ConsecutiveFrames"] = "2" });
        using var client = factory.CreateClient();
        await using var robot = await RawWorker.ConnectAsync(factory, "/api/telemetry/ws/low");

        // One low frame is not enough; a good frame resets the count.
        foreach (var battery in new[] { 19.0, 50, 19, 18 })
        {
            await robot.SendAsync(new { battery_percentage = battery });
        }
        var raised = Assert.Single(await client.WaitForEventsAsync("telemetry.alert_raised", _ => true, 1));
        var payload = raised.GetProperty("payload");
        Assert.Equal("low", payload.GetProperty("robot_id").GetString());
        Assert.Equal("battery_low", payload.GetProperty("alert").GetString());
        Assert.Equal("battery_percentage", payload.GetProperty("metric").GetString());
        Assert.Equal(18, payload.GetProperty("value").GetDouble());
        Assert.Equal(20, payload.GetProperty("threshold").GetDouble());

        // Hovering between 20 and 25 neither clears nor raises again; staying low raises nothing new.
        foreach (var battery in new[] { 21.0, 22, 24.9, 23, 19, 19, 19, 24 })
        {
            await robot.SendAsync(new { battery_percentage = battery });
        }
        await WaitForRobotAsync(client, "low", r => r.GetProperty("metrics").GetProperty("battery_percentage").ValueKind == JsonValueKind.Number
            && r.GetProperty("metrics").GetProperty("battery_percentage").GetDouble() == 24, "the hovering frames");
        Assert.Empty(await client.ReadEventsAsync("telemetry.alert_cleared"));
        Assert.Single(await client.ReadEventsAsync("telemetry.alert_raised"));
        var listed = await WaitForRobotAsync(client, "low", _ => true, "the robot");
        Assert.Equal(["battery_low"], listed.GetProperty("active_alerts").EnumerateArray().Select(a => a.GetString()));

        await robot.SendAsync(new { battery_percentage = 25 });
        await robot.SendAsync(new { battery_percentage = 30 });
        var cleared = Assert.Single(await client.WaitForEventsAsync("telemetry.alert_cleared", _ => true, 1)).GetProperty("payload");
        Assert.Equal("battery_low", cleared.GetProperty("alert").GetString());
        Assert.Equal(30, cleared.GetProperty("value").GetDouble());
        Assert.Equal(25, cleared.GetProperty("threshold").GetDouble());
        Assert.True(cleared.GetProperty("duration_seconds").GetDouble() >= 0);
    }

    [Fact]
    public async Task CpuAlert_RaisedAbove90_ClearedAtOrBelow85()
    {
        var factory = StartServer(new Dictionary<string, string?> { ["MissionHub:Telemetry:Alerts:ConsecutiveFrames"] = "3" });
        using var client = factory.CreateClient();
        await using var robot = await RawWorker.ConnectAsync(factory, "/api/telemetry/ws/hot");

        foreach (var cpu in new[] { 95.0, 96, 90, 91, 92, 93 })
        {
            await robot.SendAsync(new { cpu_usage = cpu });
        }
        var raised = Assert.Single(await client.WaitForEventsAsync("telemetry.alert_raised", _ => true, 1)).GetProperty("payload");
        Assert.Equal("cpu_high", raised.GetProperty("alert").GetString());
        Assert.Equal(93, raised.GetProperty("value").GetDouble());
        Assert.Equal(3, raised.GetProperty("consecutive_frames").GetInt32());

        foreach (var cpu in new[] { 86.0, 80, 80, 89, 85, 84, 70 })
        {
            await robot.SendAsync(new { cpu_usage = cpu });
        }
        var cleared = Assert.Single(await client.WaitForEventsAsync("telemetry.alert_cleared", _ => true, 1)).GetProperty("payload");
        Assert.Equal(70, cleared.GetProperty("value").GetDouble());
        Assert.Equal(85, cleared.GetProperty("threshold").GetDouble());
        Assert.Single(await client.ReadEventsAsync("telemetry.alert_raised"));
    }

    private static TelemetrySample Sample(string robot, double ts, params (string Name, double Value)[] values) =>
        new(robot, ts, values.ToDictionary(v => v.Name, v => v.Value));

    private static string[] Keys(JsonElement element) =>
        [.. element.EnumerateObject().Select(p => p.Name).Order(StringComparer.Ordinal)];
}

public sealed class SqliteTelemetryTests : TelemetryTests
{
    private readonly string _databasePath;

    public SqliteTelemetryTests() => _databasePath = Folder.File("telemetry.db");

    protected override MissionHubFactory CreateFactory(IDictionary<string, string?> settings) =>
        MissionHubFactory.WithSqlite(_databasePath, settings);
}

public sealed class RedisTelemetryTests(RedisServerFixture redis) : TelemetryTests, IClassFixture<RedisServerFixture>
{
    private readonly string _keyPrefix = $"t{Guid.NewGuid():N}:";

    protected override MissionHubFactory CreateFactory(IDictionary<string, string?> settings) =>
        MissionHubFactory.WithRedis(redis.Server, keyPrefix: _keyPrefix, extra: settings);
}
