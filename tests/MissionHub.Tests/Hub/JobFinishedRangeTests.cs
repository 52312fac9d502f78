using System.Globalization;
using System.Net;
using System.Text.Json;
using MissionHub.Client;

namespace MissionHub.Tests.Hub;

/// <summary>
/// The finish-time range (<c>finished_since</c>, <c>finished_until</c>, Unix seconds) of <c>GET /api/jobs</c> and the bulk
/// <c>POST /api/jobs/retry</c> and <c>/purge</c>, on each backend. Jobs are finished one after another and the bounds
/// are the finish times the server itself recorded (<c>completed_at</c>), so no test waits on a clock: the list returns
/// exactly the jobs finished in the range (since inclusive, until exclusive), newest finished first and across pages —
/// also when many jobs finished in one step at the same time; a bulk retry or purge with the range takes exactly those;
/// bad bounds are 400s naming the parameter.
/// </summary>
public abstract class JobFinishedRangeTests : HubTestBase
{
    private const string JobType = "ranged";

    [Fact]
    public async Task ListByFinishedRange_ReturnsExactlyTheJobsFinishedInIt_NewestFirst_AcrossPages()
    {
        var unfinished = await SubmitAsync(JobType);
        var (ids, finishedAt) = await CancelOneAfterAnotherAsync(8);

        Assert.Equal(ids[2..6].Reverse(), await FinishedIdsAsync($"&finished_since={Unix(finishedAt[2])}&finished_until={Unix(finishedAt[6])}", pageSize: 3));
        Assert.Equal([ids[7], ids[6]], await FinishedIdsAsync($"&finished_since={Unix(finishedAt[6])}"));
        Assert.Equal([ids[0]], await FinishedIdsAsync($"&finished_until={Unix(finishedAt[1])}"));
        Assert.Equal(ids.AsEnumerable().Reverse(), await FinishedIdsAsync("&finished_since=0", pageSize: 1));
        Assert.DoesNotContain(unfinished, await FinishedIdsAsync("&finished_since=0"));
        Assert.Empty(await FinishedIdsAsync($"&finished_since={Unix(finishedAt[3])}&finished_until={Unix(finishedAt[3])}"));

        // The other filters apply within the range.
        var range = $"&finished_since={Unix(finishedAt[1])}&finished_until={Unix(finishedAt[4])}";
        Assert.Equal(ids[1..4].Reverse(), await FinishedIdsAsync(range + "&status=cancelled&job_type=" + JobType, pageSize: 2));
        Assert.Empty(await FinishedIdsAsync(range + "&status=completed"));
        Assert.Empty(await FinishedIdsAsync(range + "&job_type=another-type"));
    }

    [Fact]
    public async Task JobsThatFailedInOneStep_AtTheSameTime_AreEachListedOnce_AcrossPagesOfTheRange()
    {
        var before = await CancelOneAfterAnotherAsync(1);
        var ids = new List<string>();
        for (var i = 0; i < 7; i++)
        {
            ids.Add(await SubmitAsync(JobType, maxAttempts: 1));
        }
        await using (var worker = await RawWorker.RegisterAsync(Factory, "w-ranged", [JobType], slots: 7))
        {
            for (var i = 0; i < 7; i++)
            {
                await worker.ReceiveJobAsync();
            }
        }
        // The worker went away holding all seven: one storage step failed them (their last attempt), at one time.
        var failed = new List<JsonElement>();
        foreach (var id in ids)
        {
            failed.Add(await WaitForStatusAsync(id, "failed"));
        }
        var at = failed.Select(j => j.GetProperty("completed_at").GetDouble()).Distinct().ToList();
        Assert.Single(at);

        var listed = await FinishedIdsAsync($"&finished_since={Unix(at[0])}", pageSize: 3);

        Assert.Equal(7, listed.Count);
        Assert.Equal(ids.ToHashSet(), listed.ToHashSet());
        Assert.Equal(ids.ToHashSet(), (await FinishedIdsAsync($"&finished_since={Unix(before.FinishedAt[0])}&status=failed", pageSize: 2)).ToHashSet());
        // "Retry everything that failed since then": exactly those seven.
        Assert.Equal(7, (await PostOkAsync($"/api/jobs/retry?status=failed&finished_since={Unix(at[0])}")).GetProperty("retried").GetInt32());
        Assert.Equal("cancelled", (await GetJobAsync(before.Ids[0])).GetProperty("status").GetString());
    }

