using System.Text.Json;
using MissionHub.Client;

namespace MissionHub.Tests.Client;

/// <summary><see cref="WorkerClient"/> against the real hub over real WebSockets.</summary>
public sealed class WorkerClientTests : ClientTestBase
{
    private static Task<JsonElement?> Echo(JobContext job) =>
        Task.FromResult<JsonElement?>(Json(new Dictionary<string, object> { ["echo"] = job.Payload }));

    [Fact]
    public async Task SubmittedJob_IsRunByTheHandler_CompletedWithItsResult_AndItsProgressIsPublished()
    {
        var (worker, _) = await StartWorkerAsync(WorkerOptions("w-client", ["demo"], slots: 2), async (job, ct) =>
        {
            await job.ReportProgressAsync(0.25, ct);
            await job.ReportProgressAsync(0.5, ct);
            await job.ReportProgressAsync(7, ct); // clamped to 1
            return await Echo(job);
        });

        var submitted = await Jobs.SubmitAsync(new JobSubmission { JobType = "demo", Payload = Json(new { n = 7 }) });
        var done = await WaitForStatusAsync(submitted.Id, JobStatuses.Completed);

        Assert.Equal("w-client", done.WorkerId);
        Assert.Equal(1, done.Attempts);
        Assert.Equal(7, done.Result!.Value.GetProperty("echo").GetProperty("n").GetInt32());
        Assert.Equal(1.0, done.Progress);
        var progress = await Http.WaitForEventsAsync("job_progress", e => e.PayloadString("job_id") == submitted.Id, 3);
        Assert.Equal([0.25, 0.5, 1.0], progress.Select(e => e.GetProperty("payload").GetProperty("progress").GetDouble()));
        Assert.All(progress, e => Assert.Equal("w-client", e.PayloadString("worker_id")));
        await Eventually.TrueAsync(() => worker.JobsCompleted == 1, TimeSpan.FromSeconds(5), "the completion to be counted");
        Assert.Equal(0, worker.JobsFailed);
        Assert.Equal(0, worker.ErrorsReceived);
    }

    [Fact]
    public async Task ConcurrentJobs_RunUpToMaxConcurrentJobsAtOnce()
    {
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var running = 0;
        var peak = 0;
        var (worker, _) = await StartWorkerAsync(WorkerOptions("w-slots", ["demo"], slots: 2), async (job, ct) =>
        {
            var now = Interlocked.Increment(ref running);
            InterlockedMax(ref peak, now);
            await release.Task.WaitAsync(ct);
            Interlocked.Decrement(ref running);
            return null;
        });

        var ids = new List<string>();
        for (var i = 0; i < 5; i++)
        {
            ids.Add((await Jobs.SubmitAsync(new JobSubmission { JobType = "demo" })).Id);
        }
        await Eventually.TrueAsync(() => Volatile.Read(ref running) == 2, TimeSpan.FromSeconds(10), "two handlers to run");
        Assert.Equal(3, (await Jobs.ListAsync(status: JobStatuses.Pending)).Jobs.Count);
        release.SetResult();
        foreach (var id in ids)
        {
            await WaitForStatusAsync(id, JobStatuses.Completed);
        }
        Assert.Equal(2, Volatile.Read(ref peak));
        Assert.Equal(5, worker.JobsCompleted);
    }

    [Fact]
    public async Task HandlerException_FailsTheAttempt_TheJobIsRetried_ThenFailsWithTheMessage()
    {
        var (worker, _) = await StartWorkerAsync(WorkerOptions("w-fails", ["demo"]), (job, _) =>
            throw new InvalidOperationException($"disk full on attempt {job.Attempt}"));

        var submitted = await Jobs.SubmitAsync(new JobSubmission { JobType = "demo", MaxAttempts = 2 });
        var failed = await WaitForStatusAsync(submitted.Id, JobStatuses.Failed);

        Assert.Equal(2, failed.Attempts);
        Assert.Equal("disk full on attempt 2", failed.Error);
        var retried = await Http.WaitForEventsAsync("job_status_changed",
            e => e.PayloadString("job_id") == submitted.Id && e.PayloadString("error") is not null, 1);
        Assert.Equal("disk full on attempt 1", retried.Single().PayloadString("error"));
        Assert.Equal("pending", retried.Single().PayloadString("new_status"));
        var final = await Http.WaitForEventsAsync("job_failed", e => e.PayloadString("job_id") == submitted.Id, 1);
        Assert.Equal("disk full on attempt 2", final.Single().PayloadString("error"));
        await Eventually.TrueAsync(() => worker.JobsFailed == 2, TimeSpan.FromSeconds(5), "both failures to be counted");
        Assert.Equal(0, worker.JobsCompleted);
    }

