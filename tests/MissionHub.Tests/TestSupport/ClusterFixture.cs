using System.Text;

namespace MissionHub.Tests.TestSupport;

/// <summary>
/// One <c>redis-server</c> for a test class; each test starts its own <see cref="ServerCluster"/> on it, under its
/// own key prefix, so tests of a class share the Redis but never each other's state.
/// </summary>
public sealed class ClusterFixture : IAsyncLifetime
{
    public RedisServer Redis { get; private set; } = null!;

    public async Task InitializeAsync() => Redis = await RedisServer.StartNewAsync();

    public async Task DisposeAsync() => await Redis.DisposeAsync();

    /// <summary>Starts <paramref name="count"/> server processes on this fixture's Redis (DESIGN §6: one hub).</summary>
    public Task<ServerCluster> StartClusterAsync(int count, IDictionary<string, string>? settings = null) =>
        ServerCluster.StartAsync(Redis, count, settings);
}

/// <summary>
/// N real MissionHub server processes (<see cref="ServerProcess"/>) on one Redis with one key prefix: one hub
/// across processes. A process can be killed (SIGKILL) and started again; its slot then has a new port.
/// </summary>
public sealed class ServerCluster : IAsyncDisposable
{
    private readonly Dictionary<string, string> _environment;
    private readonly ServerProcess?[] _servers;
    private readonly HttpClient?[] _clients;
    private readonly List<ServerProcess> _stopped = [];
    private readonly Lock _lock = new();

    private ServerCluster(Dictionary<string, string> environment, int count)
    {
        _environment = environment;
        _servers = new ServerProcess?[count];
        _clients = new HttpClient?[count];
    }

    /// <summary>The Redis key prefix every process of this cluster uses.</summary>
    public string KeyPrefix => _environment["MissionHub__Storage__Redis__KeyPrefix"];

    public int Count => _servers.Length;

    /// <summary>The process in slot <paramref name="index"/>; throws if it was killed and not restarted.</summary>
    public ServerProcess this[int index]
    {
        get
        {
            lock (_lock)
            {
                return _servers[index] ?? throw new InvalidOperationException($"server {index} is not running");
            }
        }
    }

    /// <summary>The slots whose process is running now.</summary>
    public IReadOnlyList<int> LiveIndexes
    {
        get
        {
            lock (_lock)
            {
                return Enumerable.Range(0, _servers.Length).Where(i => _servers[i] is { HasExited: false }).ToArray();
            }
        }
    }

    public bool IsLive(int index)
    {
        lock (_lock)
        {
            return _servers[index] is { HasExited: false };
        }
    }

    /// <summary>The base address of the first live process at or after slot <paramref name="index"/> (wrapping).</summary>
    public Uri LiveAddress(int index)
    {
        lock (_lock)
        {
            for (var k = 0; k < _servers.Length; k++)
            {
                if (_servers[(index + k) % _servers.Length] is { HasExited: false } server)
                {
                    return server.BaseAddress;
                }
            }
        }
        throw new InvalidOperationException("no server of the cluster is running");
    }

    /// <summary>An HTTP client of the process in slot <paramref name="index"/> (a new one after a restart).</summary>
    public HttpClient Client(int index)
    {
        lock (_lock)
        {
            var server = _servers[index] ?? throw new InvalidOperationException($"server {index} is not running");
            return _clients[index] ??= server.CreateClient();
        }
    }

    /// <summary>An HTTP client of the first live process at or after slot <paramref name="index"/>.</summary>
    public HttpClient LiveClient(int index)
    {
        var live = LiveIndexes;
        if (live.Count == 0)
        {
            throw new InvalidOperationException("no server of the cluster is running");
        }
        var slot = live.FirstOrDefault(i => i >= index % Count, live[0]);
        return Client(slot);
    }

    public static async Task<ServerCluster> StartAsync(RedisServer redis, int count, IDictionary<string, string>? settings = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(count, 1);
        var environment = new Dictionary<string, string>
        {
            ["MissionHub__Storage__Provider"] = "redis",
            ["MissionHub__Storage__Redis__Configuration"] = redis.Configuration,
            ["MissionHub__Storage__Redis__KeyPrefix"] = $"cluster{Guid.NewGuid():N}:",
        };
        foreach (var (key, value) in settings ?? new Dictionary<string, string>())
        {
            environment[key] = value;
        }
        var cluster = new ServerCluster(environment, count);
        try
        {
            for (var i = 0; i < count; i++)
            {
                cluster._servers[i] = ServerProcess.Start(environment);
            }
            await Task.WhenAll(cluster._servers.Select(s => s!.WaitUntilReadyAsync()));
            return cluster;
        }
        catch
        {
            await cluster.DisposeAsync();
            throw;
        }
    }

    /// <summary>kill -9 of the process in slot <paramref name="index"/>: no shutdown, no flushing.</summary>
    public async Task KillAsync(int index)
    {
        ServerProcess server;
        HttpClient? client;
        lock (_lock)
        {
            server = _servers[index] ?? throw new InvalidOperationException($"server {index} is not running");
            client = _clients[index];
            _servers[index] = null;
            _clients[index] = null;
            _stopped.Add(server);
        }
        await server.KillAsync();
        client?.Dispose();
    }

    /// <summary>Starts a new process in slot <paramref name="index"/> (same settings, a new port) and waits until it answers.</summary>
    public async Task<ServerProcess> RestartAsync(int index)
    {
        var server = ServerProcess.Start(_environment);
        lock (_lock)
        {
            if (_servers[index] is not null)
            {
                throw new InvalidOperationException($"server {index} is still running");
            }
            _servers[index] = server;
        }
        await server.WaitUntilReadyAsync();
        return server;
    }

    /// <summary>What every process (running or killed) wrote to stderr, for failure messages.</summary>
    public string Diagnostics()
    {
        var text = new StringBuilder();
        lock (_lock)
        {
            for (var i = 0; i < _servers.Length; i++)
            {
                if (_servers[i] is { } server && server.Errors.Length > 0)
                {
                    text.Append("server ").Append(i).Append(" stderr: ").AppendLine(Tail(server.Errors));
                }
            }
            foreach (var server in _stopped.Where(s => s.Errors.Length > 0))
            {
                text.Append("killed server stderr: ").AppendLine(Tail(server.Errors));
            }
        }
        return text.ToString();
    }

    private static string Tail(string text) => text.Length <= 4000 ? text : text[^4000..];

    public async ValueTask DisposeAsync()
    {
        ServerProcess[] servers;
        lock (_lock)
        {
            servers = _servers.OfType<ServerProcess>().Concat(_stopped).ToArray();
            foreach (var client in _clients)
            {
                client?.Dispose();
            }
            Array.Clear(_servers);
            Array.Clear(_clients);
            _stopped.Clear();
        }
        foreach (var server in servers)
        {
            await server.DisposeAsync();
        }
    }
}
