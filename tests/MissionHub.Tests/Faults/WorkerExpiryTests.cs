using System.Text.Json;

namespace MissionHub.Tests.Faults;

/// <summary>
/// Storage owns worker state: a worker whose process was killed (so its disconnect never reached storage) is not
/// listed as connected forever. After the restart, once the heartbeat timeout has passed without the worker, the
/// sweep lists it offline (<c>heartbeat_timeout</c>, one <c>worker_disconnected</c> event), and the same id coming
/// back registers as usual.
/// </summary>
public abstract class WorkerExpiryTests : IAsyncLifetime
{
    protected abstract FaultServer CreateServer();

    private FaultServer _server = null!;

    public async Task InitializeAsync()
    {
        _server = CreateServer().With("MissionHub__Hub__WorkerHeartbeatTimeout", "00:00:03");
        await _server.StartAsync();
    }

    public async Task DisposeAsync() => await _server.DisposeAsync();

    [Fact]
    public async Task WorkerOfAKilledServer_IsListedOffline_AfterTheRestartAndTheHeartbeatTimeout()
    {
        await using (var worker = await RawWorker.RegisterAsync(_server.Address(0), "w-crashed", ["expiry"]))
        {
            Assert.Equal("idle", await WorkerStateAsync(_server.Client, "w-crashed"));
            await _server.KillAsync();
        }
        await _server.StartAsync();

        await Eventually.TrueAsync(async () => await WorkerStateAsync(_server.Client, "w-crashed") == "connection_broken", TimeSpan.FromSeconds(30),
            "the restarted server to list the worker of the killed run connection_broken (heartbeat timeout 3 s)");
        var agent = await AgentAsync(_server.Client, "w-crashed");
        Assert.Equal("heartbeat_timeout", agent!.Value.GetProperty("disconnect_reason").GetString());
        var events = await _server.Client.GetJsonAsync("/api/events?type=worker_disconnected&limit=1000");
        var disconnect = Assert.Single(events.GetProperty("events").EnumerateArray(),
            e => e.GetProperty("payload").GetProperty("worker_id").GetString() == "w-crashed");
        Assert.Equal("heartbeat_timeout", disconnect.GetProperty("payload").GetProperty("reason").GetString());

        await using var back = await RawWorker.RegisterAsync(_server.Address(0), "w-crashed", ["expiry"]);
        back.StartHeartbeats(TimeSpan.FromMilliseconds(500));
        Assert.Equal("idle", await WorkerStateAsync(_server.Client, "w-crashed"));
        // A worker that keeps its heartbeats is renewed, never swept: still idle after twice the timeout.
        await Task.Delay(TimeSpan.FromSeconds(6)); // the span under test, not a wait for something to happen
        Assert.Equal("idle", await WorkerStateAsync(_server.Client, "w-crashed"));
    }

    private static async Task<JsonElement?> AgentAsync(HttpClient client, string workerId) =>
        (await client.GetJsonAsync("/api/supervisor/agents?kind=worker")).EnumerateArray()
            .FirstOrDefault(a => a.GetProperty("id").GetString() == workerId) is { ValueKind: JsonValueKind.Object } agent ? agent : null;

    private static async Task<string?> WorkerStateAsync(HttpClient client, string workerId) =>
        (await AgentAsync(client, workerId))?.GetProperty("state").GetString();
}

public sealed class SqliteWorkerExpiryTests : WorkerExpiryTests, IDisposable
{
    private readonly TempFolder _folder = new();

    protected override FaultServer CreateServer() => FaultServer.Sqlite(_folder.File("expiry.db"));

    public void Dispose() => _folder.Dispose();
}

public sealed class RedisWorkerExpiryTests(RedisServerFixture redis) : WorkerExpiryTests, IClassFixture<RedisServerFixture>
{
    protected override FaultServer CreateServer() => FaultServer.Redis(redis.Server.Configuration);
}
