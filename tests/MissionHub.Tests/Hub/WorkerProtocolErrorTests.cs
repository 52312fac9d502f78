using System.Net.WebSockets;
using System.Text;
using System.Text.Json;

namespace MissionHub.Tests.Hub;

/// <summary>Every bad worker frame gets the right <c>error</c> code and the connection lives on; oversized frames close with 1009.</summary>
public abstract class WorkerProtocolErrorTests : HubTestBase
{
    private static readonly string[] ErrorCodes =
        ["malformed_json", "invalid_message", "unknown_type", "not_registered", "already_registered", "invalid_field", "job_not_held", "unsupported_frame"];

    public static TheoryData<string, string> FramesBeforeRegistering => new()
    {
        { "{not json", "malformed_json" },
        { "[1, 2, 3]", "invalid_message" },
        { """{"worker_id":"w1"}""", "invalid_message" },
        { """{"type":42}""", "invalid_message" },
        { """{"type":"dance"}""", "unknown_type" },
        { """{"type":"heartbeat"}""", "not_registered" },
        { """{"type":"job_progress","job_id":"j1","progress":0.5}""", "not_registered" },
        { """{"type":"job_completed","job_id":"j1"}""", "not_registered" },
        { """{"type":"worker_register","worker_id":"bad id!","capabilities":{"job_types":["render"]}}""", "invalid_field" },
        { """{"type":"worker_register","worker_id":"","capabilities":{"job_types":["render"]}}""", "invalid_field" },
        { """{"type":"worker_register","worker_id":"w1","capabilities":{"job_types":[]}}""", "invalid_field" },
        { """{"type":"worker_register","worker_id":"w1"}""", "invalid_field" },
        { """{"type":"worker_register","worker_id":"w1","capabilities":{"job_types":["render"],"max_concurrent_jobs":0}}""", "invalid_field" },
    };

    [Theory]
    [MemberData(nameof(FramesBeforeRegistering))]
    public async Task BadFrameBeforeRegistering_IsAnsweredWithItsCode_AndTheConnectionCanStillRegisterAndWork(string frame, string code)
    {
        await using var worker = await RawWorker.ConnectAsync(Factory);
        await worker.SendTextAsync(frame);
        Assert.Equal(code, await worker.ReceiveErrorCodeAsync(frame));

        await AssertRegistersAndRunsAJobAsync(worker, "w-after-error");
    }

    [Fact]
    public async Task BinaryFrameBeforeRegistering_IsUnsupported_AndTheConnectionCanStillRegister()
    {
        await using var worker = await RawWorker.ConnectAsync(Factory);
        await worker.SendBinaryAsync([0x7b, 0x7d]);
        Assert.Equal("unsupported_frame", await worker.ReceiveErrorCodeAsync("a binary frame"));

        await AssertRegistersAndRunsAJobAsync(worker, "w-after-binary");
    }

    /// <summary>Frames sent while holding job <c>{job}</c>; after each, the same connection completes that job and takes the next.</summary>
    public static TheoryData<string, string> FramesAfterRegistering => new()
    {
        { "{\"type\":", "malformed_json" },
        { "[]", "invalid_message" },
        { "\"just a string\"", "invalid_message" },
        { """{"job_id":"{job}"}""", "invalid_message" },
        { """{"type":"job_teleport","job_id":"{job}"}""", "unknown_type" },
        { """{"type":"worker_register","worker_id":"w-other","capabilities":{"job_types":["render"]}}""", "already_registered" },
        { """{"type":"job_progress","job_id":"{job}","progress":1.5}""", "invalid_field" },
        { """{"type":"job_progress","job_id":"{job}","progress":-0.1}""", "invalid_field" },
        { """{"type":"job_progress","job_id":"{job}","progress":"half"}""", "invalid_field" },
        { """{"type":"job_progress","job_id":"{job}"}""", "invalid_field" },
        { """{"type":"job_progress","progress":0.5}""", "invalid_field" },
        { """{"type":"job_completed","job_id":42}""", "invalid_field" },
        { """{"type":"job_failed","job_id":"","error":"x"}""", "invalid_field" },
        { """{"type":"job_completed","job_id":"someone-elses-job"}""", "job_not_held" },
    };