    [Fact]
    public async Task CancelThroughJobsClient_CancelsTheHandlersToken_AndFreesTheSlot()
    {
        var started = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        var cancelled = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        var (worker, _) = await StartWorkerAsync(WorkerOptions("w-cancel", ["demo"], slots: 1), async (job, ct) =>
        {
            if (job.Payload.TryGetProperty("quick", out _))
            {
                return await Echo(job);
            }
            started.TrySetResult(job.JobId);
            try
            {
                await Task.Delay(Timeout.Infinite, ct);
            }
            catch (OperationCanceledException)
            {
                cancelled.TrySetResult(job.JobId);
                throw;
            }
            return null;
        });

        var slow = await Jobs.SubmitAsync(new JobSubmission { JobType = "demo" });
        Assert.Equal(slow.Id, await started.Task.WaitAsync(TimeSpan.FromSeconds(10)));
        var answer = await Jobs.CancelAsync(slow.Id);

        Assert.Equal(JobStatuses.Cancelled, answer.Status);
        Assert.Equal(slow.Id, await cancelled.Task.WaitAsync(TimeSpan.FromSeconds(10)));
        await Eventually.TrueAsync(() => worker.JobsCancelled == 1, TimeSpan.FromSeconds(5), "the cancellation to be counted");
        // The slot is free again, and the cancelled job was not reported as failed.
        var quick = await Jobs.SubmitAsync(new JobSubmission { JobType = "demo", Payload = Json(new { quick = true }) });
        await WaitForStatusAsync(quick.Id, JobStatuses.Completed);
        Assert.Equal(JobStatuses.Cancelled, (await Jobs.GetAsync(slow.Id)).Status);
        Assert.Equal(0, worker.JobsFailed);
        Assert.Equal(0, worker.ErrorsReceived);
    }

    [Fact]
    public async Task ServerRestart_TheWorkerReconnectsByItself_AndCompletesAJobSubmittedAfterwards()
    {
        var (worker, _) = await StartWorkerAsync(WorkerOptions("w-restart", ["demo"]), (job, _) => Echo(job));
        var before = await Jobs.SubmitAsync(new JobSubmission { JobType = "demo", Payload = Json(new { when = "before" }) });
        await WaitForStatusAsync(before.Id, JobStatuses.Completed);
        var port = Factory.BaseAddress.Port;

        await StopServerAsync();
        await Eventually.TrueAsync(() => worker.State != WorkerState.Registered, TimeSpan.FromSeconds(10), "the worker to notice the server went away");
        StartServer(port);

        var after = await Jobs.SubmitAsync(new JobSubmission { JobType = "demo", Payload = Json(new { when = "after" }) });
        var done = await WaitForStatusAsync(after.Id, JobStatuses.Completed, TimeSpan.FromSeconds(15));
        Assert.Equal("after", done.Result!.Value.GetProperty("echo").GetProperty("when").GetString());
        Assert.Equal("w-restart", done.WorkerId);
        Assert.Equal(2, worker.Registrations);
        Assert.Equal(WorkerState.Registered, worker.State);
        Assert.Equal(JobStatuses.Completed, (await Jobs.GetAsync(before.Id)).Status);
    }

