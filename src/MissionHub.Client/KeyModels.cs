namespace MissionHub.Client;

/// <summary>The roles a key can carry (DESIGN.md §7).</summary>
public static class KeyRoles
{
    /// <summary>Reads everything: every GET, the monitor socket, the event stream, <c>/metrics</c>.</summary>
    public const string Viewer = "viewer";

    /// <summary>Viewer, plus changing missions, jobs, queues and schedules.</summary>
    public const string Operator = "operator";

    /// <summary>Operator, plus managing keys.</summary>
    public const string Admin = "admin";

    /// <summary>Only the worker socket, for worker ids matching the key's pattern.</summary>
    public const string Worker = "worker";

    /// <summary>Only the telemetry socket, for robot ids matching the key's pattern.</summary>
    public const string Robot = "robot";

    /// <summary>Every role.</summary>
    public static readonly IReadOnlyList<string> All = [Viewer, Operator, Admin, Worker, Robot];
}

/// <summary>The body of <c>POST /api/auth/keys</c>.</summary>
/// <param name="Name">1 to 64 letters, digits, '-', '_', '.' or '@'; unique.</param>
/// <param name="Roles">One or more of <see cref="KeyRoles"/>.</param>
/// <param name="IdPattern">For worker and robot keys: the ids they may use, '*' as a wildcard (e.g. <c>render-*</c>).</param>
/// <param name="ExpiresAt">When the key stops working (Unix seconds); null for never.</param>
public sealed record NewApiKey(string Name, IReadOnlyList<string> Roles, string? IdPattern = null, double? ExpiresAt = null);

/// <summary>A key as <c>GET /api/auth/keys</c> lists it: never its secret. Times are Unix seconds.</summary>
/// <param name="Id">The key's id (used to revoke it).</param>
/// <param name="Name">Its name (the actor on events it causes).</param>
/// <param name="Roles">Its roles.</param>
/// <param name="IdPattern">The worker or robot ids it may use.</param>
/// <param name="ExpiresAt">When it stops working, if ever.</param>
/// <param name="CreatedAt">When it was created.</param>
/// <param name="Source"><c>api</c> (created through the API, revocable) or <c>configuration</c>.</param>
public sealed record ApiKeyInfo(string Id, string Name, IReadOnlyList<string> Roles, string? IdPattern, double? ExpiresAt, double CreatedAt, string Source);

/// <summary>The answer of <c>POST /api/auth/keys</c>: the new key with its secret, shown this once.</summary>
/// <param name="Id">The key's id.</param>
/// <param name="Name">Its name.</param>
/// <param name="Roles">Its roles.</param>
/// <param name="IdPattern">The worker or robot ids it may use.</param>
/// <param name="ExpiresAt">When it stops working, if ever.</param>
/// <param name="CreatedAt">When it was created.</param>
/// <param name="Secret">The credential (<c>mh_…</c>); the hub keeps only a hash of it.</param>
public sealed record CreatedApiKey(string Id, string Name, IReadOnlyList<string> Roles, string? IdPattern, double? ExpiresAt, double CreatedAt, string Secret);

/// <summary><c>GET /api/auth/keys</c>.</summary>
/// <param name="Keys">Keys from configuration, then keys created through the API.</param>
public sealed record ApiKeyList(IReadOnlyList<ApiKeyInfo> Keys);
