using System.Runtime.CompilerServices;

namespace MissionHub.Client;

/// <summary>
/// The jobs REST API (<c>/api/jobs</c>) over an <see cref="HttpClient"/> whose <see cref="HttpClient.BaseAddress"/>
/// is the hub (e.g. <c>http://localhost:5080/</c>). A refusal surfaces as <see cref="MissionHubApiException"/>.
/// </summary>
public sealed class JobsClient
{
    private readonly ApiTransport _api;

    /// <param name="http">The client whose base address is the hub.</param>
    /// <param name="apiKey">An API key (or JWT) sent as <c>Authorization: Bearer</c> on every request; null in protected mode.</param>
    public JobsClient(HttpClient http, string? apiKey = null)
    {
        ArgumentNullException.ThrowIfNull(http);
        MissionHubCredentials.Apply(http, apiKey);
        _api = new ApiTransport(http);
    }

    /// <summary><c>POST /api/jobs</c>: the new job, <c>pending</c>.</summary>
    public Task<JobInfo> SubmitAsync(JobSubmission submission, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(submission);
        return _api.PostAsync("api/jobs", submission, MissionHubClientJsonContext.Default.JobSubmission, MissionHubClientJsonContext.Default.JobInfo, cancellationToken);
    }

    /// <summary>
    /// <c>POST /api/jobs/batch</c>: every job in one request and one atomic step — all stored, or none. A batch with an
    /// invalid job is a 400 <see cref="MissionHubApiException"/> naming the first (<c>jobs[3].priority</c>); the answer's
    /// <c>errors</c> lists every one.
    /// </summary>
    public Task<JobBatchResult> SubmitBatchAsync(IEnumerable<JobSubmission> jobs, CancellationToken cancellationToken = default) =>
        SubmitBatchAsync(jobs, idempotencyKey: null, cancellationToken);

    /// <summary>
    /// <c>POST /api/jobs/batch</c> with an <c>Idempotency-Key</c> header (null: none): sending the same jobs again with the
    /// same key within 24 hours answers with the batch the first request stored (the same job ids, in order) and stores
    /// nothing, so a client that timed out can safely send again. The same key with other jobs is a 409
    /// <see cref="MissionHubApiException"/> naming <c>Idempotency-Key</c>.
    /// </summary>
    public Task<JobBatchResult> SubmitBatchAsync(IEnumerable<JobSubmission> jobs, string? idempotencyKey, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(jobs);
        return _api.PostAsync("api/jobs/batch", new JobBatchBody([.. jobs]), MissionHubClientJsonContext.Default.JobBatchBody,
            MissionHubClientJsonContext.Default.JobBatchResult,
            idempotencyKey is null ? [] : [("Idempotency-Key", idempotencyKey)], cancellationToken);
    }

    /// <summary><c>GET /api/jobs/{id}</c>; an unknown id is a 404 <see cref="MissionHubApiException"/>.</summary>
    public Task<JobInfo> GetAsync(string id, CancellationToken cancellationToken = default) =>
        _api.GetAsync($"api/jobs/{ApiTransport.Segment(id)}", MissionHubClientJsonContext.Default.JobInfo, cancellationToken);

    /// <summary><c>GET /api/jobs</c>: one page, newest first, filtered by any of status, job type and worker id.</summary>
    public Task<JobPage> ListAsync(
        string? status = null, string? jobType = null, string? worker = null, int? limit = null, string? cursor = null,
        CancellationToken cancellationToken = default) =>
        _api.GetAsync(
            ApiTransport.Query("api/jobs", ("status", status), ("job_type", jobType), ("worker", worker), ("limit", limit), ("cursor", cursor)),
            MissionHubClientJsonContext.Default.JobPage, cancellationToken);

    /// <summary>Every job matching the filters, page by page.</summary>
    public async IAsyncEnumerable<JobInfo> ListAllAsync(
        string? status = null, string? jobType = null, string? worker = null, int pageSize = 100,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        string? cursor = null;
        do
        {
            var page = await ListAsync(status, jobType, worker, pageSize, cursor, cancellationToken);
            foreach (var job in page.Jobs)
            {
                yield return job;
            }
            cursor = page.NextCursor;
        }
        while (cursor is not null);
    }

    /// <summary>
    /// <c>GET /api/jobs?finished_since=&amp;finished_until=</c>: one page of the jobs that finished (completed, failed or
    /// cancelled) at or after <paramref name="finishedSince"/> and before <paramref name="finishedUntil"/> (Unix seconds,
    /// as <see cref="JobInfo.CompletedAt"/>; null leaves that end open), newest finished first, filtered as
    /// <see cref="ListAsync"/> is.
    /// </summary>
    public Task<JobPage> ListFinishedAsync(
        double? finishedSince, double? finishedUntil, string? status = null, string? jobType = null, string? worker = null, int? limit = null,
        string? cursor = null, CancellationToken cancellationToken = default) =>
        _api.GetAsync(
            ApiTransport.Query("api/jobs", ("status", status), ("job_type", jobType), ("worker", worker), ("limit", limit), ("cursor", cursor),
                ("finished_since", finishedSince), ("finished_until", finishedUntil)),
            MissionHubClientJsonContext.Default.JobPage, cancellationToken);

