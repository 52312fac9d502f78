using System.Text.Json;

namespace MissionHub.Tests.Hub;

/// <summary><c>/api/jobs</c>: refusals that name the field and store nothing, and listing with filters and cursors, on each backend.</summary>
public abstract class JobsApiTests : HubTestBase
{
    public static TheoryData<string, string> BadSubmissions => new()
    {
        { """{"priority":1}""", "job_type" },
        { """{"job_type":""}""", "job_type" },
        { """{"job_type":42}""", "job_type" },
        { """{"job_type":"has spaces"}""", "job_type" },
        { """{"job_type":"render","max_attempts":-1}""", "max_attempts" },
        { """{"job_type":"render","max_attempts":0}""", "max_attempts" },
        { """{"job_type":"render","max_attempts":"3"}""", "max_attempts" },
        { """{"job_type":"render","priority":"high"}""", "priority" },
        { """{"job_type":"render","priority":1.5}""", "priority" },
        { """{"job_type":"render","payload":[1,2]}""", "payload" },
        { """{"job_type":"render","payload":"text"}""", "payload" },
        { """{"job_type":"render","timeout_s":0}""", "timeout_s" },
        { """{"job_type":"render","timeout_s":-5}""", "timeout_s" },
        { """{"job_type":"render","workflow_id":7}""", "workflow_id" },
        { """{"job_type":"render" """, "body" },
        { "[]", "body" },
        { "", "body" },
        { """{"job_type":"\ud800"}""", "job_type" },
        { """{"job_type":"render","workflow_id":"\udc00"}""", "workflow_id" },
        { """{"job_type":"render","payload":{"frames":["\udbff"]}}""", "payload.frames[0]" },
    };

    [Theory]
    [MemberData(nameof(BadSubmissions))]
    public async Task BadSubmission_Is400NamingTheField_AndStoresNothing(string body, string field)
    {
        await SubmitAsync("render"); // so "nothing stored" is not trivially an empty list
        var before = await ListAllJobsAsync();

        using var response = await PostRawAsync("/api/jobs", body);

        await response.AssertProblemAsync(400, field);
        Assert.Equal(before.Count, (await ListAllJobsAsync()).Count);
        Assert.Empty((await Client.ReadEventsAsync("job_submitted")).Skip(1));
    }

    [Fact]
    public async Task PayloadOver256KiB_Is400NamingPayload_AndStoresNothing()
    {
        var blob = new string('x', 256 * 1024);
        using var response = await PostRawAsync("/api/jobs", "{\"job_type\":\"render\",\"payload\":{\"blob\":\"" + blob + "\"}}");

        await response.AssertProblemAsync(400, "payload");
        Assert.Empty(await ListAllJobsAsync());
    }

    [Fact]
    public async Task PayloadJustUnderTheLimit_IsAccepted()
    {
        var blob = new string('x', 256 * 1024 - 100);
        using var response = await PostRawAsync("/api/jobs", "{\"job_type\":\"render\",\"payload\":{\"blob\":\"" + blob + "\"}}");

        Assert.Equal(System.Net.HttpStatusCode.Created, response.StatusCode);
    }

    [Theory]
    [InlineData("status=bogus", "status")]
    [InlineData("limit=0", "limit")]
    [InlineData("limit=501", "limit")]
    [InlineData("limit=ten", "limit")]
    [InlineData("cursor=not-a-cursor", "cursor")]
    public async Task BadListQuery_Is400NamingTheParameter(string query, string field)
    {
        using var response = await Client.GetAsync(new Uri($"/api/jobs?{query}", UriKind.Relative));
        await response.AssertProblemAsync(400, field);
    }

