using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Net.WebSockets;
using System.Text.Json;
using MissionHub.Supervisor;

namespace MissionHub.Tests.Supervisor;

/// <summary>
/// The supervisor (spec 000, issue 5) through the real HTTP API and real worker sockets, asserted on what the
/// endpoints answer and on the events read back from <c>GET /api/events</c>. Run once per backend by the subclasses;
/// every test gets a fresh store, so the only supervisor events in the log are its own.
/// </summary>
public abstract class SupervisorApiTests : IAsyncDisposable
{
    private static readonly string[] CheckNames = ["background_jobs", "event_log", "storage"];
    private static readonly string[] CheckKeys = ["detail", "latency_ms", "name", "state"];
    private static readonly string[] HealthCheckedKeys = ["checked_at", "status"];
    private static readonly string[] StatusQueriedKeys =
        ["agent_count", "cancelled_missions", "completed_missions", "failed_missions", "pending_missions", "queried_at", "running_missions", "total_missions"];
    private static readonly string[] AgentsListedKeys = ["agent_count", "queried_at"];
    private static readonly string[] EnvelopeKeys = ["id", "meta", "payload", "seq", "source", "target", "timestamp", "type"];
    private static readonly string[] AgentKeys =
        ["capabilities", "connected_at", "current_jobs", "disconnect_reason", "id", "kind", "last_seen", "state", "telemetry"];

    private readonly List<MissionHubFactory> _factories = [];
    private readonly List<HttpClient> _clients = [];

    protected TempFolder Folder { get; } = new();

    /// <summary>A server on a fresh store of this backend, with <paramref name="settings"/> (<c>MissionHub:…</c>) applied.</summary>
    protected abstract MissionHubFactory CreateFactory(IDictionary<string, string?> settings);

