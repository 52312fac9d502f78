using System.Net;
using System.Net.Http.Json;
using System.Text.Json;

namespace MissionHub.Tests.Hub;

/// <summary>
/// Job dependencies on each backend: a job with <c>depends_on</c> is pending and offered to no worker until every job it
/// names completed (<c>waiting_for</c> shows what is left); if one fails for good or is cancelled, it is cancelled with
/// <c>dependency_failed</c>, and so are the jobs waiting on it; all of it survives a restart of the server.
/// </summary>
public abstract class JobDependencyTests : HubTestBase
{
    private const string JobType = "step";

    [Fact]
    public async Task Diamond_RunsInDependencyOrder_AndShowsWhatEachStillWaitsFor()
    {
        await using var worker = await RawWorker.RegisterAsync(Factory, "w-diamond", [JobType], slots: 4);
        var a = await SubmitAsync(JobType);
        var b = await SubmitWithDependenciesAsync(a);
        var c = await SubmitWithDependenciesAsync(a);
        var d = await SubmitWithDependenciesAsync(b, c);
        Assert.Equal([b, c], WaitingFor(await GetJobAsync(d)));
        Assert.Equal([b, c], (await GetJobAsync(d)).GetProperty("depends_on").EnumerateArray().Select(x => x.GetString()));
        Assert.Equal(JsonValueKind.Null, (await GetJobAsync(a)).GetProperty("depends_on").ValueKind);

        // Only the root is offered, though three slots stay free.
        Assert.Equal(a, (await worker.ReceiveJobAsync()).GetProperty("id").GetString());
        await worker.AssertNothingReceivedAsync(TimeSpan.FromMilliseconds(300));

        await worker.CompleteAsync(a);
        var next = new[] { (await worker.ReceiveJobAsync()).GetProperty("id").GetString(), (await worker.ReceiveJobAsync()).GetProperty("id").GetString() };
        Assert.Equal(new[] { b, c }.Order(), next.Order());
        Assert.Empty(WaitingFor(await GetJobAsync(b)));

        await worker.CompleteAsync(b);
        await WaitForStatusAsync(b, "completed");
        Assert.Equal([c], WaitingFor(await GetJobAsync(d)));
        await worker.AssertNothingReceivedAsync(TimeSpan.FromMilliseconds(300));

        await worker.CompleteAsync(c);
        Assert.Equal(d, (await worker.ReceiveJobAsync()).GetProperty("id").GetString());
        await worker.CompleteAsync(d);
        await WaitForStatusAsync(d, "completed");

        var assignedD = (await JobEventsAsync(d, "job_assigned")).Single().GetProperty("payload").GetProperty("assigned_at").GetDouble();
        foreach (var before in new[] { b, c })
        {
            var completed = (await JobEventsAsync(before, "job_completed")).Single().GetProperty("payload").GetProperty("completed_at").GetDouble();
            Assert.True(completed <= assignedD, $"D was assigned at {assignedD:0.000}, before {before} completed at {completed:0.000}");
        }
        var submitted = (await JobEventsAsync(d, "job_submitted")).Single().GetProperty("payload").GetProperty("job_data");
        Assert.Equal([b, c], submitted.GetProperty("depends_on").EnumerateArray().Select(x => x.GetString()));
    }