    [Theory]
    [MemberData(nameof(FramesAfterRegistering))]
    public async Task BadFrameFromARegisteredWorker_IsAnsweredWithItsCode_ChangesNothing_AndTheConnectionKeepsWorking(string frame, string code)
    {
        await using var worker = await RawWorker.RegisterAsync(Factory, "w-steady", ["render"]);
        var held = await SubmitAsync("render");
        await worker.ReceiveJobAsync();
        await worker.ProgressAsync(held, 0.25);

        var sent = frame.Replace("{job}", held, StringComparison.Ordinal);
        await worker.SendTextAsync(sent);
        Assert.Equal(code, await worker.ReceiveErrorCodeAsync(sent));

        var job = await GetJobAsync(held);
        Assert.Equal(0.25, job.GetProperty("progress").GetDouble());
        Assert.Equal("w-steady", job.GetProperty("worker_id").GetString());
        await worker.CompleteAsync(held, new { ok = true });
        await WaitForStatusAsync(held, "completed");
        var next = await SubmitAsync("render");
        Assert.Equal(next, (await worker.ReceiveJobAsync()).GetProperty("id").GetString());
    }

    [Fact]
    public async Task BinaryFrameFromARegisteredWorker_IsUnsupported_AndTheWorkerStillReceivesJobs()
    {
        await using var worker = await RawWorker.RegisterAsync(Factory, "w-binary", ["render"]);
        await worker.SendBinaryAsync(Encoding.UTF8.GetBytes("""{"type":"heartbeat"}"""));
        Assert.Equal("unsupported_frame", await worker.ReceiveErrorCodeAsync("a binary frame"));

        var jobId = await SubmitAsync("render");
        Assert.Equal(jobId, (await worker.ReceiveJobAsync()).GetProperty("id").GetString());
    }

    [Fact]
    public async Task FrameOverOneMebibyte_ClosesThatSocketWith1009_WhileAnotherWorkerKeepsReceivingJobs()
    {
        await using var bystander = await RawWorker.RegisterAsync(Factory, "w-bystander", ["render"]);
        await using var sender = await RawWorker.RegisterAsync(Factory, "w-oversized", ["encode"]);

        await sender.SendTextAsync(HeartbeatOfSize(1024 * 1024 + 1));

        Assert.Equal(WebSocketCloseStatus.MessageTooBig, await sender.WaitForCloseAsync());
        for (var i = 0; i < 3; i++)
        {
            var jobId = await SubmitAsync("render");
            Assert.Equal(jobId, (await bystander.ReceiveJobAsync()).GetProperty("id").GetString());
            await bystander.CompleteAsync(jobId);
            await WaitForStatusAsync(jobId, "completed");
        }
        await Client.WaitForEventsAsync("worker_disconnected", e => e.PayloadString("worker_id") == "w-oversized", 1);
        Assert.Equal("ok", (await Client.GetJsonAsync("/api/health")).GetProperty("status").GetString());
    }

    [Fact]
    public async Task FrameOfExactlyOneMebibyte_IsAccepted()
    {
        await using var worker = await RawWorker.RegisterAsync(Factory, "w-large", ["render"]);

        await worker.SendTextAsync(HeartbeatOfSize(1024 * 1024));
        await worker.SendTextAsync("""{"type":"dance"}""");

        // The heartbeat is answered by nothing; the next frame's error proves the connection read past it.
        Assert.Equal("unknown_type", await worker.ReceiveErrorCodeAsync("the frame after a 1 MiB heartbeat"));
        var jobId = await SubmitAsync("render");
        Assert.Equal(jobId, (await worker.ReceiveJobAsync()).GetProperty("id").GetString());
    }

    [Fact]
    public async Task FiveHundredRandomFrames_EachGetAnErrorOrAreIgnored_AndNeitherTheConnectionNorTheServerFalls()
    {
        await using var worker = await RawWorker.RegisterAsync(Factory, "w-fuzzed", ["render"]);
        var random = new Random(20240604);
        var codesSeen = new HashSet<string>();

        for (var i = 0; i < 500; i++)
        {
            var frame = RandomFrame(random);
            await worker.SendTextAsync(frame);
            if (IsAcceptedSilently(frame))
            {
                continue;
            }
            var code = await worker.ReceiveErrorCodeAsync($"frame {i}: {frame}");
            Assert.True(ErrorCodes.Contains(code), $"frame {i} ({frame}) got the unknown code '{code}'");
            codesSeen.Add(code);
        }
        Assert.True(codesSeen.Count >= 5, $"the random frames should reach most checks, but only met {string.Join(", ", codesSeen)}");

        await worker.AssertNothingReceivedAsync(TimeSpan.FromMilliseconds(200));
        Assert.Equal(WebSocketState.Open, worker.Socket.State);
        var jobId = await SubmitAsync("render");
        Assert.Equal(jobId, (await worker.ReceiveJobAsync()).GetProperty("id").GetString());
        Assert.Equal("ok", (await Client.GetJsonAsync("/api/health")).GetProperty("status").GetString());
    }

