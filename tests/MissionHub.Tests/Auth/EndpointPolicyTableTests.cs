using System.Net;
using System.Net.Http.Json;
using System.Text;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Routing;
using MissionHub.Auth;

namespace MissionHub.Tests.Auth;

/// <summary>
/// Every registered endpoint × every kind of credential → the expected status, generated from the endpoint data
/// source: an endpoint added without a policy fails here.
/// </summary>
public sealed class EndpointPolicyTableTests : IAsyncLifetime
{
    private readonly AuthTestSupport _auth = new();
    private MissionHubFactory _server = null!;
    private string _revokedKey = "";

    public async Task InitializeAsync()
    {
        _server = MissionHubFactory.WithSqlite(_auth.Folder.File("table.db"), _auth.Settings());
        using var admin = AuthTestSupport.Client(_server, AuthTestSupport.RoleKeys["admin"]);
        using var created = await admin.PostAsync(new Uri("/api/auth/keys", UriKind.Relative),
            new StringContent("""{"name":"soon-revoked","roles":["admin"]}""", Encoding.UTF8, "application/json"));
        var key = await created.Content.ReadFromJsonAsync<System.Text.Json.JsonElement>();
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        _revokedKey = key.GetProperty("secret").GetString()!;
        using var revoked = await admin.DeleteAsync(new Uri($"/api/auth/keys/{key.GetProperty("id").GetString()}", UriKind.Relative));
        Assert.Equal(HttpStatusCode.NoContent, revoked.StatusCode);
    }

    public async Task DisposeAsync()
    {
        await _server.DisposeAsync();
        _auth.Dispose();
    }

    private sealed record EndpointCase(string Method, string Template, string Path, string? Policy, bool Anonymous);

    private List<EndpointCase> Endpoints()
    {
        var sources = _server.Services.GetRequiredService<IEnumerable<EndpointDataSource>>();
        var cases = new List<EndpointCase>();
        foreach (var endpoint in sources.SelectMany(s => s.Endpoints).OfType<RouteEndpoint>())
        {
            var template = endpoint.RoutePattern.RawText ?? "";
            var anonymous = endpoint.Metadata.GetMetadata<IAllowAnonymous>() is not null;
            var policies = endpoint.Metadata.GetOrderedMetadata<IAuthorizeData>().Select(a => a.Policy).Where(p => p is not null).Distinct().ToList();
            Assert.True(anonymous || policies.Count > 0, $"endpoint '{template}' declares no authorization policy (RequireAuthorization(Policies.…) or AllowAnonymous)");
            Assert.All(policies, p => Assert.Contains(p, Policies.All));
            // The strictest policy named is the one that decides (operator on a viewer group, …).
            var policy = policies.OrderBy(p => Array.IndexOf([Policies.Viewer, Policies.Operator, Policies.Admin, Policies.Worker, Policies.Robot], p)).LastOrDefault();
            var path = "/" + template.TrimStart('/')
                .Replace("{robot_id}", "r-1", StringComparison.Ordinal)
                .Replace("{job_type}", "render", StringComparison.Ordinal);
            path = System.Text.RegularExpressions.Regex.Replace(path, @"\{[^}]+\}", "x1");
            var methods = endpoint.Metadata.GetMetadata<Microsoft.AspNetCore.Routing.HttpMethodMetadata>()?.HttpMethods ?? ["GET"];
            cases.AddRange(methods.Select(m => new EndpointCase(m, template, path, policy, anonymous)));
        }
        return cases;
    }

