using System.Net;
using System.Text.Encodings.Web;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.JwtBearer;
using Microsoft.Extensions.Options;

namespace MissionHub.Auth;

/// <summary>
/// The hub's one authentication scheme. Finds the credential (<c>Authorization: Bearer</c>, <c>X-Api-Key</c>,
/// <c>?access_token=</c> on GETs and socket handshakes, or the dashboard's session cookie); an <c>mh_</c> key is
/// checked against the <see cref="ApiKeyRing"/>, anything else is handed to the JWT bearer handler when JWT is
/// configured. With no credential, a loopback caller in protected mode gets every role.
/// </summary>
internal sealed partial class ApiKeyAuthenticationHandler(
    IOptionsMonitor<AuthenticationSchemeOptions> options,
    ILoggerFactory loggerFactory,
    UrlEncoder encoder,
    ApiKeyRing ring,
    IOptions<AuthOptions> authOptions,
    AuthMetrics metrics,
    JwtCache jwtCache)
    : AuthenticationHandler<AuthenticationSchemeOptions>(options, loggerFactory, encoder)
{
    public const string SchemeName = "MissionHub";
    public const string ApiKeyHeader = "X-Api-Key";
    public const string AccessTokenParameter = "access_token";
    public const string SessionCookie = "mh_session";

    /// <summary>Why the last attempt failed, for the 401 detail.</summary>
    internal const string FailureItem = "MissionHub.Auth.Failure";

    private readonly ILogger _auditLogger = loggerFactory.CreateLogger("MissionHub.Auth");

    protected override async Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        var (credential, via) = FindCredential(Request);
        if (credential is null)
        {
            if (ring.IsProtectedMode && IsLoopback(Context.Connection.RemoteIpAddress))
            {
                return Success(AuthPrincipals.ForLoopback());
            }
            return AuthenticateResult.NoResult();
        }
        if (!credential.StartsWith(ApiKeys.SecretPrefix, StringComparison.Ordinal))
        {
            if (authOptions.Value.Jwt.Enabled && via is "bearer" or "query")
            {
                if (jwtCache.Find(credential) is { } known)
                {
                    return Success(known);
                }
                var jwt = await Context.AuthenticateAsync(JwtBearerDefaults.AuthenticationScheme);
                if (jwt.Succeeded)
                {
                    jwtCache.Add(credential, jwt.Principal!);
                    return Success(jwt.Principal!);
                }
                return Failed(via, jwt.Failure?.Message is { } why ? $"the token was refused: {Trim(why)}" : "the token was refused");
            }
            return Failed(via, $"the credential is not a MissionHub key (they start with '{ApiKeys.SecretPrefix}')"
                + (authOptions.Value.Jwt.Enabled ? "" : " and JWT is not configured"));
        }
        var key = await ring.ValidateAsync(credential, Context.RequestAborted);
        return key is null
            ? Failed(via, "the key is unknown, revoked or expired")
            : Success(AuthPrincipals.ForKey(key));
    }

    private static AuthenticateResult Success(System.Security.Claims.ClaimsPrincipal principal) =>
        AuthenticateResult.Success(new AuthenticationTicket(principal, SchemeName));

    private AuthenticateResult Failed(string via, string why)
    {
        metrics.SignInFailed(via);
        // Never the secret: only how it came and why it failed.
        LogRefused(_auditLogger, via, why, Context.Connection.RemoteIpAddress?.ToString() ?? "unknown", Request.Path);
        Context.Items[FailureItem] = why;
        return AuthenticateResult.Fail(why);
    }

    internal static (string? Credential, string Via) FindCredential(HttpRequest request)
    {
        var authorization = request.Headers.Authorization.ToString();
        if (authorization.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
        {
            return (authorization["Bearer ".Length..].Trim(), "bearer");
        }
        if (request.Headers[ApiKeyHeader].ToString() is { Length: > 0 } header)
        {
            return (header.Trim(), "header");
        }
        if (HttpMethods.IsGet(request.Method) && request.Query[AccessTokenParameter].ToString() is { Length: > 0 } token)
        {
            return (token, "query");
        }
        if (request.Cookies[SessionCookie] is { Length: > 0 } session)
        {
            return (session, "cookie");
        }
        return (null, "none");
    }

    public static bool IsLoopback(IPAddress? address) => address is not null && IPAddress.IsLoopback(address);

    private static string Trim(string why) => why.Length > 200 ? why[..200] : why;

    [LoggerMessage(EventId = 7010, Level = LogLevel.Warning, Message = "Auth: refused a credential sent by {Via} from {RemoteIp} for {Path}: {Reason}")]
    private static partial void LogRefused(ILogger logger, string via, string reason, string remoteIp, PathString path);
}
