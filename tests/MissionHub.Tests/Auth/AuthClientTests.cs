using System.Net.WebSockets;
using System.Text.Json;
using MissionHub.Auth;
using MissionHub.Client;

namespace MissionHub.Tests.Auth;

/// <summary>Every MissionHub.Client client with an API key against a hub that requires one; and expiry closing a socket.</summary>
public sealed class AuthClientTests : IAsyncLifetime
{
    private readonly AuthTestSupport _auth = new();
    private MissionHubFactory _server = null!;

    public Task InitializeAsync()
    {
        _server = MissionHubFactory.WithSqlite(_auth.Folder.File("clients.db"), _auth.Settings(jwt: false));
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        await _server.DisposeAsync();
        _auth.Dispose();
    }

    [Fact]
    public async Task JobsClient_WorkerClient_MonitorClient_AndSse_TakeAnApiKey()
    {
        using var http = new HttpClient { BaseAddress = _server.BaseAddress };
        var jobs = new JobsClient(http, AuthTestSupport.RoleKeys["operator"]);
        using var cancel = new CancellationTokenSource(TimeSpan.FromSeconds(30));

        var worker = new WorkerClient(new WorkerClientOptions
        {
            ServerUri = _server.BaseAddress,
            WorkerId = "render-client",
            JobTypes = ["render"],
            ApiKey = AuthTestSupport.RoleKeys["worker"],
            ReconnectMinDelay = TimeSpan.FromMilliseconds(100),
        });
        var working = worker.RunAsync((job, _) => Task.FromResult<JsonElement?>(JsonSerializer.SerializeToElement(new { ok = true })), cancel.Token);

        await using var monitor = new MonitorClient(new MonitorClientOptions { Server = _server.BaseAddress, ApiKey = AuthTestSupport.RoleKeys["viewer"] });
        var monitoring = monitor.RunAsync(cancel.Token);

        using var sseHttp = new HttpClient { BaseAddress = _server.BaseAddress };
        var (response, reader) = await MissionHubCredentials.OpenEventStreamAsync(sseHttp, AuthTestSupport.RoleKeys["viewer"], cancellationToken: cancel.Token);
        using (response)
        using (reader)
        {
            await Eventually.TrueAsync(() => worker.State == WorkerState.Registered && monitor.IsLive, TimeSpan.FromSeconds(10), "the worker to register and the monitor to go live");
            var submitted = await jobs.SubmitAsync(new JobSubmission { JobType = "render" }, cancel.Token);
            await Eventually.TrueAsync(async () => (await jobs.GetAsync(submitted.Id, cancel.Token)).Status == JobStatuses.Completed, TimeSpan.FromSeconds(10), "the job to complete");
            await Eventually.TrueAsync(() => monitor.GetState().Completed.Any(j => j.Id == submitted.Id), TimeSpan.FromSeconds(10), "the monitor to see it completed");
            var first = await reader.ReadAsync(cancel.Token);
            Assert.NotNull(first);
        }

        // Without the key the REST client is refused with the hub's reason.
        using var anonymous = new HttpClient { BaseAddress = _server.BaseAddress };
        var refused = await Assert.ThrowsAsync<MissionHubApiException>(() => new JobsClient(anonymous).SubmitAsync(new JobSubmission { JobType = "render" }));
        Assert.Equal(System.Net.HttpStatusCode.Unauthorized, refused.StatusCode);
        await cancel.CancelAsync();
        await Task.WhenAll(working, monitoring).WaitAsync(TimeSpan.FromSeconds(20)).ContinueWith(_ => { }, TaskScheduler.Default);
    }

    [Fact]
    public async Task ExpiringKey_ClosesItsOpenSocket_WithAReason()
    {
        using var admin = AuthTestSupport.Client(_server, AuthTestSupport.RoleKeys["admin"]);
        var expires = DateTimeOffset.UtcNow.AddSeconds(2).ToUnixTimeMilliseconds() / 1000.0;
        using var created = await admin.PostAsync(new Uri("/api/auth/keys", UriKind.Relative),
            new StringContent(JsonSerializer.Serialize(new { name = "brief", roles = new[] { "viewer" }, expires_at = expires }), System.Text.Encoding.UTF8, "application/json"));
        var secret = JsonDocument.Parse(await created.Content.ReadAsStringAsync()).RootElement.GetProperty("secret").GetString()!;
        using var socket = await AuthTestSupport.ConnectAsync(_server, "/ws/monitor", secret);
        await AuthTestSupport.SendJsonAsync(socket, new { type = "monitor_connect", request_full_state = true });
        WebSocketCloseStatus? status = null;
        string? reason = null;
        while (status is null)
        {
            var (frame, close, why) = await AuthTestSupport.ReceiveAsync(socket, TimeSpan.FromSeconds(10));
            if (frame is null)
            {
                (status, reason) = (close, why);
            }
        }
        Assert.Equal(CredentialStreams.RevokedCloseStatus, status);
        Assert.Contains("expired", reason, StringComparison.Ordinal);
    }
}
