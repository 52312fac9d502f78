using Microsoft.AspNetCore.Http.HttpResults;
using MissionHub.Agents;
using MissionHub.ApiDocs;
using MissionHub.Auth;
using MissionHub.Infrastructure;

namespace MissionHub.Supervisor;

/// <summary>The supervisor endpoints of spec 000 under <c>/api/supervisor</c>.</summary>
public static class SupervisorApi
{
    private static readonly string ValidKinds = string.Join(", ", AgentKind.All);
    private static readonly string ValidStates = string.Join(", ", AgentState.All);

    public static IEndpointRouteBuilder MapSupervisorApi(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/api/supervisor").WithTags("Supervisor").RequireAuthorization(Policies.Viewer);
        group.MapGet("/health", GetHealthAsync)
            .WithSummary("ok, degraded or error from real checks; 503 with the same body when error")
            .Produces<SupervisorHealth>(StatusCodes.Status200OK)
            .Produces<SupervisorHealth>(StatusCodes.Status503ServiceUnavailable);
        group.MapGet("/status", GetStatusAsync)
            .WithSummary("Missions, jobs and agents at a glance")
            .WithProblems(StatusCodes.Status503ServiceUnavailable);
        group.MapGet("/agents", ListAgentsAsync)
            .WithSummary("Every connected (and recently seen) worker and robot")
            .WithQuery(("kind", "worker or robot"), ("state", "only agents in this state"))
            .WithProblems(StatusCodes.Status400BadRequest);
        return app;
    }

    /// <summary>200 when ok or degraded; 503 with the same body when any check is in error, so load balancers act on it.</summary>
    internal static async Task<JsonHttpResult<SupervisorHealth>> GetHealthAsync(SupervisorService supervisor, CancellationToken cancellationToken)
    {
        var health = await supervisor.GetHealthAsync(cancellationToken);
        return TypedResults.Json(
            health,
            SupervisorJsonContext.Default.SupervisorHealth,
            statusCode: health.Status == HealthState.Error ? StatusCodes.Status503ServiceUnavailable : StatusCodes.Status200OK);
    }

    internal static async Task<Results<Ok<SupervisorStatus>, ProblemHttpResult>> GetStatusAsync(
        SupervisorService supervisor, CancellationToken cancellationToken) =>
        await supervisor.GetStatusAsync(cancellationToken) is { } status
            ? TypedResults.Ok(status)
            : Problems.Unavailable("the mission counters could not be read from storage; see GET /api/supervisor/health");

    internal static async Task<Results<Ok<IReadOnlyList<AgentResponse>>, ProblemHttpResult>> ListAgentsAsync(HttpRequest request, SupervisorService supervisor, CancellationToken cancellationToken)
    {
        var kind = NullIfEmpty(request.Query["kind"]);
        if (kind is not null && !AgentKind.All.Contains(kind, StringComparer.Ordinal))
        {
            return Problems.Invalid("kind", $"kind '{kind}' is not valid; valid values: {ValidKinds}");
        }
        var state = NullIfEmpty(request.Query["state"]);
        if (state is not null && !AgentState.All.Contains(state, StringComparer.Ordinal))
        {
            return Problems.Invalid("state", $"state '{state}' is not valid; valid values: {ValidStates}");
        }
        return TypedResults.Ok(await supervisor.ListAgentsAsync(kind, state, cancellationToken));
    }

    private static string? NullIfEmpty(string? value) => string.IsNullOrEmpty(value) ? null : value;
}
