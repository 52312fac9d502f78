using Microsoft.AspNetCore.Http.HttpResults;
using MissionHub.ApiDocs;
using MissionHub.Auth;
using MissionHub.Infrastructure;

namespace MissionHub.Missions;

/// <summary>The missions endpoints of DESIGN.md §3 under <c>/api/missions</c>.</summary>
public static class MissionsApi
{
    public static IEndpointRouteBuilder MapMissionsApi(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/api/missions").WithTags("Missions").RequireAuthorization(Policies.Viewer);
        group.MapPost("/", CreateAsync)
            .RequireAuthorization(Policies.Operator)
            .WithSummary("Create a mission (PENDING); a duplicate id is 409. With an Idempotency-Key header, the same key and body within 24 h answers 200 with the original, a different body 409 naming the key")
            .Accepts<CreateMissionRequest>("application/json")
            .WithHeader(IdempotencyKeys.Header, "optional: the same key and body within 24 h answers 200 with the original mission; another body 409")
            .WithProblems(StatusCodes.Status400BadRequest, StatusCodes.Status409Conflict)
            .WithExamples(
                request: """{"name": "Deploy Application v2.0", "description": "Deploy new version to production", "data": {"environment": "production"}}""",
                response: """{"id": "550e8400-e29b-41d4-a716-446655440000", "name": "Deploy Application v2.0", "description": "Deploy new version to production", "data": {"environment": "production"}, "status": "PENDING", "created_at": 1703001234.567, "updated_at": 1703001234.567}""");
        group.MapGet("/", ListAsync)
            .WithSummary("List missions, newest first")
            .WithQuery(("status", "only missions in this status (PENDING, RUNNING, COMPLETED, FAILED, CANCELLED)"),
                ("limit", "page size"), ("cursor", "next_cursor of the previous page"))
            .WithProblems(StatusCodes.Status400BadRequest);
        // A literal segment outranks a parameter in routing, so /stats is never taken for a mission id
        // (and "stats" is refused as an id).
        group.MapGet("/stats", GetStatsAsync)
            .WithSummary("Mission counters by status")
            .WithExamples(response: """{"total": 3, "by_status": {"PENDING": 1, "RUNNING": 1, "COMPLETED": 1, "FAILED": 0, "CANCELLED": 0}, "last_updated": 1703001300.123}""");
        group.MapGet("/{id}", GetAsync).WithSummary("One mission").WithProblems(StatusCodes.Status404NotFound);
        group.MapPost("/{id}/status", ChangeStatusAsync)
            .RequireAuthorization(Policies.Operator)
            .WithSummary("Change a mission's status; a transition the lifecycle does not allow is 409 naming both states")
            .Accepts<StatusChangeRequest>("application/json")
            .WithProblems(StatusCodes.Status400BadRequest, StatusCodes.Status404NotFound, StatusCodes.Status409Conflict)
            .WithExamples(request: """{"status": "RUNNING"}""");
        group.MapPost("/{id}/log", AppendLogAsync)
            .RequireAuthorization(Policies.Operator)
            .WithSummary("Append a log entry (level debug, info, warning or error)")
            .Accepts<LogEntryRequest>("application/json")
            .WithProblems(StatusCodes.Status400BadRequest, StatusCodes.Status404NotFound)
            .WithExamples(request: """{"level": "info", "message": "Deployment started", "data": {"step": 1}}""");
        group.MapGet("/{id}/log", ReadLogAsync)
            .WithSummary("A mission's log, oldest first")
            .WithQuery(("limit", "page size"), ("cursor", "next_cursor of the previous page"))
            .WithProblems(StatusCodes.Status400BadRequest, StatusCodes.Status404NotFound);
        return app;
    }

    internal static async Task<Results<Created<MissionResponse>, Ok<MissionResponse>, ProblemHttpResult>> CreateAsync(
        HttpRequest request, MissionService missions, CancellationToken cancellationToken)
    {
        if (!IdempotencyKeys.TryRead(request, out var idempotencyKey, out var badKey))
        {
            return badKey!;
        }
        var (body, error) = await MissionRequestReader.ReadAsync(request, cancellationToken);
        using (body)
        {
            if (error is not null)
            {
                return error.ToProblem();
            }
            var root = body!.RootElement;
            MissionError? wrongType = null;
            var id = MissionRequestReader.GetString(root, "id", ref wrongType);
            var name = MissionRequestReader.GetString(root, "name", ref wrongType);
            var description = MissionRequestReader.GetString(root, "description", ref wrongType);
            if (wrongType is not null)
            {
                return wrongType.ToProblem();
            }
            var create = new CreateMissionRequest(id, name, description, MissionRequestReader.GetValue(root, "data"));
            if (idempotencyKey is not null)
            {
                var once = await missions.CreateOnceAsync(create, idempotencyKey, IdempotencyKeys.Fingerprint(root), cancellationToken);
                if (once.Error is { } refusedOnce)
                {
                    return refusedOnce.ToProblem();
                }
                var (created, replayed) = once.Value!;
                return replayed ? TypedResults.Ok(created.ToResponse()) : TypedResults.Created($"/api/missions/{created.Id}", created.ToResponse());
            }
            var outcome = await missions.CreateAsync(create, cancellationToken);
            if (outcome.Error is { } refused)
            {
                return refused.ToProblem();
            }
            var mission = outcome.Value!;
            return TypedResults.Created($"/api/missions/{mission.Id}", mission.ToResponse());
        }
    }