    /// <summary>Every job that finished in the range and matches the filters, page by page, newest finished first.</summary>
    public async IAsyncEnumerable<JobInfo> ListAllFinishedAsync(
        double? finishedSince, double? finishedUntil, string? status = null, string? jobType = null, string? worker = null, int pageSize = 100,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        string? cursor = null;
        do
        {
            var page = await ListFinishedAsync(finishedSince, finishedUntil, status, jobType, worker, pageSize, cursor, cancellationToken);
            foreach (var job in page.Jobs)
            {
                yield return job;
            }
            cursor = page.NextCursor;
        }
        while (cursor is not null);
    }

    /// <summary>
    /// <c>POST /api/jobs/{id}/retry</c>: a failed or cancelled job back to pending, its attempts counted from zero again.
    /// A job in any other status is a 409 <see cref="MissionHubApiException"/>; an unknown one a 404.
    /// </summary>
    public Task<JobInfo> RetryAsync(string id, CancellationToken cancellationToken = default) =>
        _api.PostEmptyAsync($"api/jobs/{ApiTransport.Segment(id)}/retry", MissionHubClientJsonContext.Default.JobInfo, cancellationToken);

    /// <summary>
    /// <c>POST /api/jobs/retry</c>: every failed or cancelled job matching the filters back to <c>pending</c> (attempts from
    /// zero again); <paramref name="finishedSince"/> / <paramref name="finishedUntil"/> (Unix seconds) take only those that
    /// finished in that range — "everything that failed in the last hour". Answers how many.
    /// </summary>
    public Task<BulkJobResult> RetryMatchingAsync(
        string? status = null, string? jobType = null, string? worker = null, double? finishedSince = null, double? finishedUntil = null,
        CancellationToken cancellationToken = default) =>
        _api.PostEmptyAsync(BulkQuery("api/jobs/retry", status, jobType, worker, finishedSince, finishedUntil),
            MissionHubClientJsonContext.Default.BulkJobResult, cancellationToken);

    /// <summary>
    /// <c>POST /api/jobs/purge</c>: removes every finished job matching the filters (the finish-time range as for
    /// <see cref="RetryMatchingAsync"/>); answers how many.
    /// </summary>
    public Task<BulkJobResult> PurgeMatchingAsync(
        string? status = null, string? jobType = null, string? worker = null, double? finishedSince = null, double? finishedUntil = null,
        CancellationToken cancellationToken = default) =>
        _api.PostEmptyAsync(BulkQuery("api/jobs/purge", status, jobType, worker, finishedSince, finishedUntil),
            MissionHubClientJsonContext.Default.BulkJobResult, cancellationToken);

    private static string BulkQuery(string path, string? status, string? jobType, string? worker, double? finishedSince, double? finishedUntil) =>
        ApiTransport.Query(path, ("status", status), ("job_type", jobType), ("worker", worker),
            ("finished_since", finishedSince), ("finished_until", finishedUntil));

    /// <summary>
    /// <c>POST /api/jobs/{id}/cancel</c>: the job, now <c>cancelled</c> (a worker running it gets <c>job_cancelled</c>).
    /// A job that already finished is a 409 <see cref="MissionHubApiException"/>; an unknown one a 404.
    /// </summary>
    public Task<JobInfo> CancelAsync(string id, CancellationToken cancellationToken = default) =>
        _api.PostEmptyAsync($"api/jobs/{ApiTransport.Segment(id)}/cancel", MissionHubClientJsonContext.Default.JobInfo, cancellationToken);

    /// <summary>
    /// Polls <c>GET /api/jobs/{id}</c> until the job is completed, failed or cancelled, and returns it;
    /// <paramref name="progress"/> hears each change of status or progress.
    /// </summary>
    public async Task<JobInfo> WaitAsync(
        string id, TimeSpan? pollInterval = null, IProgress<JobInfo>? progress = null, CancellationToken cancellationToken = default)
    {
        var interval = pollInterval ?? TimeSpan.FromMilliseconds(200);
        JobInfo? last = null;
        while (true)
        {
            var job = await GetAsync(id, cancellationToken);
            if (last is null || last.Status != job.Status || last.Progress != job.Progress)
            {
                progress?.Report(job);
            }
            if (JobStatuses.IsFinal(job.Status))
            {
                return job;
            }
            last = job;
            await Task.Delay(interval, cancellationToken);
        }
    }
}