    [Fact]
    public async Task ServerRestart_AHandlerStillRunning_ReportsItsOutcomeOnTheNewConnection()
    {
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var (worker, _) = await StartWorkerAsync(WorkerOptions("w-survivor", ["demo"]), async (job, ct) =>
        {
            started.TrySetResult();
            await release.Task.WaitAsync(ct);
            return await Echo(job);
        });
        var job = await Jobs.SubmitAsync(new JobSubmission { JobType = "demo", Payload = Json(new { long_running = true }) });
        await started.Task.WaitAsync(TimeSpan.FromSeconds(10));
        await WaitForStatusAsync(job.Id, JobStatuses.Assigned);
        var port = Factory.BaseAddress.Port;

        await StopServerAsync();
        // A grace longer than the worker's way back, however slow a loaded machine makes it: the job stays its own.
        StartServer(port, new Dictionary<string, string?> { ["MissionHub:Hub:RestartGracePeriod"] = "00:00:15" });
        await Eventually.TrueAsync(() => worker.Registrations == 2, TimeSpan.FromSeconds(10), "the worker to register again");
        release.SetResult();

        var done = await WaitForStatusAsync(job.Id, JobStatuses.Completed);
        Assert.Equal(1, done.Attempts);
        Assert.True(done.Result!.Value.GetProperty("echo").GetProperty("long_running").GetBoolean());
        Assert.Equal(0, worker.ErrorsReceived);
    }

    [Fact]
    public async Task Stopping_CancelsRunningHandlers_ClosesWithAHandshake_AndTheHubRequeuesTheJob()
    {
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var states = new List<WorkerState>();
        var (worker, run) = await StartWorkerAsync(WorkerOptions("w-stop", ["demo"]), async (job, ct) =>
        {
            started.TrySetResult();
            await Task.Delay(Timeout.Infinite, ct);
            return null;
        });
        worker.StateChanged += (_, e) =>
        {
            lock (states)
            {
                states.Add(e.NewState);
            }
        };
        var job = await Jobs.SubmitAsync(new JobSubmission { JobType = "demo", MaxAttempts = 3 });
        await started.Task.WaitAsync(TimeSpan.FromSeconds(10));

        await StopWorkerAsync(worker);

        Assert.True(run.IsCompletedSuccessfully);
        Assert.Equal(WorkerState.Stopped, worker.State);
        Assert.Equal([WorkerState.Stopping, WorkerState.Stopped], states);
        var gone = await Http.WaitForEventsAsync("worker_disconnected", e => e.PayloadString("worker_id") == "w-stop", 1);
        Assert.Equal("client_disconnect", gone[0].PayloadString("reason"));
        var requeued = await WaitForStatusAsync(job.Id, JobStatuses.Pending);
        Assert.Equal(1, requeued.Attempts);
        Assert.Equal(0, worker.JobsFailed);
    }

    [Fact]
    public async Task Heartbeats_KeepAnIdleWorkerRegistered_PastTheHubsHeartbeatTimeout()
    {
        await RestartWithHeartbeatTimeoutAsync(TimeSpan.FromMilliseconds(500));
        var (worker, _) = await StartWorkerAsync(WorkerOptions("w-beats", ["demo"]) with { HeartbeatInterval = TimeSpan.FromMilliseconds(100) },
            (job, _) => Echo(job));

        // Absence over a period is the claim: three hub timeouts pass with the worker silent but for its heartbeats.
        var quiet = System.Diagnostics.Stopwatch.StartNew();
        await Eventually.TrueAsync(() => quiet.Elapsed > TimeSpan.FromMilliseconds(1500) || worker.Registrations > 1, TimeSpan.FromSeconds(5), "three heartbeat timeouts");

        Assert.Equal(1, worker.Registrations);
        Assert.DoesNotContain(await Http.ReadEventsAsync("worker_disconnected"), e => e.PayloadString("worker_id") == "w-beats");
        var job = await Jobs.SubmitAsync(new JobSubmission { JobType = "demo" });
        await WaitForStatusAsync(job.Id, JobStatuses.Completed);
    }

