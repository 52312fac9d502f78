namespace MissionHub.Client;

/// <summary>
/// The queues REST API (<c>/api/queues</c>): every job type's counts, and pausing and resuming its dispatch.
/// A refusal surfaces as <see cref="MissionHubApiException"/>.
/// </summary>
public sealed class QueuesClient
{
    private readonly ApiTransport _api;

    /// <summary>A client on <paramref name="http"/>, whose <see cref="HttpClient.BaseAddress"/> is the hub.</summary>
    public QueuesClient(HttpClient http) => _api = new ApiTransport(http);

    /// <summary><c>GET /api/queues</c>: every job type with its counts and the workers that take it.</summary>
    public Task<QueueList> ListAsync(CancellationToken cancellationToken = default) =>
        _api.GetAsync("api/queues", OperationsJsonContext.Default.QueueList, cancellationToken);

    /// <summary>
    /// <c>POST /api/queues/{job_type}/pause</c>: no job of this type is handed out until it is resumed (running ones finish).
    /// An invalid job type is a 400 <see cref="MissionHubApiException"/>.
    /// </summary>
    public Task<QueueChange> PauseAsync(string jobType, CancellationToken cancellationToken = default) =>
        _api.PostEmptyAsync($"api/queues/{ApiTransport.Segment(jobType)}/pause", OperationsJsonContext.Default.QueueChange, cancellationToken);

    /// <summary><c>POST /api/queues/{job_type}/resume</c>: jobs of this type are handed out again.</summary>
    public Task<QueueChange> ResumeAsync(string jobType, CancellationToken cancellationToken = default) =>
        _api.PostEmptyAsync($"api/queues/{ApiTransport.Segment(jobType)}/resume", OperationsJsonContext.Default.QueueChange, cancellationToken);
}
