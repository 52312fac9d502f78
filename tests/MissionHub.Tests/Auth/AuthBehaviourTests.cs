using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using MissionHub.Auth;
using MissionHub.Client;

namespace MissionHub.Tests.Auth;

/// <summary>Keys, revocation, worker identity, audit and limits through the real server, on both backends.</summary>
public abstract class AuthBehaviourTests : IAsyncLifetime
{
    private readonly List<IAsyncDisposable> _servers = [];

    protected AuthTestSupport Auth { get; } = new();

    protected abstract MissionHubFactory NewServer(IDictionary<string, string?> settings, string? sharedName = null);

    public virtual Task InitializeAsync() => Task.CompletedTask;

    public virtual async Task DisposeAsync()
    {
        for (var i = _servers.Count - 1; i >= 0; i--)
        {
            await _servers[i].DisposeAsync();
        }
        Auth.Dispose();
    }

    protected MissionHubFactory Server(IDictionary<string, string?>? extra = null, string? sharedName = null)
    {
        var server = NewServer(Auth.Settings(extra: extra), sharedName);
        _servers.Add(server);
        return server;
    }

    private static string Admin => AuthTestSupport.RoleKeys["admin"];

    private static StringContent Json(string json) => new(json, Encoding.UTF8, "application/json");

    protected static async Task<(string Id, string Secret)> CreateKeyAsync(MissionHubFactory server, string name, string[] roles, string? pattern = null, double? expiresAt = null)
    {
        using var admin = AuthTestSupport.Client(server, Admin);
        using var response = await admin.PostAsJsonAsync("/api/auth/keys", new { name, roles, id_pattern = pattern, expires_at = expiresAt });
        var body = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.True(response.StatusCode == HttpStatusCode.Created, body.ToString());
        return (body.GetProperty("id").GetString()!, body.GetProperty("secret").GetString()!);
    }

    private static async Task RevokeAsync(MissionHubFactory server, string id)
    {
        using var admin = AuthTestSupport.Client(server, Admin);
        using var response = await admin.DeleteAsync(new Uri($"/api/auth/keys/{id}", UriKind.Relative));
        Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
    }

    [Fact]
    public async Task CreatedKey_IsShownOnce_ListedWithoutSecret_AndWorksAtOnce()
    {
        var server = Server();
        var (id, secret) = await CreateKeyAsync(server, "ci-viewer", ["viewer"], expiresAt: DateTimeOffset.UtcNow.AddHours(1).ToUnixTimeSeconds());
        using var admin = AuthTestSupport.Client(server, Admin);
        var listing = await admin.GetStringAsync(new Uri("/api/auth/keys", UriKind.Relative));
        Assert.Contains(id, listing, StringComparison.Ordinal);
        Assert.DoesNotContain(secret, listing, StringComparison.Ordinal);
        Assert.DoesNotContain("mh_", listing, StringComparison.Ordinal);
        Assert.DoesNotContain("secret", listing, StringComparison.Ordinal);

        using var viewer = AuthTestSupport.Client(server, secret);
        Assert.Equal(HttpStatusCode.OK, (await viewer.GetAsync(new Uri("/api/missions", UriKind.Relative))).StatusCode);
        using var viaHeader = AuthTestSupport.Client(server);
        viaHeader.DefaultRequestHeaders.Add("X-Api-Key", secret);
        Assert.Equal(HttpStatusCode.OK, (await viaHeader.GetAsync(new Uri("/api/missions", UriKind.Relative))).StatusCode);

        using var duplicate = await admin.PostAsJsonAsync("/api/auth/keys", new { name = "ci-viewer", roles = new[] { "viewer" } });
        await duplicate.AssertProblemAsync(409);
        using var badRole = await admin.PostAsJsonAsync("/api/auth/keys", new { name = "x", roles = new[] { "root" } });
        await badRole.AssertProblemAsync(400, "roles");
    }

    [Fact]
    public async Task Key_name_with_lone_surrogate_escape_is_400_not_500()
    {
        var server = Server();
        using var admin = AuthTestSupport.Client(server, Admin);

        using var create = await admin.PostAsync(new Uri("/api/auth/keys", UriKind.Relative), Json("""{"name":"\ud800","roles":["viewer"]}"""));
        using var role = await admin.PostAsync(new Uri("/api/auth/keys", UriKind.Relative), Json("""{"name":"ok","roles":["\udfff"]}"""));

        await create.AssertProblemAsync(400, "name");
        await role.AssertProblemAsync(400, "roles[0]");
    }

