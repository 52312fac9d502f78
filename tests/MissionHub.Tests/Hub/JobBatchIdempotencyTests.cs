using System.Net;
using System.Text;
using System.Text.Json;
using MissionHub.Client;

namespace MissionHub.Tests.Hub;

/// <summary>
/// <c>Idempotency-Key</c> on <c>POST /api/jobs/batch</c>, on each backend: the same key with the same body answers 200
/// with the original batch (the same job ids, in order) and stores nothing, also after a restart and when 50 requests
/// race; the same key with a different body is a 409 naming the key; a malformed key is a 400 naming the header.
/// </summary>
public abstract class JobBatchIdempotencyTests : HubTestBase
{
    private const string Body = """{"jobs":[{"job_type":"keyed","payload":{"n":1}},{"job_type":"keyed","priority":5,"payload":{"n":2}},{"job_type":"keyed","payload":{"n":3}}]}""";

    [Fact]
    public async Task SameKeyAndBody_AnswersWithTheOriginalBatch_AndStoresNothing_AlsoAfterARestart()
    {
        var (firstStatus, first) = await PostAsync("nightly-2026-12-02", Body);
        Assert.Equal(HttpStatusCode.Created, firstStatus);
        var ids = JobIds(first);
        Assert.Equal(3, ids.Count);
        Assert.Equal(3, first.GetProperty("created").GetInt32());

        var (againStatus, again) = await PostAsync("nightly-2026-12-02", Body);
        Assert.Equal(HttpStatusCode.OK, againStatus);
        Assert.Equal(ids, JobIds(again));
        Assert.Equal(3, again.GetProperty("created").GetInt32());

        Client.Dispose();
        await Factory.DisposeAsync();
        Factory = CreateFactory(Settings);
        Client = Factory.CreateClient();
        var (afterStatus, after) = await PostAsync("nightly-2026-12-02", Body);
        Assert.Equal(HttpStatusCode.OK, afterStatus);
        Assert.Equal(ids, JobIds(after));

        Assert.Equal(ids.ToHashSet(), (await ListAllJobsAsync()).Select(j => j.GetProperty("id").GetString()!).ToHashSet());
        Assert.Equal(3, (await Client.ReadEventsAsync("job_submitted")).Count);
        // Another key is another batch.
        Assert.Equal(HttpStatusCode.Created, (await PostAsync("nightly-2026-12-03", Body)).Status);
        Assert.Equal(6, (await ListAllJobsAsync()).Count);
    }

    [Fact]
    public async Task FiftyConcurrentRequestsWithTheSameKey_StoreOneBatch_AndAllAnswerItsIdsInOrder()
    {
        var answers = await Task.WhenAll(Enumerable.Range(0, 50).Select(_ => PostAsync("race-batch", Body)));

        var idLists = answers.Select(a => string.Join(',', JobIds(a.Batch))).Distinct().ToList();
        Assert.Single(idLists);
        Assert.Equal(1, answers.Count(a => a.Status == HttpStatusCode.Created));
        Assert.Equal(49, answers.Count(a => a.Status == HttpStatusCode.OK));
        var stored = await ListAllJobsAsync();
        Assert.Equal(idLists[0].Split(',').ToHashSet(), stored.Select(j => j.GetProperty("id").GetString()!).ToHashSet());
        Assert.Equal([1, 2, 3], JobIds(answers[0].Batch).Select(id => stored.Single(j => j.GetProperty("id").GetString() == id)
            .GetProperty("payload").GetProperty("n").GetInt32()));
        Assert.Equal(3, (await Client.ReadEventsAsync("job_submitted")).Count);
    }

    [Fact]
    public async Task SameKeyWithADifferentBody_Is409NamingTheKey_AndStoresNothing()
    {
        var (_, first) = await PostAsync("weekly", Body);

        using var response = await SendAsync("weekly", """{"jobs":[{"job_type":"keyed","payload":{"n":99}}]}""");

        var problem = await response.AssertProblemAsync(409, "Idempotency-Key");
        Assert.Contains("weekly", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Equal(JobIds(first), problem.GetProperty("job_ids").EnumerateArray().Select(i => i.GetString()!).ToList());
        Assert.Equal(3, (await ListAllJobsAsync()).Count);
    }

    [Theory]
    [InlineData("")]
    [InlineData("has space")]
    public async Task MalformedKey_Is400NamingTheHeader_AndStoresNothing(string key)
    {
        using var response = await SendAsync(key, Body);

        await response.AssertProblemAsync(400, "Idempotency-Key");
        Assert.Empty(await ListAllJobsAsync());
    }

    [Fact]
    public async Task KeyOver128Characters_Is400NamingTheHeader()
    {
        using var response = await SendAsync(new string('k', 129), Body);

        await response.AssertProblemAsync(400, "Idempotency-Key");
    }

    [Fact]
    public async Task JobsClient_SubmitBatchAsync_WithAnIdempotencyKey_AnswersWithTheSameJobsTheSecondTime()
    {
        var jobs = new JobsClient(Factory.CreateClient());
        JobSubmission[] batch = [new() { JobType = "keyed", Priority = 1 }, new() { JobType = "keyed", Priority = 2 }];

        var first = await jobs.SubmitBatchAsync(batch, idempotencyKey: "client-key");
        var second = await jobs.SubmitBatchAsync(batch, idempotencyKey: "client-key");

        Assert.Equal(first.Jobs.Select(j => j.Id), second.Jobs.Select(j => j.Id));
        Assert.Equal(2, (await ListAllJobsAsync()).Count);
        var refused = await Assert.ThrowsAsync<MissionHubApiException>(() => jobs.SubmitBatchAsync([batch[0]], idempotencyKey: "client-key"));
        Assert.Equal(409, (int)refused.StatusCode);
        Assert.Equal("Idempotency-Key", refused.Field);
    }

    private static List<string> JobIds(JsonElement batch) =>
        [.. batch.GetProperty("jobs").EnumerateArray().Select(j => j.GetProperty("id").GetString()!)];

    private async Task<(HttpStatusCode Status, JsonElement Batch)> PostAsync(string key, string body)
    {
        using var response = await SendAsync(key, body);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode is HttpStatusCode.Created or HttpStatusCode.OK, $"answered {(int)response.StatusCode}: {text}");
        return (response.StatusCode, JsonDocument.Parse(text).RootElement.Clone());
    }

    private async Task<HttpResponseMessage> SendAsync(string key, string body)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri("/api/jobs/batch", UriKind.Relative))
        {
            Content = new StringContent(body, Encoding.UTF8, "application/json"),
        };
        request.Headers.TryAddWithoutValidation("Idempotency-Key", key);
        return await Client.SendAsync(request);
    }
}

public sealed class SqliteJobBatchIdempotencyTests : JobBatchIdempotencyTests
{
    protected override MissionHubFactory CreateFactory(IDictionary<string, string?> settings) =>
        MissionHubFactory.WithSqlite(Folder.File("batch-idempotency.db"), settings);
}

public sealed class RedisJobBatchIdempotencyTests(RedisServerFixture redis) : JobBatchIdempotencyTests, IClassFixture<RedisServerFixture>
{
    // One prefix for the test's life: a restarted server finds the keys the first one stored.
    private readonly string _prefix = $"batchidem{Guid.NewGuid():N}:";

    protected override MissionHubFactory CreateFactory(IDictionary<string, string?> settings) =>
        MissionHubFactory.WithRedis(redis.Server, _prefix, settings);
}
