using System.Net;
using System.Text;
using System.Text.Json;
using MissionHub.Events;
using MissionHub.History;
using MissionHub.Tests.Hub;

namespace MissionHub.Tests.History;

/// <summary>
/// <c>GET /api/state?at_seq=</c> against a recount the test does itself from <c>GET /api/events</c>, at seqs on both sides of
/// checkpoints, before and after a restart, and after retention; and <c>GET /api/events/chain</c> for one correlation id.
/// </summary>
public abstract class StateHistoryTests : HubTestBase
{
    private const int CheckpointEvery = 7;
    private const string ChainId = "chain-history-1";

    protected override Dictionary<string, string?> Settings => new(base.Settings)
    {
        ["MissionHub:History:CheckpointEvery"] = CheckpointEvery.ToString(System.Globalization.CultureInfo.InvariantCulture),
    };

    [Fact]
    public async Task StateAtSeq_EqualsARecountOfTheEvents_AcrossCheckpoints_AndAfterARestart()
    {
        var last = await RunWorkloadAsync();
        var events = await Client.ReadEventsAsync();
        await WaitForCheckpointAsync(last / CheckpointEvery * CheckpointEvery);

        long[] seqs = [CheckpointEvery - 1, CheckpointEvery, CheckpointEvery + 1, 2 * CheckpointEvery + 3, last];
        var before = new Dictionary<long, string>();
        foreach (var seq in seqs)
        {
            var state = await Client.GetJsonAsync($"/api/state?at_seq={seq}");
            AssertMatchesRecount(Recount.Of(events, seq), state, seq);
            Assert.Equal(seq / CheckpointEvery * CheckpointEvery, state.GetProperty("checkpoint_seq").GetInt64());
            before[seq] = Comparable(state);
        }
        // at_time: the last event at or before that time.
        var at = events[2 * CheckpointEvery].GetProperty("timestamp").GetDouble();
        var expectedSeq = events.Where(e => e.GetProperty("timestamp").GetDouble() <= at).Max(e => e.GetProperty("seq").GetInt64());
        var atTime = await Client.GetJsonAsync($"/api/state?at_time={at.ToString("R", System.Globalization.CultureInfo.InvariantCulture)}");
        Assert.Equal(expectedSeq, atTime.GetProperty("seq").GetInt64());
        AssertMatchesRecount(Recount.Of(events, expectedSeq), atTime, expectedSeq);

        // Without at_seq: the state now (a system_stats may have followed the workload).
        var now = await Client.GetJsonAsync("/api/state");
        var nowSeq = now.GetProperty("seq").GetInt64();
        Assert.Equal(nowSeq, now.GetProperty("last_seq").GetInt64());
        AssertMatchesRecount(Recount.Of(await Client.ReadEventsAsync(), nowSeq), now, nowSeq);

        Client.Dispose();
        await Factory.DisposeAsync();
        Factory = CreateFactory(Settings);
        Client = Factory.CreateClient();

        foreach (var seq in seqs)
        {
            var state = await Client.GetJsonAsync($"/api/state?at_seq={seq}");
            Assert.Equal(before[seq], Comparable(state));
            Assert.Equal(seq / CheckpointEvery * CheckpointEvery, state.GetProperty("checkpoint_seq").GetInt64());
        }
    }

    [Fact]
    public async Task Checkpoints_AreStoredCompressed_AndOnesStoredAsPlainJson_AreStillRead()
    {
        var last = await RunWorkloadAsync();
        var checkpointSeq = last / CheckpointEvery * CheckpointEvery;
        await WaitForCheckpointAsync(checkpointSeq);
        var store = Factory.Services.GetRequiredService<ICheckpointStore>();
        var stored = await store.LoadAtOrBeforeAsync(StateEpoch(await Client.GetJsonAsync("/api/state")), checkpointSeq, CancellationToken.None);
        Assert.NotNull(stored);
        var checkpoint = CheckpointCodec.Decode(stored);
        var json = JsonSerializer.SerializeToUtf8Bytes(checkpoint, HistoryJsonContext.Default.StateCheckpoint);
        Assert.Equal(checkpointSeq, checkpoint.Seq);
        Assert.NotEqual((byte)'{', stored[0]);
        Assert.True(stored.Length < json.Length, $"stored {stored.Length} bytes for {json.Length} bytes of JSON");
        var gauge = (await Client.GetStringAsync(new Uri("/metrics", UriKind.Relative))).Split('\n')
            .Single(l => l.StartsWith("missionhub_history_checkpoint_seq{", StringComparison.Ordinal));
        Assert.True(long.Parse(gauge[(gauge.LastIndexOf('}') + 2)..].Split(' ')[0], System.Globalization.CultureInfo.InvariantCulture) >= checkpointSeq, gauge);
        var at = Math.Min(checkpointSeq + 1, last);
        var before = Comparable(await Client.GetJsonAsync($"/api/state?at_seq={at}"));

        // As an earlier version stored it; a restart empties the states kept in memory, so the stored one is read.
        await store.SaveAsync(checkpoint.Epoch, checkpoint.Seq, json, CancellationToken.None);
        await Factory.DisposeAsync();
        Factory = CreateFactory(Settings);
        Client = Factory.CreateClient();
        var state = await Client.GetJsonAsync($"/api/state?at_seq={at}");
        Assert.Equal(checkpointSeq, state.GetProperty("checkpoint_seq").GetInt64());
        Assert.Equal(before, Comparable(state));
    }