    [Fact]
    public async Task KeysCreatedThroughTheApi_SurviveARestart()
    {
        var name = $"shared-{Guid.NewGuid():N}";
        var first = Server(sharedName: name);
        var (_, secret) = await CreateKeyAsync(first, "survivor", ["viewer"]);
        await first.DisposeAsync();
        _servers.Remove(first);

        var second = Server(sharedName: name);
        using var viewer = AuthTestSupport.Client(second, secret);
        Assert.Equal(HttpStatusCode.OK, (await viewer.GetAsync(new Uri("/api/missions", UriKind.Relative))).StatusCode);
    }

    [Fact]
    public async Task ExpiredKey_StopsWorking()
    {
        var server = Server();
        _ = server.BaseAddress; // started, so the expiry is counted from now
        var expires = DateTimeOffset.UtcNow.AddSeconds(2).ToUnixTimeMilliseconds() / 1000.0;
        var (_, secret) = await CreateKeyAsync(server, "short-lived", ["viewer"], expiresAt: expires);
        using var viewer = AuthTestSupport.Client(server, secret);
        Assert.Equal(HttpStatusCode.OK, (await viewer.GetAsync(new Uri("/api/missions", UriKind.Relative))).StatusCode);
        await Eventually.TrueAsync(async () => (await viewer.GetAsync(new Uri("/api/missions", UriKind.Relative))).StatusCode == HttpStatusCode.Unauthorized,
            TimeSpan.FromSeconds(5), "the expired key to be refused");
    }

    [Fact]
    public async Task Revocation_ClosesAnOpenMonitorSocket_AndAnSseStream_WithinASecond()
    {
        var server = Server();
        var (id, secret) = await CreateKeyAsync(server, "dashboard-viewer", ["viewer"]);
        using var monitor = await AuthTestSupport.ConnectAsync(server, "/ws/monitor", secret);
        await AuthTestSupport.SendJsonAsync(monitor, new { type = "monitor_connect", request_full_state = true });
        await AuthTestSupport.ReceiveTypeAsync(monitor, "full_state_snapshot", TimeSpan.FromSeconds(10));

        using var sseClient = AuthTestSupport.Client(server, secret);
        var (response, reader) = await sseClient.OpenEventStreamAsync();
        using (response)
        using (reader)
        {
            var revoked = Stopwatch.StartNew();
            await RevokeAsync(server, id);

            // The socket is closed with 4401 and a reason.
            var closed = false;
            while (!closed)
            {
                var (frame, status, reason) = await AuthTestSupport.ReceiveAsync(monitor, TimeSpan.FromSeconds(1));
                if (frame is null)
                {
                    Assert.Equal(CredentialStreams.RevokedCloseStatus, status);
                    Assert.Contains("revoked", reason, StringComparison.Ordinal);
                    closed = true;
                }
            }
            Assert.True(revoked.Elapsed < TimeSpan.FromSeconds(1), $"the socket closed after {revoked.Elapsed}");

            // The SSE stream says why, then ends.
            using var cancel = new CancellationTokenSource(TimeSpan.FromSeconds(1));
            ServerSentEvent? last = null;
            while (await reader.ReadAsync(cancel.Token) is { } sse)
            {
                last = sse;
            }
            Assert.Equal("credential_closed", last?.Event);
            Assert.Contains("revoked", last!.Data, StringComparison.Ordinal);
            Assert.True(revoked.Elapsed < TimeSpan.FromSeconds(1.5), $"the stream ended after {revoked.Elapsed}");
        }

        // And the key no longer opens anything.
        Assert.Equal(401, await AuthTestSupport.HandshakeStatusAsync(server, "/ws/monitor", secret));
    }

