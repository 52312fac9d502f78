using System.Text.Json.Serialization;

namespace MissionHub.Auth;

/// <summary><c>POST /api/auth/keys</c>.</summary>
public sealed record CreateKeyRequest(string? Name, IReadOnlyList<string>? Roles, string? IdPattern, double? ExpiresAt);

/// <summary>A key as the API shows it: never its secret (except <see cref="CreatedKey"/>, once).</summary>
public sealed record KeyResponse(string Id, string Name, IReadOnlyList<string> Roles, string? IdPattern, double? ExpiresAt, double CreatedAt, string Source);

public sealed record CreatedKey(string Id, string Name, IReadOnlyList<string> Roles, string? IdPattern, double? ExpiresAt, double CreatedAt, string Secret);

public sealed record KeyList(IReadOnlyList<KeyResponse> Keys);

/// <summary><c>POST /api/auth/session</c>: exchange a key for the dashboard's session cookie.</summary>
public sealed record SessionRequest(string? Key);

/// <summary><c>GET /api/auth/me</c>: who the caller is, so the dashboard shows only what the role allows.</summary>
public sealed record WhoAmI(bool Authenticated, bool ProtectedMode, string? Actor, IReadOnlyList<string> Roles, string? IdPattern, string Via);

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower, DefaultIgnoreCondition = JsonIgnoreCondition.Never)]
[JsonSerializable(typeof(ApiKeyRecord))]
[JsonSerializable(typeof(IReadOnlyList<string>))]
[JsonSerializable(typeof(CreateKeyRequest))]
[JsonSerializable(typeof(KeyResponse))]
[JsonSerializable(typeof(CreatedKey))]
[JsonSerializable(typeof(KeyList))]
[JsonSerializable(typeof(SessionRequest))]
[JsonSerializable(typeof(WhoAmI))]
public sealed partial class AuthJsonContext : JsonSerializerContext;