    [Fact]
    public async Task AFailureCancelsEveryJobWaitingOnIt_Transitively_WithDependencyFailed_AndLeavesTheOthers()
    {
        await using var worker = await RawWorker.RegisterAsync(Factory, "w-fail", [JobType], slots: 4);
        var a = await SubmitAsync(JobType);
        var b = await SubmitWithDependenciesAsync(new { max_attempts = 1 }, a);
        var c = await SubmitWithDependenciesAsync(a);
        var d = await SubmitWithDependenciesAsync(b, c);
        var e = await SubmitWithDependenciesAsync(d);

        await worker.ReceiveJobAsync();
        await worker.CompleteAsync(a);
        var offered = new[] { (await worker.ReceiveJobAsync()).GetProperty("id").GetString(), (await worker.ReceiveJobAsync()).GetProperty("id").GetString() };
        Assert.Equal(new[] { b, c }.Order(), offered.Order());
        await worker.FailAsync(b, "broken");
        await WaitForStatusAsync(b, "failed");

        foreach (var (job, dependency) in new[] { (d, b), (e, d) })
        {
            var cancelled = await WaitForStatusAsync(job, "cancelled");
            Assert.Equal("dependency_failed", cancelled.GetProperty("cancel_reason").GetString());
            var change = (await JobEventsAsync(job, "job_status_changed")).Single();
            Assert.Equal("cancelled", change.GetProperty("payload").GetProperty("new_status").GetString());
            Assert.Equal("dependency_failed", change.GetProperty("payload").GetProperty("reason").GetString());
            Assert.Equal(dependency, change.GetProperty("payload").GetProperty("dependency_id").GetString());
        }
        // C does not depend on B: it is still the worker's, and completes.
        Assert.Equal("assigned", (await GetJobAsync(c)).GetProperty("status").GetString());
        await worker.CompleteAsync(c);
        await WaitForStatusAsync(c, "completed");
        await worker.AssertNothingReceivedAsync(TimeSpan.FromMilliseconds(300));
    }

    [Fact]
    public async Task CancellingAJob_CancelsTheJobsWaitingOnIt_AndASubmitOnAFinishedFailureIsCancelledAtOnce()
    {
        var a = await SubmitAsync("nobody-runs-this");
        var b = await SubmitWithDependenciesAsync(a);
        using (var cancel = await CancelAsync(a))
        {
            Assert.Equal(HttpStatusCode.OK, cancel.StatusCode);
        }
        var cancelled = await WaitForStatusAsync(b, "cancelled");
        Assert.Equal("dependency_failed", cancelled.GetProperty("cancel_reason").GetString());

        var late = await SubmitJsonAsync(new { job_type = JobType, depends_on = new[] { a } });
        Assert.Equal("cancelled", late.GetProperty("status").GetString());
        Assert.Equal("dependency_failed", late.GetProperty("cancel_reason").GetString());
        var lateId = late.GetProperty("id").GetString()!;
        Assert.Equal(["job_submitted", "job_status_changed"], (await JobEventsAsync(lateId)).Select(x => x.GetProperty("type").GetString()));
        await using var worker = await RawWorker.RegisterAsync(Factory, "w-cancelled", [JobType, "nobody-runs-this"]);
        await worker.AssertNothingReceivedAsync(TimeSpan.FromMilliseconds(300));
    }

    [Fact]
    public async Task ADependencyAlreadyCompleted_DoesNotHoldTheJob()
    {
        await using var worker = await RawWorker.RegisterAsync(Factory, "w-done", [JobType]);
        var a = await SubmitAsync(JobType);
        await worker.ReceiveJobAsync();
        await worker.CompleteAsync(a);
        await WaitForStatusAsync(a, "completed");

        var b = await SubmitWithDependenciesAsync(a);
        Assert.Empty(WaitingFor(await GetJobAsync(b)));
        Assert.Equal(b, (await worker.ReceiveJobAsync()).GetProperty("id").GetString());
    }

    [Fact]
    public async Task RetriedJobs_WaitAgainForTheirFailedDependency_AndRunAfterIt()
    {
        await using var worker = await RawWorker.RegisterAsync(Factory, "w-retry", [JobType], slots: 2);
        var a = await SubmitJsonAsync(new { job_type = JobType, max_attempts = 1 });
        var aId = a.GetProperty("id").GetString()!;
        var b = await SubmitWithDependenciesAsync(aId);
        await worker.ReceiveJobAsync();
        await worker.FailAsync(aId, "first try broke");
        await WaitForStatusAsync(b, "cancelled");

        // The dependent first: it waits for A (failed, but it may be retried), not offered.
        using (var retry = await Client.PostAsync(new Uri($"/api/jobs/{b}/retry", UriKind.Relative), null))
        {
            Assert.Equal(HttpStatusCode.OK, retry.StatusCode);
        }
        var retried = await GetJobAsync(b);
        Assert.Equal("pending", retried.GetProperty("status").GetString());
        Assert.Equal([aId], WaitingFor(retried));
        Assert.Equal(JsonValueKind.Null, retried.GetProperty("cancel_reason").ValueKind);
        await worker.AssertNothingReceivedAsync(TimeSpan.FromMilliseconds(300));

        using (var retry = await Client.PostAsync(new Uri($"/api/jobs/{aId}/retry", UriKind.Relative), null))
        {
            Assert.Equal(HttpStatusCode.OK, retry.StatusCode);
        }
        Assert.Equal(aId, (await worker.ReceiveJobAsync()).GetProperty("id").GetString());
        await worker.CompleteAsync(aId);
        Assert.Equal(b, (await worker.ReceiveJobAsync()).GetProperty("id").GetString());
    }

