using MissionHub.ApiDocs;
using System.Text.Json;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;
using MissionHub.Infrastructure;

namespace MissionHub.Auth;

/// <summary>
/// <c>/api/auth</c>: the keys API (admin) and the dashboard's session (sign in with a key, sign out, who am I).
/// </summary>
public static partial class AuthApi
{
    private const int MaxBodyBytes = 16 * 1024;

    public static IEndpointRouteBuilder MapAuthApi(this IEndpointRouteBuilder app)
    {
        var keys = app.MapGroup("/api/auth/keys").WithTags("Auth").RequireAuthorization(Policies.Admin);
        keys.MapPost("/", CreateKeyAsync)
            .WithSummary("Create an API key; its secret is in this answer only (storage keeps a hash)")
            .Accepts<CreateKeyRequest>("application/json")
            .WithProblems(StatusCodes.Status400BadRequest, StatusCodes.Status401Unauthorized, StatusCodes.Status403Forbidden)
            .WithExamples(request: """{"name": "render-farm", "roles": ["worker"], "id_pattern": "render-*", "expires_at": 1830000000}""");
        keys.MapGet("/", ListKeysAsync)
            .WithSummary("Every key, never a secret")
            .WithProblems(StatusCodes.Status401Unauthorized, StatusCodes.Status403Forbidden);
        keys.MapDelete("/{id}", RevokeKeyAsync)
            .WithSummary("Revoke a key: it stops working at once, and the sockets and streams opened with it are closed")
            .WithProblems(StatusCodes.Status401Unauthorized, StatusCodes.Status403Forbidden, StatusCodes.Status404NotFound);

        var session = app.MapGroup("/api/auth").WithTags("Auth").AllowAnonymous();
        session.MapPost("/session", SignInAsync)
            .WithSummary("Dashboard sign-in: exchanges a key for an HttpOnly, SameSite=Strict session cookie")
            .Accepts<SessionRequest>("application/json")
            .WithProblems(StatusCodes.Status400BadRequest, StatusCodes.Status401Unauthorized);
        session.MapDelete("/session", SignOut).WithSummary("Dashboard sign-out: clears the session cookie");
        session.MapGet("/me", WhoAmI).WithSummary("Who the caller is: actor, roles, and whether the server is in protected mode");
        return app;
    }

    /// <summary>What is served with no credential even when keys are configured: the liveness check.</summary>
    public static bool IsOpen(HttpRequest request) =>
        HttpMethods.IsGet(request.Method) && request.Path.Equals("/api/health", StringComparison.OrdinalIgnoreCase);

    internal static async Task<Results<Created<CreatedKey>, ProblemHttpResult>> CreateKeyAsync(
        HttpRequest request, ApiKeyRing ring, TimeProvider time, ILoggerFactory loggers, CancellationToken cancellationToken)
    {
        var (body, problem) = await JsonBody.ReadObjectAsync(request, MaxBodyBytes, cancellationToken);
        if (problem is not null)
        {
            return problem;
        }
        var now = time.GetUtcNow().ToUnixTimeMilliseconds() / 1000.0;
        if (!body.TryGetProperty("name", out var nameElement) || nameElement.ValueKind != JsonValueKind.String || !ApiKeys.IsValidName(nameElement.GetString()))
        {
            return Problems.Invalid("name", "name is required: 1 to 64 letters, digits, '-', '_', '.' or '@', e.g. \"render-farm\"");
        }
        var name = nameElement.GetString()!;
        if (!body.TryGetProperty("roles", out var rolesElement) || rolesElement.ValueKind != JsonValueKind.Array || rolesElement.GetArrayLength() == 0
            || rolesElement.EnumerateArray().Any(r => r.ValueKind != JsonValueKind.String || !Roles.All.Contains(r.GetString())))
        {
            return Problems.Invalid("roles", $"roles must be a list of one or more of {string.Join(", ", Roles.All)}");
        }
        var roles = rolesElement.EnumerateArray().Select(r => r.GetString()!).Distinct(StringComparer.Ordinal).ToArray();
        string? pattern = null;
        if (body.TryGetProperty("id_pattern", out var patternElement) && patternElement.ValueKind != JsonValueKind.Null)
        {
            if (patternElement.ValueKind != JsonValueKind.String || !ApiKeys.IsValidPattern(patternElement.GetString()!))
            {
                return Problems.Invalid("id_pattern", "id_pattern must be 1 to 128 id characters with '*' wildcards, e.g. \"render-*\"");
            }
            pattern = patternElement.GetString();
        }
        double? expiresAt = null;
        if (body.TryGetProperty("expires_at", out var expiresElement) && expiresElement.ValueKind != JsonValueKind.Null)
        {
            if (expiresElement.ValueKind != JsonValueKind.Number || !expiresElement.TryGetDouble(out var expires) || !double.IsFinite(expires) || expires <= now)
            {
                return Problems.Invalid("expires_at", "expires_at must be a Unix time in seconds in the future");
            }
            expiresAt = expires;
        }
        var secret = ApiKeys.NewSecret();
        var key = new ApiKeyRecord(ApiKeys.NewId(), name, roles, pattern, expiresAt, now, ApiKeys.Hash(secret));
        if (!await ring.CreateAsync(key, cancellationToken))
        {
            return Problems.Conflict($"a key named '{name}' already exists; revoke it first or choose another name");
        }
        LogCreated(loggers.CreateLogger("MissionHub.Auth"), key.Id, key.Name, string.Join(",", roles), AuthContext.Actor ?? "local");
        return TypedResults.Created($"/api/auth/keys/{key.Id}", new CreatedKey(key.Id, key.Name, key.Roles, key.IdPattern, key.ExpiresAt, key.CreatedAt, secret));
    }