    [Fact]
    public async Task BulkRetryWithARange_RetriesExactlyTheJobsFinishedInIt()
    {
        var (ids, finishedAt) = await CancelOneAfterAnotherAsync(6);

        var answer = await PostOkAsync($"/api/jobs/retry?finished_since={Unix(finishedAt[1])}&finished_until={Unix(finishedAt[4])}");

        Assert.Equal(3, answer.GetProperty("retried").GetInt32());
        var statuses = await StatusesAsync(ids);
        Assert.Equal(["cancelled", "pending", "pending", "pending", "cancelled", "cancelled"], statuses);
        // Retried jobs are no longer finished: the same range now holds none of them.
        Assert.Empty(await FinishedIdsAsync($"&finished_since={Unix(finishedAt[1])}&finished_until={Unix(finishedAt[4])}"));
    }

    [Fact]
    public async Task BulkPurgeWithARange_PurgesExactlyTheJobsFinishedInIt()
    {
        var (ids, finishedAt) = await CancelOneAfterAnotherAsync(6);
        var unfinished = await SubmitAsync(JobType);

        var answer = await PostOkAsync($"/api/jobs/purge?finished_since={Unix(finishedAt[3])}");

        Assert.Equal(3, answer.GetProperty("purged").GetInt32());
        var left = (await ListAllJobsAsync()).Select(j => j.GetProperty("id").GetString()!).ToHashSet();
        Assert.Equal(ids[..3].Append(unfinished).ToHashSet(), left);
        var purged = Assert.Single(await Client.ReadEventsAsync("jobs_purged"));
        Assert.Equal(ids[3..].ToHashSet(), purged.GetProperty("payload").GetProperty("job_ids").EnumerateArray().Select(i => i.GetString()!).ToHashSet());
        Assert.Equal(1, (await PostOkAsync($"/api/jobs/purge?finished_until={Unix(finishedAt[1])}")).GetProperty("purged").GetInt32());
        Assert.Equal([ids[1], ids[2]], (await FinishedIdsAsync("&finished_since=0")).AsEnumerable().Reverse());
    }

    [Fact]
    public async Task JobsClient_TakesTheRange_ForTheListRetryAndPurge()
    {
        var (ids, finishedAt) = await CancelOneAfterAnotherAsync(5);
        var jobs = new JobsClient(Factory.CreateClient());

        var listed = new List<string>();
        await foreach (var job in jobs.ListAllFinishedAsync(finishedAt[1], finishedAt[4], pageSize: 2))
        {
            listed.Add(job.Id);
        }
        Assert.Equal(ids[1..4].Reverse(), listed);
        Assert.Equal(ids[3..].Reverse(), (await jobs.ListFinishedAsync(finishedAt[3], null)).Jobs.Select(j => j.Id));

        Assert.Equal(2, (await jobs.RetryMatchingAsync(finishedSince: finishedAt[3])).Retried);
        Assert.Equal(1, (await jobs.PurgeMatchingAsync(status: JobStatuses.Cancelled, finishedUntil: finishedAt[1])).Purged);
        Assert.Equal(["pending", "pending"], await StatusesAsync(ids[3..]));
        Assert.Equal([ids[2], ids[1]], (await jobs.ListFinishedAsync(0, null)).Jobs.Select(j => j.Id));
        var refused = await Assert.ThrowsAsync<MissionHubApiException>(() => jobs.ListFinishedAsync(finishedAt[2], finishedAt[1]));
        Assert.Equal("finished_until", refused.Field);
    }

