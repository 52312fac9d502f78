using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text.RegularExpressions;

namespace MissionHub.Bench;

/// <summary>
/// A <c>redis-server</c> the benchmark starts on a free loopback port, in its own temp folder, without
/// persistence (<c>--save "" --appendonly no</c>). Disposing kills it and removes the folder.
/// </summary>
internal sealed partial class RedisServerProcess : IAsyncDisposable
{
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(10);
    private static readonly TimeSpan RawBenchmarkTimeout = TimeSpan.FromMinutes(5);

    private readonly string _folder;
    private readonly Process _process;

    private RedisServerProcess(string folder, int port, Process process)
    {
        _folder = folder;
        Port = port;
        _process = process;
        // Ctrl+C or SIGTERM skip the benchmark's finally blocks; the server must not outlive the benchmark.
        AppDomain.CurrentDomain.ProcessExit += KillOnExit;
    }

    public int Port { get; }

    /// <summary>CPU time redis-server has used so far (user + system).</summary>
    public TimeSpan ProcessorTime
    {
        get
        {
            _process.Refresh();
            return _process.TotalProcessorTime;
        }
    }

    public string Configuration => $"127.0.0.1:{Port},abortConnect=false";

    public static async Task<RedisServerProcess> StartAsync()
    {
        var folder = Directory.CreateTempSubdirectory("missionhub-bench-redis-").FullName;
        var port = FreePort();
        var start = new ProcessStartInfo(FindExecutable("redis-server"))
        {
            ArgumentList =
            {
                "--port", port.ToString(CultureInfo.InvariantCulture), "--bind", "127.0.0.1",
                "--save", "", "--appendonly", "no", "--dir", folder, "--protected-mode", "no",
            },
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        var process = Process.Start(start) ?? throw new InvalidOperationException("could not start redis-server");
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var server = new RedisServerProcess(folder, port, process);
        try
        {
            await server.WaitUntilReadyAsync();
            return server;
        }
        catch
        {
            await server.DisposeAsync();
            throw;
        }
    }

    /// <summary>The server's version line, e.g. <c>7.0.15</c>.</summary>
    public static async Task<string> VersionAsync() =>
        (await RunToolAsync(FindExecutable("redis-server"), ["--version"], TimeSpan.FromSeconds(10))).Trim();

    /// <summary>
    /// Runs <c>redis-benchmark -p PORT -P 16 -n N -q XADD bench:raw '*' f v</c> against this server and returns its requests/s.
    /// </summary>
    public async Task<double> RawXaddRateAsync(int requests)
    {
        string[] arguments =
        [
            "-p", Port.ToString(CultureInfo.InvariantCulture), "-P", "16",
            "-n", requests.ToString(CultureInfo.InvariantCulture), "-q", "XADD", "bench:raw", "*", "f", "v",
        ];
        var output = await RunToolAsync(FindExecutable("redis-benchmark"), arguments, RawBenchmarkTimeout);
        // -q prints progress lines separated by '\r', then "XADD bench:raw * f v: 123456.79 requests per second, p50=…".
        var matches = RequestsPerSecond().Matches(output);
        if (matches.Count == 0)
        {
            throw new InvalidOperationException($"could not find 'requests per second' in redis-benchmark output: {output}");
        }
        return double.Parse(matches[^1].Groups[1].Value, CultureInfo.InvariantCulture);
    }

    public async ValueTask DisposeAsync()
    {
        AppDomain.CurrentDomain.ProcessExit -= KillOnExit;
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
                await _process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(10));
            }
        }
        finally
        {
            _process.Dispose();
            try
            {
                Directory.Delete(_folder, recursive: true);
            }
            catch (IOException)
            {
                // A leftover temp folder is harmless.
            }
        }
    }

    private void KillOnExit(object? sender, EventArgs e)
    {
        try
        {
            _process.Kill(entireProcessTree: true);
        }
        catch (InvalidOperationException)
        {
            // Already exited.
        }
    }

    private async Task WaitUntilReadyAsync()
    {
        var deadline = Stopwatch.GetTimestamp() + (long)(StartTimeout.TotalSeconds * Stopwatch.Frequency);
        while (Stopwatch.GetTimestamp() < deadline)
        {
            if (_process.HasExited)
            {
                throw new InvalidOperationException($"redis-server exited at start with code {_process.ExitCode}");
            }
            if (await CanPingAsync())
            {
                return;
            }
            await Task.Delay(50);
        }
        throw new TimeoutException($"redis-server did not accept connections on port {Port} within {StartTimeout.TotalSeconds} s");
    }

    private async Task<bool> CanPingAsync()
    {
        try
        {
            using var client = new TcpClient();
            await client.ConnectAsync(IPAddress.Loopback, Port);
            await using var stream = client.GetStream();
            await stream.WriteAsync("PING\r\n"u8.ToArray());
            var buffer = new byte[16];
            var read = await stream.ReadAsync(buffer);
            return read > 0 && buffer[0] == (byte)'+';
        }
        catch (SocketException)
        {
            return false;
        }
        catch (IOException)
        {
            return false;
        }
    }

    private static async Task<string> RunToolAsync(string executable, IEnumerable<string> arguments, TimeSpan timeout)
    {
        var start = new ProcessStartInfo(executable)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }
        using var process = Process.Start(start) ?? throw new InvalidOperationException($"could not start {executable}");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        try
        {
            await process.WaitForExitAsync().WaitAsync(timeout);
        }
        catch (TimeoutException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{Path.GetFileName(executable)} did not finish within {timeout.TotalSeconds} s");
        }
        var output = await stdout;
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{Path.GetFileName(executable)} exited with code {process.ExitCode}: {await stderr}");
        }
        return output;
    }

    private static string FindExecutable(string name)
    {
        foreach (var folder in new[] { "/usr/bin", "/usr/local/bin" })
        {
            var candidate = Path.Combine(folder, name);
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }
        throw new InvalidOperationException($"{name} is not installed (apt-get install redis-server provides it)");
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    [GeneratedRegex(@"([0-9]+(?:\.[0-9]+)?) requests per second")]
    private static partial Regex RequestsPerSecond();
}