    private static string StateEpoch(JsonElement state) => state.GetProperty("epoch").GetString()!;

    [Fact]
    public async Task OutOfRange_Is400NamingAtSeq_WithTheRangeThatCanBeAnswered()
    {
        var last = await RunWorkloadAsync();
        await WaitForCheckpointAsync(last / CheckpointEvery * CheckpointEvery);

        using (var beyond = await Client.GetAsync(new Uri($"/api/state?at_seq={last + 100}", UriKind.Relative)))
        {
            var problem = await beyond.AssertProblemAsync(400, "at_seq");
            Assert.Equal(0, problem.GetProperty("min_seq").GetInt64());
            Assert.True(problem.GetProperty("max_seq").GetInt64() >= last);
        }
        using (var bad = await Client.GetAsync(new Uri("/api/state?at_seq=-1", UriKind.Relative)))
        {
            await bad.AssertProblemAsync(400, "at_seq");
        }
        using (var badTime = await Client.GetAsync(new Uri("/api/state?at_time=soon", UriKind.Relative)))
        {
            await badTime.AssertProblemAsync(400, "at_time");
        }

        // Retention keeps the newest 10 events: only seqs from a checkpoint the kept events continue can be rebuilt.
        var log = Factory.Services.GetRequiredService<IEventLog>();
        await log.TrimAsync(10, null, CancellationToken.None);
        using (var trimmed = await Client.GetAsync(new Uri("/api/state?at_seq=1", UriKind.Relative)))
        {
            var problem = await trimmed.AssertProblemAsync(400, "at_seq");
            var oldest = problem.GetProperty("min_seq").GetInt64();
            Assert.True(oldest > 1 && oldest <= last, problem.ToString());
            Assert.Equal(0, oldest % CheckpointEvery);
            Assert.Equal(oldest, (await Client.GetJsonAsync($"/api/state?at_seq={oldest}")).GetProperty("seq").GetInt64());
            using var justBefore = await Client.GetAsync(new Uri($"/api/state?at_seq={oldest - 1}", UriKind.Relative));
            await justBefore.AssertProblemAsync(400, "at_seq");
        }
        var state = await Client.GetJsonAsync($"/api/state?at_seq={last}");
        Assert.Equal(last, state.GetProperty("seq").GetInt64());
    }

    [Fact]
    public async Task Chain_ListsTheEventsOfOneCorrelationId_InSeqOrder_WithElapsedTimes()
    {
        await RunWorkloadAsync();
        var expected = (await Client.ReadEventsAsync())
            .Where(e => e.GetProperty("meta").GetProperty("correlation_id").GetString() == ChainId).ToList();
        Assert.Contains(expected, e => e.GetProperty("type").GetString() == "mission.status_changed");
        Assert.Contains(expected, e => e.GetProperty("type").GetString() == "job_submitted");

        var chain = await Client.GetJsonAsync($"/api/events/chain?correlation_id={ChainId}");
        var listed = chain.GetProperty("events").EnumerateArray().ToList();
        Assert.Equal(expected.Select(e => e.GetProperty("seq").GetInt64()), listed.Select(e => e.GetProperty("seq").GetInt64()));
        Assert.Equal(expected.Select(e => e.GetProperty("id").GetString()), listed.Select(e => e.GetProperty("id").GetString()));
        Assert.Equal(0, listed[0].GetProperty("elapsed_ms").GetDouble());
        for (var i = 1; i < listed.Count; i++)
        {
            var sincePrevious = (listed[i].GetProperty("timestamp").GetDouble() - listed[i - 1].GetProperty("timestamp").GetDouble()) * 1000;
            Assert.Equal(sincePrevious, listed[i].GetProperty("since_previous_ms").GetDouble(), 0.01);
            Assert.True(listed[i].GetProperty("elapsed_ms").GetDouble() >= listed[i - 1].GetProperty("elapsed_ms").GetDouble());
        }
        Assert.False(chain.GetProperty("scan_capped").GetBoolean());

        var traceparent = listed[0].GetProperty("meta").GetProperty("traceparent").GetString()!;
        var byTrace = await Client.GetJsonAsync($"/api/events/chain?traceparent={traceparent}");
        Assert.Contains(byTrace.GetProperty("events").EnumerateArray(), e => e.GetProperty("seq").GetInt64() == listed[0].GetProperty("seq").GetInt64());

        using (var neither = await Client.GetAsync(new Uri("/api/events/chain", UriKind.Relative)))
        {
            await neither.AssertProblemAsync(400, "correlation_id");
        }
        using (var badTrace = await Client.GetAsync(new Uri("/api/events/chain?traceparent=not-a-trace", UriKind.Relative)))
        {
            await badTrace.AssertProblemAsync(400, "traceparent");
        }
    }

