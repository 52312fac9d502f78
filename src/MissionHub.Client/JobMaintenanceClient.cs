namespace MissionHub.Client;

/// <summary>
/// Retrying and purging finished jobs (<c>POST /api/jobs/{id}/retry</c>, <c>/api/jobs/retry</c>, <c>/api/jobs/purge</c>).
/// The bulk calls take the filters of <c>GET /api/jobs</c> and answer how many jobs changed. A refusal surfaces as
/// <see cref="MissionHubApiException"/>.
/// </summary>
public sealed class JobMaintenanceClient
{
    private readonly ApiTransport _api;

    /// <summary>A client on <paramref name="http"/>, whose <see cref="HttpClient.BaseAddress"/> is the hub.</summary>
    public JobMaintenanceClient(HttpClient http) => _api = new ApiTransport(http);

    /// <summary>
    /// <c>POST /api/jobs/{id}/retry</c>: a failed or cancelled job back to pending, its attempts counted from zero again.
    /// A job in any other status is a 409 <see cref="MissionHubApiException"/>; an unknown one a 404.
    /// </summary>
    public Task<JobInfo> RetryAsync(string id, CancellationToken cancellationToken = default) =>
        _api.PostEmptyAsync($"api/jobs/{ApiTransport.Segment(id)}/retry", MissionHubClientJsonContext.Default.JobInfo, cancellationToken);

    /// <summary>
    /// <c>POST /api/jobs/retry</c>: every failed or cancelled job matching the filters back to pending.
    /// <paramref name="status"/> is <c>failed</c> or <c>cancelled</c>; null means both.
    /// </summary>
    public Task<BulkJobChange> RetryMatchingAsync(
        string? status = null, string? jobType = null, string? worker = null, CancellationToken cancellationToken = default) =>
        _api.PostEmptyAsync(Filtered("api/jobs/retry", status, jobType, worker), OperationsJsonContext.Default.BulkJobChange, cancellationToken);

    /// <summary>
    /// <c>POST /api/jobs/purge</c>: removes every finished job matching the filters.
    /// <paramref name="status"/> is <c>completed</c>, <c>failed</c> or <c>cancelled</c>; null means all three.
    /// </summary>
    public Task<BulkJobChange> PurgeMatchingAsync(
        string? status = null, string? jobType = null, string? worker = null, CancellationToken cancellationToken = default) =>
        _api.PostEmptyAsync(Filtered("api/jobs/purge", status, jobType, worker), OperationsJsonContext.Default.BulkJobChange, cancellationToken);

    private static string Filtered(string path, string? status, string? jobType, string? worker) =>
        ApiTransport.Query(path, ("status", status), ("job_type", jobType), ("worker", worker));
}
