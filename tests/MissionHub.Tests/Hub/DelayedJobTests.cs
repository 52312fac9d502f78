using System.Net;
using System.Net.Http.Json;
using System.Text.Json;

namespace MissionHub.Tests.Hub;

/// <summary>
/// Delayed jobs on each backend: <c>run_at</c> or <c>delay_s</c> on submit (and in batches) keeps the job pending with
/// its <c>run_at</c>, not offered to a connected worker before it and offered as soon as it comes (a timer on the
/// earliest due job, not the once-a-second sweep); <c>GET /api/jobs?due=false</c> lists the waiting ones, soonest first;
/// bad times are refused naming the field.
/// </summary>
public abstract class DelayedJobTests : HubTestBase
{
    private const string JobType = "later";

    [Fact]
    public async Task DelayedJob_IsNotOfferedBeforeRunAt_AndIsOfferedAtOnceWhenItComes()
    {
        await using var worker = await RawWorker.RegisterAsync(Factory, "w-later", [JobType]);
        var job = await SubmitJsonAsync(new { job_type = JobType, delay_s = 1.5 });
        var id = job.GetProperty("id").GetString()!;
        var runAt = job.GetProperty("run_at").GetDouble();
        Assert.Equal("pending", job.GetProperty("status").GetString());
        Assert.InRange(runAt - job.GetProperty("created_at").GetDouble(), 1.49, 1.51);

        var waiting = await Client.GetJsonAsync("/api/jobs?due=false");
        Assert.Equal([id], waiting.GetProperty("jobs").EnumerateArray().Select(j => j.GetProperty("id").GetString()));

        // A job without a delay submitted after it is offered first, at once.
        var now = await SubmitAsync(JobType);
        Assert.Equal(now, (await worker.ReceiveJobAsync(TimeSpan.FromSeconds(5))).GetProperty("id").GetString());
        await worker.CompleteAsync(now);

        var offered = await worker.ReceiveJobAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(id, offered.GetProperty("id").GetString());
        var assigned = (await JobEventsAsync(id, "job_assigned")).Single();
        var assignedAt = assigned.GetProperty("payload").GetProperty("assigned_at").GetDouble();
        Assert.True(assignedAt >= runAt, $"assigned at {assignedAt:0.000}, before its run_at {runAt:0.000}");
        // The sweep's once-a-second safety net alone would be up to a second late; the timer on the due job is not.
        Assert.True(assignedAt - runAt < 0.5, $"assigned {assignedAt - runAt:0.000} s after its run_at");
        Assert.Empty((await Client.GetJsonAsync("/api/jobs?due=false")).GetProperty("jobs").EnumerateArray());

        var submitted = (await JobEventsAsync(id, "job_submitted")).Single();
        Assert.Equal(runAt, submitted.GetProperty("payload").GetProperty("job_data").GetProperty("run_at").GetDouble(), 3);
    }

    [Fact]
    public async Task BatchWithRunAt_WaitsOnlyTheDelayedJobs_ListedSoonestFirst_AndADelayedJobCanBeCancelled()
    {
        var now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() / 1000.0;
        using var response = await Client.PostAsJsonAsync("/api/jobs/batch", new
        {
            jobs = new object[]
            {
                new { job_type = JobType, run_at = now + 120, payload = new { n = 0 } },
                new { job_type = JobType, payload = new { n = 1 } },
                new { job_type = JobType, delay_s = 60, payload = new { n = 2 } },
                new { job_type = "other", delay_s = 90, payload = new { n = 3 } },
            },
        });
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.Created, text);
        var ids = JsonDocument.Parse(text).RootElement.GetProperty("jobs").EnumerateArray().Select(j => j.GetProperty("id").GetString()!).ToList();

        var waiting = await Client.GetJsonAsync("/api/jobs?due=false");
        Assert.Equal([ids[2], ids[3], ids[0]], waiting.GetProperty("jobs").EnumerateArray().Select(j => j.GetProperty("id").GetString()));
        var ofType = await Client.GetJsonAsync($"/api/jobs?due=false&job_type={JobType}&limit=1");
        Assert.Equal([ids[2]], ofType.GetProperty("jobs").EnumerateArray().Select(j => j.GetProperty("id").GetString()));

        await using var worker = await RawWorker.RegisterAsync(Factory, "w-batch-later", [JobType, "other"], slots: 4);
        Assert.Equal(ids[1], (await worker.ReceiveJobAsync()).GetProperty("id").GetString());
        await worker.AssertNothingReceivedAsync(TimeSpan.FromMilliseconds(300));

        using var cancel = await CancelAsync(ids[0]);
        Assert.Equal(HttpStatusCode.OK, cancel.StatusCode);
        var cancelled = await GetJobAsync(ids[0]);
        Assert.Equal("cancelled", cancelled.GetProperty("status").GetString());
        Assert.Equal([ids[2], ids[3]], (await Client.GetJsonAsync("/api/jobs?due=false")).GetProperty("jobs").EnumerateArray().Select(j => j.GetProperty("id").GetString()));