    [Fact]
    public async Task TooFewHeartbeats_TheHubDropsTheWorker_AndItRegistersAgainByItself()
    {
        await RestartWithHeartbeatTimeoutAsync(TimeSpan.FromMilliseconds(300));
        var (worker, _) = await StartWorkerAsync(WorkerOptions("w-sleepy", ["demo"]) with { HeartbeatInterval = TimeSpan.FromSeconds(30) },
            (job, _) => Echo(job));

        await Eventually.TrueAsync(() => worker.Registrations >= 2, TimeSpan.FromSeconds(10), "the worker to be dropped and come back");

        var gone = await Http.WaitForEventsAsync("worker_disconnected", e => e.PayloadString("worker_id") == "w-sleepy", 1);
        Assert.Equal("heartbeat_timeout", gone[0].PayloadString("reason"));
    }

    private async Task RestartWithHeartbeatTimeoutAsync(TimeSpan timeout)
    {
        await StopServerAsync();
        StartServer(extra: new Dictionary<string, string?> { ["MissionHub:Hub:WorkerHeartbeatTimeout"] = timeout.ToString() });
    }

    [Fact]
    public async Task UnreachableHub_TheWorkerKeepsRetrying_UntilStopped()
    {
        var options = WorkerOptions("w-nohub", ["demo"]);
        await StopServerAsync();
        var failures = 0;
        var worker = new WorkerClient(options);
        worker.Disconnected += (_, e) =>
        {
            Assert.InRange(e.RetryIn, options.ReconnectMinDelay, options.ReconnectMaxDelay);
            Interlocked.Increment(ref failures);
        };
        using var stop = new CancellationTokenSource();
        var run = worker.RunAsync((job, _) => Echo(job), stop.Token);

        await Eventually.TrueAsync(() => Volatile.Read(ref failures) >= 3, TimeSpan.FromSeconds(10), "three failed attempts");
        await stop.CancelAsync();
        await run.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(WorkerState.Stopped, worker.State);
        Assert.Equal(0, worker.Registrations);
        StartServer(); // for DisposeAsync
    }

    [Fact]
    public void ReconnectDelay_DoublesFromTheMinimum_WithJitter_AndStaysWithinTheBounds()
    {
        var options = new WorkerClientOptions { ServerUri = new Uri("http://localhost:5080"), WorkerId = "w", JobTypes = ["demo"] };
        Assert.Equal(TimeSpan.FromSeconds(0.5), options.ReconnectDelay(1, 0));
        Assert.Equal(TimeSpan.FromSeconds(0.5625), options.ReconnectDelay(1, 0.75));
        Assert.Equal(TimeSpan.FromSeconds(2), options.ReconnectDelay(3, 0.5));
        Assert.Equal(TimeSpan.FromSeconds(30), options.ReconnectDelay(50, 0.99));
        Assert.Equal(TimeSpan.FromSeconds(22.5), options.ReconnectDelay(50, 0));
        Assert.Equal(new Uri("ws://localhost:5080/ws/worker"), options.WorkerSocketUri);
        Assert.Equal(new Uri("wss://hub.example/base/ws/worker"), (options with { ServerUri = new Uri("https://hub.example/base/") }).WorkerSocketUri);
    }

    [Theory]
    [InlineData("", "demo", 1)]
    [InlineData("bad id", "demo", 1)]
    [InlineData("w", "", 1)]
    [InlineData("w", "demo", 0)]
    public void InvalidOptions_AreRefusedBeforeConnecting(string workerId, string jobType, int slots)
    {
        var options = new WorkerClientOptions
        {
            ServerUri = new Uri("http://localhost:5080"), WorkerId = workerId, JobTypes = jobType.Length == 0 ? [] : [jobType], MaxConcurrentJobs = slots,
        };
        Assert.ThrowsAny<ArgumentException>(() => new WorkerClient(options));
    }

    private static void InterlockedMax(ref int target, int value)
    {
        int current;
        while ((current = Volatile.Read(ref target)) < value && Interlocked.CompareExchange(ref target, value, current) != current)
        {
        }
    }
}
