using System.Security.Claims;
using System.Security.Cryptography;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.JwtBearer;
using Microsoft.AspNetCore.Authorization;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.Tokens;

namespace MissionHub.Auth;

/// <summary>
/// Authentication and roles (DESIGN.md §7). Log event ids of the Auth folder: 7000–7099.
/// </summary>
public static class AuthExtensions
{
    /// <summary>Keys, JWT, the role policies and the per-credential limits. Needs storage (the key store) first.</summary>
    public static IHostApplicationBuilder AddMissionHubAuth(this IHostApplicationBuilder builder)
    {
        var services = builder.Services;
        services.AddOptions<AuthOptions>().BindConfiguration(AuthOptions.Section).ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<AuthOptions>, AuthOptionsValidator>());
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<ApiKeyRing>();
        services.TryAddSingleton<AuthMetrics>();
        services.TryAddSingleton<JwtCache>();
        services.TryAddSingleton<CredentialStreams>();
        services.AddHostedService<AuthStartup>();
        services.AddHostedService(sp => sp.GetRequiredService<CredentialStreams>());
        services.AddSingleton<Microsoft.AspNetCore.Authorization.IAuthorizationMiddlewareResultHandler, AuthProblems>();

        services.AddAuthentication(ApiKeyAuthenticationHandler.SchemeName)
            .AddScheme<AuthenticationSchemeOptions, ApiKeyAuthenticationHandler>(ApiKeyAuthenticationHandler.SchemeName, null)
            .AddJwtBearer();
        services.AddOptions<JwtBearerOptions>(JwtBearerDefaults.AuthenticationScheme)
            .Configure<IOptions<AuthOptions>>((jwt, auth) => ConfigureJwt(jwt, auth.Value.Jwt));

        services.AddAuthorization(authorization =>
        {
            foreach (var name in Policies.All)
            {
                authorization.AddPolicy(name, policy =>
                {
                    policy.RequireAuthenticatedUser().RequireRole(Policies.RolesFor(name));
                    if (name == Policies.Robot)
                    {
                        policy.AddRequirements(new IdPatternRequirement("robot_id"));
                    }
                });
            }
            // An endpoint that declares no policy is for admins only (and the endpoint table test fails for it).
            authorization.FallbackPolicy = authorization.GetPolicy(Policies.Admin);
        });

        services.TryAddSingleton<RequestLimiter>();