    private async Task AssertRegistersAndRunsAJobAsync(RawWorker worker, string workerId)
    {
        await worker.SendAsync(new { type = "worker_register", worker_id = workerId, capabilities = new { job_types = new[] { "render" } } });
        var registered = await worker.ReceiveAsync();
        Assert.Equal("registered", registered.GetProperty("type").GetString());
        var jobId = await SubmitAsync("render");
        Assert.Equal(jobId, (await worker.ReceiveJobAsync()).GetProperty("id").GetString());
        await worker.CompleteAsync(jobId);
        await WaitForStatusAsync(jobId, "completed");
    }

    private static string HeartbeatOfSize(int bytes)
    {
        const string Head = "{\"type\":\"heartbeat\",\"pad\":\"";
        const string Tail = "\"}";
        return Head + new string('x', bytes - Head.Length - Tail.Length) + Tail;
    }

    /// <summary>The server answers every frame with one error, except a heartbeat object (valid for a registered worker).</summary>
    private static bool IsAcceptedSilently(string frame)
    {
        try
        {
            using var document = JsonDocument.Parse(frame);
            var root = document.RootElement;
            return root.ValueKind == JsonValueKind.Object && root.TryGetProperty("type", out var type)
                && type.ValueKind == JsonValueKind.String && type.GetString() == "heartbeat";
        }
        catch (JsonException)
        {
            return false;
        }
    }

    private static readonly string[] Types =
        ["worker_register", "heartbeat", "job_progress", "job_completed", "job_failed", "registered", "error", "", "HEARTBEAT", "job_progress\u0000", "ünïcode"];

    private static string RandomFrame(Random random) => random.Next(6) switch
    {
        0 => RandomText(random, random.Next(0, 80)),
        1 => Truncate(random, RandomMessage(random)),
        2 => RandomMessage(random),
        3 => RandomValue(random, depth: 0),
        4 => new string('[', random.Next(60, 120)) + new string(']', random.Next(0, 120)),
        _ => RandomMessage(random).Replace(",", random.Next(2) == 0 ? ",," : ":", StringComparison.Ordinal),
    };

    private static string RandomMessage(Random random)
    {
        var fields = new Dictionary<string, object?> { ["type"] = Types[random.Next(Types.Length)] };
        if (random.Next(3) > 0)
        {
            fields["job_id"] = random.Next(4) switch { 0 => null, 1 => random.Next(), 2 => "", _ => Guid.NewGuid().ToString() };
        }
        if (random.Next(2) == 0)
        {
            fields["progress"] = random.Next(5) switch
            {
                0 => random.NextDouble(),
                1 => random.NextDouble() * 10 - 5,
                2 => "half",
                3 => null,
                _ => new[] { 0.5 },
            };
        }
        if (random.Next(3) == 0)
        {
            fields["worker_id"] = RandomText(random, random.Next(0, 20));
            fields["capabilities"] = new { job_types = new[] { RandomText(random, random.Next(0, 10)) }, max_concurrent_jobs = random.Next(-2, 3) };
        }
        if (random.Next(4) == 0)
        {
            fields["result"] = new { value = random.Next() };
            fields["error"] = RandomText(random, random.Next(0, 30));
        }
        return JsonSerializer.Serialize(fields);
    }

    private static string RandomValue(Random random, int depth) => (depth > 3 ? random.Next(4) : random.Next(7)) switch
    {
        0 => random.Next().ToString(System.Globalization.CultureInfo.InvariantCulture),
        1 => JsonSerializer.Serialize(RandomText(random, random.Next(0, 12))),
        2 => "null",
        3 => random.Next(2) == 0 ? "true" : "false",
        4 => "[" + string.Join(",", Enumerable.Range(0, random.Next(4)).Select(_ => RandomValue(random, depth + 1))) + "]",
        _ => "{" + string.Join(",", Enumerable.Range(0, random.Next(4))
            .Select(_ => $"{JsonSerializer.Serialize(RandomText(random, random.Next(1, 8)))}:{RandomValue(random, depth + 1)}")) + "}",
    };

    private static string Truncate(Random random, string text) => text[..random.Next(text.Length)];

    private static string RandomText(Random random, int length)
    {
        const string Alphabet = "abcxyz019{}[]\":,. \\\n\tüλ✓";
        return new string([.. Enumerable.Range(0, length).Select(_ => Alphabet[random.Next(Alphabet.Length)])]);
    }
}

public sealed class SqliteWorkerProtocolErrorTests : WorkerProtocolErrorTests
{
    protected override MissionHubFactory CreateFactory(IDictionary<string, string?> settings) =>
        MissionHubFactory.WithSqlite(Folder.File("hub.db"), settings);
}

public sealed class RedisWorkerProtocolErrorTests(RedisServerFixture redis) : WorkerProtocolErrorTests, IClassFixture<RedisServerFixture>
{
    protected override MissionHubFactory CreateFactory(IDictionary<string, string?> settings) =>
        MissionHubFactory.WithRedis(redis.Server, $"hub{Guid.NewGuid():N}:", settings);
}