    [Fact]
    public async Task Restart_InTheMiddle_LosesNoDependency()
    {
        var a = await SubmitAsync(JobType);
        var b = await SubmitWithDependenciesAsync(a);
        var c = await SubmitWithDependenciesAsync(b);
        var doomed = await SubmitWithDependenciesAsync(b);
        var afterDoomed = await SubmitWithDependenciesAsync(doomed);
        await using (var worker = await RawWorker.RegisterAsync(Factory, "w-before", [JobType]))
        {
            await worker.ReceiveJobAsync();
            await worker.CompleteAsync(a);
            Assert.Equal(b, (await worker.ReceiveJobAsync()).GetProperty("id").GetString());
            await worker.CompleteAsync(b);
            await WaitForStatusAsync(b, "completed");
        }

        Client.Dispose();
        await Factory.DisposeAsync();
        Factory = CreateFactory(Settings);
        Client = Factory.CreateClient();

        Assert.Empty(WaitingFor(await GetJobAsync(c)));
        Assert.Equal([doomed], WaitingFor(await GetJobAsync(afterDoomed)));
        using (var cancel = await CancelAsync(doomed))
        {
            Assert.Equal(HttpStatusCode.OK, cancel.StatusCode);
        }
        Assert.Equal("dependency_failed", (await WaitForStatusAsync(afterDoomed, "cancelled")).GetProperty("cancel_reason").GetString());
        await using var after = await RawWorker.RegisterAsync(Factory, "w-after", [JobType]);
        Assert.Equal(c, (await after.ReceiveJobAsync()).GetProperty("id").GetString());
        await after.AssertNothingReceivedAsync(TimeSpan.FromMilliseconds(300));
    }