        // The request-start log lines carry the query string (and so ?access_token=): keep them out whatever the log level.
        builder.Logging.AddFilter("Microsoft.AspNetCore.Hosting.Diagnostics", LogLevel.Warning);
        builder.Logging.AddFilter("Microsoft.AspNetCore.Routing.EndpointMiddleware", LogLevel.Warning);
        services.ConfigureHttpJsonOptions(json => json.SerializerOptions.TypeInfoResolverChain.Insert(0, AuthJsonContext.Default));
        return builder;
    }

    /// <summary>Protected mode, before anything answers (the dashboard's files included).</summary>
    public static WebApplication UseMissionHubProtectedMode(this WebApplication app)
    {
        app.UseMiddleware<ProtectedModeMiddleware>();
        return app;
    }

    /// <summary>Authentication, the caller's context and browser safety, authorization, then the per-credential limits.</summary>
    public static WebApplication UseMissionHubAuth(this WebApplication app)
    {
        app.UseAuthentication();
        app.UseMiddleware<CallerMiddleware>();
        app.UseAuthorization();
        app.UseMiddleware<RequestLimitMiddleware>();
        app.UseMiddleware<StreamLimitMiddleware>();
        return app;
    }

    private static void ConfigureJwt(JwtBearerOptions jwt, JwtOptions settings)
    {
        if (!settings.Enabled)
        {
            return;
        }
        jwt.MapInboundClaims = false;
        jwt.Authority = string.IsNullOrWhiteSpace(settings.Authority) ? null : settings.Authority;
        jwt.RequireHttpsMetadata = settings.RequireHttpsMetadata;
        jwt.Audience = settings.Audience;
        jwt.TokenValidationParameters = new TokenValidationParameters
        {
            ValidateIssuer = !string.IsNullOrWhiteSpace(settings.Issuer) || jwt.Authority is not null,
            ValidIssuer = string.IsNullOrWhiteSpace(settings.Issuer) ? null : settings.Issuer,
            ValidateAudience = true,
            ValidAudience = settings.Audience,
            ValidateLifetime = true,
            RequireExpirationTime = true,
            ClockSkew = settings.ClockSkew,
            NameClaimType = "sub",
            RoleClaimType = ClaimTypes.Role,
            IssuerSigningKeys = settings.SigningKeysFile is { Length: > 0 } file ? LoadSigningKeys(file) : null,
        };
        jwt.Events = new JwtBearerEvents
        {
            OnMessageReceived = context =>
            {
                // Browsers cannot set headers on WebSockets or EventSource: they pass ?access_token= (GETs only).
                if (string.IsNullOrEmpty(context.Request.Headers.Authorization) && HttpMethods.IsGet(context.Request.Method)
                    && context.Request.Query[ApiKeyAuthenticationHandler.AccessTokenParameter].ToString() is { Length: > 0 } token)
                {
                    context.Token = token;
                }
                return Task.CompletedTask;
            },
            OnTokenValidated = context =>
            {
                if (context.Principal?.Identity is ClaimsIdentity identity)
                {
                    var roles = identity.FindAll(settings.RolesClaim)
                        .SelectMany(c => c.Value.Split(' ', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
                        .Where(r => Roles.All.Contains(r)).Distinct(StringComparer.Ordinal).ToList();
                    foreach (var role in roles.Where(r => !identity.HasClaim(ClaimTypes.Role, r)))
                    {
                        identity.AddClaim(new Claim(ClaimTypes.Role, role));
                    }
                    if (identity.FindFirst(settings.IdPatternClaim)?.Value is { Length: > 0 } pattern && ApiKeys.IsValidPattern(pattern))
                    {
                        identity.AddClaim(new Claim(AuthPrincipals.IdPatternClaim, pattern));
                    }
                }
                return Task.CompletedTask;
            },
            // The hub's own scheme answers (401 problem+json); the JWT handler must not write its own challenge.
            OnChallenge = context =>
            {
                context.HandleResponse();
                return Task.CompletedTask;
            },
        };
    }

    /// <summary>Public keys from a JWKS file or from PEM blocks (RSA or EC).</summary>
    internal static IReadOnlyList<SecurityKey> LoadSigningKeys(string file)
    {
        var text = File.ReadAllText(file);
        if (text.TrimStart().StartsWith('{'))
        {
            return new JsonWebKeySet(text).GetSigningKeys().ToList();
        }
        var keys = new List<SecurityKey>();
        const string end = "-----END ";
        var at = 0;
        while ((at = text.IndexOf("-----BEGIN ", at, StringComparison.Ordinal)) >= 0)
        {
            var close = text.IndexOf(end, at, StringComparison.Ordinal);
            var stop = close < 0 ? -1 : text.IndexOf("-----", close + end.Length, StringComparison.Ordinal);
            if (stop < 0)
            {
                break;
            }
            var block = text[at..(stop + 5)];
            at = stop + 5;
            try
            {
                var rsa = RSA.Create();
                rsa.ImportFromPem(block);
                keys.Add(new RsaSecurityKey(rsa));
            }
            catch (CryptographicException)
            {
                var ec = ECDsa.Create();
                ec.ImportFromPem(block);
                keys.Add(new ECDsaSecurityKey(ec));
            }
        }
        if (keys.Count == 0)
        {
            throw new InvalidOperationException($"{AuthOptions.Section}:Jwt:SigningKeysFile '{file}' holds no PEM public key and is not a JWKS document");
        }
        return keys;
    }
}

/// <summary>Opens the key store and counts its keys before the server takes its first request.</summary>
internal sealed partial class AuthStartup(ApiKeyRing ring, IOptions<AuthOptions> options, ILogger<AuthStartup> logger) : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        await ring.InitializeAsync(cancellationToken);
        if (ring.IsProtectedMode)
        {
            LogProtectedMode(logger);
        }
        else
        {
            LogKeys(logger, ring.ConfiguredKeys.Count, options.Value.Jwt.Enabled);
        }
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    [LoggerMessage(EventId = 7000, Level = LogLevel.Information, Message = "Auth: protected mode (no key or JWT configured): only loopback clients are served; see MissionHub:Auth in the README to serve others")]
    private static partial void LogProtectedMode(ILogger logger);

    [LoggerMessage(EventId = 7003, Level = LogLevel.Information, Message = "Auth: credentials required; {ConfiguredKeys} key(s) from configuration, JWT {JwtEnabled}")]
    private static partial void LogKeys(ILogger logger, int configuredKeys, bool jwtEnabled);
}
