namespace MissionHub.Client;

/// <summary>The supervisor REST API (<c>/api/supervisor</c>). A refusal surfaces as <see cref="MissionHubApiException"/>.</summary>
public sealed class SupervisorClient
{
    private readonly ApiTransport _api;

    /// <summary>A client on <paramref name="http"/>, whose <see cref="HttpClient.BaseAddress"/> is the hub.</summary>
    public SupervisorClient(HttpClient http) => _api = new ApiTransport(http);

    /// <summary><c>GET /api/supervisor/health</c>: the health report, also when the hub answers 503 (status <c>error</c>).</summary>
    public Task<SupervisorHealth> GetHealthAsync(CancellationToken cancellationToken = default) =>
        _api.GetAsync("api/supervisor/health", ApiJsonContext.Default.SupervisorHealth, cancellationToken, acceptAnyStatusWithBody: true);

    /// <summary><c>GET /api/supervisor/status</c>: mission counts and agents.</summary>
    public Task<SupervisorStatus> GetStatusAsync(CancellationToken cancellationToken = default) =>
        _api.GetAsync("api/supervisor/status", ApiJsonContext.Default.SupervisorStatus, cancellationToken);

    /// <summary><c>GET /api/supervisor/agents</c>: every worker and robot, optionally of one kind and state.</summary>
    public async Task<IReadOnlyList<Agent>> ListAgentsAsync(string? kind = null, string? state = null, CancellationToken cancellationToken = default) =>
        await _api.GetAsync(ApiTransport.Query("api/supervisor/agents", ("kind", kind), ("state", state)), ApiJsonContext.Default.ListAgent, cancellationToken);
}
