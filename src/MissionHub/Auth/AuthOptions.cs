using Microsoft.Extensions.Options;

namespace MissionHub.Auth;

/// <summary>
/// Section <c>MissionHub:Auth</c>: who may call the hub. With no keys (configured or stored) and no JWT settings the
/// hub is in protected mode: loopback clients only, each with every role.
/// </summary>
public sealed class AuthOptions
{
    public const string Section = "MissionHub:Auth";

    /// <summary>Keys from configuration (read-only: they cannot be revoked through the API, only removed from configuration).</summary>
    public List<ConfiguredKeyOptions> Keys { get; set; } = [];

    /// <summary>JWT bearer tokens; off unless <see cref="JwtOptions.Issuer"/> or <see cref="JwtOptions.Authority"/> is set.</summary>
    public JwtOptions Jwt { get; set; } = new();

    /// <summary>
    /// Origins allowed to open the WebSockets (e.g. <c>https://ops.example.com</c>); empty: only the request's own
    /// origin. A handshake without an <c>Origin</c> header (not a browser) is always allowed.
    /// </summary>
    public List<string> AllowedOrigins { get; set; } = [];

    /// <summary>Requests per second per credential; 0: no limit.</summary>
    public int RequestsPerSecond { get; set; } = 2000;

    /// <summary>Requests a credential may send at once above its rate (the token bucket's size).</summary>
    public int RequestBurst { get; set; } = 4000;

    /// <summary>
    /// Requests per second per IP for anonymous loopback callers in protected mode (a developer's machine, benchmarks);
    /// 0 (the default): no limit.
    /// </summary>
    public int LoopbackRequestsPerSecond { get; set; }

    /// <summary>WebSockets and SSE streams one credential may hold open at once; 0: no limit.</summary>
    public int MaxStreamsPerCredential { get; set; } = 256;

    /// <summary>Validated keys kept in memory (by the hash of their secret), so a request costs no storage read.</summary>
    public int KeyCacheCapacity { get; set; } = 10_000;

    /// <summary>How long a validated key is trusted from the cache before it is read again (revocation is pushed at once regardless).</summary>
    public TimeSpan KeyCacheTtl { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Lifetime of the dashboard's session cookie.</summary>
    public TimeSpan SessionLifetime { get; set; } = TimeSpan.FromHours(12);
}

/// <summary>One key from configuration: the secret as a SHA-256 hash, or the secret itself from the environment.</summary>
public sealed class ConfiguredKeyOptions
{
    public string Name { get; set; } = "";

    public List<string> Roles { get; set; } = [];

    /// <summary>Worker or robot ids this key may act as, e.g. <c>render-*</c>; empty: any.</summary>
    public string? IdPattern { get; set; }

    /// <summary>Unix seconds after which the key no longer works.</summary>
    public double? ExpiresAt { get; set; }

    /// <summary><c>sha256:&lt;hex&gt;</c> of the secret (what <c>missionhub</c>/<c>sha256sum</c> prints).</summary>
    public string? SecretHash { get; set; }

    /// <summary>The secret itself; give it only through the environment (<c>MissionHub__Auth__Keys__0__Secret</c>), never in a file.</summary>
    public string? Secret { get; set; }
}

public sealed class JwtOptions
{
    /// <summary>An OIDC authority (its discovery document gives the issuer and signing keys).</summary>
    public string? Authority { get; set; }

    public string? Issuer { get; set; }

    public string? Audience { get; set; }

    /// <summary>A PEM file with one or more public keys, or a JWKS JSON file (offline signing keys).</summary>
    public string? SigningKeysFile { get; set; }

    /// <summary>The claim holding the roles (a string, a space-separated string or an array).</summary>
    public string RolesClaim { get; set; } = "roles";

    /// <summary>The claim holding the worker/robot id pattern, if any.</summary>
    public string IdPatternClaim { get; set; } = "id_pattern";

