using System.Text.Json;
using MissionHub.Client;

namespace MissionHub.Tests.Client;

/// <summary>A real server on a SQLite file, a <see cref="JobsClient"/> on it, and workers that are stopped at the end.</summary>
public abstract class ClientTestBase : IAsyncLifetime
{
    private readonly List<(WorkerClient Worker, CancellationTokenSource Stop, Task Run)> _workers = [];

    protected TempFolder Folder { get; } = new();

    protected string DatabasePath => Folder.File("hub.db");

    protected MissionHubFactory Factory { get; set; } = null!;

    protected HttpClient Http { get; set; } = null!;

    protected JobsClient Jobs { get; set; } = null!;

    protected static Dictionary<string, string?> Settings => new()
    {
        ["MissionHub:Hub:RetryBaseDelay"] = "00:00:00.050",
        ["MissionHub:Hub:RetryMaxDelay"] = "00:00:00.200",
        ["MissionHub:Hub:RestartGracePeriod"] = "00:00:01",
    };

    public virtual Task InitializeAsync()
    {
        StartServer();
        return Task.CompletedTask;
    }

    protected void StartServer(int port = 0, IDictionary<string, string?>? extra = null)
    {
        var settings = Settings;
        foreach (var (key, value) in extra ?? new Dictionary<string, string?>())
        {
            settings[key] = value;
        }
        Factory = MissionHubFactory.WithSqlite(DatabasePath, settings, port);
        Http = Factory.CreateClient();
        Jobs = new JobsClient(Http);
    }

    protected async Task StopServerAsync()
    {
        Http.Dispose();
        await Factory.DisposeAsync();
    }

    public async Task DisposeAsync()
    {
        foreach (var (_, stop, run) in _workers)
        {
            await stop.CancelAsync();
            await run.WaitAsync(TimeSpan.FromSeconds(20));
            stop.Dispose();
        }
        await StopServerAsync();
        Folder.Dispose();
    }

    protected WorkerClientOptions WorkerOptions(string workerId, string[] jobTypes, int slots = 1) => new()
    {
        ServerUri = Factory.BaseAddress,
        WorkerId = workerId,
        JobTypes = jobTypes,
        MaxConcurrentJobs = slots,
        ReconnectMinDelay = TimeSpan.FromMilliseconds(100),
        ReconnectMaxDelay = TimeSpan.FromMilliseconds(500),
        ShutdownTimeout = TimeSpan.FromSeconds(5),
    };

    /// <summary>Starts a worker in the background and waits until it is registered.</summary>
    protected async Task<(WorkerClient Worker, Task Run)> StartWorkerAsync(
        WorkerClientOptions options, Func<JobContext, CancellationToken, Task<JsonElement?>> handler)
    {
        var worker = new WorkerClient(options);
        var stop = new CancellationTokenSource();
        var run = worker.RunAsync(handler, stop.Token);
        _workers.Add((worker, stop, run));
        await Eventually.TrueAsync(() => worker.State == WorkerState.Registered || run.IsCompleted, TimeSpan.FromSeconds(10), $"worker {options.WorkerId} to register");
        Assert.False(run.IsFaulted, run.Exception?.ToString());
        return (worker, run);
    }

    /// <summary>Stops a worker started with <see cref="StartWorkerAsync"/> and waits for RunAsync to return.</summary>
    protected async Task StopWorkerAsync(WorkerClient worker)
    {
        var (_, stop, run) = _workers.Single(w => ReferenceEquals(w.Worker, worker));
        await stop.CancelAsync();
        await run.WaitAsync(TimeSpan.FromSeconds(20));
    }

    protected async Task<JobInfo> WaitForStatusAsync(string id, string status, TimeSpan? timeout = null)
    {
        JobInfo job = null!;
        try
        {
            await Eventually.TrueAsync(async () => (job = await Jobs.GetAsync(id)).Status == status,
                timeout ?? TimeSpan.FromSeconds(10), $"job {id} to be {status}");
        }
        catch (TimeoutException ex)
        {
            throw new TimeoutException($"{ex.Message}; job now: {job}; server log:\n{string.Join("\n", Factory.Logs.Entries.Select(e => $"{e.Level} {e.Category}: {e.Message} {e.Exception}"))}", ex);
        }
        return job;
    }

    protected static JsonElement Json(object value) => JsonSerializer.SerializeToElement(value);
}
