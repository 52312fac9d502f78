using System.Net.Http.Json;
using System.Text.Json;

namespace MissionHub.Tests.Faults;

/// <summary>
/// One real server process on a fixed configuration (a SQLite file or a Redis key prefix) that a fault test kills
/// and starts again: every restart is the same server on the same data, on a new port.
/// </summary>
public sealed class FaultServer : IAsyncDisposable
{
    /// <summary>The secret of the admin+worker key configured on servers started with an API key.</summary>
    public const string ApiKey = "mh_faults_0123456789abcdef0123456789abcdef";

    private readonly Dictionary<string, string> _environment;
    private readonly Func<IDictionary<string, string>, ServerProcess> _launch;
    private readonly List<ServerProcess> _old = [];
    private ServerProcess? _current;
    private HttpClient? _client;

    private FaultServer(Dictionary<string, string> environment, Func<IDictionary<string, string>, ServerProcess>? launch)
    {
        _environment = environment;
        _launch = launch ?? (env => ServerProcess.Start(env));
    }

    public bool UsesApiKey => _environment.ContainsKey("MissionHub__Auth__Keys__0__Secret");

    public static FaultServer Sqlite(string databasePath, Func<IDictionary<string, string>, ServerProcess>? launch = null) => new(new()
    {
        ["MissionHub__Storage__Provider"] = "sqlite",
        ["MissionHub__Storage__Sqlite__Path"] = databasePath,
        // Workers of a killed process come back at once; the default grace would hold their jobs for a while.
        ["MissionHub__Hub__RestartGracePeriod"] = "00:00:02",
    }, launch);

    public static FaultServer Redis(string configuration, bool withApiKey = false)
    {
        var environment = new Dictionary<string, string>
        {
            ["MissionHub__Storage__Provider"] = "redis",
            ["MissionHub__Storage__Redis__Configuration"] = configuration,
            ["MissionHub__Storage__Redis__KeyPrefix"] = $"faults{Guid.NewGuid():N}:",
            ["MissionHub__Hub__RestartGracePeriod"] = "00:00:02",
        };
        if (withApiKey)
        {
            // Stored keys live in Redis: while it is unreachable only a configured key can be checked.
            environment["MissionHub__Auth__Keys__0__Name"] = "faults";
            environment["MissionHub__Auth__Keys__0__Secret"] = ApiKey;
            environment["MissionHub__Auth__Keys__0__Roles__0"] = "admin";
            environment["MissionHub__Auth__Keys__0__Roles__1"] = "worker";
        }
        return new FaultServer(environment, null);
    }

    /// <summary>One more setting (an environment variable name such as <c>MissionHub__Hub__WorkerHeartbeatTimeout</c>) for every start.</summary>
    public FaultServer With(string name, string value)
    {
        _environment[name] = value;
        return this;
    }

    public ServerProcess Process => _current ?? throw new InvalidOperationException("the server is not running");

    /// <summary>The running server's address; <see cref="InvalidOperationException"/> while it is down (what <see cref="ClusterWorker"/> expects).</summary>
    public Uri Address(int _) => _current is { HasExited: false } server ? server.BaseAddress : throw new InvalidOperationException("the server is down");

    public HttpClient Client => _client ?? throw new InvalidOperationException("the server is not running");

    /// <summary>Starts the process and waits until it answers <c>/api/health</c> (liveness, not storage).</summary>
    public async Task StartAsync()
    {
        if (_current is not null)
        {
            throw new InvalidOperationException("already running");
        }
        var server = _launch(_environment);
        _current = server;
        _client = server.CreateClient();
        _client.Timeout = TimeSpan.FromSeconds(10);
        if (UsesApiKey)
        {
            _client.DefaultRequestHeaders.Add("X-Api-Key", ApiKey);
        }
        await server.WaitUntilReadyAsync();
    }

    /// <summary>SIGKILL: no shutdown, no flushing.</summary>
    public async Task KillAsync()
    {
        if (_current is { } server)
        {
            _current = null;
            _client?.Dispose();
            _client = null;
            await server.KillAsync();
            _old.Add(server);
        }
    }

    /// <summary>Waits until <c>/api/supervisor/health</c> says <paramref name="state"/>; returns the last answer.</summary>
    public async Task<JsonElement> WaitForHealthAsync(string state, TimeSpan timeout)
    {
        JsonElement last = default;
        var code = 0;
        await Eventually.TrueAsync(async () =>
        {
            try
            {
                using var response = await Client.GetAsync(new Uri("/api/supervisor/health", UriKind.Relative));
                code = (int)response.StatusCode;
                if (!response.Content.Headers.ContentType?.MediaType?.Contains("json", StringComparison.Ordinal) ?? true)
                {
                    return false;
                }
                last = await response.Content.ReadFromJsonAsync<JsonElement>();
                return last.TryGetProperty("status", out var status) && status.GetString() == state
                    && code == (state == "error" ? 503 : 200);
            }
            catch (HttpRequestException)
            {
                return false;
            }
            catch (TaskCanceledException)
            {
                return false;
            }
        }, timeout, $"health '{state}' (last: HTTP {code} {(last.ValueKind == JsonValueKind.Undefined ? "" : last.GetRawText())})\n{Diagnostics()}");
        return last;
    }

    /// <summary>The tail of what every process of this server wrote to stderr, for failure messages.</summary>
    public string Diagnostics()
    {
        var errors = string.Concat(_old.Append(_current).OfType<ServerProcess>().Select(s => s.Errors));
        return errors.Length <= 4000 ? errors : errors[^4000..];
    }

    public async ValueTask DisposeAsync()
    {
        await KillAsync();
        foreach (var server in _old)
        {
            await server.DisposeAsync();
        }
    }
}
