using System.Runtime.CompilerServices;

namespace MissionHub.Client;

/// <summary>
/// The recurring schedules REST API (<c>/api/schedules</c>) over an <see cref="HttpClient"/> whose
/// <see cref="HttpClient.BaseAddress"/> is the hub. A refusal surfaces as <see cref="MissionHubApiException"/>.
/// </summary>
public sealed class SchedulesClient
{
    private readonly ApiTransport _api;

    /// <param name="http">The client whose base address is the hub.</param>
    /// <param name="apiKey">An API key (or JWT) sent as <c>Authorization: Bearer</c> on every request; null in protected mode.</param>
    public SchedulesClient(HttpClient http, string? apiKey = null)
    {
        ArgumentNullException.ThrowIfNull(http);
        MissionHubCredentials.Apply(http, apiKey);
        _api = new ApiTransport(http);
    }

    /// <summary>
    /// <c>POST /api/schedules</c>: the new schedule with its first <see cref="Schedule.NextRunAt"/>. An id that exists is a
    /// 409 <see cref="MissionHubApiException"/>; an invalid definition a 400 whose <see cref="MissionHubApiException.Field"/>
    /// names the field (<c>cron</c>, <c>time_zone</c> …).
    /// </summary>
    public Task<Schedule> CreateAsync(ScheduleDefinition schedule, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(schedule);
        return _api.PostAsync("api/schedules", schedule, MissionHubClientJsonContext.Default.ScheduleDefinition,
            MissionHubClientJsonContext.Default.Schedule, cancellationToken);
    }

    /// <summary><c>GET /api/schedules</c>: one page of schedules, ordered by id (the hub's default page is 500).</summary>
    public Task<SchedulePage> ListAsync(int? limit = null, string? cursor = null, CancellationToken cancellationToken = default) =>
        _api.GetAsync(ApiTransport.Query("api/schedules", ("limit", limit), ("cursor", cursor)), MissionHubClientJsonContext.Default.SchedulePage, cancellationToken);

    /// <summary>Every schedule, ordered by id, page by page.</summary>
    public async IAsyncEnumerable<Schedule> ListAllAsync(int pageSize = 500, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        string? cursor = null;
        do
        {
            var page = await ListAsync(pageSize, cursor, cancellationToken);
            foreach (var schedule in page.Schedules)
            {
                yield return schedule;
            }
            cursor = page.NextCursor;
        }
        while (cursor is not null);
    }

    /// <summary><c>GET /api/schedules/{id}</c>; an unknown id is a 404 <see cref="MissionHubApiException"/>.</summary>
    public Task<Schedule> GetAsync(string id, CancellationToken cancellationToken = default) =>
        _api.GetAsync($"api/schedules/{ApiTransport.Segment(id)}", MissionHubClientJsonContext.Default.Schedule, cancellationToken);

    /// <summary><c>DELETE /api/schedules/{id}</c>: it fires nothing more (jobs it fired stay); an unknown id is a 404.</summary>
    public Task DeleteAsync(string id, CancellationToken cancellationToken = default) =>
        _api.DeleteAsync($"api/schedules/{ApiTransport.Segment(id)}", cancellationToken);

    /// <summary><c>POST /api/schedules/{id}/pause</c>: the schedule, paused, with no <see cref="Schedule.NextRunAt"/>.</summary>
    public Task<Schedule> PauseAsync(string id, CancellationToken cancellationToken = default) =>
        _api.PostEmptyAsync($"api/schedules/{ApiTransport.Segment(id)}/pause", MissionHubClientJsonContext.Default.Schedule, cancellationToken);

    /// <summary><c>POST /api/schedules/{id}/resume</c>: the schedule, running again from its next tick.</summary>
    public Task<Schedule> ResumeAsync(string id, CancellationToken cancellationToken = default) =>
        _api.PostEmptyAsync($"api/schedules/{ApiTransport.Segment(id)}/resume", MissionHubClientJsonContext.Default.Schedule, cancellationToken);

    /// <summary><c>POST /api/schedules/{id}/trigger</c>: fires the schedule's job now, outside its cron, and returns that job.</summary>
    public Task<ScheduleTriggerResult> TriggerAsync(string id, CancellationToken cancellationToken = default) =>
        _api.PostEmptyAsync($"api/schedules/{ApiTransport.Segment(id)}/trigger", MissionHubClientJsonContext.Default.ScheduleTriggerResult, cancellationToken);
}
