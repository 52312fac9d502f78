namespace MissionHub.Auth;

/// <summary>The five roles of DESIGN.md §7.</summary>
public static class Roles
{
    public const string Viewer = "viewer";
    public const string Operator = "operator";
    public const string Admin = "admin";
    public const string Worker = "worker";
    public const string Robot = "robot";

    public static readonly string[] All = [Viewer, Operator, Admin, Worker, Robot];
}

/// <summary>
/// The authorization policies, one per role. A policy admits its role and every role that includes it
/// (operator includes viewer, admin includes operator); worker and robot include nothing else.
/// </summary>
public static class Policies
{
    public const string Viewer = Roles.Viewer;
    public const string Operator = Roles.Operator;
    public const string Admin = Roles.Admin;
    public const string Worker = Roles.Worker;
    public const string Robot = Roles.Robot;

    public static readonly string[] All = [Viewer, Operator, Admin, Worker, Robot];

    /// <summary>The roles that satisfy a policy.</summary>
    public static string[] RolesFor(string policy) => policy switch
    {
        Viewer => [Roles.Viewer, Roles.Operator, Roles.Admin],
        Operator => [Roles.Operator, Roles.Admin],
        Admin => [Roles.Admin],
        Worker => [Roles.Worker],
        Robot => [Roles.Robot],
        _ => [],
    };
}
