using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace MissionHub.Bench;

/// <summary>
/// The real MissionHub server as its own process (its DLL sits next to the benchmark's), on a free
/// loopback port with a fresh SQLite file or a given Redis, so load and server do not share a GC.
/// </summary>
internal sealed class HubServer : IAsyncDisposable
{
    private readonly Process _process;
    private readonly string _folder;

    private HubServer(Process process, string folder, Uri baseAddress)
    {
        _process = process;
        _folder = folder;
        BaseAddress = baseAddress;
        AppDomain.CurrentDomain.ProcessExit += (_, _) => Kill();
    }

    public Uri BaseAddress { get; }

    /// <summary>CPU time the server process has used so far (user + system).</summary>
    public TimeSpan ProcessorTime
    {
        get
        {
            _process.Refresh();
            return _process.TotalProcessorTime;
        }
    }

    public Uri WebSocketUri(string path) => new UriBuilder(BaseAddress) { Scheme = "ws", Path = path }.Uri;

    public static async Task<HubServer> StartAsync(string backend, RedisServerProcess? redis, IDictionary<string, string>? settings = null)
    {
        var folder = Directory.CreateTempSubdirectory("missionhub-bench-server-").FullName;
        int port;
        using (var listener = new TcpListener(IPAddress.Loopback, 0))
        {
            listener.Start();
            port = ((IPEndPoint)listener.LocalEndpoint).Port;
        }
        var start = new ProcessStartInfo("dotnet")
        {
            ArgumentList = { Path.Combine(AppContext.BaseDirectory, "MissionHub.dll"), "--urls", $"http://127.0.0.1:{port}" },
            WorkingDirectory = folder,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.Environment["Logging__LogLevel__Default"] = "Warning";
        start.Environment["MissionHub__Storage__Provider"] = backend;
        start.Environment["MissionHub__Storage__Sqlite__Path"] = Path.Combine(folder, "bench.db");
        if (redis is not null)
        {
            start.Environment["MissionHub__Storage__Redis__Configuration"] = redis.Configuration;
            start.Environment["MissionHub__Storage__Redis__KeyPrefix"] = $"bench{Guid.NewGuid():N}:";
        }
        foreach (var (key, value) in settings ?? new Dictionary<string, string>())
        {
            start.Environment[key] = value;
        }
        var process = Process.Start(start) ?? throw new InvalidOperationException("could not start the server");
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) { Console.Error.WriteLine($"  server: {e.Data}"); } };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var server = new HubServer(process, folder, new Uri($"http://127.0.0.1:{port}"));
        using var client = new HttpClient { BaseAddress = server.BaseAddress };
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            if (process.HasExited)
            {
                throw new InvalidOperationException($"the server exited with {process.ExitCode}");
            }
            try
            {
                if ((await client.GetAsync(new Uri("/api/health", UriKind.Relative))).IsSuccessStatusCode)
                {
                    return server;
                }
            }
            catch (HttpRequestException)
            {
            }
            if (deadline.Elapsed > TimeSpan.FromSeconds(30))
            {
                throw new TimeoutException("the server did not answer /api/health within 30 s");
            }
            await Task.Delay(100);
        }
    }

    private void Kill()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
                _process.WaitForExit();
            }
        }
        catch (InvalidOperationException)
        {
        }
    }

    public ValueTask DisposeAsync()
    {
        Kill();
        _process.Dispose();
        try
        {
            Directory.Delete(_folder, recursive: true);
        }
        catch (IOException)
        {
        }
        return ValueTask.CompletedTask;
    }
}
