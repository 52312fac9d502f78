using System.Diagnostics;
using System.Text;

namespace MissionHub.Tests.TestSupport;

/// <summary>
/// The real server as its own OS process (<c>dotnet MissionHub.dll</c>) on a free loopback port, for tests
/// that kill it or check how it starts.
/// </summary>
public sealed class ServerProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _output = new();
    private readonly StringBuilder _errors = new();

    private ServerProcess(Process process, int port)
    {
        _process = process;
        Port = port;
        BaseAddress = new Uri($"http://127.0.0.1:{port}");
    }

    public int Port { get; }

    public Uri BaseAddress { get; }

    public string Output { get { lock (_output) { return _output.ToString(); } } }

    public string Errors { get { lock (_errors) { return _errors.ToString(); } } }

    public bool HasExited => _process.HasExited;

    public int ExitCode => _process.ExitCode;

    public int ProcessId => _process.Id;

    /// <summary>Starts the server with the given <c>MissionHub__…</c> environment settings.</summary>
    /// <param name="ignoreFileSizeSignal">
    /// Start it with SIGXFSZ ignored (bash <c>trap</c>, then <c>exec</c>; the disposition survives the exec), so that a
    /// file-size limit set on it later (<c>prlimit --fsize</c>) makes its writes fail with EFBIG instead of killing it.
    /// </param>
    public static ServerProcess Start(IDictionary<string, string> environment, string? workingDirectory = null, bool ignoreFileSizeSignal = false)
    {
        var port = RedisServer.FreePort();
        var serverDll = Path.Combine(AppContext.BaseDirectory, "MissionHub.dll");
        var start = new ProcessStartInfo(ignoreFileSizeSignal ? "bash" : "dotnet")
        {
            WorkingDirectory = workingDirectory ?? AppContext.BaseDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        if (ignoreFileSizeSignal)
        {
            foreach (var argument in new[] { "-c", "trap '' XFSZ; exec \"$0\" \"$@\"", "dotnet" })
            {
                start.ArgumentList.Add(argument);
            }
        }
        foreach (var argument in new[] { serverDll, "--urls", $"http://127.0.0.1:{port}" })
        {
            start.ArgumentList.Add(argument);
        }
        start.Environment["ASPNETCORE_ENVIRONMENT"] = "Production";
        start.Environment["Logging__LogLevel__Default"] = "Warning";
        foreach (var (key, value) in environment)
        {
            start.Environment[key] = value;
        }
        var process = Process.Start(start) ?? throw new InvalidOperationException("could not start the server");
        var server = new ServerProcess(process, port);
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) { lock (server._output) { server._output.AppendLine(e.Data); } } };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) { lock (server._errors) { server._errors.AppendLine(e.Data); } } };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return server;
    }

    public HttpClient CreateClient() => new() { BaseAddress = BaseAddress, Timeout = TimeSpan.FromSeconds(30) };

    /// <summary>Waits until <c>/api/health</c> answers.</summary>
    public async Task WaitUntilReadyAsync()
    {
        using var client = CreateClient();
        await Eventually.TrueAsync(async () =>
        {
            if (_process.HasExited)
            {
                throw new InvalidOperationException($"the server exited with {_process.ExitCode}: {Errors}{Output}");
            }
            try
            {
                return (await client.GetAsync(new Uri("/api/health", UriKind.Relative))).IsSuccessStatusCode;
            }
            catch (HttpRequestException)
            {
                return false;
            }
        }, TimeSpan.FromSeconds(30), "the server to answer /api/health");
    }

    public async Task<int> WaitForExitAsync(TimeSpan timeout)
    {
        using var cancel = new CancellationTokenSource(timeout);
        await _process.WaitForExitAsync(cancel.Token);
        _process.WaitForExit(); // drains the output readers
        return _process.ExitCode;
    }

    /// <summary>SIGKILL: no shutdown hooks, no flushing — a crash.</summary>
    public async Task KillAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }
    }

    public async ValueTask DisposeAsync()
    {
        await KillAsync();
        _process.Dispose();
    }
}
