using System.Net;
using MissionHub.Client;

namespace MissionHub.Tests.Client;

/// <summary><see cref="JobsClient"/> against the real <c>/api/jobs</c>.</summary>
public sealed class JobsClientTests : ClientTestBase
{
    [Fact]
    public async Task Submit_Get_List_Cancel_RoundTripEveryField()
    {
        var submitted = await Jobs.SubmitAsync(new JobSubmission
        {
            JobType = "render", Priority = 5, Payload = Json(new { frame = 12 }), MaxAttempts = 4, TimeoutS = 30,
        });

        Assert.Equal(JobStatuses.Pending, submitted.Status);
        Assert.Equal("render", submitted.JobType);
        Assert.Equal(5, submitted.Priority);
        Assert.Equal(4, submitted.MaxAttempts);
        Assert.Equal(30, submitted.TimeoutS);
        Assert.Equal(12, submitted.Payload.GetProperty("frame").GetInt32());
        Assert.Null(submitted.Result);
        Assert.True(submitted.CreatedAt > 0);

        var fetched = await Jobs.GetAsync(submitted.Id);
        Assert.Equal(submitted.Id, fetched.Id);
        Assert.Equal(submitted.Order, fetched.Order);

        var other = await Jobs.SubmitAsync(new JobSubmission { JobType = "encode" });
        var third = await Jobs.SubmitAsync(new JobSubmission { JobType = "render" });
        Assert.Equal([third.Id, submitted.Id], (await Jobs.ListAsync(jobType: "render")).Jobs.Select(j => j.Id));
        var firstPage = await Jobs.ListAsync(limit: 2);
        Assert.Equal([third.Id, other.Id], firstPage.Jobs.Select(j => j.Id));
        Assert.NotNull(firstPage.NextCursor);
        Assert.Equal([submitted.Id], (await Jobs.ListAsync(limit: 2, cursor: firstPage.NextCursor)).Jobs.Select(j => j.Id));
        var all = new List<string>();
        await foreach (var job in Jobs.ListAllAsync(pageSize: 1))
        {
            all.Add(job.Id);
        }
        Assert.Equal([third.Id, other.Id, submitted.Id], all);

        var cancelled = await Jobs.CancelAsync(other.Id);
        Assert.Equal(JobStatuses.Cancelled, cancelled.Status);
        Assert.Equal([other.Id], (await Jobs.ListAsync(status: JobStatuses.Cancelled)).Jobs.Select(j => j.Id));
    }

    [Fact]
    public async Task DependsOn_RoundTrips_WaitingFor_AndTheCancelReasonOfADependencyFailure()
    {
        var first = await Jobs.SubmitAsync(new JobSubmission { JobType = "nobody-takes-it" });
        var second = await Jobs.SubmitAsync(new JobSubmission { JobType = "demo", DependsOn = [first.Id] });
        Assert.Equal([first.Id], second.DependsOn);
        Assert.Equal([first.Id], second.WaitingFor);
        Assert.Null(first.DependsOn);

        await Jobs.CancelAsync(first.Id);
        var cancelled = await Jobs.GetAsync(second.Id);
        Assert.Equal(JobStatuses.Cancelled, cancelled.Status);
        Assert.Equal("dependency_failed", cancelled.CancelReason);

        var unknown = await Assert.ThrowsAsync<MissionHubApiException>(() => Jobs.SubmitAsync(new JobSubmission { JobType = "demo", DependsOn = ["nope"] }));
        Assert.Equal(HttpStatusCode.BadRequest, unknown.StatusCode);
        Assert.Equal("depends_on", unknown.Field);
    }

    [Fact]
    public async Task BadSubmission_Is400_NamingTheField()
    {
        var missing = await Assert.ThrowsAsync<MissionHubApiException>(() => Jobs.SubmitAsync(new JobSubmission { JobType = "" }));
        Assert.Equal(HttpStatusCode.BadRequest, missing.StatusCode);
        Assert.Equal("job_type", missing.Field);
        Assert.Contains("job_type is required", missing.Detail, StringComparison.Ordinal);
        Assert.Contains("400", missing.Message, StringComparison.Ordinal);

        var attempts = await Assert.ThrowsAsync<MissionHubApiException>(() => Jobs.SubmitAsync(new JobSubmission { JobType = "demo", MaxAttempts = -1 }));
        Assert.Equal("max_attempts", attempts.Field);

        var payload = await Assert.ThrowsAsync<MissionHubApiException>(() => Jobs.SubmitAsync(new JobSubmission { JobType = "demo", Payload = Json(new[] { 1, 2 }) }));
        Assert.Equal("payload", payload.Field);
        Assert.Contains("must be a JSON object", payload.Detail, StringComparison.Ordinal);

        var status = await Assert.ThrowsAsync<MissionHubApiException>(() => Jobs.ListAsync(status: "sleeping"));
        Assert.Equal(HttpStatusCode.BadRequest, status.StatusCode);
        Assert.Equal("status", status.Field);
    }

    [Fact]
    public async Task UnknownJob_Is404_WithTheDetail()
    {
        var get = await Assert.ThrowsAsync<MissionHubApiException>(() => Jobs.GetAsync("no-such-job"));
        Assert.Equal(HttpStatusCode.NotFound, get.StatusCode);
        Assert.Equal("no job with id 'no-such-job'", get.Detail);
        Assert.Null(get.Field);

        var cancel = await Assert.ThrowsAsync<MissionHubApiException>(() => Jobs.CancelAsync("no-such-job"));
        Assert.Equal(HttpStatusCode.NotFound, cancel.StatusCode);
    }

    [Fact]
    public async Task CancellingAFinishedJob_Is409_WithTheDetail()
    {
        var job = await Jobs.SubmitAsync(new JobSubmission { JobType = "demo" });
        await Jobs.CancelAsync(job.Id);

        var again = await Assert.ThrowsAsync<MissionHubApiException>(() => Jobs.CancelAsync(job.Id));

        Assert.Equal(HttpStatusCode.Conflict, again.StatusCode);
        Assert.Equal($"job '{job.Id}' is already cancelled and cannot be cancelled", again.Detail);
        Assert.Equal("Conflict", again.Title);
    }

    [Fact]
    public void AClientWithoutABaseAddress_IsRefused()
    {
        using var http = new HttpClient();
        Assert.Throws<ArgumentException>(() => new JobsClient(http));
    }
}
