using System.Security.Claims;

namespace MissionHub.Auth;

/// <summary>
/// The credential of the request or socket being handled, flowing with the async context (like
/// <c>CorrelationContext</c>) so every event it causes carries <c>meta.actor</c>, and the worker socket can check
/// which ids the credential may register.
/// </summary>
public static class AuthContext
{
    private static readonly AsyncLocal<ClaimsPrincipal?> CurrentUser = new();

    public static ClaimsPrincipal? User
    {
        get => CurrentUser.Value;
        set => CurrentUser.Value = value;
    }

    /// <summary>The key name or JWT subject of the caller, for <c>meta.actor</c>; null when anonymous.</summary>
    public static string? Actor => CurrentUser.Value?.Actor();
}