    /// <summary>Missions created and changed, jobs completed and failed by a worker, a cancel, a retry; returns the last seq.</summary>
    private async Task<long> RunWorkloadAsync()
    {
        var survey = await CreateMissionAsync("survey");
        var patrol = await CreateMissionAsync("patrol");
        var dock = await CreateMissionAsync("dock");
        await ChangeMissionAsync(survey, "RUNNING");
        await ChangeMissionAsync(dock, "CANCELLED");

        var parked = await SubmitAsync("parked"); // no worker serves this type: stays pending, then cancelled
        await using var worker = await RawWorker.RegisterAsync(Factory, "w-history", ["render"]);
        worker.StartHeartbeats(TimeSpan.FromSeconds(2));
        var outcomes = new[] { "complete", "fail", "complete", "retry-then-complete", "complete" };
        foreach (var outcome in outcomes)
        {
            var id = await SubmitAsync("render", maxAttempts: outcome == "retry-then-complete" ? 2 : 1);
            var job = await worker.ReceiveJobAsync();
            Assert.Equal(id, job.GetProperty("id").GetString());
            await worker.ProgressAsync(id, 0.5);
            if (outcome == "retry-then-complete")
            {
                await worker.FailAsync(id, "transient");
                Assert.Equal(id, (await worker.ReceiveJobAsync(TimeSpan.FromSeconds(10))).GetProperty("id").GetString());
            }
            if (outcome == "fail")
            {
                await worker.FailAsync(id, "broken");
                await WaitForStatusAsync(id, "failed");
            }
            else
            {
                await worker.CompleteAsync(id, new { ok = true });
                await WaitForStatusAsync(id, "completed");
            }
        }
        using (var cancel = await CancelAsync(parked))
        {
            Assert.Equal(HttpStatusCode.OK, cancel.StatusCode);
        }
        // One action followed end to end: a mission change and a job under one correlation id.
        await ChangeMissionAsync(patrol, "RUNNING", ChainId);
        await PostAsync("/api/jobs", """{"job_type": "parked", "priority": 2}""", ChainId);
        await ChangeMissionAsync(survey, "COMPLETED");
        await worker.DisposeAsync();
        await Client.WaitForEventsAsync("worker_disconnected", e => e.PayloadString("worker_id") == "w-history", 1);
        await Client.WaitForEventsAsync("worker_status_changed", e => e.PayloadString("new_status") == "offline", 1);
        var position = await Client.GetJsonAsync("/api/health");
        return position.GetProperty("last_seq").GetInt64();
    }

    private async Task WaitForCheckpointAsync(long seq) =>
        await Eventually.TrueAsync(
            async () => (await Client.GetJsonAsync("/api/state")).GetProperty("checkpoint_seq").GetInt64() >= seq,
            TimeSpan.FromSeconds(15), $"a checkpoint at seq {seq}");

    private async Task<string> CreateMissionAsync(string name) =>
        (await PostAsync("/api/missions", JsonSerializer.Serialize(new { name }))).GetProperty("id").GetString()!;

    private Task<JsonElement> ChangeMissionAsync(string id, string status, string? correlationId = null) =>
        PostAsync($"/api/missions/{id}/status", JsonSerializer.Serialize(new { status }), correlationId);