    private async Task<int> SendAsync(EndpointCase endpoint, string? credential)
    {
        using var client = AuthTestSupport.Client(_server, credential);
        using var request = new HttpRequestMessage(new HttpMethod(endpoint.Method), new Uri(endpoint.Path, UriKind.Relative));
        if (endpoint.Method is "POST" or "PUT" or "PATCH")
        {
            request.Content = new StringContent("{}", Encoding.UTF8, "application/json");
        }
        using var cancel = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        // Headers only: SSE answers 200 and keeps streaming.
        using var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancel.Token);
        return (int)response.StatusCode;
    }

    [Fact]
    public async Task EveryEndpoint_DeclaresAPolicy_AndAnswersEachCredentialAsItsRoleAllows()
    {
        var endpoints = Endpoints();
        Assert.Contains(endpoints, e => e.Template == "/ws/worker");
        Assert.Contains(endpoints, e => e.Template == "/ws/monitor");
        Assert.Contains(endpoints, e => e.Template == "/metrics");
        Assert.Contains(endpoints, e => e.Template.Contains("/api/events/stream", StringComparison.Ordinal) || e.Template == "/api/events/stream");

        var credentials = new List<(string Name, string? Secret, string[] Roles)>
        {
            ("no credential", null, []),
            ("revoked key", _revokedKey, []),
            ("expired JWT", _auth.Token("ops@example.com", ["admin"], lifetime: TimeSpan.FromSeconds(-5)), []),
            ("wrong-audience JWT", _auth.Token("ops@example.com", ["admin"], audience: "someone-else"), []),
            ("operator JWT", _auth.Token("ops@example.com", ["operator"]), [Roles.Operator]),
        };
        credentials.AddRange(AuthTestSupport.RoleKeys.Select(k => ($"{k.Key} key", (string?)k.Value, new[] { k.Key })));

        var failures = new List<string>();
        foreach (var endpoint in endpoints)
        {
            foreach (var (name, secret, roles) in credentials)
            {
                var status = await SendAsync(endpoint, secret);
                string expected;
                bool ok;
                if (endpoint.Anonymous)
                {
                    expected = "served (not 401/403)";
                    ok = status is not (401 or 403);
                }
                else if (roles.Length == 0)
                {
                    expected = "401";
                    ok = status == 401;
                }
                else if (roles.Intersect(Policies.RolesFor(endpoint.Policy!)).Any())
                {
                    expected = "served (not 401/403)";
                    ok = status is not (401 or 403);
                }
                else
                {
                    expected = "403";
                    ok = status == 403;
                }
                if (!ok)
                {
                    failures.Add($"{endpoint.Method} {endpoint.Path} ({endpoint.Policy ?? "anonymous"}) with {name}: {status}, expected {expected}");
                }
            }
        }
        Assert.True(failures.Count == 0, string.Join("\n", failures));
    }

    [Fact]
    public async Task Forbidden_NamesTheRoleNeeded()
    {
        using var viewer = AuthTestSupport.Client(_server, AuthTestSupport.RoleKeys["viewer"]);
        using var response = await viewer.PostAsync(new Uri("/api/jobs", UriKind.Relative), new StringContent("""{"job_type":"render"}""", Encoding.UTF8, "application/json"));
        var problem = await response.AssertProblemAsync(403);
        Assert.Contains("'operator' role", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Equal("operator", problem.GetProperty("required_role").GetString());
    }

    [Fact]
    public async Task Health_IsOpen_WithoutACredential()
    {
        using var anonymous = AuthTestSupport.Client(_server);
        using var health = await anonymous.GetAsync(new Uri("/api/health", UriKind.Relative));
        Assert.Equal(HttpStatusCode.OK, health.StatusCode);
        using var missions = await anonymous.GetAsync(new Uri("/api/missions", UriKind.Relative));
        var problem = await missions.AssertProblemAsync(401);
        Assert.Contains("credential", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("/ws/monitor", "viewer", 101)]
    [InlineData("/ws/monitor", null, 401)]
    [InlineData("/ws/monitor", "worker", 403)]
    [InlineData("/ws/worker", "worker", 101)]
    [InlineData("/ws/worker", "operator", 403)]
    [InlineData("/api/telemetry/ws/r-7", "robot", 101)]
    [InlineData("/api/telemetry/ws/other-7", "robot", 403)]
    [InlineData("/api/telemetry/ws/r-7", "viewer", 403)]
    public async Task SocketHandshake_IsRefusedOrAccepted_ByRole(string path, string? role, int expected)
    {
        var status = await AuthTestSupport.HandshakeStatusAsync(_server, path, role is null ? null : AuthTestSupport.RoleKeys[role]);
        Assert.Equal(expected, status);
    }
}
