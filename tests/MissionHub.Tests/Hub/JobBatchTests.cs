using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using MissionHub.Client;

namespace MissionHub.Tests.Hub;

/// <summary>
/// <c>POST /api/jobs/batch</c> on each backend: up to 1,000 jobs in one request and one atomic step, in order; one
/// invalid job refuses the whole batch, naming the index and field of every invalid job, and nothing is stored.
/// </summary>
public abstract class JobBatchTests : HubTestBase
{
    private const string JobType = "batched";

    [Fact]
    public async Task ThousandJobs_InOneRequest_AreStoredInOrder_AndDispatchedByPriorityThenOrder()
    {
        var jobs = Enumerable.Range(0, 1000).Select(i => new { job_type = JobType, priority = i % 3, payload = new { n = i } }).ToArray();

        using var response = await Client.PostAsJsonAsync("/api/jobs/batch", new { jobs });

        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.Created, text);
        var batch = JsonDocument.Parse(text).RootElement;
        Assert.Equal(1000, batch.GetProperty("created").GetInt32());
        var stored = batch.GetProperty("jobs").EnumerateArray().ToList();
        Assert.Equal(Enumerable.Range(0, 1000), stored.Select(j => j.GetProperty("payload").GetProperty("n").GetInt32()));
        Assert.All(stored, j => Assert.Equal("pending", j.GetProperty("status").GetString()));
        var ids = stored.Select(j => j.GetProperty("id").GetString()!).ToList();
        Assert.Equal(1000, ids.Distinct().Count());

        // One job_submitted per job, in the order sent.
        var submitted = (await Client.ReadEventsAsync("job_submitted")).Select(e => e.PayloadString("job_id")!).ToList();
        Assert.Equal(ids, submitted);
        Assert.Equal(1000, (await ListAllJobsAsync($"&job_type={JobType}&status=pending")).Count);

        // Highest priority first, then the order sent: index 2 is the first job of priority 2.
        await using var worker = await RawWorker.RegisterAsync(Factory, "w-batch", [JobType]);
        var first = await worker.ReceiveJobAsync();
        Assert.Equal(ids[2], first.GetProperty("id").GetString());
        await worker.CompleteAsync(ids[2]);
        Assert.Equal(ids[5], (await worker.ReceiveJobAsync()).GetProperty("id").GetString());
    }

    [Fact]
    public async Task BatchWithInvalidJobs_IsRefusedWhole_NamingTheIndexAndFieldOfEach_AndStoresNothing()
    {
        var jobs = Enumerable.Range(0, 10).Select(i => (object)new { job_type = JobType, payload = new { n = i } }).ToArray();
        jobs[3] = new { job_type = JobType, priority = "high" };
        jobs[7] = new { priority = 1 };
        jobs[8] = 42;

        using var response = await Client.PostAsJsonAsync("/api/jobs/batch", new { jobs });

        var problem = await response.AssertProblemAsync(400, "jobs[3].priority");
        var errors = problem.GetProperty("errors").EnumerateArray()
            .Select(e => (e.GetProperty("index").GetInt32(), e.GetProperty("field").GetString(), e.GetProperty("detail").GetString()!)).ToList();
        Assert.Equal([(3, "jobs[3].priority"), (7, "jobs[7].job_type"), (8, "jobs[8]")], errors.Select(e => (e.Item1, e.Item2)));
        Assert.All(errors, e => Assert.False(string.IsNullOrWhiteSpace(e.Item3)));
        Assert.Contains("3 of 10 jobs are invalid", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Empty(await ListAllJobsAsync());
        Assert.Empty(await Client.ReadEventsAsync("job_submitted"));
    }

    public static TheoryData<string> EmptyOrMalformedBatches => new()
    {
        """{"jobs":[]}""",
        """{}""",
        """{"jobs":{"job_type":"batched"}}""",
        """{"jobs":"batched"}""",
    };

    [Theory]
    [MemberData(nameof(EmptyOrMalformedBatches))]
    public async Task EmptyOrMalformedBatch_Is400NamingJobs(string body)
    {
        using var response = await PostRawAsync("/api/jobs/batch", body);

        await response.AssertProblemAsync(400, "jobs");
        Assert.Empty(await ListAllJobsAsync());
    }

    [Fact]
    public async Task BatchOverTheLimit_Is400NamingJobs_AndStoresNothing()
    {
        var jobs = Enumerable.Range(0, 1001).Select(_ => new { job_type = JobType }).ToArray();

        using var response = await Client.PostAsJsonAsync("/api/jobs/batch", new { jobs });

        var problem = await response.AssertProblemAsync(400, "jobs");
        Assert.Contains("1 to 1000 jobs", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Empty(await ListAllJobsAsync());
    }

    [Fact]
    public async Task JobWithAKnownIdempotencyKey_InABatch_IsTheOriginal_AndOnlyTheNewOnesAreCreated()
    {
        using var single = await Client.PostAsJsonAsync("/api/jobs", new { job_type = JobType, idempotency_key = "order-17" });
        var original = (await single.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetString();

        using var response = await Client.PostAsJsonAsync("/api/jobs/batch", new
        {
            jobs = new object[] { new { job_type = JobType, idempotency_key = "order-17" }, new { job_type = JobType, idempotency_key = "order-18" } },
        });

        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        var batch = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(1, batch.GetProperty("created").GetInt32());
        Assert.Equal(original, batch.GetProperty("jobs")[0].GetProperty("id").GetString());
        Assert.Equal(2, (await ListAllJobsAsync()).Count);
    }

    [Fact]
    public async Task JobsClient_SubmitBatchAsync_StoresEveryJob_AndSurfacesARefusalNamingTheField()
    {
        var jobs = new JobsClient(Factory.CreateClient());

        var batch = await jobs.SubmitBatchAsync(Enumerable.Range(0, 20).Select(i => new JobSubmission
        {
            JobType = JobType,
            Priority = i,
            Payload = JsonSerializer.SerializeToElement(new { n = i }),
        }));

        Assert.Equal(20, batch.Created);
        Assert.Equal(Enumerable.Range(0, 20), batch.Jobs.Select(j => j.Priority));
        Assert.All(batch.Jobs, j => Assert.Equal(JobStatuses.Pending, j.Status));
        var refused = await Assert.ThrowsAsync<MissionHubApiException>(() => jobs.SubmitBatchAsync(
            [new JobSubmission { JobType = JobType }, new JobSubmission { JobType = "not a type" }]));
        Assert.Equal(400, (int)refused.StatusCode);
        Assert.Equal("jobs[1].job_type", refused.Field);
        Assert.Equal(20, (await ListAllJobsAsync()).Count);
    }
}

public sealed class SqliteJobBatchTests : JobBatchTests
{
    protected override MissionHubFactory CreateFactory(IDictionary<string, string?> settings) =>
        MissionHubFactory.WithSqlite(Folder.File("batch.db"), settings);
}

public sealed class RedisJobBatchTests(RedisServerFixture redis) : JobBatchTests, IClassFixture<RedisServerFixture>
{
    protected override MissionHubFactory CreateFactory(IDictionary<string, string?> settings) =>
        MissionHubFactory.WithRedis(redis.Server, $"batch{Guid.NewGuid():N}:", settings);
}