    [Fact]
    public async Task WorkerKey_CannotRegisterAnotherWorkersId_ButReplacesItsOwn()
    {
        var server = Server();
        var worker = AuthTestSupport.RoleKeys["worker"]; // may act as render-*
        using var hijacker = await AuthTestSupport.ConnectAsync(server, "/ws/worker", worker);
        await AuthTestSupport.SendJsonAsync(hijacker, new { type = "worker_register", worker_id = "billing-1", capabilities = new { job_types = new[] { "billing" }, max_concurrent_jobs = 1 } });
        var refused = await AuthTestSupport.ReceiveTypeAsync(hijacker, "error", TimeSpan.FromSeconds(5));
        Assert.Equal("forbidden", refused.GetProperty("code").GetString());
        Assert.Contains("render-*", refused.GetProperty("message").GetString(), StringComparison.Ordinal);

        // The same connection may still register an id it is allowed.
        await AuthTestSupport.SendJsonAsync(hijacker, new { type = "worker_register", worker_id = "render-1", capabilities = new { job_types = new[] { "render" }, max_concurrent_jobs = 1 } });
        await AuthTestSupport.ReceiveTypeAsync(hijacker, "registered", TimeSpan.FromSeconds(5));

        // A replacement with the right key takes over render-1.
        using var replacement = await AuthTestSupport.ConnectAsync(server, "/ws/worker", worker);
        await AuthTestSupport.SendJsonAsync(replacement, new { type = "worker_register", worker_id = "render-1", capabilities = new { job_types = new[] { "render" }, max_concurrent_jobs = 1 } });
        var registered = await AuthTestSupport.ReceiveTypeAsync(replacement, "registered", TimeSpan.FromSeconds(5));
        Assert.Equal("render-1", registered.GetProperty("worker_id").GetString());
        using var operatorClient = AuthTestSupport.Client(server, AuthTestSupport.RoleKeys["operator"]);
        using var submitted = await operatorClient.PostAsync(new Uri("/api/jobs", UriKind.Relative), Json("""{"job_type":"render"}"""));
        Assert.Equal(HttpStatusCode.Created, submitted.StatusCode);
        var assigned = await AuthTestSupport.ReceiveTypeAsync(replacement, "job_assigned", TimeSpan.FromSeconds(5));
        Assert.Equal("render", assigned.GetProperty("job").GetProperty("job_type").GetString());

        // What the worker's frames cause is audited under its key's name.
        var jobId = assigned.GetProperty("job").GetProperty("id").GetString();
        await AuthTestSupport.SendJsonAsync(replacement, new { type = "job_completed", job_id = jobId, result = new { ok = true } });
        await Eventually.TrueAsync(async () =>
        {
            var page = await operatorClient.GetJsonAsync("/api/events?type=job_completed");
            return page.GetProperty("events").EnumerateArray().Any(e =>
                e.GetProperty("meta").TryGetProperty("actor", out var actor) && actor.GetString() == "worker-key");
        }, TimeSpan.FromSeconds(5), "job_completed with meta.actor = worker-key");
    }

    [Fact]
    public async Task Events_CarryTheActor_KeyNameOrJwtSubject_AndFailedSignInsAreCountedWithoutTheSecret()
    {
        var server = Server();
        using var operatorKey = AuthTestSupport.Client(server, AuthTestSupport.RoleKeys["operator"]);
        using var created = await operatorKey.PostAsync(new Uri("/api/missions", UriKind.Relative), Json("""{"id":"m-audit","name":"audited"}"""));
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        using var jwt = AuthTestSupport.Client(server, Auth.Token("alice@example.com", ["operator"]));
        using var changed = await jwt.PostAsync(new Uri("/api/missions/m-audit/status", UriKind.Relative), Json("""{"status":"RUNNING"}"""));
        Assert.Equal(HttpStatusCode.OK, changed.StatusCode);

        var page = await operatorKey.GetJsonAsync("/api/events?type=mission.*");
        var metas = page.GetProperty("events").EnumerateArray().Select(e => (e.GetProperty("type").GetString(), e.GetProperty("meta"))).ToList();
        Assert.True(metas.Count >= 2, page.ToString());
        Assert.Contains(metas, m => m.Item1 == "mission.created" && m.Item2.GetProperty("actor").GetString() == "operator-key");
        Assert.Contains(metas, m => m.Item1 == "mission.status_changed" && m.Item2.GetProperty("actor").GetString() == "alice@example.com");

        const string wrong = "mh_this-is-not-a-key-at-all-000000000";
        using var bad = AuthTestSupport.Client(server, wrong);
        Assert.Equal(HttpStatusCode.Unauthorized, (await bad.GetAsync(new Uri("/api/missions", UriKind.Relative))).StatusCode);
        using var viewer = AuthTestSupport.Client(server, AuthTestSupport.RoleKeys["viewer"]);
        await Eventually.TrueAsync(async () => (await viewer.GetStringAsync(new Uri("/metrics", UriKind.Relative))).Contains("missionhub_auth_failed_signins_total", StringComparison.Ordinal),
            TimeSpan.FromSeconds(10), "the failed sign-in counter on /metrics");
        Assert.True(server.Logs.Entries.Any(e => e.EventId.Id == 7010), string.Join("\n", server.Logs.Entries.Select(e => $"{e.Category} {e.EventId} {e.Message}")));
        Assert.DoesNotContain(server.Logs.Entries, e => e.Message.Contains(wrong, StringComparison.Ordinal) || e.Message.Contains("mh_test-", StringComparison.Ordinal));
    }

    [Fact]
    public async Task RateLimit_Answers429WithRetryAfter_AndNeverSlowsAnotherCredential()
    {
        var server = Server(new Dictionary<string, string?> { ["MissionHub:Auth:RequestsPerSecond"] = "1", ["MissionHub:Auth:RequestBurst"] = "3" });
        using var greedy = AuthTestSupport.Client(server, AuthTestSupport.RoleKeys["viewer"]);
        HttpResponseMessage? limited = null;
        for (var i = 0; i < 10 && limited is null; i++)
        {
            var response = await greedy.GetAsync(new Uri("/api/missions", UriKind.Relative));
            if (response.StatusCode == HttpStatusCode.TooManyRequests)
            {
                limited = response;
            }
            else
            {
                response.Dispose();
            }
        }
        Assert.NotNull(limited);
        using (limited)
        {
            Assert.True(limited.Headers.RetryAfter?.Delta > TimeSpan.Zero, "429 must say Retry-After");
            await limited.AssertProblemAsync(429);
        }
        using var other = AuthTestSupport.Client(server, AuthTestSupport.RoleKeys["operator"]);
        Assert.Equal(HttpStatusCode.OK, (await other.GetAsync(new Uri("/api/missions", UriKind.Relative))).StatusCode);
    }

