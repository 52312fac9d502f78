using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using MissionHub.Hub;

namespace MissionHub.Tests.Hub;

/// <summary>The broker through the real surface: REST submissions and real worker WebSockets, on each backend.</summary>
public abstract class JobHubTests : HubTestBase
{
    [Fact]
    public async Task Jobs_AreHandedOut_HighestPriorityFirst_FifoWithinAPriority()
    {
        var low1 = await SubmitAsync("render", 0);
        var mid1 = await SubmitAsync("render", 5);
        var low2 = await SubmitAsync("render", 0);
        var high = await SubmitAsync("render", 10);
        var mid2 = await SubmitAsync("render", 5);

        await using var worker = await RawWorker.RegisterAsync(Factory, "w-priority", ["render"], slots: 1);
        var order = new List<string>();
        for (var i = 0; i < 5; i++)
        {
            var job = await worker.ReceiveJobAsync();
            order.Add(job.GetProperty("id").GetString()!);
            await worker.CompleteAsync(order[^1]);
        }

        Assert.Equal([high, mid1, mid2, low1, low2], order);
    }

    [Fact]
    public async Task Jobs_GoOnlyToCapableWorkers_WithinTheirSlots()
    {
        await using var renderer = await RawWorker.RegisterAsync(Factory, "w-render", ["render"], slots: 2);
        await using var encoder = await RawWorker.RegisterAsync(Factory, "w-encode", ["encode", "thumbnail"], slots: 1);
        var renders = new[] { await SubmitAsync("render"), await SubmitAsync("render"), await SubmitAsync("render") };
        var encodes = new[] { await SubmitAsync("encode"), await SubmitAsync("encode") };

        var firstRender = await renderer.ReceiveJobAsync();
        var secondRender = await renderer.ReceiveJobAsync();
        var firstEncode = await encoder.ReceiveJobAsync();
        Assert.Equal("render", firstRender.GetProperty("job_type").GetString());
        Assert.Equal("render", secondRender.GetProperty("job_type").GetString());
        Assert.Equal(encodes[0], firstEncode.GetProperty("id").GetString());
        await renderer.AssertNothingReceivedAsync(TimeSpan.FromMilliseconds(300)); // both slots taken
        await encoder.AssertNothingReceivedAsync(TimeSpan.FromMilliseconds(100));
        Assert.Equal("pending", (await GetJobAsync(renders[2])).GetProperty("status").GetString());

        await renderer.CompleteAsync(firstRender.GetProperty("id").GetString()!, new { frames = 24 });
        var thirdRender = await renderer.ReceiveJobAsync();
        Assert.Equal(renders[2], thirdRender.GetProperty("id").GetString());
        await encoder.CompleteAsync(encodes[0]);
        Assert.Equal(encodes[1], (await encoder.ReceiveJobAsync()).GetProperty("id").GetString());

        var completed = await GetJobAsync(firstRender.GetProperty("id").GetString()!);
        await WaitForStatusAsync(firstRender.GetProperty("id").GetString()!, "completed");
        Assert.Equal(24, (await GetJobAsync(firstRender.GetProperty("id").GetString()!)).GetProperty("result").GetProperty("frames").GetInt32());
        Assert.Equal("w-render", completed.GetProperty("worker_id").GetString());
    }