    [Theory]
    [InlineData("/api/jobs?finished_since=yesterday", "finished_since")]
    [InlineData("/api/jobs?finished_until=-5", "finished_until")]
    [InlineData("/api/jobs?finished_since=1e400", "finished_since")]
    [InlineData("/api/jobs?finished_since=1767225600&finished_since=1767229200", "finished_since")]
    [InlineData("/api/jobs?finished_since=1767229200&finished_until=1767225600", "finished_until")]
    [InlineData("/api/jobs?finished_since=1767225600&status=pending", "status")]
    [InlineData("/api/jobs?finished_since=1767225600&due=false", "due")]
    [InlineData("/api/jobs?finished_since=1767225600&cursor=42", "cursor")]
    public async Task ListWithABadRange_Is400NamingTheParameter(string url, string field)
    {
        using var response = await Client.GetAsync(new Uri(url, UriKind.Relative));

        await response.AssertProblemAsync(400, field);
    }

    [Theory]
    [InlineData("/api/jobs/retry?finished_since=noon", "finished_since")]
    [InlineData("/api/jobs/retry?finished_since=1767229200&finished_until=1767225600", "finished_until")]
    [InlineData("/api/jobs/purge?finished_until=NaN", "finished_until")]
    [InlineData("/api/jobs/purge?finished_since=1767229200&finished_until=1767225600", "finished_until")]
    public async Task BulkChangeWithABadRange_Is400NamingTheParameter_AndChangesNothing(string url, string field)
    {
        var (ids, _) = await CancelOneAfterAnotherAsync(2);

        using var response = await Client.PostAsync(new Uri(url, UriKind.Relative), null);

        await response.AssertProblemAsync(400, field);
        Assert.Equal(["cancelled", "cancelled"], await StatusesAsync(ids));
    }

    /// <summary>Submits and cancels <paramref name="count"/> jobs one after another; their finish times as the server recorded them.</summary>
    private async Task<(string[] Ids, double[] FinishedAt)> CancelOneAfterAnotherAsync(int count)
    {
        var ids = new string[count];
        var finishedAt = new double[count];
        for (var i = 0; i < count; i++)
        {
            ids[i] = await SubmitAsync(JobType, payload: new { n = i });
            using var cancelled = await CancelAsync(ids[i]);
            var job = JsonDocument.Parse(await cancelled.Content.ReadAsStringAsync()).RootElement;
            Assert.Equal(HttpStatusCode.OK, cancelled.StatusCode);
            finishedAt[i] = job.GetProperty("completed_at").GetDouble();
            if (i > 0)
            {
                Assert.True(finishedAt[i] > finishedAt[i - 1], $"finish times {finishedAt[i - 1]} then {finishedAt[i]}: the server's clock did not advance");
            }
        }
        return (ids, finishedAt);
    }

    private async Task<List<string>> FinishedIdsAsync(string query, int pageSize = JobsPageMax) =>
        [.. (await ListAllJobsAsync(query, pageSize)).Select(j => j.GetProperty("id").GetString()!)];

    private async Task<List<string>> StatusesAsync(IEnumerable<string> ids)
    {
        var statuses = new List<string>();
        foreach (var id in ids)
        {
            statuses.Add((await GetJobAsync(id)).GetProperty("status").GetString()!);
        }
        return statuses;
    }

    private static string Unix(double seconds) => seconds.ToString("R", CultureInfo.InvariantCulture);

    private async Task<JsonElement> PostOkAsync(string url)
    {
        using var response = await Client.PostAsync(new Uri(url, UriKind.Relative), null);
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"POST {url} answered {(int)response.StatusCode}: {body}");
        return JsonDocument.Parse(body).RootElement.Clone();
    }
}

public sealed class SqliteJobFinishedRangeTests : JobFinishedRangeTests
{
    protected override MissionHubFactory CreateFactory(IDictionary<string, string?> settings) =>
        MissionHubFactory.WithSqlite(Folder.File("finished-range.db"), settings);
}

public sealed class RedisJobFinishedRangeTests(RedisServerFixture redis) : JobFinishedRangeTests, IClassFixture<RedisServerFixture>
{
    protected override MissionHubFactory CreateFactory(IDictionary<string, string?> settings) =>
        MissionHubFactory.WithRedis(redis.Server, $"range{Guid.NewGuid():N}:", settings);
}
