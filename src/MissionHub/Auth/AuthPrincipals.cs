using System.Globalization;
using System.Security.Claims;

namespace MissionHub.Auth;

/// <summary>The claims a credential becomes, and how the rest of the hub reads them back.</summary>
public static class AuthPrincipals
{
    public const string ApiKeyType = "ApiKey";
    public const string ProtectedModeType = "ProtectedMode";
    public const string KeyIdClaim = "mh:key_id";
    public const string IdPatternClaim = "mh:id_pattern";
    public const string ExpiresAtClaim = "mh:expires_at";

    public static ClaimsPrincipal ForKey(ApiKeyRecord key)
    {
        var claims = new List<Claim> { new(ClaimTypes.Name, key.Name), new(KeyIdClaim, key.Id) };
        claims.AddRange(key.Roles.Select(r => new Claim(ClaimTypes.Role, r)));
        if (key.IdPattern is { } pattern)
        {
            claims.Add(new Claim(IdPatternClaim, pattern));
        }
        if (key.ExpiresAt is { } expires)
        {
            claims.Add(new Claim(ExpiresAtClaim, expires.ToString("R", CultureInfo.InvariantCulture)));
        }
        return new ClaimsPrincipal(new ClaimsIdentity(claims, ApiKeyType, ClaimTypes.Name, ClaimTypes.Role));
    }

    /// <summary>A loopback caller in protected mode: every role, any id, no actor.</summary>
    public static ClaimsPrincipal ForLoopback() =>
        new(new ClaimsIdentity(Roles.All.Select(r => new Claim(ClaimTypes.Role, r)), ProtectedModeType, ClaimTypes.Name, ClaimTypes.Role));

    public static bool IsProtectedModeCaller(this ClaimsPrincipal user) => user.Identity?.AuthenticationType == ProtectedModeType;

    /// <summary>Who caused an event: the key's name or the JWT's subject; null for an anonymous loopback caller.</summary>
    public static string? Actor(this ClaimsPrincipal user) =>
        user.Identity is { IsAuthenticated: true } identity && !user.IsProtectedModeCaller() ? identity.Name : null;

    public static string? KeyId(this ClaimsPrincipal user) => user.FindFirst(KeyIdClaim)?.Value;

    public static string? IdPattern(this ClaimsPrincipal user) => user.FindFirst(IdPatternClaim)?.Value;

    public static IReadOnlyList<string> RoleNames(this ClaimsPrincipal user) =>
        user.FindAll(ClaimTypes.Role).Select(c => c.Value).Distinct(StringComparer.Ordinal).ToArray();

    /// <summary>When the credential stops working (key expiry or JWT <c>exp</c>), if it does.</summary>
    public static DateTimeOffset? ExpiresAt(this ClaimsPrincipal user)
    {
        if (user.FindFirst(ExpiresAtClaim)?.Value is { } keyExpiry && double.TryParse(keyExpiry, NumberStyles.Float, CultureInfo.InvariantCulture, out var seconds))
        {
            return DateTimeOffset.FromUnixTimeMilliseconds((long)(seconds * 1000));
        }
        if (user.FindFirst("exp")?.Value is { } exp && long.TryParse(exp, NumberStyles.Integer, CultureInfo.InvariantCulture, out var unix))
        {
            return DateTimeOffset.FromUnixTimeSeconds(unix);
        }
        return null;
    }

    /// <summary>What limits are counted against: the key, the JWT subject, or the caller's IP when anonymous.</summary>
    public static string PartitionKey(this HttpContext context)
    {
        var user = context.User;
        if (user.KeyId() is { } keyId)
        {
            return "key:" + keyId;
        }
        if (user.Identity is { IsAuthenticated: true, Name: { } name } && !user.IsProtectedModeCaller())
        {
            return "jwt:" + name;
        }
        return "ip:" + (context.Connection.RemoteIpAddress?.ToString() ?? "unknown");
    }
}

/// <summary>Whether a worker or robot credential may act as a given id.</summary>
public static class WorkerIdentity
{
    /// <summary>The credential of the current request or socket (set by the auth middleware) may register this worker id.</summary>
    public static bool MayRegister(string workerId, out string refusal) => MayActAs(AuthContext.User, workerId, "worker", out refusal);

    public static bool MayActAs(ClaimsPrincipal? user, string id, string what, out string refusal)
    {
        refusal = "";
        if (user is null || user.IsProtectedModeCaller())
        {
            // No credential context at all means the hub runs without the auth middleware (in-process hosting): nothing to check.
            return true;
        }
        var pattern = user.IdPattern();
        if (pattern is null || ApiKeys.Matches(pattern, id))
        {
            return true;
        }
        refusal = $"this credential may act only as {what} ids matching '{pattern}', not '{id}'";
        return false;
    }
}