    [Fact]
    public async Task WorkerKilledMidJob_JobIsRequeued_CompletedOnceByAnother_AndALateCompletionIsRefused()
    {
        var jobId = await SubmitAsync("render", maxAttempts: 3);
        var doomed = await RawWorker.RegisterAsync(Factory, "w-doomed", ["render"]);
        Assert.Equal(jobId, (await doomed.ReceiveJobAsync()).GetProperty("id").GetString());
        await doomed.ProgressAsync(jobId, 0.5);
        await WaitForStatusAsync(jobId, "running");

        doomed.Kill();
        await WaitForStatusAsync(jobId, "pending");
        await using var rescuer = await RawWorker.RegisterAsync(Factory, "w-rescuer", ["render"]);
        var retried = await rescuer.ReceiveJobAsync();
        Assert.Equal(jobId, retried.GetProperty("id").GetString());
        Assert.Equal(2, retried.GetProperty("attempt").GetInt32());
        await rescuer.CompleteAsync(jobId, new { by = "rescuer" });
        await WaitForStatusAsync(jobId, "completed");

        // The dead worker comes back and reports the job it no longer holds.
        await using var ghost = await RawWorker.RegisterAsync(Factory, "w-doomed", ["render"]);
        await ghost.CompleteAsync(jobId, new { by = "ghost" });
        var refusal = await ghost.ReceiveTypeAsync("error");
        Assert.Equal("job_not_held", refusal.GetProperty("code").GetString());

        var job = await GetJobAsync(jobId);
        Assert.Equal("rescuer", job.GetProperty("result").GetProperty("by").GetString());
        Assert.Equal("w-rescuer", job.GetProperty("worker_id").GetString());
        var completions = (await Client.ReadEventsAsync("job_completed")).Where(e => e.PayloadString("job_id") == jobId).ToList();
        Assert.Single(completions);
        var lost = await Client.WaitForEventsAsync("worker_disconnected", e => e.PayloadString("worker_id") == "w-doomed", 1);
        Assert.NotEqual("client_disconnect", lost[0].PayloadString("reason")); // a crash is not a goodbye
    }

    [Fact]
    public async Task JobEvents_AreInCausalOrder_WithHubSourceAndJobTarget()
    {
        await using var worker = await RawWorker.RegisterAsync(Factory, "w-events", ["render"]);
        var jobId = await SubmitAsync("render", priority: 3);
        await worker.ReceiveJobAsync();
        await worker.ProgressAsync(jobId, 0.25);
        await worker.ProgressAsync(jobId, 0.75);
        await worker.CompleteAsync(jobId, new { ok = true });
        await WaitForStatusAsync(jobId, "completed");

        var events = await Client.WaitForEventsAsync("job_*", e => e.PayloadString("job_id") == jobId, 6);
        Assert.Equal(
            ["job_submitted", "job_assigned", "job_status_changed", "job_progress", "job_progress", "job_completed"],
            events.Select(e => e.GetProperty("type").GetString()));
        Assert.All(events, e =>
        {
            Assert.Equal("hub", e.GetProperty("source").GetString());
            Assert.Equal($"job_{jobId}", e.GetProperty("target").GetString());
        });
        var submitted = events[0].GetProperty("payload").GetProperty("job_data");
        Assert.Equal(3, submitted.GetProperty("priority").GetInt32());
        Assert.Equal("pending", submitted.GetProperty("status").GetString());
        Assert.Equal("w-events", events[1].PayloadString("worker_id"));
        Assert.Equal("running", events[2].PayloadString("new_status"));
        Assert.Equal(0.75, events[4].GetProperty("payload").GetProperty("progress").GetDouble());
        Assert.True(events[5].GetProperty("payload").GetProperty("result").GetProperty("ok").GetBoolean());
        var connected = await Client.WaitForEventsAsync("worker_connected", e => e.PayloadString("worker_id") == "w-events", 1);
        Assert.Equal(["render"], connected[0].GetProperty("payload").GetProperty("worker_data").GetProperty("capabilities")
            .GetProperty("job_types").EnumerateArray().Select(t => t.GetString()));
        await Client.WaitForEventsAsync("system_stats", _ => true, 1);
    }

