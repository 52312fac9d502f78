using System.Net.WebSockets;
using System.Text;
using CsCheck;

namespace MissionHub.Tests.Fuzz;

/// <summary>
/// Every parser, fed random and mutated input through the real surface: never a 5xx, never an error in the server's
/// log, and on a socket the connection still answers a frame afterwards (or was closed by the protocol, never as an
/// internal error).
/// </summary>
public sealed class ParserFuzzTests : IDisposable
{
    private readonly TempFolder _folder = new();
    private readonly MissionHubFactory _factory;
    private readonly HttpClient _client;

    public ParserFuzzTests()
    {
        _factory = MissionHubFactory.WithSqlite(_folder.File("fuzz.db"));
        _client = _factory.CreateClient();
    }

    public void Dispose()
    {
        _client.Dispose();
        _factory.Dispose();
        _folder.Dispose();
    }

    public static TheoryData<string, string> Bodies => new()
    {
        { "/api/missions", """{"id":"m-fuzz","name":"Deploy","description":"d","data":{"env":"prod","n":[1,2]}}""" },
        { "/api/missions/m1/status", """{"status":"RUNNING"}""" },
        { "/api/missions/m1/log", """{"level":"info","message":"step 1","data":{"k":"v"}}""" },
        { "/api/jobs", """{"job_type":"render","priority":5,"payload":{"frames":3},"max_attempts":3,"timeout_s":60,"workflow_id":"m1","idempotency_key":"k1"}""" },
        { "/api/auth/keys", """{"name":"ci","roles":["viewer"],"id_pattern":"m-*","expires_at":1999999999}""" },
        { "/api/auth/session", """{"key":"mh_secret"}""" },
    };

    [Theory]
    [MemberData(nameof(Bodies))]
    public async Task HttpBody_RandomAndMutated_IsNever5xx(string path, string valid)
    {
        await EnsureMissionAsync();
        await FuzzInputs.Mutated(valid).SampleAsync(async body =>
        {
            using var content = new StringContent(body, Encoding.UTF8, "application/json");
            using var response = await _client.PostAsync(new Uri(path, UriKind.Relative), content);
            Assert.True((int)response.StatusCode < 500, $"POST {path} {Shorten(body)} answered {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
        }, iter: FuzzInputs.Iterations(150), threads: 1);
        AssertNoServerErrors();
    }

    public static TheoryData<string, string[]> Queries => new()
    {
        { "/api/missions", ["status", "limit", "cursor"] },
        { "/api/missions/m1/log", ["limit", "cursor", "level"] },
        { "/api/jobs", ["status", "job_type", "worker", "limit", "cursor"] },
        { "/api/events", ["after_seq", "since", "type", "target", "limit", "epoch", "format"] },
        { "/api/telemetry/robots/r1/history", ["from", "to", "limit"] },
        { "/api/state", ["at_seq"] },
        { "/api/schedules", ["limit", "cursor"] },
    };

    [Theory]
    [MemberData(nameof(Queries))]
    public async Task QueryString_RandomValues_AreNever5xx(string path, string[] names)
    {
        await EnsureMissionAsync();
        await FuzzInputs.Query(names).SampleAsync(async query =>
        {
            using var response = await _client.GetAsync(new Uri(path + query, UriKind.Relative));
            Assert.True((int)response.StatusCode < 500, $"GET {path}{query} answered {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
        }, iter: FuzzInputs.Iterations(150), threads: 1);
        AssertNoServerErrors();
    }

    [Fact]
    public async Task LastEventId_RandomAndMalformed_IsNever5xx()
    {
        await EnsureMissionAsync();
        await FuzzInputs.LastEventId.SampleAsync(async id =>
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, new Uri("/api/events/stream?type=mission.*", UriKind.Relative));
            if (!request.Headers.TryAddWithoutValidation("Last-Event-ID", id))
            {
                return; // not sendable as a header at all
            }
            HttpResponseMessage response;
            try
            {
                response = await _client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
            }
            catch (HttpRequestException)
            {
                return; // the client refused to send it (control characters): no parser on the server saw it
            }
            using (response)
            {
                Assert.True((int)response.StatusCode < 500, $"Last-Event-ID '{id}' answered {(int)response.StatusCode}");
            }
        }, iter: FuzzInputs.Iterations(150), threads: 1);
        AssertNoServerErrors();
    }

    [Fact]
    public Task WorkerSocket_MutatedFrames_LeaveTheConnectionAnswering() => FuzzSocketAsync(
        "/ws/worker",
        opening: """{"type":"worker_register","worker_id":"fuzz-w","capabilities":{"job_types":["render"],"max_concurrent_jobs":2}}""",
        openingAnswer: "registered",
        FuzzInputs.Mutated(
            """{"type":"heartbeat"}""",
            """{"type":"job_progress","job_id":"j1","progress":0.4}""",
            """{"type":"job_completed","job_id":"j1","result":{"ok":true}}""",
            """{"type":"job_failed","job_id":"j1","error":"boom"}"""),
        probe: """{"type":"no_such_frame"}""",
        probeAnswer: "error",
        probeMarker: "no_such_frame");