    [Fact]
    public async Task StreamLimit_RefusesOneTooManyPerCredential_Only()
    {
        var server = Server(new Dictionary<string, string?> { ["MissionHub:Auth:MaxStreamsPerCredential"] = "1" });
        var viewer = AuthTestSupport.RoleKeys["viewer"];
        using var first = await AuthTestSupport.ConnectAsync(server, "/ws/monitor", viewer);
        Assert.Equal(429, await AuthTestSupport.HandshakeStatusAsync(server, "/ws/monitor", viewer));
        using var sse = AuthTestSupport.Client(server, viewer);
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri("/api/events/stream", UriKind.Relative));
        using var refused = await sse.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal(HttpStatusCode.TooManyRequests, refused.StatusCode);
        Assert.Equal(101, await AuthTestSupport.HandshakeStatusAsync(server, "/ws/monitor", AuthTestSupport.RoleKeys["operator"]));
    }

    [Fact]
    public async Task JwtThroughAccessToken_OpensTheMonitorSocket()
    {
        var server = Server();
        var token = Auth.Token("browser-user", ["viewer"]);
        using var socket = new ClientWebSocket();
        await socket.ConnectAsync(AuthTestSupport.SocketUri(server, $"/ws/monitor?access_token={Uri.EscapeDataString(token)}"), CancellationToken.None);
        await AuthTestSupport.SendJsonAsync(socket, new { type = "monitor_connect", request_full_state = true });
        await AuthTestSupport.ReceiveTypeAsync(socket, "full_state_snapshot", TimeSpan.FromSeconds(10));
        Assert.DoesNotContain(server.Logs.Entries, e => e.Message.Contains(token, StringComparison.Ordinal));
    }
}

public sealed class SqliteAuthBehaviourTests : AuthBehaviourTests
{
    protected override MissionHubFactory NewServer(IDictionary<string, string?> settings, string? sharedName = null) =>
        MissionHubFactory.WithSqlite(Auth.Folder.File((sharedName ?? Guid.NewGuid().ToString("N")) + ".db"), settings);
}

public sealed class RedisAuthBehaviourTests(RedisServerFixture redis) : AuthBehaviourTests, IClassFixture<RedisServerFixture>
{
    protected override MissionHubFactory NewServer(IDictionary<string, string?> settings, string? sharedName = null) =>
        MissionHubFactory.WithRedis(redis.Server, sharedName is null ? null : sharedName + ":", settings);

    [Fact]
    public async Task RevocationInOneProcess_ClosesSocketsAndRefusesTheKeyInAnother()
    {
        var prefix = $"shared-{Guid.NewGuid():N}";
        var a = Server(sharedName: prefix);
        var b = Server(sharedName: prefix);
        var (id, secret) = await CreateKeyAsync(a, "cross-process", ["viewer"]);
        using var onB = AuthTestSupport.Client(b, secret);
        Assert.Equal(HttpStatusCode.OK, (await onB.GetAsync(new Uri("/api/missions", UriKind.Relative))).StatusCode);
        using var monitor = await AuthTestSupport.ConnectAsync(b, "/ws/monitor", secret);
        await AuthTestSupport.SendJsonAsync(monitor, new { type = "monitor_connect", request_full_state = true });
        await AuthTestSupport.ReceiveTypeAsync(monitor, "full_state_snapshot", TimeSpan.FromSeconds(10));

        using var admin = AuthTestSupport.Client(a, AuthTestSupport.RoleKeys["admin"]);
        Assert.Equal(HttpStatusCode.NoContent, (await admin.DeleteAsync(new Uri($"/api/auth/keys/{id}", UriKind.Relative))).StatusCode);

        WebSocketCloseStatus? closedWith = null;
        while (closedWith is null)
        {
            var (frame, status, _) = await AuthTestSupport.ReceiveAsync(monitor, TimeSpan.FromSeconds(2));
            if (frame is null)
            {
                closedWith = status;
            }
        }
        Assert.Equal(CredentialStreams.RevokedCloseStatus, closedWith);
        Assert.Equal(HttpStatusCode.Unauthorized, (await onB.GetAsync(new Uri("/api/missions", UriKind.Relative))).StatusCode);
    }
}