    [Fact]
    public async Task Restart_KeepsPendingJobs_AndRequeuesJobsOfWorkersThatDidNotComeBack()
    {
        var pending = await SubmitAsync("encode");
        var held = await SubmitAsync("render");
        var kept = await SubmitAsync("render");
        var leaver = await RawWorker.RegisterAsync(Factory, "w-leaver", ["render"]);
        var returner = await RawWorker.RegisterAsync(Factory, "w-returner", ["render"]);
        var heldIds = new[] { (await leaver.ReceiveJobAsync()).GetProperty("id").GetString(), (await returner.ReceiveJobAsync()).GetProperty("id").GetString() };
        Assert.Equal(new[] { held, kept }.Order(), heldIds.Order());
        var returnerJob = heldIds[1]!;
        var leaverJob = heldIds[0]!;
        await WaitForStatusAsync(returnerJob, "assigned");

        Client.Dispose();
        await Factory.DisposeAsync();
        leaver.Kill();
        returner.Kill();
        // A grace longer than a loaded machine's restart, so the leaver's job is still assigned when first looked at.
        var settings = Settings;
        settings["MissionHub:Hub:RestartGracePeriod"] = "00:00:05";
        Factory = CreateFactory(settings);
        Client = Factory.CreateClient();

        Assert.Equal("pending", (await GetJobAsync(pending)).GetProperty("status").GetString());
        Assert.Equal("assigned", (await GetJobAsync(leaverJob)).GetProperty("status").GetString());
        // The returning worker takes its job back within the grace period (it never started it, so it is sent again) and finishes it.
        await using var back = await RawWorker.RegisterAsync(Factory, "w-returner", ["render"]);
        var resent = await back.ReceiveJobAsync();
        Assert.Equal(returnerJob, resent.GetProperty("id").GetString());
        Assert.Equal(1, resent.GetProperty("attempt").GetInt32());
        await back.CompleteAsync(returnerJob, new { after = "restart" });
        await WaitForStatusAsync(returnerJob, "completed");
        // The other job goes back to pending once its lease (at least the grace period) runs out, and the idle worker that came back takes it.
        var retried = await ReceiveJobWhileAliveAsync(back, TimeSpan.FromSeconds(15));
        Assert.Equal(leaverJob, retried.GetProperty("id").GetString());
        Assert.Equal(2, retried.GetProperty("attempt").GetInt32());
        Assert.Contains("lease of worker w-leaver expired", (await GetJobAsync(leaverJob)).GetProperty("error").GetString(), StringComparison.Ordinal);
        await using var newcomer = await RawWorker.RegisterAsync(Factory, "w-newcomer", ["encode"]);
        Assert.Equal(pending, (await newcomer.ReceiveJobAsync()).GetProperty("id").GetString());
    }

    [Fact]
    public async Task CountsByJobType_FollowEveryTransition_InTheSameStep()
    {
        var done = await SubmitAsync("count-a");
        var cancelled = await SubmitAsync("count-a");
        await SubmitAsync("count-b");
        await using var worker = await RawWorker.RegisterAsync(Factory, "w-count", ["count-a"]);
        Assert.Equal(done, (await worker.ReceiveJobAsync()).GetProperty("id").GetString());
        Assert.Equal(HttpStatusCode.OK, (await CancelAsync(cancelled)).StatusCode);
        await worker.CompleteAsync(done, new { ok = true });
        await WaitForStatusAsync(done, "completed");

        var counts = await Factory.Services.GetRequiredService<IJobStore>().CountByTypeAsync();
        Assert.Equal(new JobCounts(0, 0, 0, 1, 0, 1), counts["count-a"]);
        Assert.Equal(new JobCounts(1, 0, 0, 0, 0, 0), counts["count-b"]);
    }

    /// <summary>Waits for a job_assigned, sending heartbeats meanwhile so the wait outlives the heartbeat timeout.</summary>
    private static async Task<JsonElement> ReceiveJobWhileAliveAsync(RawWorker worker, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            await worker.SendAsync(new { type = "heartbeat" });
            try
            {
                return await worker.ReceiveJobAsync(TimeSpan.FromSeconds(1));
            }
            catch (OperationCanceledException) when (DateTime.UtcNow < deadline)
            {
            }
        }
    }
}

public sealed class SqliteJobHubTests : JobHubTests
{
    protected override MissionHubFactory CreateFactory(IDictionary<string, string?> settings) =>
        MissionHubFactory.WithSqlite(Folder.File("hub.db"), settings);
}

public sealed class RedisJobHubTests(RedisServerFixture redis) : JobHubTests, IClassFixture<RedisServerFixture>
{
    private readonly string _prefix = $"hub{Guid.NewGuid():N}:";

    // Several processes may share Redis, so a start never shortens a lease: a job of a worker that did not come back
    // waits for its lease to run out. A short lease keeps the restart test short.
    protected override MissionHubFactory CreateFactory(IDictionary<string, string?> settings) =>
        MissionHubFactory.WithRedis(redis.Server, _prefix, new Dictionary<string, string?>(settings) { ["MissionHub:Hub:WorkerHeartbeatTimeout"] = "00:00:05" });
}