    public TimeSpan ClockSkew { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Require https for the authority's metadata (turn off only for a local test authority).</summary>
    public bool RequireHttpsMetadata { get; set; } = true;

    public bool Enabled => !string.IsNullOrWhiteSpace(Authority) || !string.IsNullOrWhiteSpace(Issuer);
}

internal sealed class AuthOptionsValidator : IValidateOptions<AuthOptions>
{
    public ValidateOptionsResult Validate(string? name, AuthOptions options)
    {
        var failures = new List<string>();
        for (var i = 0; i < options.Keys.Count; i++)
        {
            var key = options.Keys[i];
            var at = $"{AuthOptions.Section}:Keys:{i}";
            if (!ApiKeys.IsValidName(key.Name))
            {
                failures.Add($"{at}:Name must be 1 to 64 letters, digits, '-', '_', '.' or '@'");
            }
            if (key.Roles.Count == 0 || key.Roles.Any(r => !Roles.All.Contains(r)))
            {
                failures.Add($"{at}:Roles must list one or more of {string.Join(", ", Roles.All)}");
            }
            if (key.IdPattern is { Length: > 0 } pattern && !ApiKeys.IsValidPattern(pattern))
            {
                failures.Add($"{at}:IdPattern must be 1 to 128 id characters with '*' wildcards, e.g. render-*");
            }
            var hasHash = !string.IsNullOrWhiteSpace(key.SecretHash);
            var hasSecret = !string.IsNullOrWhiteSpace(key.Secret);
            if (hasHash == hasSecret)
            {
                failures.Add($"{at}: give exactly one of SecretHash (sha256:<64 hex digits>) or Secret (from the environment)");
            }
            else if (hasHash && ApiKeys.NormalizeHash(key.SecretHash!) is null)
            {
                failures.Add($"{at}:SecretHash must be sha256:<64 hex digits>");
            }
            else if (hasSecret && key.Secret!.Length < 16)
            {
                failures.Add($"{at}:Secret must be at least 16 characters");
            }
        }
        if (options.Keys.Select(k => k.Name).Distinct(StringComparer.Ordinal).Count() != options.Keys.Count)
        {
            failures.Add($"{AuthOptions.Section}:Keys: names must be unique");
        }
        var jwt = options.Jwt;
        if (jwt.Enabled)
        {
            if (string.IsNullOrWhiteSpace(jwt.Audience))
            {
                failures.Add($"{AuthOptions.Section}:Jwt:Audience is required when JWT is configured");
            }
            if (string.IsNullOrWhiteSpace(jwt.Authority) && string.IsNullOrWhiteSpace(jwt.SigningKeysFile))
            {
                failures.Add($"{AuthOptions.Section}:Jwt needs Authority (OIDC) or SigningKeysFile (PEM or JWKS) for the signing keys");
            }
            if (jwt.SigningKeysFile is { Length: > 0 } file && !File.Exists(file))
            {
                failures.Add($"{AuthOptions.Section}:Jwt:SigningKeysFile '{file}' does not exist");
            }
            if (jwt.ClockSkew < TimeSpan.Zero || jwt.ClockSkew > TimeSpan.FromMinutes(10))
            {
                failures.Add($"{AuthOptions.Section}:Jwt:ClockSkew must be between 00:00:00 and 00:10:00");
            }
        }
        foreach (var origin in options.AllowedOrigins)
        {
            if (!Uri.TryCreate(origin, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https") || uri.AbsolutePath != "/")
            {
                failures.Add($"{AuthOptions.Section}:AllowedOrigins: '{origin}' is not an origin like https://ops.example.com");
            }
        }
        if (options.RequestsPerSecond < 0 || options.LoopbackRequestsPerSecond < 0 || options.RequestBurst < 1)
        {
            failures.Add($"{AuthOptions.Section}:RequestsPerSecond must be 0 (no limit) or more, and RequestBurst at least 1");
        }
        if (options.MaxStreamsPerCredential < 0)
        {
            failures.Add($"{AuthOptions.Section}:MaxStreamsPerCredential must be 0 (no limit) or more");
        }
        if (options.KeyCacheCapacity < 1 || options.KeyCacheTtl <= TimeSpan.Zero)
        {
            failures.Add($"{AuthOptions.Section}:KeyCacheCapacity must be at least 1 and KeyCacheTtl above zero");
        }
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