    internal static async Task<Results<Ok<MissionPage>, ProblemHttpResult>> ListAsync(
        HttpRequest request, MissionService missions, CancellationToken cancellationToken)
    {
        var query = request.Query;
        var outcome = await missions.ListAsync(
            NullIfEmpty(query["status"]), NullIfEmpty(query["limit"]), NullIfEmpty(query["cursor"]), cancellationToken);
        return outcome.Error is { } refused ? refused.ToProblem() : TypedResults.Ok(outcome.Value!);
    }

    internal static async Task<Ok<MissionStats>> GetStatsAsync(MissionService missions, CancellationToken cancellationToken) =>
        TypedResults.Ok(await missions.GetStatsAsync(cancellationToken));

    internal static async Task<Results<Ok<MissionResponse>, ProblemHttpResult>> GetAsync(
        string id, MissionService missions, CancellationToken cancellationToken) =>
        await missions.GetAsync(id, cancellationToken) is { } mission
            ? TypedResults.Ok(mission.ToResponse())
            : MissionError.NotFound(id).ToProblem();

    internal static async Task<Results<Ok<MissionResponse>, ProblemHttpResult>> ChangeStatusAsync(
        string id, HttpRequest request, MissionService missions, CancellationToken cancellationToken)
    {
        var (body, error) = await MissionRequestReader.ReadAsync(request, cancellationToken);
        using (body)
        {
            if (error is not null)
            {
                return error.ToProblem();
            }
            MissionError? wrongType = null;
            var status = MissionRequestReader.GetString(body!.RootElement, "status", ref wrongType);
            if (wrongType is not null)
            {
                return wrongType.ToProblem();
            }
            var outcome = await missions.ChangeStatusAsync(id, new StatusChangeRequest(status), cancellationToken);
            return outcome.Error is { } conflict ? conflict.ToProblem() : TypedResults.Ok(outcome.Value!.ToResponse());
        }
    }

    internal static async Task<Results<Created<MissionLogEntry>, ProblemHttpResult>> AppendLogAsync(
        string id, HttpRequest request, MissionService missions, CancellationToken cancellationToken)
    {
        var (body, error) = await MissionRequestReader.ReadAsync(request, cancellationToken);
        using (body)
        {
            if (error is not null)
            {
                return error.ToProblem();
            }
            var root = body!.RootElement;
            MissionError? wrongType = null;
            var level = MissionRequestReader.GetString(root, "level", ref wrongType);
            var message = MissionRequestReader.GetString(root, "message", ref wrongType);
            if (wrongType is not null)
            {
                return wrongType.ToProblem();
            }
            var outcome = await missions.AppendLogAsync(
                id, new LogEntryRequest(level, message, MissionRequestReader.GetValue(root, "data")), cancellationToken);
            return outcome.Error is { } refused
                ? refused.ToProblem()
                : TypedResults.Created($"/api/missions/{id}/log", outcome.Value!);
        }
    }

    internal static async Task<Results<Ok<MissionLogPage>, ProblemHttpResult>> ReadLogAsync(
        string id, HttpRequest request, MissionService missions, CancellationToken cancellationToken)
    {
        var query = request.Query;
        var outcome = await missions.ReadLogAsync(id, NullIfEmpty(query["limit"]), NullIfEmpty(query["cursor"]), cancellationToken);
        return outcome.Error is { } refused ? refused.ToProblem() : TypedResults.Ok(outcome.Value!);
    }

    internal static ProblemHttpResult ToProblem(this MissionError error) => error.StatusCode switch
    {
        StatusCodes.Status400BadRequest => Problems.Invalid(error.Field ?? "body", error.Detail),
        StatusCodes.Status404NotFound => Problems.NotFound(error.Detail),
        _ => Problems.Conflict(error.Detail, error.Field is null
            ? error.Extensions
            : new Dictionary<string, object?>(error.Extensions ?? new Dictionary<string, object?>()) { ["field"] = error.Field }),
    };

    private static string? NullIfEmpty(string? value) => string.IsNullOrEmpty(value) ? null : value;
}