    protected (MissionHubFactory Factory, HttpClient Client) StartServer(IDictionary<string, string?>? settings = null)
    {
        var factory = CreateFactory(settings ?? new Dictionary<string, string?>());
        _factories.Add(factory);
        var client = factory.CreateClient();
        _clients.Add(client);
        return (factory, client);
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var client in _clients)
        {
            client.Dispose();
        }
        foreach (var factory in _factories)
        {
            await factory.DisposeAsync();
        }
        Folder.Dispose();
        GC.SuppressFinalize(this);
    }

    // ---- spec 000 scenario 1: health ----

    [Fact]
    public async Task Health_IsOkFromEveryRealCheck_AndPublishesHealthChecked()
    {
        var (_, client) = StartServer();

        var health = await client.GetJsonAsync("/api/supervisor/health");

        Assert.Equal(["checks", "status", "timestamp"], Keys(health));
        Assert.Equal("ok", health.GetProperty("status").GetString());
        AssertUtcIsoTimestamp(health.GetProperty("timestamp"));
        var checks = health.GetProperty("checks");
        Assert.Equal(CheckNames, Keys(checks));
        foreach (var name in CheckNames)
        {
            var check = checks.GetProperty(name);
            Assert.Equal(CheckKeys, Keys(check));
            Assert.Equal(name, check.GetProperty("name").GetString());
            Assert.Equal("ok", check.GetProperty("state").GetString());
            Assert.True(check.GetProperty("latency_ms").GetDouble() >= 0);
            Assert.False(string.IsNullOrWhiteSpace(check.GetProperty("detail").GetString()));
        }
        // The mission-metrics aggregation registers itself; nothing is overdue.
        Assert.Contains("aggregate_mission_metrics", checks.GetProperty("background_jobs").GetProperty("detail").GetString(), StringComparison.Ordinal);

        var evt = Assert.Single(await client.WaitForEventsAsync(SupervisorEvents.HealthChecked, _ => true, 1));
        var payload = evt.GetProperty("payload");
        Assert.Equal(HealthCheckedKeys, Keys(payload));
        Assert.Equal("ok", payload.GetProperty("status").GetString());
        var checkedAt = payload.GetProperty("checked_at").GetDouble();
        var answeredAt = DateTimeOffset.Parse(health.GetProperty("timestamp").GetString()!, CultureInfo.InvariantCulture);
        var answeredSeconds = (answeredAt - DateTimeOffset.UnixEpoch).TotalSeconds;
        Assert.InRange(checkedAt, answeredSeconds - 0.000_01, answeredSeconds + 0.000_01);
    }

    [Fact]
    public async Task Health_IsDegraded_WhileARegisteredBackgroundJobIsOverdue_AndOkOnceItRunsAgain()
    {
        var (factory, client) = StartServer();
        var heartbeat = factory.Services.GetRequiredService<IBackgroundJobHeartbeat>();
        heartbeat.Register("metrics_aggregation", TimeSpan.FromMilliseconds(50));
        heartbeat.Register("event_log_retention", TimeSpan.FromHours(1));
        heartbeat.ReportFailure("metrics_aggregation", "store unavailable");

        JsonElement health = default;
        await Eventually.TrueAsync(async () =>
        {
            health = await client.GetJsonAsync("/api/supervisor/health");
            return health.GetProperty("status").GetString() == "degraded";
        }, TimeSpan.FromSeconds(10), "health to be degraded by the overdue job");

        var jobs = health.GetProperty("checks").GetProperty("background_jobs");
        Assert.Equal("degraded", jobs.GetProperty("state").GetString());
        var detail = jobs.GetProperty("detail").GetString()!;
        Assert.Contains("metrics_aggregation", detail, StringComparison.Ordinal);
        Assert.Contains("store unavailable", detail, StringComparison.Ordinal);
        Assert.DoesNotContain("event_log_retention", detail, StringComparison.Ordinal);

        heartbeat.ReportSuccess("metrics_aggregation");
        heartbeat.Register("metrics_aggregation", TimeSpan.FromHours(1));
        health = await client.GetJsonAsync("/api/supervisor/health");
        Assert.Equal("ok", health.GetProperty("status").GetString());
        Assert.Contains("3 job(s) on schedule", health.GetProperty("checks").GetProperty("background_jobs").GetProperty("detail").GetString(), StringComparison.Ordinal);
        await client.WaitForEventsAsync(SupervisorEvents.HealthChecked, e => e.PayloadString("status") == "degraded", 1);
    }

    // ---- spec 000 scenario 2: status with known mission counts ----

    [Fact]
    public async Task Status_ReportsTheKnownMissionCounts_AndTheRealAgents_AndPublishesStatusQueried()
    {
        var (factory, client) = StartServer();
        // 8 missions: 2 left PENDING, 2 RUNNING, 2 COMPLETED (via RUNNING), 1 FAILED, 1 CANCELLED.
        var ids = new List<string>();
        for (var i = 0; i < 8; i++)
        {
            ids.Add(await CreateMissionAsync(client, $"mission {i}"));
        }
        foreach (var (id, path) in new[]
        {
            (ids[0], new[] { "RUNNING" }),
            (ids[1], new[] { "RUNNING" }),
            (ids[2], new[] { "RUNNING", "COMPLETED" }),
            (ids[3], new[] { "RUNNING", "COMPLETED" }),
            (ids[4], new[] { "FAILED" }),
            (ids[5], new[] { "RUNNING", "CANCELLED" }),
        })
        {
            foreach (var next in path)
            {
                await ChangeStatusAsync(client, id, next);
            }
        }
        await using var worker = await RawWorker.RegisterAsync(factory, "status-worker", ["render"], 2);

        var status = await client.GetJsonAsync("/api/supervisor/status");

        Assert.Equal(
            ["agents", "cancelled_missions", "completed_missions", "failed_missions", "pending_missions", "running_missions", "status", "timestamp", "total_missions"],
            Keys(status));
        Assert.Equal("ok", status.GetProperty("status").GetString());
        AssertUtcIsoTimestamp(status.GetProperty("timestamp"));
        Assert.Equal(8, status.GetProperty("total_missions").GetInt64());
        Assert.Equal(2, status.GetProperty("running_missions").GetInt64());
        Assert.Equal(2, status.GetProperty("pending_missions").GetInt64());
        Assert.Equal(2, status.GetProperty("completed_missions").GetInt64());
        Assert.Equal(1, status.GetProperty("failed_missions").GetInt64());
        Assert.Equal(1, status.GetProperty("cancelled_missions").GetInt64());
        var agent = Assert.Single(status.GetProperty("agents").EnumerateArray());
        Assert.Equal("status-worker", agent.GetProperty("id").GetString());

        // The same numbers as the missions' own counters.
        var stats = await client.GetJsonAsync("/api/missions/stats");
        Assert.Equal(8, stats.GetProperty("total").GetInt64());
        Assert.Equal(2, stats.GetProperty("by_status").GetProperty("RUNNING").GetInt64());

        var evt = Assert.Single(await client.WaitForEventsAsync(SupervisorEvents.StatusQueried, _ => true, 1));
        var payload = evt.GetProperty("payload");
        Assert.Equal(StatusQueriedKeys, Keys(payload));
        Assert.Equal(8, payload.GetProperty("total_missions").GetInt64());
        Assert.Equal(2, payload.GetProperty("running_missions").GetInt64());
        Assert.Equal(2, payload.GetProperty("pending_missions").GetInt64());
        Assert.Equal(2, payload.GetProperty("completed_missions").GetInt64());
        Assert.Equal(1, payload.GetProperty("failed_missions").GetInt64());
        Assert.Equal(1, payload.GetProperty("cancelled_missions").GetInt64());
        Assert.Equal(1, payload.GetProperty("agent_count").GetInt32());
        Assert.Equal(JsonValueKind.Number, payload.GetProperty("queried_at").ValueKind);
    }

    [Fact]
    public async Task Status_WithNoMissions_IsAllZeros_AndCountsNoAgents()
    {
        var (_, client) = StartServer();

        var status = await client.GetJsonAsync("/api/supervisor/status");

        foreach (var field in new[] { "total_missions", "running_missions", "pending_missions", "completed_missions", "failed_missions", "cancelled_missions" })
        {
            Assert.Equal(0, status.GetProperty(field).GetInt64());
        }
        Assert.Empty(status.GetProperty("agents").EnumerateArray());
        var evt = Assert.Single(await client.WaitForEventsAsync(SupervisorEvents.StatusQueried, _ => true, 1));
        Assert.Equal(0, evt.GetProperty("payload").GetProperty("agent_count").GetInt32());
    }

    // ---- spec 000 scenario 3: agents ----

    [Fact]
    public async Task Agents_ListsEveryConnectedWorker_WithCapabilities_Filtered_AndPublishesTheRealCount()
    {
        var (factory, client) = StartServer();
        await using var render = await RawWorker.RegisterAsync(factory, "w-render", ["render", "encode"], 3);
        await using var scan = await RawWorker.RegisterAsync(factory, "w-scan", ["scan"], 1);

        var agents = await client.GetJsonAsync("/api/supervisor/agents");

        Assert.Equal(JsonValueKind.Array, agents.ValueKind);
        Assert.Equal(["w-render", "w-scan"], agents.EnumerateArray().Select(a => a.GetProperty("id").GetString()!).ToArray());
        var first = agents[0];
        Assert.Equal(AgentKeys, Keys(first));
        Assert.Equal("worker", first.GetProperty("kind").GetString());
        Assert.Equal("idle", first.GetProperty("state").GetString());
        Assert.Equal(["render", "encode"], first.GetProperty("capabilities").GetProperty("job_types").EnumerateArray().Select(t => t.GetString()!).ToArray());
        Assert.Equal(3, first.GetProperty("capabilities").GetProperty("max_concurrent_jobs").GetInt32());
        Assert.Empty(first.GetProperty("current_jobs").EnumerateArray());
        Assert.Equal(JsonValueKind.Null, first.GetProperty("telemetry").ValueKind);
        var now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() / 1000.0;
        Assert.InRange(first.GetProperty("connected_at").GetDouble(), now - 60, now + 1);
        Assert.InRange(first.GetProperty("last_seen").GetDouble(), first.GetProperty("connected_at").GetDouble(), now + 1);

        Assert.Equal(2, (await client.GetJsonAsync("/api/supervisor/agents?kind=worker")).GetArrayLength());
        Assert.Equal(2, (await client.GetJsonAsync("/api/supervisor/agents?kind=worker&state=idle")).GetArrayLength());
        Assert.Equal(0, (await client.GetJsonAsync("/api/supervisor/agents?kind=robot")).GetArrayLength());
        Assert.Equal(0, (await client.GetJsonAsync("/api/supervisor/agents?state=busy")).GetArrayLength());

        var listed = await client.WaitForEventsAsync(SupervisorEvents.AgentsListed, _ => true, 5);
        Assert.Equal([2, 2, 2, 0, 0], listed.Select(e => e.GetProperty("payload").GetProperty("agent_count").GetInt32()).ToArray());
        Assert.All(listed, e => Assert.Equal(AgentsListedKeys, Keys(e.GetProperty("payload"))));
    }

    /// <summary>Robots come from the telemetry sockets, which report to the same registry; driven here as they will drive it.</summary>
    [Fact]
    public async Task Agents_ListsRobots_WithTheirLatestTelemetry_AndKeepsThemMarkedWhenTheirLinkBreaksOrCloses()
    {
        var (factory, client) = StartServer();
        var registry = factory.Services.GetRequiredService<MissionHub.Agents.AgentRegistry>();
        await using var worker = await RawWorker.RegisterAsync(factory, "w-1", ["render"], 1);
        registry.RobotConnected("robot-a");
        registry.RobotTelemetry("robot-a", JsonDocument.Parse("""{"cpu_usage":45.2,"battery_percentage":78.0}""").RootElement);
        registry.RobotConnected("robot-b");

        var robots = await client.GetJsonAsync("/api/supervisor/agents?kind=robot");

        Assert.Equal(["robot-a", "robot-b"], robots.EnumerateArray().Select(a => a.GetProperty("id").GetString()!).ToArray());
        var a = robots[0];
        Assert.Equal("robot", a.GetProperty("kind").GetString());
        Assert.Equal("online", a.GetProperty("state").GetString());
        Assert.Equal(45.2, a.GetProperty("telemetry").GetProperty("cpu_usage").GetDouble());
        Assert.Equal(78.0, a.GetProperty("telemetry").GetProperty("battery_percentage").GetDouble());
        Assert.Empty(a.GetProperty("capabilities").GetProperty("job_types").EnumerateArray());
        Assert.Equal(3, (await client.GetJsonAsync("/api/supervisor/agents")).GetArrayLength());

        registry.RobotDisconnected("robot-a", "heartbeat_timeout");
        registry.RobotDisconnected("robot-b", "client_disconnect");

        var broken = Assert.Single((await client.GetJsonAsync("/api/supervisor/agents?state=connection_broken")).EnumerateArray());
        Assert.Equal("robot-a", broken.GetProperty("id").GetString());
        Assert.Equal(45.2, broken.GetProperty("telemetry").GetProperty("cpu_usage").GetDouble());
        var offline = Assert.Single((await client.GetJsonAsync("/api/supervisor/agents?kind=robot&state=offline")).EnumerateArray());
        Assert.Equal("robot-b", offline.GetProperty("id").GetString());
        Assert.Equal(3, (await client.GetJsonAsync("/api/supervisor/status")).GetProperty("agents").GetArrayLength());
        var counted = await client.WaitForEventsAsync(SupervisorEvents.StatusQueried, _ => true, 1);
        Assert.Equal(3, counted[0].GetProperty("payload").GetProperty("agent_count").GetInt32());
    }

    [Theory]
    [InlineData("kind=drone", "kind", "worker, robot")]
    [InlineData("state=sleeping", "state", "idle, busy, online, offline, connection_broken")]
    [InlineData("kind=worker&state=IDLE", "state", "idle, busy, online, offline, connection_broken")]
    public async Task Agents_UnknownFilter_Is400_NamingTheFieldAndListingTheValidValues(string query, string field, string validValues)
    {
        var (_, client) = StartServer();

        using var response = await client.GetAsync(new Uri($"/api/supervisor/agents?{query}", UriKind.Relative));

        var problem = await response.AssertProblemAsync(400, field);
        Assert.Contains($"valid values: {validValues}", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
    }

    /// <summary>
    /// Issue 5: idle → busy → idle → connection_broken (heartbeat missed) → back → offline (graceful close), each
    /// visible in <c>/agents</c>, and the broken and offline worker stays listed, marked.
    /// </summary>
    [Fact]
    public async Task AgentState_MovesIdleBusyIdle_ThenConnectionBrokenOnAMissedHeartbeat_ThenOfflineOnAGracefulClose()
    {
        var (factory, client) = StartServer(new Dictionary<string, string?>
        {
            ["MissionHub:Hub:WorkerHeartbeatTimeout"] = "00:00:01",
        });

        var worker = new HeartbeatingWorker(await RawWorker.RegisterAsync(factory, "w1", ["render"], 1));
        await using (worker)
        {
            await WaitForAgentAsync(client, "w1", "idle");

            var jobId = await SubmitJobAsync(client, "render");
            var assigned = await worker.Raw.ReceiveJobAsync();
            Assert.Equal(jobId, assigned.GetProperty("id").GetString());
            var busy = await WaitForAgentAsync(client, "w1", "busy");
            Assert.Equal([jobId], busy.GetProperty("current_jobs").EnumerateArray().Select(j => j.GetString()!).ToArray());
            Assert.Equal("w1", Assert.Single((await client.GetJsonAsync("/api/supervisor/agents?state=busy")).EnumerateArray()).GetProperty("id").GetString());

            await worker.SendAsync(new { type = "job_completed", job_id = jobId, result = new { ok = true } });
            var idle = await WaitForAgentAsync(client, "w1", "idle");
            Assert.Empty(idle.GetProperty("current_jobs").EnumerateArray());

            // The worker goes silent without closing: after the 1 s heartbeat timeout the link counts as broken.
            await worker.StopBeatingAsync();
            var broken = await WaitForAgentAsync(client, "w1", "connection_broken");
            Assert.Equal("heartbeat_timeout", broken.GetProperty("disconnect_reason").GetString());
            Assert.Single((await client.GetJsonAsync("/api/supervisor/agents?kind=worker&state=connection_broken")).EnumerateArray());
        }

        var again = new HeartbeatingWorker(await RawWorker.RegisterAsync(factory, "w1", ["render"], 1));
        await using (again)
        {
            await WaitForAgentAsync(client, "w1", "idle");
            await again.StopBeatingAsync();
        }
        // Disposing closes the socket with a close handshake: a clean goodbye, not a broken link.
        var offline = await WaitForAgentAsync(client, "w1", "offline");
        Assert.Equal("client_disconnect", offline.GetProperty("disconnect_reason").GetString());
        Assert.Equal("w1", Assert.Single((await client.GetJsonAsync("/api/supervisor/agents?state=offline")).EnumerateArray()).GetProperty("id").GetString());
        Assert.Equal(1, (await client.GetJsonAsync("/api/supervisor/status")).GetProperty("agents").GetArrayLength());
    }

    // ---- spec 000 scenario 4: Charter compliance ----

    [Fact]
    public async Task EverySupervisorEvent_IsACharterEnvelope_FromSupervisorService_Broadcast_WithExactlyTheSpecPayloadKeys()
    {
        var (_, client) = StartServer();
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri("/api/supervisor/status", UriKind.Relative));
        request.Headers.Add("X-Correlation-ID", "supervisor-charter-test");

        await client.GetJsonAsync("/api/supervisor/health");
        using (var response = await client.SendAsync(request))
        {
            response.EnsureSuccessStatusCode();
        }
        await client.GetJsonAsync("/api/supervisor/agents");

        var events = await client.WaitForEventsAsync("supervisor.*", _ => true, 3);
        Assert.Equal([SupervisorEvents.HealthChecked, SupervisorEvents.StatusQueried, SupervisorEvents.AgentsListed],
            events.Select(e => e.GetProperty("type").GetString()!).Order(Comparer<string>.Create(ByRequestOrder)).ToArray());
        var expectedKeys = new Dictionary<string, string[]>
        {
            [SupervisorEvents.HealthChecked] = HealthCheckedKeys,
            [SupervisorEvents.StatusQueried] = StatusQueriedKeys,
            [SupervisorEvents.AgentsListed] = AgentsListedKeys,
        };
        foreach (var evt in events)
        {
            Assert.Equal(EnvelopeKeys, Keys(evt));
            Assert.True(Guid.TryParse(evt.GetProperty("id").GetString(), out _), "id is a UUID");
            var type = evt.GetProperty("type").GetString()!;
            Assert.StartsWith("supervisor.", type, StringComparison.Ordinal);
            Assert.Equal("supervisor_service", evt.GetProperty("source").GetString());
            Assert.Equal(JsonValueKind.Null, evt.GetProperty("target").ValueKind);
            Assert.Equal(JsonValueKind.Number, evt.GetProperty("timestamp").ValueKind);
            var timestamp = evt.GetProperty("timestamp").GetDouble();
            Assert.InRange(timestamp, DateTimeOffset.UtcNow.AddMinutes(-5).ToUnixTimeSeconds(), DateTimeOffset.UtcNow.AddMinutes(1).ToUnixTimeSeconds());
            Assert.Equal(JsonValueKind.Object, evt.GetProperty("payload").ValueKind);
            Assert.Equal(expectedKeys[type], Keys(evt.GetProperty("payload")));
            Assert.Equal(JsonValueKind.Object, evt.GetProperty("meta").ValueKind);
            Assert.Equal("1.0", evt.GetProperty("meta").GetProperty("version").GetString());
            var at = evt.GetProperty("payload").GetProperty(type == SupervisorEvents.HealthChecked ? "checked_at" : "queried_at");
            Assert.Equal(JsonValueKind.Number, at.ValueKind);
            Assert.InRange(at.GetDouble(), timestamp - 5, timestamp + 0.001);
        }
        var statusEvent = events.Single(e => e.GetProperty("type").GetString() == SupervisorEvents.StatusQueried);
        Assert.Equal("supervisor-charter-test", statusEvent.GetProperty("meta").GetProperty("correlation_id").GetString());
    }

    // ---- helpers ----

    private static int ByRequestOrder(string a, string b)
    {
        string[] order = [SupervisorEvents.HealthChecked, SupervisorEvents.StatusQueried, SupervisorEvents.AgentsListed];
        return Array.IndexOf(order, a).CompareTo(Array.IndexOf(order, b));
    }

    private static async Task<JsonElement> WaitForAgentAsync(HttpClient client, string id, string state)
    {
        JsonElement agent = default;
        JsonElement last = default;
        try
        {
            await Eventually.TrueAsync(async () =>
            {
                last = await client.GetJsonAsync("/api/supervisor/agents");
                agent = last.EnumerateArray().FirstOrDefault(a => a.GetProperty("id").GetString() == id);
                return agent.ValueKind == JsonValueKind.Object && agent.GetProperty("state").GetString() == state;
            }, TimeSpan.FromSeconds(10), $"agent {id} to be {state}");
        }
        catch (TimeoutException ex)
        {
            throw new TimeoutException($"{ex.Message}; agents now: {last}", ex);
        }
        return agent;
    }

    private static async Task<string> CreateMissionAsync(HttpClient client, string name)
    {
        using var response = await client.PostAsJsonAsync("/api/missions", new { name });
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.Created, body);
        return JsonDocument.Parse(body).RootElement.GetProperty("id").GetString()!;
    }

    private static async Task ChangeStatusAsync(HttpClient client, string id, string status)
    {
        using var response = await client.PostAsJsonAsync($"/api/missions/{id}/status", new { status });
        Assert.True(response.IsSuccessStatusCode, await response.Content.ReadAsStringAsync());
    }

    private static async Task<string> SubmitJobAsync(HttpClient client, string jobType)
    {
        using var response = await client.PostAsJsonAsync("/api/jobs", new { job_type = jobType, payload = new { } });
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.Created, body);
        return JsonDocument.Parse(body).RootElement.GetProperty("id").GetString()!;
    }

    private static void AssertUtcIsoTimestamp(JsonElement value)
    {
        var text = value.GetString()!;
        Assert.EndsWith("Z", text, StringComparison.Ordinal);
        var parsed = DateTimeOffset.Parse(text, CultureInfo.InvariantCulture, DateTimeStyles.RoundtripKind);
        Assert.InRange(parsed, DateTimeOffset.UtcNow.AddMinutes(-1), DateTimeOffset.UtcNow.AddMinutes(1));
    }

    private static string[] Keys(JsonElement obj) => obj.EnumerateObject().Select(p => p.Name).Order(StringComparer.Ordinal).ToArray();

    /// <summary>
    /// A raw worker that keeps its link alive with a heartbeat every 200 ms, as a real worker does, until told to
    /// stop; sends are serialised because a WebSocket takes one send at a time.
    /// </summary>
    private sealed class HeartbeatingWorker : IAsyncDisposable
    {
        private readonly SemaphoreSlim _sending = new(1, 1);
        private readonly CancellationTokenSource _stop = new();
        private readonly Task _beating;

        public HeartbeatingWorker(RawWorker raw)
        {
            Raw = raw;
            _beating = BeatAsync();
        }

        public RawWorker Raw { get; }

        public async Task SendAsync(object message)
        {
            await _sending.WaitAsync();
            try
            {
                await Raw.SendAsync(message);
            }
            finally
            {
                _sending.Release();
            }
        }

        public async Task StopBeatingAsync()
        {
            await _stop.CancelAsync();
            await _beating;
        }

        private async Task BeatAsync()
        {
            using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(200));
            try
            {
                while (await timer.WaitForNextTickAsync(_stop.Token))
                {
                    await SendAsync(new { type = "heartbeat" });
                }
            }
            catch (Exception ex) when (ex is OperationCanceledException or WebSocketException or ObjectDisposedException)
            {
            }
        }

        public async ValueTask DisposeAsync()
        {
            await StopBeatingAsync();
            await Raw.DisposeAsync();
            _stop.Dispose();
            _sending.Dispose();
        }
    }
}

/// <summary>The supervisor contract on the embedded SQLite backend.</summary>
public sealed class SqliteSupervisorApiTests : SupervisorApiTests
{
    protected override MissionHubFactory CreateFactory(IDictionary<string, string?> settings) =>
        MissionHubFactory.WithSqlite(Folder.File($"supervisor-{Guid.NewGuid():N}.db"), settings);
}

/// <summary>The supervisor contract on a real redis-server (a fresh key prefix per server).</summary>
public sealed class RedisSupervisorApiTests(RedisServerFixture redis) : SupervisorApiTests, IClassFixture<RedisServerFixture>
{
    protected override MissionHubFactory CreateFactory(IDictionary<string, string?> settings) =>
        MissionHubFactory.WithRedis(redis.Server, extra: settings);
}