    internal static async Task<Ok<KeyList>> ListKeysAsync(ApiKeyRing ring, CancellationToken cancellationToken)
    {
        var stored = await ring.ListStoredAsync(cancellationToken);
        var keys = ring.ConfiguredKeys.Select(k => ToResponse(k, "configuration"))
            .Concat(stored.Select(k => ToResponse(k, "api"))).ToList();
        return TypedResults.Ok(new KeyList(keys));
    }

    internal static async Task<Results<NoContent, ProblemHttpResult>> RevokeKeyAsync(
        string id, ApiKeyRing ring, ILoggerFactory loggers, CancellationToken cancellationToken)
    {
        if (ring.ConfiguredKeys.Any(k => k.Id == id))
        {
            return Problems.Conflict($"key '{id}' comes from configuration (MissionHub:Auth:Keys): remove it there and restart");
        }
        if (!await ring.RevokeAsync(id, cancellationToken))
        {
            return Problems.NotFound($"no key with id '{id}'");
        }
        LogRevokedBy(loggers.CreateLogger("MissionHub.Auth"), id, AuthContext.Actor ?? "local");
        return TypedResults.NoContent();
    }

    internal static async Task<Results<Ok<WhoAmI>, ProblemHttpResult>> SignInAsync(
        HttpContext context, ApiKeyRing ring, AuthMetrics metrics, IOptions<AuthOptions> options, CancellationToken cancellationToken)
    {
        var (body, problem) = await JsonBody.ReadObjectAsync(context.Request, MaxBodyBytes, cancellationToken);
        if (problem is not null)
        {
            return problem;
        }
        if (!body.TryGetProperty("key", out var keyElement) || keyElement.ValueKind != JsonValueKind.String || keyElement.GetString() is not { Length: > 0 } secret)
        {
            return Problems.Invalid("key", "key is required: the API key to sign in with (mh_…)");
        }
        var key = secret.StartsWith(ApiKeys.SecretPrefix, StringComparison.Ordinal) ? await ring.ValidateAsync(secret, cancellationToken) : null;
        if (key is null)
        {
            metrics.SignInFailed("sign_in");
            return TypedResults.Problem(detail: "the key is unknown, revoked or expired", statusCode: StatusCodes.Status401Unauthorized, title: "Unauthorized");
        }
        // The cookie carries the key itself: HttpOnly (no script reads it), SameSite=Strict (no other site sends it),
        // Secure over HTTPS; revoking the key ends the session at once.
        var lifetime = options.Value.SessionLifetime;
        if (key.ExpiresAt is { } expires)
        {
            var left = DateTimeOffset.FromUnixTimeMilliseconds((long)(expires * 1000)) - DateTimeOffset.UtcNow;
            lifetime = left < lifetime ? left : lifetime;
        }
        context.Response.Cookies.Append(ApiKeyAuthenticationHandler.SessionCookie, secret, new CookieOptions
        {
            HttpOnly = true,
            SameSite = SameSiteMode.Strict,
            Secure = context.Request.IsHttps,
            Path = "/",
            MaxAge = lifetime,
            IsEssential = true,
        });
        var principal = AuthPrincipals.ForKey(key);
        return TypedResults.Ok(new WhoAmI(true, false, key.Name, principal.RoleNames(), key.IdPattern, "cookie"));
    }

    internal static NoContent SignOut(HttpContext context)
    {
        context.Response.Cookies.Delete(ApiKeyAuthenticationHandler.SessionCookie, new CookieOptions
        {
            HttpOnly = true,
            SameSite = SameSiteMode.Strict,
            Secure = context.Request.IsHttps,
            Path = "/",
        });
        return TypedResults.NoContent();
    }

    internal static Ok<WhoAmI> WhoAmI(HttpContext context, ApiKeyRing ring)
    {
        var user = context.User;
        var authenticated = user.Identity?.IsAuthenticated == true;
        var via = !authenticated ? "none"
            : user.IsProtectedModeCaller() ? "protected_mode"
            : ApiKeyAuthenticationHandler.FindCredential(context.Request).Via;
        return TypedResults.Ok(new WhoAmI(authenticated, ring.IsProtectedMode, user.Actor(), authenticated ? user.RoleNames() : [], user.IdPattern(), via));
    }

    private static KeyResponse ToResponse(ApiKeyRecord key, string source) =>
        new(key.Id, key.Name, key.Roles, key.IdPattern, key.ExpiresAt, key.CreatedAt, source);

    [LoggerMessage(EventId = 7030, Level = LogLevel.Information, Message = "Auth: key {KeyId} '{Name}' created with roles {Roles} by {Actor}")]
    private static partial void LogCreated(ILogger logger, string keyId, string name, string roles, string actor);

    [LoggerMessage(EventId = 7031, Level = LogLevel.Information, Message = "Auth: key {KeyId} revoked by {Actor}")]
    private static partial void LogRevokedBy(ILogger logger, string keyId, string actor);
}
