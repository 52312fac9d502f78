using System.Net.Http.Json;
using System.Text.Json;

namespace MissionHub.Tests.Monitor;

/// <summary>/ws/monitor through real WebSockets against the real server on SQLite.</summary>
public sealed class MonitorProtocolTests : IAsyncLifetime
{
    private readonly TempFolder _folder = new();
    private MissionHubFactory _factory = null!;
    private HttpClient _client = null!;

    public Task InitializeAsync()
    {
        _factory = MissionHubFactory.WithSqlite(_folder.File("monitor.db"), new Dictionary<string, string?>
        {
            ["MissionHub:Monitor:HeartbeatInterval"] = "00:00:00.300",
            ["MissionHub:Monitor:MaxQueuedBytes"] = "65536",
        });
        _client = _factory.CreateClient();
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        _client.Dispose();
        await _factory.DisposeAsync();
        _folder.Dispose();
    }

    private async Task<string> SubmitAsync(string jobType, int priority = 0)
    {
        using var response = await _client.PostAsJsonAsync("/api/jobs", new { job_type = jobType, priority });
        response.EnsureSuccessStatusCode();
        return (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetString()!;
    }

    private async Task<(RawWorker Monitor, JsonElement Snapshot)> ConnectMonitorAsync(object? subscribe = null)
    {
        var monitor = await RawWorker.ConnectAsync(_factory, "/ws/monitor");
        await monitor.SendAsync(new { type = "monitor_connect", monitor_id = "m-test", request_full_state = true, timestamp = 0 });
        var snapshot = await monitor.ReceiveTypeAsync("full_state_snapshot");
        if (subscribe is not null)
        {
            await monitor.SendAsync(subscribe);
            await monitor.ReceiveTypeAsync("subscribed");
        }
        return (monitor, snapshot);
    }

    [Fact]
    public async Task Connect_ReturnsTheSnapshot_ThenSubscribedEventsArriveFlatWithSeq()
    {
        await using var worker = await RawWorker.RegisterAsync(_factory, "w-snap", ["render"], slots: 2);
        var running = await SubmitAsync("render", 4);
        await worker.ReceiveJobAsync();
        var waiting = await SubmitAsync("encode");
        await _client.WaitForEventsAsync("job_submitted", e => e.PayloadString("job_id") == waiting, 1);

        var (monitor, snapshot) = await ConnectMonitorAsync(new { type = "subscribe", monitor_id = "m-test", topics = new[] { "jobs", "workers", "system_stats" } });
        await using var _ = monitor;

        var data = snapshot.GetProperty("data");
        Assert.Equal("busy", data.GetProperty("workers").GetProperty("w-snap").GetProperty("status").GetString());
        Assert.Equal([waiting], data.GetProperty("jobs").GetProperty("pending").EnumerateArray().Select(j => j.GetProperty("id").GetString()));
        Assert.Equal([running], data.GetProperty("jobs").GetProperty("active").EnumerateArray().Select(j => j.GetProperty("id").GetString()));
        Assert.Equal(1, data.GetProperty("system_stats").GetProperty("pending_jobs").GetInt64());
        Assert.Equal(1, data.GetProperty("system_stats").GetProperty("active_jobs").GetInt64());
        var snapshotSeq = snapshot.GetProperty("seq").GetInt64();
        Assert.False(string.IsNullOrEmpty(snapshot.GetProperty("epoch").GetString()));

        var third = await SubmitAsync("render", 9);
        var submitted = await monitor.ReceiveTypeAsync("job_submitted");
        Assert.Equal(third, submitted.GetProperty("job_id").GetString());
        Assert.Equal(9, submitted.GetProperty("job_data").GetProperty("priority").GetInt32());
        Assert.True(submitted.GetProperty("seq").GetInt64() > snapshotSeq);
        var ms = submitted.GetProperty("timestamp").GetInt64();
        Assert.InRange(ms, DateTimeOffset.UtcNow.AddMinutes(-1).ToUnixTimeMilliseconds(), DateTimeOffset.UtcNow.AddMinutes(1).ToUnixTimeMilliseconds());
        Assert.Equal("job_submitted", submitted.EnumerateObject().First().Name == "type" ? submitted.GetProperty("type").GetString() : "type is not first");
        var assigned = await monitor.ReceiveTypeAsync("job_assigned");
        Assert.Equal("w-snap", assigned.GetProperty("worker_id").GetString());
    }

    [Fact]
    public async Task SnapshotAndStream_AreStitched_UnderASteadyLoad_NothingLostOrDoubled()
    {
        await using var worker = await RawWorker.RegisterAsync(_factory, "w-load", ["load"], slots: 4);
        using var stop = new CancellationTokenSource();
        var submitted = new List<string>();
        var load = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                submitted.Add(await SubmitAsync("load"));
            }
        });
        var completer = Task.Run(async () =>
        {
            while (true)
            {
                JsonElement job;
                try
                {
                    job = await worker.ReceiveJobAsync(TimeSpan.FromSeconds(3));
                }
                catch (OperationCanceledException)
                {
                    return;
                }
                await worker.CompleteAsync(job.GetProperty("id").GetString()!);
            }
        });
        await Eventually.TrueAsync(() => submitted.Count > 20, TimeSpan.FromSeconds(20), "load to start");

        var (monitor, snapshot) = await ConnectMonitorAsync(new { type = "subscribe", topics = new[] { "jobs" } });
        await using var _ = monitor;
        await Eventually.TrueAsync(() => submitted.Count > 60, TimeSpan.FromSeconds(20), "more load after the snapshot");
        await stop.CancelAsync();
        await load;
        await completer;

        // Rebuild job statuses from the snapshot plus events, as a monitor would.
        var status = new Dictionary<string, string>();
        var jobs = snapshot.GetProperty("data").GetProperty("jobs");
        foreach (var list in new[] { "pending", "active", "completed", "failed" })
        {
            foreach (var job in jobs.GetProperty(list).EnumerateArray())
            {
                status[job.GetProperty("id").GetString()!] = job.GetProperty("status").GetString()!;
            }
        }
        var lastSeq = snapshot.GetProperty("seq").GetInt64();
        var seen = new HashSet<long>();
        var done = false;
        while (!done)
        {
            JsonElement evt;
            try
            {
                evt = await monitor.ReceiveAsync(TimeSpan.FromSeconds(2));
            }
            catch (OperationCanceledException)
            {
                done = true;
                continue;
            }
            var seq = evt.GetProperty("seq").GetInt64();
            Assert.True(seq > lastSeq, $"event seq {seq} after {lastSeq}: out of order or before the snapshot");
            Assert.True(seen.Add(seq), $"seq {seq} delivered twice");
            lastSeq = seq;
            var id = evt.GetProperty("job_id").GetString()!;
            switch (evt.GetProperty("type").GetString())
            {
                case "job_submitted":
                    Assert.False(status.ContainsKey(id), $"job {id} was already in the snapshot");
                    status[id] = "pending";
                    break;
                case "job_assigned":
                    Assert.Equal("pending", status[id]);
                    status[id] = "assigned";
                    break;
                case "job_status_changed":
                    status[id] = evt.GetProperty("new_status").GetString()!;
                    break;
                case "job_completed":
                    status[id] = "completed";
                    break;
            }
        }
        foreach (var id in submitted)
        {
            var actual = (await _client.GetJsonAsync($"/api/jobs/{id}")).GetProperty("status").GetString();
            if (status.TryGetValue(id, out var rebuilt))
            {
                Assert.Equal(actual, rebuilt);
            }
            else
            {
                // Only jobs finished before the snapshot and beyond its last-100 lists may be absent.
                Assert.Equal("completed", actual);
            }
        }
        Assert.All(submitted.TakeLast(30), id => Assert.True(status.ContainsKey(id), $"job {id} submitted after the snapshot is missing"));
    }

    [Fact]
    public async Task Filters_DeliverExactlyTheMatchingEvents()
    {
        var (byType, _) = await ConnectMonitorAsync(new { type = "subscribe", topics = new[] { "jobs" }, filters = new { job_types = new[] { "render" } } });
        var (byPriority, _) = await ConnectMonitorAsync(new { type = "subscribe", topics = new[] { "jobs:status" }, filters = new { priority_range = new[] { 5, 10 } } });
        var (byWorker, _) = await ConnectMonitorAsync(new { type = "subscribe", topics = new[] { "jobs", "workers" }, filters = new { worker_ids = new[] { "w-b" } } });
        var (progressOnly, _) = await ConnectMonitorAsync(new { type = "subscribe", topics = new[] { "jobs:progress" } });
        await using var m1 = byType;
        await using var m2 = byPriority;
        await using var m3 = byWorker;
        await using var m4 = progressOnly;
        await using var workerA = await RawWorker.RegisterAsync(_factory, "w-a", ["render"]);
        await using var workerB = await RawWorker.RegisterAsync(_factory, "w-b", ["encode"]);

        var render = await SubmitAsync("render", 7);
        var encode = await SubmitAsync("encode", 1);
        foreach (var (worker, id) in new[] { (workerA, render), (workerB, encode) })
        {
            await worker.ReceiveJobAsync();
            await worker.ProgressAsync(id, 0.5);
            await worker.CompleteAsync(id);
            // One job after the other: the two workers' frames would otherwise race.
            await _client.WaitForEventsAsync("job_completed", e => e.PayloadString("job_id") == id, 1);
        }
        await _client.WaitForEventsAsync("job_completed", _ => true, 2);
        var marker = await SubmitAsync("marker", 8); // the last event every job monitor can see

        async Task<List<JsonElement>> Drain(RawWorker monitor, Func<JsonElement, bool> isLast)
        {
            var frames = new List<JsonElement>();
            while (true)
            {
                var frame = await monitor.ReceiveAsync();
                frames.Add(frame);
                if (isLast(frame))
                {
                    return frames;
                }
            }
        }
        static string Describe(JsonElement e) => $"{e.GetProperty("type").GetString()}:{(e.TryGetProperty("job_id", out var j) ? j.GetString() : e.GetProperty("worker_id").GetString())}";

        var typeFrames = await Drain(byType, e => e.GetProperty("type").GetString() == "job_completed");
        Assert.All(typeFrames, e => Assert.Equal(render, e.GetProperty("job_id").GetString()));
        Assert.Equal(["job_submitted", "job_assigned", "job_status_changed", "job_progress", "job_completed"], typeFrames.Select(e => e.GetProperty("type").GetString()));

        var priorityFrames = await Drain(byPriority, e => e.TryGetProperty("job_id", out var j) && j.GetString() == marker);
        Assert.Equal([$"job_submitted:{render}", $"job_assigned:{render}", $"job_status_changed:{render}", $"job_completed:{render}", $"job_submitted:{marker}"],
            priorityFrames.Select(Describe));

        var workerFrames = await Drain(byWorker, e => e.GetProperty("type").GetString() == "job_completed");
        Assert.All(workerFrames, e => Assert.True(
            (e.TryGetProperty("worker_id", out var w) && w.GetString() == "w-b") || (e.TryGetProperty("job_id", out var j) && j.GetString() == encode),
            $"unexpected {e}"));
        Assert.Contains(workerFrames, e => e.GetProperty("type").GetString() == "worker_connected");
        Assert.DoesNotContain(workerFrames, e => e.TryGetProperty("job_id", out var j) && j.GetString() == render);

        var progressFrames = await Drain(progressOnly, e => e.GetProperty("job_id").GetString() == encode);
        Assert.Equal([render, encode], progressFrames.Select(e => e.GetProperty("job_id").GetString()));
        Assert.All(progressFrames, e => Assert.Equal("job_progress", e.GetProperty("type").GetString()));
    }

    [Fact]
    public async Task Subscribe_ToEveryTopicAtOnce_IsAccepted()
    {
        var (monitor, _) = await ConnectMonitorAsync(new
        {
            type = "subscribe",
            topics = new[] { "workers", "jobs", "jobs:progress", "jobs:status", "system_stats", "heartbeat", "missions", "agents", "supervisor", "telemetry", "metrics" },
        });
        await using var _ = monitor;

        var id = await SubmitAsync("render");
        Assert.Equal(id, (await monitor.ReceiveTypeAsync("job_submitted")).GetProperty("job_id").GetString());
    }

    [Fact]
    public async Task Heartbeat_IsAcknowledged_AndTheHeartbeatTopicTicks()
    {
        var (monitor, snapshot) = await ConnectMonitorAsync(new { type = "subscribe", topics = new[] { "heartbeat" } });
        await using var _ = monitor;

        await monitor.SendAsync(new { type = "heartbeat", monitor_id = "m-test", timestamp = 1 });
        var ack = await monitor.ReceiveTypeAsync("heartbeat_ack");
        Assert.Equal(0, ack.GetProperty("events_missed").GetInt64());
        Assert.Equal("m-test", ack.GetProperty("monitor_id").GetString());
        Assert.True(ack.GetProperty("server_timestamp").GetInt64() > 0);
        var tick = await monitor.ReceiveTypeAsync("heartbeat");
        Assert.True(tick.GetProperty("last_seq").GetInt64() >= snapshot.GetProperty("seq").GetInt64());
    }

    [Fact]
    public async Task Resync_ByLastSeq_ReplaysExactlyTheMissedEvents_ThenGoesLive()
    {
        var (monitor, snapshot) = await ConnectMonitorAsync();
        await using var _ = monitor;
        var epoch = snapshot.GetProperty("epoch").GetString();
        var from = snapshot.GetProperty("seq").GetInt64();
        var missed = new List<string>();
        for (var i = 0; i < 7; i++)
        {
            missed.Add(await SubmitAsync(i % 2 == 0 ? "render" : "encode"));
        }

        await monitor.SendAsync(new { type = "resync_request", monitor_id = "m-test", last_seq = from, epoch, topics = new[] { "jobs" }, filters = new { job_types = new[] { "render" } } });
        var replayed = new List<JsonElement>();
        while (true)
        {
            var chunk = await monitor.ReceiveTypeAsync("resync_data");
            Assert.True(chunk.GetProperty("recovered").GetBoolean());
            replayed.AddRange(chunk.GetProperty("events").EnumerateArray());
            if (chunk.GetProperty("done").GetBoolean())
            {
                break;
            }
        }
        Assert.Equal(missed.Where((_, i) => i % 2 == 0), replayed.Select(e => e.GetProperty("job_id").GetString()));
        Assert.Equal(replayed.Select(e => e.GetProperty("seq").GetInt64()).Order(), replayed.Select(e => e.GetProperty("seq").GetInt64()));

        var live = await SubmitAsync("render");
        var next = await monitor.ReceiveTypeAsync("job_submitted");
        Assert.Equal(live, next.GetProperty("job_id").GetString());
    }

    [Fact]
    public async Task Resync_ByTimestamp_ReplaysEventsAfterThatMillisecond()
    {
        var (monitor, _) = await ConnectMonitorAsync(new { type = "subscribe", topics = new[] { "jobs:status" } });
        await using var m = monitor;
        await SubmitAsync("render");
        var first = await monitor.ReceiveTypeAsync("job_submitted");
        var later = await SubmitAsync("render");
        await monitor.ReceiveTypeAsync("job_submitted");

        await monitor.SendAsync(new { type = "resync_request", last_event_timestamp = first.GetProperty("timestamp").GetInt64(), topics = new[] { "jobs:status" } });
        var chunk = await monitor.ReceiveTypeAsync("resync_data");
        var ids = chunk.GetProperty("events").EnumerateArray().Select(e => e.GetProperty("job_id").GetString()).ToList();
        Assert.Contains(later, ids);
        Assert.True(chunk.GetProperty("recovered").GetBoolean());
    }

    [Fact]
    public async Task Resync_FromAnotherEpoch_IsNotRecovered()
    {
        var (monitor, _) = await ConnectMonitorAsync(new { type = "subscribe", topics = new[] { "jobs" } });
        await using var m = monitor;

        await monitor.SendAsync(new { type = "resync_request", last_seq = 0, epoch = "0000000000000000", topics = new[] { "jobs" } });
        var answer = await monitor.ReceiveTypeAsync("resync_data");

        Assert.False(answer.GetProperty("recovered").GetBoolean());
        Assert.Empty(answer.GetProperty("events").EnumerateArray());
        Assert.Contains("epoch", answer.GetProperty("reason").GetString(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("{not json", "malformed_json")]
    [InlineData("[1,2]", "invalid_message")]
    [InlineData("{\"type\":\"dance\"}", "unknown_type")]
    [InlineData("{\"type\":\"subscribe\",\"topics\":[\"jobs\"]}", "not_connected")]
    public async Task BadFrames_GetAnErrorCode_AndTheConnectionKeepsWorking(string frame, string code)
    {
        await using var monitor = await RawWorker.ConnectAsync(_factory, "/ws/monitor");

        await monitor.SendTextAsync(frame);
        var error = await monitor.ReceiveTypeAsync("error");
        Assert.Equal(code, error.GetProperty("code").GetString());

        await monitor.SendAsync(new { type = "heartbeat" });
        await monitor.ReceiveTypeAsync("heartbeat_ack");
    }

    [Theory]
    [InlineData("{\"type\":\"subscribe\",\"topics\":[\"jobs\",\"gossip\"]}", "invalid_topics")]
    [InlineData("{\"type\":\"subscribe\",\"topics\":[\"jobs\"],\"filters\":{\"priority_range\":[10,1]}}", "invalid_filter")]
    [InlineData("{\"type\":\"subscribe\",\"topics\":[\"jobs\"],\"filters\":{\"priority_range\":[\"low\",\"high\"]}}", "invalid_filter")]
    [InlineData("{\"type\":\"subscribe\",\"topics\":[\"jobs\"],\"filters\":{\"colour\":[\"red\"]}}", "invalid_filter")]
    [InlineData("{\"type\":\"resync_request\",\"last_seq\":\"ten\"}", "invalid_field")]
    public async Task BadSubscriptions_GetAnErrorCode_AndThePreviousSubscriptionStays(string frame, string code)
    {
        var (monitor, _) = await ConnectMonitorAsync(new { type = "subscribe", topics = new[] { "jobs" } });
        await using var m = monitor;

        await monitor.SendTextAsync(frame);
        var error = await monitor.ReceiveTypeAsync("error");
        Assert.Equal(code, error.GetProperty("code").GetString());

        var id = await SubmitAsync("render");
        Assert.Equal(id, (await monitor.ReceiveTypeAsync("job_submitted")).GetProperty("job_id").GetString());
    }

    [Fact]
    public async Task OversizedFrame_GetsAnError_AndTheConnectionKeepsWorking()
    {
        await using var monitor = await RawWorker.ConnectAsync(_factory, "/ws/monitor");

        await monitor.SendTextAsync("{\"type\":\"heartbeat\",\"pad\":\"" + new string('x', 70 * 1024) + "\"}");
        Assert.Equal("frame_too_large", (await monitor.ReceiveTypeAsync("error")).GetProperty("code").GetString());

        await monitor.SendAsync(new { type = "heartbeat" });
        await monitor.ReceiveTypeAsync("heartbeat_ack");
    }
}