    [Fact]
    public async Task UnknownDependencies_AreRefusedNamingThem_AndABatchWithOneStoresNothing()
    {
        var known = await SubmitAsync(JobType);
        using var single = await Client.PostAsJsonAsync("/api/jobs", new { job_type = JobType, depends_on = new[] { known, "no-such-job" } });
        var problem = await single.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(HttpStatusCode.BadRequest, single.StatusCode);
        Assert.Equal("depends_on", problem.GetProperty("field").GetString());
        Assert.Contains("no-such-job", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.DoesNotContain(known, problem.GetProperty("detail").GetString(), StringComparison.Ordinal);

        var before = (await ListAllJobsAsync()).Count;
        using var batch = await Client.PostAsJsonAsync("/api/jobs/batch", new
        {
            jobs = new object[]
            {
                new { job_type = JobType, depends_on = new[] { known } },
                new { job_type = JobType, depends_on = new[] { "missing-1", "missing-2" } },
            },
        });
        var batchProblem = await batch.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(HttpStatusCode.BadRequest, batch.StatusCode);
        Assert.Equal("jobs[1].depends_on", batchProblem.GetProperty("field").GetString());
        Assert.Contains("missing-1, missing-2", batchProblem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Equal(before, (await ListAllJobsAsync()).Count);
    }

    [Fact]
    public async Task AKeyedBatchRefusedForItsDependencies_LeavesTheKeyFree()
    {
        using var refused = new HttpRequestMessage(HttpMethod.Post, "/api/jobs/batch")
        {
            Content = JsonContent.Create(new { jobs = new object[] { new { job_type = JobType, depends_on = new[] { "missing" } } } }),
        };
        refused.Headers.Add("Idempotency-Key", "deps-batch");
        using (var response = await Client.SendAsync(refused))
        {
            Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
            Assert.Equal("jobs[0].depends_on", (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("field").GetString());
        }
        using var valid = new HttpRequestMessage(HttpMethod.Post, "/api/jobs/batch")
        {
            Content = JsonContent.Create(new { jobs = new object[] { new { job_type = JobType } } }),
        };
        valid.Headers.Add("Idempotency-Key", "deps-batch");
        using var stored = await Client.SendAsync(valid);
        Assert.Equal(HttpStatusCode.Created, stored.StatusCode);
    }

    [Theory]
    [InlineData("""{"job_type":"step","depends_on":"a"}""", "must be a list")]
    [InlineData("""{"job_type":"step","depends_on":[1]}""", "must be a job id")]
    [InlineData("""{"job_type":"step","depends_on":[""]}""", "must be a job id")]
    [InlineData("""{"job_type":"step","depends_on":["x","x"]}""", "twice")]
    public async Task MalformedDependsOn_IsRefusedNamingTheField(string body, string why)
    {
        using var response = await PostRawAsync("/api/jobs", body);
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("depends_on", problem.GetProperty("field").GetString());
        Assert.Contains(why, problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task MoreThanAHundredDependencies_AndAScheduleJobWithDependencies_AreRefused()
    {
        using var many = await Client.PostAsJsonAsync("/api/jobs",
            new { job_type = JobType, depends_on = Enumerable.Range(0, 101).Select(i => $"job-{i}").ToArray() });
        Assert.Equal(HttpStatusCode.BadRequest, many.StatusCode);
        Assert.Contains("at most 100", (await many.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("detail").GetString(), StringComparison.Ordinal);

        var known = await SubmitAsync(JobType);
        using var schedule = await Client.PostAsJsonAsync("/api/schedules",
            new { id = "with-deps", cron = "* * * * *", job = new { job_type = JobType, depends_on = new[] { known } } });
        Assert.Equal(HttpStatusCode.BadRequest, schedule.StatusCode);
        Assert.Equal("job.depends_on", (await schedule.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("field").GetString());
    }

    private Task<string> SubmitWithDependenciesAsync(params string[] dependsOn) => SubmitWithDependenciesAsync(new { }, dependsOn);

    private async Task<string> SubmitWithDependenciesAsync(object extra, params string[] dependsOn)
    {
        var body = JsonSerializer.SerializeToNode(extra)!.AsObject();
        body["job_type"] = JobType;
        body["depends_on"] = JsonSerializer.SerializeToNode(dependsOn);
        var job = await SubmitJsonAsync(body);
        Assert.Equal("pending", job.GetProperty("status").GetString());
        return job.GetProperty("id").GetString()!;
    }

    private async Task<JsonElement> SubmitJsonAsync(object body)
    {
        using var response = await Client.PostAsJsonAsync("/api/jobs", body);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.Created, text);
        return JsonDocument.Parse(text).RootElement.Clone();
    }

    private static List<string?> WaitingFor(JsonElement job) =>
        job.GetProperty("waiting_for") is { ValueKind: JsonValueKind.Array } list ? [.. list.EnumerateArray().Select(x => x.GetString())] : [];
}

public sealed class SqliteJobDependencyTests : JobDependencyTests
{
    protected override MissionHubFactory CreateFactory(IDictionary<string, string?> settings) =>
        MissionHubFactory.WithSqlite(Folder.File("dependencies.db"), settings);
}

public sealed class RedisJobDependencyTests(RedisServerFixture redis) : JobDependencyTests, IClassFixture<RedisServerFixture>
{
    private readonly string _prefix = $"deps{Guid.NewGuid():N}:";

    protected override MissionHubFactory CreateFactory(IDictionary<string, string?> settings) =>
        MissionHubFactory.WithRedis(redis.Server, _prefix, settings);
}