    [Fact]
    public async Task UnknownStatusFilter_ListsTheValidValues()
    {
        using var response = await Client.GetAsync(new Uri("/api/jobs?status=bogus", UriKind.Relative));
        var detail = (await response.AssertProblemAsync(400, "status")).GetProperty("detail").GetString()!;
        foreach (var status in new[] { "pending", "assigned", "running", "completed", "failed", "cancelled" })
        {
            Assert.Contains(status, detail, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task UnknownJob_Is404()
    {
        using var response = await Client.GetAsync(new Uri("/api/jobs/no-such-job", UriKind.Relative));
        await response.AssertProblemAsync(404);
    }

    [Fact]
    public async Task Listing_FiltersByStatusTypeAndWorker_NewestFirst()
    {
        var submitted = new List<(string Id, string Type)>();
        foreach (var type in new[] { "render", "encode", "render", "encode", "render", "render", "encode" })
        {
            submitted.Add((await SubmitAsync(type), type));
        }
        var renders = submitted.Where(j => j.Type == "render").Select(j => j.Id).ToList();
        var encodes = submitted.Where(j => j.Type == "encode").Select(j => j.Id).ToList();

        // One worker completes the first two renders and holds the third; the fourth stays pending.
        await using var worker = await RawWorker.RegisterAsync(Factory, "w-lister", ["render"], slots: 1);
        for (var i = 0; i < 2; i++)
        {
            var job = await worker.ReceiveJobAsync();
            Assert.Equal(renders[i], job.GetProperty("id").GetString());
            await worker.CompleteAsync(renders[i]);
        }
        Assert.Equal(renders[2], (await worker.ReceiveJobAsync()).GetProperty("id").GetString());
        await WaitForStatusAsync(renders[1], "completed");

        Assert.Equal(Newest(submitted.Select(j => j.Id)), await IdsAsync(""));
        Assert.Equal(Newest(encodes), await IdsAsync("&job_type=encode"));
        await Eventually.TrueAsync(async () => (await IdsAsync("&status=completed")).SequenceEqual(Newest(renders.Take(2))),
            TimeSpan.FromSeconds(10), "the completed renders to be listed as completed");
        await Eventually.TrueAsync(async () => (await IdsAsync("&worker=w-lister")).SequenceEqual(Newest(renders.Take(3))),
            TimeSpan.FromSeconds(10), "the worker's three jobs to be listed under it");
        Assert.Equal([renders[3]], await IdsAsync("&status=pending&job_type=render"));
        Assert.Equal(Newest(encodes), await IdsAsync("&status=pending&job_type=encode"));
        Assert.Empty(await IdsAsync("&worker=w-nobody"));
        Assert.Empty(await IdsAsync("&status=failed"));
    }

    [Fact]
    public async Task CursorPagination_VisitsEveryJobOnce_NewestFirst()
    {
        var ids = new List<string>();
        for (var i = 0; i < 11; i++)
        {
            ids.Add(await SubmitAsync(i % 2 == 0 ? "render" : "encode"));
        }

        var pages = new List<int>();
        var visited = new List<string>();
        string? cursor = null;
        do
        {
            var page = await Client.GetJsonAsync($"/api/jobs?limit=3{(cursor is null ? "" : $"&cursor={cursor}")}");
            var jobs = page.GetProperty("jobs").EnumerateArray().Select(j => j.GetProperty("id").GetString()!).ToList();
            pages.Add(jobs.Count);
            visited.AddRange(jobs);
            cursor = page.GetProperty("next_cursor").GetString();
        }
        while (cursor is not null);

        Assert.Equal(Newest(ids), visited);
        Assert.Equal([3, 3, 3, 2], pages);
        var renders = (await ListAllJobsAsync("&job_type=render", pageSize: 2)).Select(j => j.GetProperty("id").GetString()!).ToList();
        Assert.Equal(Newest(ids.Where((_, i) => i % 2 == 0)), renders);
    }

    private async Task<List<string>> IdsAsync(string query) =>
        [.. (await ListAllJobsAsync(query)).Select(j => j.GetProperty("id").GetString()!)];

    private static List<string> Newest(IEnumerable<string> ids) => [.. ids.Reverse()];
}

public sealed class SqliteJobsApiTests : JobsApiTests
{
    protected override MissionHubFactory CreateFactory(IDictionary<string, string?> settings) =>
        MissionHubFactory.WithSqlite(Folder.File("hub.db"), settings);
}

public sealed class RedisJobsApiTests(RedisServerFixture redis) : JobsApiTests, IClassFixture<RedisServerFixture>
{
    protected override MissionHubFactory CreateFactory(IDictionary<string, string?> settings) =>
        MissionHubFactory.WithRedis(redis.Server, $"hub{Guid.NewGuid():N}:", settings);
}