        var queues = await Client.GetJsonAsync("/api/queues");
        var later = queues.GetProperty("queues").EnumerateArray().Single(q => q.GetProperty("job_type").GetString() == JobType);
        Assert.Equal(1, later.GetProperty("delayed").GetInt64());
    }

    public static TheoryData<string, string> BadTimes => new()
    {
        { """{"job_type":"later","run_at":1000}""", "run_at" },
        { """{"job_type":"later","run_at":"tomorrow"}""", "run_at" },
        { """{"job_type":"later","run_at":99999999999}""", "run_at" },
        { """{"job_type":"later","delay_s":-1}""", "delay_s" },
        { """{"job_type":"later","delay_s":"soon"}""", "delay_s" },
        { """{"job_type":"later","delay_s":1,"run_at":2000000000}""", "delay_s" },
    };

    [Theory]
    [MemberData(nameof(BadTimes))]
    public async Task BadRunAtOrDelay_Is400NamingTheField_AndStoresNothing(string body, string field)
    {
        using var response = await PostRawAsync("/api/jobs", body);

        var problem = await response.AssertProblemAsync(400, field);
        Assert.Contains(field, problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Empty(await ListAllJobsAsync());
    }

    [Fact]
    public async Task RunAtAFewSecondsInThePast_RunsNow()
    {
        await using var worker = await RawWorker.RegisterAsync(Factory, "w-past", [JobType]);
        var job = await SubmitJsonAsync(new { job_type = JobType, run_at = DateTimeOffset.UtcNow.ToUnixTimeSeconds() - 5 });

        Assert.Equal(JsonValueKind.Null, job.GetProperty("available_at").ValueKind);
        Assert.Equal(job.GetProperty("id").GetString(), (await worker.ReceiveJobAsync()).GetProperty("id").GetString());
    }

    [Theory]
    [InlineData("due=true")]
    [InlineData("due=false&worker=w1")]
    [InlineData("due=false&status=failed")]
    public async Task DueListingWithAnotherFilter_Is400NamingDue(string query)
    {
        using var response = await Client.GetAsync(new Uri($"/api/jobs?{query}", UriKind.Relative));

        await response.AssertProblemAsync(400, "due");
    }

    [Fact]
    public async Task DelayedJob_InAMonitorSnapshot_AndInTheStateAtItsSeq_SaysWhenItMayRun()
    {
        var job = await SubmitJsonAsync(new { job_type = JobType, delay_s = 120 });
        var id = job.GetProperty("id").GetString()!;
        var runAt = job.GetProperty("run_at").GetDouble();
        var undelayed = await SubmitAsync(JobType);

        await using var monitor = await RawWorker.ConnectAsync(Factory, "/ws/monitor");
        await monitor.SendAsync(new { type = "monitor_connect", monitor_id = "delayed-check", request_full_state = true, timestamp = 0 });
        var snapshot = await monitor.ReceiveTypeAsync("full_state_snapshot", TimeSpan.FromSeconds(10));
        var pending = snapshot.GetProperty("data").GetProperty("jobs").GetProperty("pending").EnumerateArray().ToList();
        Assert.Equal(runAt, pending.Single(j => j.GetProperty("id").GetString() == id).GetProperty("available_at").GetDouble(), 3);
        Assert.False(pending.Single(j => j.GetProperty("id").GetString() == undelayed).TryGetProperty("available_at", out _));

        // The console at a past seq tells the same (rebuilt from the events, not from the job as stored now).
        var seq = (await JobEventsAsync(id, "job_submitted")).Single().GetProperty("seq").GetInt64();
        var state = await Client.GetJsonAsync($"/api/state?at_seq={seq}");
        var then = Assert.Single(state.GetProperty("jobs").GetProperty("pending").EnumerateArray());
        Assert.Equal(id, then.GetProperty("id").GetString());
        Assert.Equal(runAt, then.GetProperty("available_at").GetDouble(), 3);
    }

    private async Task<JsonElement> SubmitJsonAsync(object body)
    {
        using var response = await Client.PostAsJsonAsync("/api/jobs", body);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.Created, text);
        return JsonDocument.Parse(text).RootElement.Clone();
    }
}

public sealed class SqliteDelayedJobTests : DelayedJobTests
{
    protected override MissionHubFactory CreateFactory(IDictionary<string, string?> settings) =>
        MissionHubFactory.WithSqlite(Folder.File("delayed.db"), settings);
}

public sealed class RedisDelayedJobTests(RedisServerFixture redis) : DelayedJobTests, IClassFixture<RedisServerFixture>
{
    protected override MissionHubFactory CreateFactory(IDictionary<string, string?> settings) =>
        MissionHubFactory.WithRedis(redis.Server, $"delayed{Guid.NewGuid():N}:", settings);
}
