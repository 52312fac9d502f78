using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace MissionHub.Tests.TestSupport;

/// <summary>
/// A real <c>redis-server</c> on a free loopback port, in its own temp folder, for the life of a fixture.
/// It can be stopped and started again on the same port to test outages.
/// </summary>
public sealed class RedisServer : IAsyncDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("missionhub-redis-").FullName;
    private Process? _process;

    public RedisServer(bool appendOnly = false)
    {
        Port = FreePort();
        _appendOnly = appendOnly;
    }

    // With the append-only file fsynced on every write, a kill loses nothing Redis acknowledged.
    private readonly bool _appendOnly;

    public int Port { get; }

    /// <summary>Configuration string for StackExchange.Redis: short timeouts so outage tests stay quick.</summary>
    public string Configuration => $"127.0.0.1:{Port},abortConnect=false,connectTimeout=2000,asyncTimeout=2000,syncTimeout=2000,connectRetry=1";

    /// <summary>
    /// As <see cref="Configuration"/>, with the server's default command timeouts: for tests that move large values on a
    /// loaded machine and are not about outages, where a 2 s timeout would be a false fault.
    /// </summary>
    public string PatientConfiguration => $"127.0.0.1:{Port},abortConnect=false,connectTimeout=2000,connectRetry=1";

    public static async Task<RedisServer> StartNewAsync()
    {
        var server = new RedisServer();
        await server.StartAsync();
        return server;
    }

    public async Task StartAsync()
    {
        var executable = FindExecutable();
        var start = new ProcessStartInfo(executable)
        {
            ArgumentList = { "--port", Port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--bind", "127.0.0.1",
                "--save", "", "--appendonly", _appendOnly ? "yes" : "no", "--appendfsync", "always",
                "--dir", _folder, "--protected-mode", "no" },
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        _process = Process.Start(start) ?? throw new InvalidOperationException("could not start redis-server");
        _process.OutputDataReceived += (_, _) => { };
        _process.ErrorDataReceived += (_, _) => { };
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
        await Eventually.TrueAsync(() => Task.FromResult(CanConnect()), TimeSpan.FromSeconds(10), "redis-server to accept connections");
    }

    /// <summary>Kills the server (no save): its data is gone, as after a crash without persistence.</summary>
    public async Task StopAsync()
    {
        if (_process is { HasExited: false } process)
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync();
        }
        _process?.Dispose();
        _process = null;
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        try
        {
            Directory.Delete(_folder, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    private bool CanConnect()
    {
        try
        {
            using var client = new TcpClient();
            client.Connect(IPAddress.Loopback, Port);
            using var stream = client.GetStream();
            stream.Write("PING\r\n"u8);
            var buffer = new byte[16];
            var read = stream.Read(buffer);
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

    private static string FindExecutable()
    {
        foreach (var candidate in new[] { "/usr/bin/redis-server", "/usr/local/bin/redis-server" })
        {
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }
        throw new InvalidOperationException("redis-server is not installed: run ./scripts/test, which installs it with apt-get");
    }

    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}

/// <summary>One redis-server shared by a test class.</summary>
public sealed class RedisServerFixture : IAsyncLifetime
{
    public RedisServer Server { get; private set; } = null!;

    public async Task InitializeAsync() => Server = await RedisServer.StartNewAsync();

    public async Task DisposeAsync() => await Server.DisposeAsync();
}
