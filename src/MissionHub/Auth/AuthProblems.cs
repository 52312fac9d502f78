using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Authorization.Infrastructure;
using Microsoft.AspNetCore.Authorization.Policy;

namespace MissionHub.Auth;

/// <summary>401 and 403 as problem+json with a detail a person can act on (which role is needed, how to send a key).</summary>
internal sealed class AuthProblems : IAuthorizationMiddlewareResultHandler
{
    private readonly AuthorizationMiddlewareResultHandler _default = new();

    public async Task HandleAsync(RequestDelegate next, HttpContext context, AuthorizationPolicy policy, PolicyAuthorizationResult authorizeResult)
    {
        if (authorizeResult.Challenged)
        {
            var why = context.Items[ApiKeyAuthenticationHandler.FailureItem] as string;
            await WriteAsync(context, StatusCodes.Status401Unauthorized, "Unauthorized", why is null
                ? $"a credential is required: send 'Authorization: Bearer mh_…' or 'X-Api-Key: mh_…' (browsers: sign in on the dashboard, or ?access_token= on WebSocket and EventSource URLs)"
                : $"the credential was refused: {why}");
            return;
        }
        if (authorizeResult.Forbidden)
        {
            var failed = authorizeResult.AuthorizationFailure?.FailedRequirements.ToList() ?? [];
            var roles = failed.OfType<RolesAuthorizationRequirement>().SelectMany(r => r.AllowedRoles).Distinct().ToList();
            var idRefusal = failed.OfType<IdPatternRequirement>().Any() ? context.Items[IdPatternRequirement.RefusalItem] as string : null;
            var detail = idRefusal ?? (roles.Count > 0
                ? $"this needs the '{roles[0]}' role{(roles.Count > 1 ? $" (or {string.Join(" or ", roles.Skip(1).Select(r => $"'{r}'"))})" : "")}; this credential has {Describe(context.User.RoleNames())}"
                : "this credential is not allowed to do this");
            await WriteAsync(context, StatusCodes.Status403Forbidden, "Forbidden", detail, roles.Count > 0 ? roles[0] : null);
            return;
        }
        await _default.HandleAsync(next, context, policy, authorizeResult);
    }

    private static string Describe(IReadOnlyList<string> roles) =>
        roles.Count == 0 ? "no role" : "the role(s) " + string.Join(", ", roles);

    internal static Task WriteAsync(HttpContext context, int status, string title, string detail, string? requiredRole = null)
    {
        var extensions = new Dictionary<string, object?>();
        if (requiredRole is not null)
        {
            extensions["required_role"] = requiredRole;
        }
        if (status == StatusCodes.Status401Unauthorized)
        {
            context.Response.Headers.WWWAuthenticate = "Bearer";
        }
        return TypedResults.Problem(detail: detail, statusCode: status, title: title, extensions: extensions).ExecuteAsync(context);
    }
}

/// <summary>
/// A worker or robot credential with an id pattern may act only as matching ids: checked against a route value
/// (<c>robot_id</c>) at the handshake; <c>worker_id</c> arrives in a frame and is checked by the worker socket.
/// </summary>
internal sealed class IdPatternRequirement(string routeValue) : AuthorizationHandler<IdPatternRequirement>, IAuthorizationRequirement
{
    public const string RefusalItem = "MissionHub.Auth.IdRefusal";

    public string RouteValue { get; } = routeValue;

    protected override Task HandleRequirementAsync(AuthorizationHandlerContext context, IdPatternRequirement requirement)
    {
        if (context.Resource is HttpContext http)
        {
            // No id in the route: nothing to act as (the endpoint refuses the request itself).
            if (http.GetRouteValue(requirement.RouteValue) is not string { Length: > 0 } id)
            {
                context.Succeed(requirement);
            }
            else if (WorkerIdentity.MayActAs(context.User, id, requirement.RouteValue.Replace("_id", "", StringComparison.Ordinal), out var refusal))
            {
                context.Succeed(requirement);
            }
            else
            {
                http.Items[RefusalItem] = refusal;
            }
        }
        return Task.CompletedTask;
    }
}