    private async Task<JsonElement> PostAsync(string path, string json, string? correlationId = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(path, UriKind.Relative))
        {
            Content = new StringContent(json, Encoding.UTF8, "application/json"),
        };
        if (correlationId is not null)
        {
            request.Headers.Add("X-Correlation-ID", correlationId);
        }
        using var response = await Client.SendAsync(request);
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, $"POST {path} answered {(int)response.StatusCode}: {body}");
        return JsonDocument.Parse(body).RootElement.Clone();
    }

    private static void AssertMatchesRecount(Recount expected, JsonElement state, long seq)
    {
        Assert.Equal(seq, state.GetProperty("seq").GetInt64());
        var counts = state.GetProperty("counts");
        foreach (var status in (string[])["pending", "assigned", "running", "completed", "failed", "cancelled"])
        {
            Assert.True(expected.Count(status) == counts.GetProperty(status).GetInt64(), $"seq {seq}: {status} {counts}");
        }
        var jobs = state.GetProperty("jobs");
        var unfinished = jobs.GetProperty("pending").EnumerateArray().Concat(jobs.GetProperty("active").EnumerateArray())
            .ToDictionary(j => j.GetProperty("id").GetString()!, j => j.GetProperty("status").GetString());
        Assert.Equal(expected.Unfinished().OrderBy(j => j.Key, StringComparer.Ordinal), unfinished.OrderBy(j => j.Key, StringComparer.Ordinal));
        foreach (var list in (string[])["completed", "failed"])
        {
            foreach (var job in jobs.GetProperty(list).EnumerateArray())
            {
                Assert.Equal(expected.Jobs[job.GetProperty("id").GetString()!], job.GetProperty("status").GetString());
            }
        }
        var workers = state.GetProperty("workers").EnumerateObject().ToDictionary(w => w.Name, w => w.Value.GetProperty("status").GetString());
        Assert.Equal(expected.Workers.OrderBy(w => w.Key, StringComparer.Ordinal), workers.OrderBy(w => w.Key, StringComparer.Ordinal));
        var missions = state.GetProperty("missions").EnumerateArray().ToDictionary(m => m.GetProperty("id").GetString()!, m => m.GetProperty("status").GetString());
        Assert.Equal(expected.Missions.OrderBy(m => m.Key, StringComparer.Ordinal), missions.OrderBy(m => m.Key, StringComparer.Ordinal));
    }

    /// <summary>What a restart must not change: everything but the log's current position.</summary>
    private static string Comparable(JsonElement state) =>
        string.Join("|", state.GetProperty("seq"), state.GetProperty("timestamp"), state.GetProperty("jobs"), state.GetProperty("counts"),
            state.GetProperty("workers"), state.GetProperty("missions"));

    /// <summary>The test's own reading of the events up to a seq: the latest status of every job, worker and mission.</summary>
    private sealed record Recount(Dictionary<string, string?> Jobs, Dictionary<string, string?> Workers, Dictionary<string, string?> Missions)
    {
        public static Recount Of(List<JsonElement> events, long through)
        {
            var recount = new Recount([], [], []);
            foreach (var evt in events.TakeWhile(e => e.GetProperty("seq").GetInt64() <= through))
            {
                var payload = evt.GetProperty("payload");
                string? S(string name) => payload.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;
                switch (evt.GetProperty("type").GetString())
                {
                    case "job_submitted": recount.Jobs[S("job_id")!] = "pending"; break;
                    case "job_assigned": recount.Jobs[S("job_id")!] = "assigned"; break;
                    case "job_status_changed": recount.Jobs[S("job_id")!] = S("new_status"); break;
                    case "job_completed": recount.Jobs[S("job_id")!] = "completed"; break;
                    case "job_failed": recount.Jobs[S("job_id")!] = "failed"; break;
                    case "worker_connected": recount.Workers[S("worker_id")!] = payload.GetProperty("worker_data").GetProperty("status").GetString(); break;
                    case "worker_status_changed": recount.Workers[S("worker_id")!] = S("new_status"); break;
                    case "worker_disconnected": recount.Workers[S("worker_id")!] = "offline"; break;
                    case "mission.created": recount.Missions[S("mission_id")!] = S("status"); break;
                    case "mission.status_changed": recount.Missions[S("mission_id")!] = S("new_status"); break;
                }
            }
            return recount;
        }

        public long Count(string status) => Jobs.Values.LongCount(s => s == status);

        public IEnumerable<KeyValuePair<string, string?>> Unfinished() => Jobs.Where(j => j.Value is "pending" or "assigned" or "running");
    }
}

public sealed class SqliteStateHistoryTests : StateHistoryTests
{
    protected override MissionHubFactory CreateFactory(IDictionary<string, string?> settings) =>
        MissionHubFactory.WithSqlite(Folder.File("history.db"), settings);
}

public sealed class RedisStateHistoryTests(RedisServerFixture redis) : StateHistoryTests, IClassFixture<RedisServerFixture>
{
    // One prefix for the test's life: a restarted server finds the log and the checkpoints the first one stored.
    private readonly string _prefix = $"history{Guid.NewGuid():N}:";

    protected override MissionHubFactory CreateFactory(IDictionary<string, string?> settings) =>
        MissionHubFactory.WithRedis(redis.Server, _prefix, settings);
}
