using System.Runtime.CompilerServices;
using System.Text.Json;

namespace MissionHub.Client;

/// <summary>The missions REST API (<c>/api/missions</c>). A refusal surfaces as <see cref="MissionHubApiException"/>.</summary>
public sealed class MissionsClient
{
    private readonly ApiTransport _api;

    /// <summary>A client on <paramref name="http"/>, whose <see cref="HttpClient.BaseAddress"/> is the hub.</summary>
    public MissionsClient(HttpClient http) => _api = new ApiTransport(http);

    /// <summary><c>POST /api/missions</c>: the new mission, PENDING. A duplicate id is a 409.</summary>
    public Task<Mission> CreateAsync(NewMission mission, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(mission);
        return _api.PostAsync("api/missions", mission, ApiJsonContext.Default.NewMission, ApiJsonContext.Default.Mission, cancellationToken);
    }

    /// <summary><c>GET /api/missions</c>: one page, newest first, optionally only one status.</summary>
    public Task<MissionPage> ListAsync(string? status = null, int? limit = null, string? cursor = null, CancellationToken cancellationToken = default) =>
        _api.GetAsync(ApiTransport.Query("api/missions", ("status", status), ("limit", limit), ("cursor", cursor)), ApiJsonContext.Default.MissionPage, cancellationToken);

    /// <summary>Every mission (optionally of one status), page by page.</summary>
    public async IAsyncEnumerable<Mission> ListAllAsync(string? status = null, int pageSize = 100, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        string? cursor = null;
        do
        {
            var page = await ListAsync(status, pageSize, cursor, cancellationToken);
            foreach (var mission in page.Missions)
            {
                yield return mission;
            }
            cursor = page.NextCursor;
        }
        while (cursor is not null);
    }

    /// <summary><c>GET /api/missions/{id}</c>; an unknown id is a 404.</summary>
    public Task<Mission> GetAsync(string id, CancellationToken cancellationToken = default) =>
        _api.GetAsync($"api/missions/{ApiTransport.Segment(id)}", ApiJsonContext.Default.Mission, cancellationToken);

    /// <summary>
    /// <c>POST /api/missions/{id}/status</c>: the mission after the change. A transition the lifecycle does not allow
    /// is a 409 naming both states; the current status again changes nothing.
    /// </summary>
    public Task<Mission> ChangeStatusAsync(string id, string status, CancellationToken cancellationToken = default) =>
        _api.PostAsync($"api/missions/{ApiTransport.Segment(id)}/status", new StatusChange(status),
            ApiJsonContext.Default.StatusChange, ApiJsonContext.Default.Mission, cancellationToken);

    /// <summary><c>POST /api/missions/{id}/log</c>: the entry as stored. Levels: debug, info, warning, error.</summary>
    public Task<MissionLogEntry> AppendLogAsync(string id, string level, string message, JsonElement? data = null, CancellationToken cancellationToken = default) =>
        _api.PostAsync($"api/missions/{ApiTransport.Segment(id)}/log", new LogEntryBody(level, message, data),
            ApiJsonContext.Default.LogEntryBody, ApiJsonContext.Default.MissionLogEntry, cancellationToken);

    /// <summary><c>GET /api/missions/{id}/log</c>: one page, oldest first.</summary>
    public Task<MissionLogPage> ReadLogAsync(string id, int? limit = null, string? cursor = null, CancellationToken cancellationToken = default) =>
        _api.GetAsync(ApiTransport.Query($"api/missions/{ApiTransport.Segment(id)}/log", ("limit", limit), ("cursor", cursor)),
            ApiJsonContext.Default.MissionLogPage, cancellationToken);

    /// <summary><c>GET /api/missions/stats</c>.</summary>
    public Task<MissionStats> GetStatsAsync(CancellationToken cancellationToken = default) =>
        _api.GetAsync("api/missions/stats", ApiJsonContext.Default.MissionStats, cancellationToken);
}