    [Fact]
    public Task MonitorSocket_MutatedFrames_LeaveTheConnectionAnswering() => FuzzSocketAsync(
        "/ws/monitor",
        opening: """{"type":"monitor_connect","monitor_id":"fuzz-m"}""",
        openingAnswer: "full_state_snapshot",
        FuzzInputs.Mutated(
            """{"type":"subscribe","topics":["jobs","missions"],"filters":{"job_types":["render"],"worker_ids":["w1"],"priority_range":[0,10]}}""",
            """{"type":"resync_request","last_seq":0}""",
            """{"type":"resync_request","last_event_timestamp":1703001234567}""",
            """{"type":"heartbeat"}""",
            """{"type":"monitor_subscribe","monitor_id":"m","subscriptions":["jobs"],"timestamp":1}"""),
        probe: """{"type":"heartbeat"}""",
        probeAnswer: "heartbeat_ack");

    [Fact]
    public Task TelemetrySocket_MutatedFrames_LeaveTheConnectionAnswering() => FuzzSocketAsync(
        "/api/telemetry/ws/fuzz-robot",
        opening: null,
        openingAnswer: null,
        FuzzInputs.Mutated("""{"cpu_usage":45.2,"memory_usage":62.8,"network_latency_ms":12.5,"battery_percentage":78.0}"""),
        probe: "not json",
        probeAnswer: "error");

    [Theory]
    [InlineData("/ws/worker", """{"type":"worker_register","worker_id":"w-s","capabilities":{"job_types":["render"],"max_concurrent_jobs":1}}""", "registered", """{"type":"job_failed","job_id":"\ud800","error":"boom"}""", """{"type":"no_such_frame"}""", "error")]
    [InlineData("/ws/monitor", """{"type":"monitor_connect","monitor_id":"m-s"}""", "full_state_snapshot", """{"type":"subscribe","topics":["\udc00"]}""", """{"type":"heartbeat"}""", "heartbeat_ack")]
    [InlineData("/api/telemetry/ws/robot-s", null, null, """{"cpu_usage":1,"status":"\ud800"}""", "not json", "error")]
    public async Task Socket_frame_with_lone_surrogate_escape_is_an_error_frame_not_a_dropped_connection(
        string path, string? opening, string? openingAnswer, string frame, string probe, string probeAnswer)
    {
        await using var socket = await RawWorker.ConnectAsync(_factory, path);
        if (opening is not null)
        {
            await socket.SendTextAsync(opening);
            await socket.ReceiveTypeAsync(openingAnswer!);
        }

        await socket.SendTextAsync(frame);
        await socket.SendTextAsync(probe);

        await socket.ReceiveTypeAsync(probeAnswer);
        AssertNoServerErrors();
    }

    /// <summary>
    /// Connections of random frames: each opens (and gets its answer), takes a run of frames, then must still answer the
    /// probe, unless the server closed it with a protocol reason (never 1011, an internal error).
    /// </summary>
    /// <param name="probeMarker">Text only the probe's answer holds, where other frames get answers of the same type.</param>
    private async Task FuzzSocketAsync(
        string path, string? opening, string? openingAnswer, Gen<string> frames, string probe, string probeAnswer, string? probeMarker = null)
    {
        await frames.Array[1, 25].SampleAsync(async run =>
        {
            await using var socket = await RawWorker.ConnectAsync(_factory, path);
            if (opening is not null)
            {
                await socket.SendTextAsync(opening);
                await socket.ReceiveTypeAsync(openingAnswer!);
            }
            try
            {
                foreach (var frame in run)
                {
                    await socket.SendTextAsync(frame);
                }
                await socket.SendTextAsync(probe);
                while (!(await socket.ReceiveTypeAsync(probeAnswer)).GetRawText().Contains(probeMarker ?? "", StringComparison.Ordinal))
                {
                }
            }
            catch (Exception ex) when (ex is InvalidOperationException or WebSocketException)
            {
                // Closed by the server: fine if the protocol said why.
                var status = await socket.WaitForCloseAsync();
                Assert.True(status is not null && status != WebSocketCloseStatus.InternalServerError,
                    $"{path} closed with {status?.ToString() ?? "no close frame"} after {string.Join(" | ", run.Select(Shorten))}");
            }
        }, iter: FuzzInputs.Iterations(12), threads: 1);
        AssertNoServerErrors();
    }

    private async Task EnsureMissionAsync()
    {
        using var content = new StringContent("""{"id":"m1","name":"fuzz target"}""", Encoding.UTF8, "application/json");
        using var response = await _client.PostAsync(new Uri("/api/missions", UriKind.Relative), content);
    }

    private void AssertNoServerErrors()
    {
        var errors = _factory.Logs.Entries.Where(e => e.Level >= LogLevel.Error).ToList();
        Assert.True(errors.Count == 0, "the server logged errors: " + string.Join("\n", errors.Take(3).Select(e => $"{e.Category}: {e.Message} {e.Exception}")));
    }

    private static string Shorten(string text) => text.Length <= 200 ? text : text[..200] + "…";
}
