using System.Diagnostics;
using System.Net.Http.Json;
using System.Text.Json;
using MissionHub.Client;
using Xunit.Abstractions;

namespace MissionHub.Tests.Monitor;

/// <summary>
/// <see cref="MonitorClient"/> against the real server: its reconstructed state equals the server's after a
/// randomized workload with dropped connections and a restart, and a stalled client recovers exactly.
/// </summary>
public sealed class MonitorClientTests(ITestOutputHelper output)
{
    private static readonly string[] JobTypes = ["render", "scan", "index", "archive"]; // nobody takes "archive"
    private static readonly string[] HubEventTypes =
        ["worker_connected", "worker_disconnected", "worker_status_changed", "job_*", "system_stats"];

    private static Dictionary<string, string?> Settings() => new()
    {
        ["MissionHub:Hub:WorkerHeartbeatTimeout"] = "00:10:00",
        ["MissionHub:Hub:RetryBaseDelay"] = "00:00:00.020",
        ["MissionHub:Hub:RetryMaxDelay"] = "00:00:00.100",
        ["MissionHub:Hub:RestartGracePeriod"] = "00:00:02",
    };

    [Fact]
    public async Task ConsistencyProof_RandomizedWorkload_WithDropsAndARestart_StateEqualsServer_NoEventMissedOrDoubled()
    {
        const int seed = 20240611;
        const int operations = 10_000;
        const int concurrency = 48;
        int[] dropsAt = [2_000, 5_500, 8_000];
        const int restartAt = 4_000;

        using var folder = new TempFolder();
        var path = folder.File("proof.db");
        var port = MissionHubFactory.FreePort();
        var factory = MissionHubFactory.WithSqlite(path, Settings(), port);
        var http = factory.CreateClient();
        var baseAddress = factory.BaseAddress;
        var clock = Stopwatch.StartNew();
        var sim = new Simulation(new Random(seed));
        try
        {
            await using var monitor = new MonitorClient(new MonitorClientOptions
            {
                Server = baseAddress,
                HeartbeatInterval = TimeSpan.FromMilliseconds(500),
                ReconnectMinDelay = TimeSpan.FromMilliseconds(50),
                ReconnectMaxDelay = TimeSpan.FromMilliseconds(500),
            });
            var applied = new List<long>();
            monitor.EventApplied += (_, e) => applied.Add(e.Seq); // the receive loop is the only caller
            using var stop = new CancellationTokenSource();
            var running = monitor.RunAsync(stop.Token);
            await Eventually.TrueAsync(() => monitor.Snapshots == 1, TimeSpan.FromSeconds(10), "the first snapshot");
            var firstSeq = monitor.LastSeq;

            for (var i = 0; i < 12; i++)
            {
                sim.Workers.Add(new SimWorker($"w{i:00}",
                    [.. JobTypes[..3].Where((_, k) => ((i + 1) >> k & 1) == 1 || k == i % 3)], 1 + (i % 3)));
            }
            await Task.WhenAll(sim.Workers.Select(w => w.ConnectAsync(factory)));

            var done = 0;
            while (done < operations)
            {
                var count = Math.Min(concurrency, operations - done);
                var batch = Enumerable.Range(0, count).Select(_ => sim.Next()).ToList();
                await Task.WhenAll(batch.Select(op => op(http, factory)));
                var before = done;
                done += count;
                if (dropsAt.Any(at => before < at && at <= done))
                {
                    // Drop a live connection (not one still coming back from the previous drop or the restart).
                    await Eventually.TrueAsync(() => monitor.IsLive, TimeSpan.FromSeconds(30), "the monitor to be connected before the drop");
                    monitor.AbortConnection();
                }
                if (before < restartAt && restartAt <= done)
                {
                    // The server goes away with everything in flight; the monitor must find it again by itself.
                    http.Dispose();
                    await factory.DisposeAsync();
                    factory = MissionHubFactory.WithSqlite(path, Settings(), port);
                    http = factory.CreateClient();
                    Assert.Equal(baseAddress, factory.BaseAddress);
                    await Task.WhenAll(sim.Workers.Select(w => w.ConnectAsync(factory)));
                }
            }
            var workloadTime = clock.Elapsed;

            // Quiet: no new event for a while (retries and the stats publisher settle).
            var (head, quietPolls) = (-1L, 0);
            await Eventually.TrueAsync(async () =>
            {
                var now = (await http.GetJsonAsync("/api/health")).GetProperty("last_seq").GetInt64();
                quietPolls = now == head ? quietPolls + 1 : 0;
                head = now;
                return quietPolls >= 15; // ~300 ms without a new event
            }, TimeSpan.FromSeconds(30), "the hub to go quiet");
            var expected = (await http.ReadEventsAsync(string.Join(',', HubEventTypes), firstSeq))
                .Select(e => e.GetProperty("seq").GetInt64()).ToList();
            await Eventually.TrueAsync(() => monitor.LastSeq >= expected[^1], TimeSpan.FromSeconds(30), $"the monitor to reach seq {expected[^1]}");
            var state = monitor.GetState();

            // Every hub event once, in order: none missed across three drops and a restart, none applied twice.
            Assert.Equal(expected.Count, applied.Count);
            Assert.Equal(expected, applied);
            Assert.Equal(0, monitor.DuplicatesIgnored);
            Assert.Equal(1, monitor.Snapshots); // every gap was replayed, none needed a new snapshot
            Assert.True(monitor.Reconnects >= 4, $"reconnects {monitor.Reconnects}");
            Assert.True(monitor.Resyncs >= 4, $"resyncs {monitor.Resyncs}");

            // Unfinished jobs as the server stores them (REST).
            var stored = new List<JsonElement>();
            foreach (var status in new[] { "pending", "assigned", "running" })
            {
                stored.AddRange(await ListJobsAsync(http, status));
            }
            SameLines(
                stored.Select(j => $"{j.GetProperty("id")} {j.GetProperty("status")} {Str(j, "worker_id")} {j.GetProperty("job_type")} {j.GetProperty("priority")} {j.GetProperty("attempts")}")
                    .Order(StringComparer.Ordinal),
                state.Jobs.Values.Select(j => $"{j.Id} {j.Status} {j.WorkerId} {j.JobType} {j.Priority} {j.Attempts}").Order(StringComparer.Ordinal), "unfinished jobs vs REST");

            // Everything else (progress, workers, stats, newest finished) as a fresh monitor's snapshot shows it.
            var fresh = await FreshSnapshotAsync(factory);
            var data = fresh.GetProperty("data");
            var freshJobs = data.GetProperty("jobs");
            SameLines(
                freshJobs.GetProperty("pending").EnumerateArray().Concat(freshJobs.GetProperty("active").EnumerateArray()).Select(Describe).Order(StringComparer.Ordinal),
                state.Jobs.Values.Select(Describe).Order(StringComparer.Ordinal), "unfinished jobs vs snapshot");
            Assert.Equal(freshJobs.GetProperty("completed").EnumerateArray().Select(Describe), state.Completed.Select(Describe));
            Assert.Equal(freshJobs.GetProperty("failed").EnumerateArray().Select(Describe), state.Failed.Select(Describe));
            foreach (var job in state.Completed.Concat(state.Failed))
            {
                Assert.Equal(job.Status, (await http.GetJsonAsync($"/api/jobs/{job.Id}")).GetProperty("status").GetString());
            }
            SameLines(
                data.GetProperty("workers").EnumerateObject().Select(w => DescribeWorkerJson(w.Value)).Order(StringComparer.Ordinal),
                state.Workers.Values.Select(Describe).Order(StringComparer.Ordinal), "workers vs snapshot");
            var stats = data.GetProperty("system_stats");
            Assert.Equal(
                new MonitorSystemStats(stats.GetProperty("total_workers").GetInt64(), stats.GetProperty("active_workers").GetInt64(),
                    stats.GetProperty("total_jobs").GetInt64(), stats.GetProperty("pending_jobs").GetInt64(), stats.GetProperty("active_jobs").GetInt64(),
                    stats.GetProperty("completed_jobs").GetInt64(), stats.GetProperty("failed_jobs").GetInt64(),
                    stats.GetProperty("cancelled_jobs").GetInt64()),
                state.SystemStats);
            Assert.True(state.Completed.Count > 0 && state.Failed.Count > 0 && state.Jobs.Count > 0, "the workload should leave jobs in every state");

            output.WriteLine($"{operations} ops ({sim.Describe()}) in {workloadTime.TotalSeconds:0.0} s; {applied.Count} hub events applied " +
                $"(seq {firstSeq}..{expected[^1]}); resyncs {monitor.Resyncs}, reconnects {monitor.Reconnects}, snapshots {monitor.Snapshots}; " +
                $"{state.Jobs.Count} unfinished, {state.Workers.Count} workers; total {clock.Elapsed.TotalSeconds:0.0} s");
            await stop.CancelAsync();
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => running);
        }
        finally
        {
            foreach (var worker in sim.Workers)
            {
                await worker.DisposeAsync();
            }
            http.Dispose();
            await factory.DisposeAsync();
        }
    }

    [Fact]
    public async Task StalledClient_IsToldExactlyWhatItMissed_AndItsOwnResyncMakesItsStateCorrect()
    {
        using var folder = new TempFolder();
        // The default 1 MiB queue per monitor; the stalled one also fills its socket buffers first.
        await using var factory = MissionHubFactory.WithSqlite(folder.File("stalled.db"));
        using var http = factory.CreateClient();
        MonitorClient NewClient() => new(new MonitorClientOptions
        {
            Server = factory.BaseAddress,
            Topics = ["workers", "jobs", "system_stats", "missions"],
            HeartbeatInterval = TimeSpan.FromMilliseconds(100),
        });
        await using var stalled = NewClient();
        await using var reading = NewClient();
        var missedReports = new List<long>();
        stalled.MissedReported += (_, count) => missedReports.Add(count);
        var live = new List<long>();
        var replayed = new List<long>();
        var inResync = false;
        stalled.EventApplied += (_, e) => (inResync ? replayed : live).Add(e.Seq);
        stalled.MissedReported += (_, _) => inResync = true; // the client resyncs on the first report; replayed events follow
        using var stop = new CancellationTokenSource();
        var runs = new[] { stalled.RunAsync(stop.Token), reading.RunAsync(stop.Token) };
        await Eventually.TrueAsync(() => stalled.IsSubscribed && reading.IsSubscribed, TimeSpan.FromSeconds(10), "both monitors subscribed");
        var firstSeq = stalled.LastSeq;
        await using var worker = await RawWorker.RegisterAsync(factory, "slow-w1", ["render"], slots: 2);

        stalled.PauseReading();
        // Big mission events overflow the stalled monitor's queue and socket buffers; jobs change state meanwhile.
        var publisher = factory.Services.GetRequiredService<MissionHub.Events.IEventPublisher>();
        var padding = new string('x', 50_000);
        var jobIds = new List<string>();
        for (var i = 0; i < 300; i++)
        {
            Assert.NotNull(await publisher.PublishAsync("mission.load_test", "missions_service", null,
                JsonSerializer.SerializeToElement(new { mission_id = $"bulk-{i}", padding })));
            if (i % 3 == 0)
            {
                jobIds.Add(await SubmitAsync(http, new { job_type = i % 2 == 0 ? "render" : "scan", priority = i % 5 }));
            }
            if (i % 30 == 29)
            {
                var job = await worker.ReceiveJobAsync();
                await worker.ProgressAsync(job.GetProperty("id").GetString()!, 0.5);
                if (i % 60 == 59)
                {
                    await worker.CompleteAsync(job.GetProperty("id").GetString()!, new { ok = true });
                }
                else
                {
                    await worker.FailAsync(job.GetProperty("id").GetString()!, "boom");
                }
            }
        }
        using (var cancel = await http.PostAsync(new Uri($"/api/jobs/{jobIds[^1]}/cancel", UriKind.Relative), null))
        {
            cancel.EnsureSuccessStatusCode();
        }
        var head = (await http.GetJsonAsync("/api/health")).GetProperty("last_seq").GetInt64();
        await Eventually.TrueAsync(() => reading.LastSeq >= head, TimeSpan.FromSeconds(20), "the reading monitor to keep up");
        Assert.Equal(0, reading.MissedReports);
        // The hub has finished counting what the stalled monitor missed once its count stops moving.
        var monitorState = factory.Services.GetRequiredService<MissionHub.Monitor.MonitorState>();
        var (lastCount, steadyPolls) = (-1L, 0);
        await Eventually.TrueAsync(() =>
        {
            var count = monitorState.MissedEvents;
            steadyPolls = count > 0 && count == lastCount ? steadyPolls + 1 : 0;
            lastCount = count;
            return steadyPolls >= 25; // ~0.5 s: several heartbeats (every 100 ms) are answered with the final count
        }, TimeSpan.FromSeconds(20), "the hub's missed count for the stalled monitor to settle");

        stalled.ResumeReading();
        await Eventually.TrueAsync(() => stalled.LastSeq >= head && stalled.IsLive, TimeSpan.FromSeconds(30), "the stalled monitor to resync");

        var expected = (await http.ReadEventsAsync(string.Join(',', [.. HubEventTypes, "mission.*"]), firstSeq))
            .Select(e => e.GetProperty("seq").GetInt64()).ToList();
        Assert.True(replayed.Count > 0, "the stalled monitor must have fallen behind for this test to mean anything");
        // What it got live, then what the resync replayed: every event once, in order.
        Assert.Equal(expected, live.Concat(replayed));
        // The server's count of what it missed is exact: the resync replayed precisely that many.
        Assert.Equal(replayed.Count, missedReports.Max());
        Assert.Equal(1, stalled.Snapshots);
        Assert.Equal(0, stalled.DuplicatesIgnored);

        var fresh = await FreshSnapshotAsync(factory);
        var freshJobs = fresh.GetProperty("data").GetProperty("jobs");
        foreach (var client in new[] { stalled, reading })
        {
            var state = client.GetState();
            SameLines(
                freshJobs.GetProperty("pending").EnumerateArray().Concat(freshJobs.GetProperty("active").EnumerateArray()).Select(Describe).Order(StringComparer.Ordinal),
                state.Jobs.Values.Select(Describe).Order(StringComparer.Ordinal), "unfinished jobs vs snapshot");
            Assert.Equal(freshJobs.GetProperty("completed").EnumerateArray().Select(Describe), state.Completed.Select(Describe));
            Assert.Equal(freshJobs.GetProperty("failed").EnumerateArray().Select(Describe), state.Failed.Select(Describe));
            SameLines(
                fresh.GetProperty("data").GetProperty("workers").EnumerateObject().Select(w => DescribeWorkerJson(w.Value)).Order(StringComparer.Ordinal),
                state.Workers.Values.Select(Describe).Order(StringComparer.Ordinal), "workers vs snapshot");
        }
        output.WriteLine($"live {live.Count}, missed and replayed {replayed.Count}, reports {string.Join(",", missedReports)}");
        await stop.CancelAsync();
        foreach (var run in runs)
        {
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => run);
        }
    }

    [Fact]
    public async Task ServerWithAnotherLog_ResyncIsNotRecovered_AndTheClientTakesAFreshSnapshot()
    {
        using var folder = new TempFolder();
        var port = MissionHubFactory.FreePort();
        var first = MissionHubFactory.WithSqlite(folder.File("first.db"), port: port);
        await using var monitor = new MonitorClient(new MonitorClientOptions
        {
            Server = first.BaseAddress,
            ReconnectMinDelay = TimeSpan.FromMilliseconds(50),
            ReconnectMaxDelay = TimeSpan.FromMilliseconds(300),
        });
        using var stop = new CancellationTokenSource();
        var running = monitor.RunAsync(stop.Token);
        using (var http = first.CreateClient())
        {
            await SubmitAsync(http, new { job_type = "old" });
        }
        await Eventually.TrueAsync(() => monitor.GetState().Jobs.Count == 1, TimeSpan.FromSeconds(10), "the first server's job");
        var oldEpoch = monitor.Epoch;
        await first.DisposeAsync();

        // Same address, another database: the client's epoch and seq mean nothing there.
        await using var second = MissionHubFactory.WithSqlite(folder.File("second.db"), port: port);
        using var client = second.CreateClient();
        var id = await SubmitAsync(client, new { job_type = "new", priority = 7 });
        await Eventually.TrueAsync(() => monitor.Snapshots == 2 && monitor.GetState().Jobs.ContainsKey(id), TimeSpan.FromSeconds(15), "a fresh snapshot from the new server");
        var state = monitor.GetState();
        Assert.NotEqual(oldEpoch, state.Epoch);
        Assert.Equal([id], state.Jobs.Keys);
        Assert.Equal(7, state.Jobs[id].Priority);
        Assert.True(monitor.Resyncs >= 1);
        await stop.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => running);
    }

    // ---- helpers ----

    /// <summary>Equal as sets of lines, failing with just the lines that differ.</summary>
    private static void SameLines(IEnumerable<string> expected, IEnumerable<string> actual, string what)
    {
        var e = expected.ToList();
        var a = actual.ToList();
        var missing = e.Except(a).ToList();
        var extra = a.Except(e).ToList();
        Assert.True(missing.Count == 0 && extra.Count == 0 && e.Count == a.Count,
            $"{what}: {e.Count} expected, {a.Count} actual\nonly expected:\n  {string.Join("\n  ", missing.Take(10))}\nonly actual:\n  {string.Join("\n  ", extra.Take(10))}");
    }

    private static async Task<JsonElement> FreshSnapshotAsync(MissionHubFactory factory)
    {
        await using var monitor = await RawWorker.ConnectAsync(factory, "/ws/monitor");
        await monitor.SendAsync(new { type = "monitor_connect", request_full_state = true });
        return await monitor.ReceiveTypeAsync("full_state_snapshot");
    }

    private static async Task<List<JsonElement>> ListJobsAsync(HttpClient http, string status)
    {
        var jobs = new List<JsonElement>();
        string? cursor = null;
        do
        {
            var page = await http.GetJsonAsync($"/api/jobs?status={status}&limit=500" + (cursor is null ? "" : $"&cursor={cursor}"));
            jobs.AddRange(page.GetProperty("jobs").EnumerateArray());
            cursor = Str(page, "next_cursor");
        }
        while (cursor is not null);
        return jobs;
    }

    private static async Task<string> SubmitAsync(HttpClient http, object job)
    {
        using var response = await http.PostAsJsonAsync("/api/jobs", job);
        response.EnsureSuccessStatusCode();
        return (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetString()!;
    }

    private static string? Str(JsonElement element, string name) =>
        element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;

    private static string Describe(JsonElement j) => string.Join(' ',
        j.GetProperty("id"), j.GetProperty("status"), Str(j, "worker_id"), j.GetProperty("job_type"), j.GetProperty("priority"),
        j.GetProperty("attempts"), j.GetProperty("progress").GetDouble(), j.GetProperty("created_at").GetDouble(),
        j.GetProperty("assigned_at").ValueKind == JsonValueKind.Null ? null : j.GetProperty("assigned_at").GetDouble(),
        j.GetProperty("completed_at").ValueKind == JsonValueKind.Null ? null : j.GetProperty("completed_at").GetDouble(), Str(j, "error"));

    private static string Describe(MonitorJobState j) => string.Join(' ',
        j.Id, j.Status, j.WorkerId, j.JobType, j.Priority, j.Attempts, j.Progress, j.CreatedAt, j.AssignedAt, j.CompletedAt, j.Error);

    private static string DescribeWorker(string id, string status, IEnumerable<string> types, int slots, string connectedAt, IEnumerable<string> jobs) =>
        $"{id} {status} [{string.Join(',', types)}] {slots} {connectedAt} [{string.Join(',', jobs.Order(StringComparer.Ordinal))}]";

    private static string Describe(MonitorWorkerState w) => DescribeWorker(w.Id, w.Status, w.JobTypes, w.MaxConcurrentJobs, w.ConnectedAt, w.CurrentJobs);

    private static string DescribeWorkerJson(JsonElement w) => DescribeWorker(
        w.GetProperty("id").GetString()!, w.GetProperty("status").GetString()!,
        w.GetProperty("capabilities").GetProperty("job_types").EnumerateArray().Select(t => t.GetString()!),
        w.GetProperty("capabilities").GetProperty("max_concurrent_jobs").GetInt32(), w.GetProperty("connected_at").GetString()!,
        w.GetProperty("current_jobs").EnumerateArray().Select(t => t.GetString()!));

    /// <summary>The randomized workload: each call picks the next operation (seeded), against whatever the hub holds now.</summary>
    private sealed class Simulation(Random random)
    {
        private readonly List<string> _jobs = [];
        private readonly List<string> _missions = [];
        private readonly Dictionary<string, int> _counts = [];
        private readonly Lock _lock = new();

        public List<SimWorker> Workers { get; } = [];

        public string Describe()
        {
            lock (_lock)
            {
                return string.Join(", ", _counts.OrderBy(c => c.Key, StringComparer.Ordinal).Select(c => $"{c.Key} {c.Value}"));
            }
        }

        private void Count(string op)
        {
            lock (_lock)
            {
                _counts[op] = _counts.GetValueOrDefault(op) + 1;
            }
        }

        public Func<HttpClient, MissionHubFactory, Task> Next()
        {
            var roll = random.Next(100);
            var pick = random.Next();
            var value = random.NextDouble();
            var worker = Workers[pick % Workers.Count];
            return roll switch
            {
                < 30 => (http, _) => Submit(http, pick, value),
                < 48 => (http, _) => WithHeldJob(worker, http, pick, value, (w, id) => w.SendAsync(new { type = "job_progress", job_id = id, progress = Math.Round(value, 3) }, null), "progress"),
                < 64 => (http, _) => WithHeldJob(worker, http, pick, value, (w, id) => w.SendAsync(new { type = "job_completed", job_id = id, result = new { n = pick % 1000 } }, id), "complete"),
                < 71 => (http, _) => WithHeldJob(worker, http, pick, value, (w, id) => w.SendAsync(new { type = "job_failed", job_id = id, error = $"error {pick % 7}" }, id), "fail"),
                < 76 => (http, _) => Cancel(http, pick, value),
                < 79 => (http, _) => Drop(worker, http, pick, value),
                < 83 => (http, factory) => Register(worker, factory, http, pick, value),
                < 91 => (http, _) => CreateMission(http, pick),
                _ => (http, _) => ChangeMission(http, pick, value),
            };
        }

        private async Task Submit(HttpClient http, int pick, double value)
        {
            Count("submit");
            var id = await SubmitAsync(http, new
            {
                job_type = JobTypes[pick % JobTypes.Length],
                priority = (pick / 7 % 11) - 5,
                max_attempts = 1 + (pick / 3 % 3),
                workflow_id = value < 0.2 ? $"wf-{pick % 5}" : null,
                payload = new { n = pick },
            });
            lock (_lock)
            {
                _jobs.Add(id);
            }
        }

        private async Task WithHeldJob(SimWorker worker, HttpClient http, int pick, double value, Func<SimWorker, string, Task> act, string op)
        {
            if (worker.TakeHeld(pick) is { } jobId)
            {
                Count(op);
                await act(worker, jobId);
                return;
            }
            await Submit(http, pick, value); // nothing held: the operation becomes a submission
        }

        private async Task Cancel(HttpClient http, int pick, double value)
        {
            string? id;
            lock (_lock)
            {
                id = _jobs.Count > 0 ? _jobs[_jobs.Count - 1 - (pick % Math.Min(_jobs.Count, 200))] : null;
            }
            if (id is null)
            {
                await Submit(http, pick, value);
                return;
            }
            Count("cancel");
            using var response = await http.PostAsync(new Uri($"/api/jobs/{id}/cancel", UriKind.Relative), null);
            Assert.True(response.IsSuccessStatusCode || (int)response.StatusCode == 409, $"cancel answered {(int)response.StatusCode}");
        }

        private async Task Drop(SimWorker worker, HttpClient http, int pick, double value)
        {
            if (!worker.Online)
            {
                await Submit(http, pick, value);
                return;
            }
            Count("drop worker");
            await worker.KillAsync();
        }

        private async Task Register(SimWorker worker, MissionHubFactory factory, HttpClient http, int pick, double value)
        {
            if (worker.Online)
            {
                await Submit(http, pick, value);
                return;
            }
            Count("register worker");
            await worker.ConnectAsync(factory);
        }

        private async Task CreateMission(HttpClient http, int pick)
        {
            Count("create mission");
            using var response = await http.PostAsJsonAsync("/api/missions", new { name = $"mission {pick}" });
            response.EnsureSuccessStatusCode();
            var id = (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetString()!;
            lock (_lock)
            {
                _missions.Add(id);
            }
        }

        private async Task ChangeMission(HttpClient http, int pick, double value)
        {
            string? id;
            lock (_lock)
            {
                id = _missions.Count > 0 ? _missions[pick % _missions.Count] : null;
            }
            if (id is null)
            {
                await CreateMission(http, pick);
                return;
            }
            Count("change mission");
            string[] statuses = ["RUNNING", "RUNNING", "COMPLETED", "FAILED", "CANCELLED"];
            using var response = await http.PostAsJsonAsync($"/api/missions/{id}/status", new { status = statuses[(int)(value * statuses.Length)] });
            Assert.True(response.IsSuccessStatusCode || (int)response.StatusCode == 409, $"mission status answered {(int)response.StatusCode}");
        }
    }

    /// <summary>A worker of the simulation: one socket at a time, the jobs it was given, sends serialized.</summary>
    private sealed class SimWorker(string id, string[] jobTypes, int slots) : IAsyncDisposable
    {
        private readonly SemaphoreSlim _gate = new(1, 1);
        private readonly Lock _lock = new();
        private readonly List<string> _held = [];
        private RawWorker? _socket;
        private Task _pump = Task.CompletedTask;

        public string Id { get; } = id;

        public bool Online => Volatile.Read(ref _socket) is not null;

        public async Task ConnectAsync(MissionHubFactory factory)
        {
            await _gate.WaitAsync();
            try
            {
                if (_socket is not null)
                {
                    await CloseLockedAsync();
                }
                var socket = await RawWorker.RegisterAsync(factory, Id, jobTypes, slots);
                _pump = PumpAsync(socket);
                Volatile.Write(ref _socket, socket);
            }
            finally
            {
                _gate.Release();
            }
        }

        /// <summary>One of the jobs this worker holds, or null.</summary>
        public string? TakeHeld(int pick)
        {
            lock (_lock)
            {
                return _held.Count == 0 ? null : _held[pick % _held.Count];
            }
        }

        /// <summary>Sends a frame; <paramref name="finishes"/> names the job it completes or fails, which this worker then no longer holds.</summary>
        public async Task SendAsync(object message, string? finishes)
        {
            await _gate.WaitAsync();
            try
            {
                if (_socket is { } socket)
                {
                    try
                    {
                        await socket.SendAsync(message);
                    }
                    catch (System.Net.WebSockets.WebSocketException)
                    {
                    }
                }
            }
            finally
            {
                _gate.Release();
            }
            if (finishes is not null)
            {
                lock (_lock)
                {
                    _held.Remove(finishes);
                }
            }
        }

        public async Task KillAsync()
        {
            await _gate.WaitAsync();
            try
            {
                _socket?.Kill();
                await CloseLockedAsync();
                lock (_lock)
                {
                    _held.Clear(); // the hub takes a lost worker's jobs back
                }
            }
            finally
            {
                _gate.Release();
            }
        }

        private async Task CloseLockedAsync()
        {
            var socket = _socket;
            Volatile.Write(ref _socket, null);
            if (socket is not null)
            {
                await socket.DisposeAsync();
                await _pump;
            }
        }

        private async Task PumpAsync(RawWorker socket)
        {
            try
            {
                while (true)
                {
                    var frame = await socket.ReceiveAsync(TimeSpan.FromMinutes(10));
                    var type = frame.GetProperty("type").GetString();
                    if (type == "job_assigned")
                    {
                        var jobId = frame.GetProperty("job").GetProperty("id").GetString()!;
                        lock (_lock)
                        {
                            if (!_held.Contains(jobId))
                            {
                                _held.Add(jobId);
                            }
                        }
                    }
                    else if (type == "job_cancelled")
                    {
                        var jobId = frame.GetProperty("job_id").GetString()!;
                        lock (_lock)
                        {
                            _held.Remove(jobId);
                        }
                    }
                }
            }
            catch (Exception ex) when (ex is InvalidOperationException or OperationCanceledException or JsonException)
            {
                // The socket closed (killed, or the server went away).
            }
        }

        public async ValueTask DisposeAsync()
        {
            await _gate.WaitAsync();
            try
            {
                await CloseLockedAsync();
            }
            finally
            {
                _gate.Release();
            }
            _gate.Dispose();
        }
    }
}
