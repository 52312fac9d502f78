using System.Net;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.Configuration;

namespace MissionHub.Tests.TestSupport;

/// <summary>
/// The real server on Kestrel at a free 127.0.0.1 port (real sockets, so a killed client is a real dropped
/// connection), on a real SQLite file or a real redis-server.
/// Extra settings (<c>MissionHub:…</c> keys) override the defaults.
/// </summary>
public sealed class MissionHubFactory : WebApplicationFactory<Program>
{
    private readonly Dictionary<string, string?> _settings;

    private MissionHubFactory(Dictionary<string, string?> settings, int port = 0)
    {
        _settings = settings;
        UseKestrel(kestrel => kestrel.Listen(IPAddress.Loopback, port));
    }

    /// <summary>Where the server listens (starts it if needed).</summary>
    public Uri BaseAddress
    {
        get
        {
            StartServer();
            var address = Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
            return new Uri(address);
        }
    }

    /// <summary>Extra service registrations applied after the server's own (set before the server starts).</summary>
    public Action<IServiceCollection>? TestServices { get; set; }

    /// <summary>Everything the server logs (Information and up).</summary>
    public LogCapture Logs { get; } = new();

    /// <param name="port">0 (the default) for a free port; a fixed one to restart a server where its clients expect it.</param>
    public static MissionHubFactory WithSqlite(string databasePath, IDictionary<string, string?>? extra = null, int port = 0) =>
        new(Merge(new()
        {
            ["MissionHub:Storage:Provider"] = "sqlite",
            ["MissionHub:Storage:Sqlite:Path"] = databasePath,
            ["MissionHub:Storage:Sqlite:Synchronous"] = "normal",
        }, extra), port);

    /// <summary>A loopback port free right now, for a server that must come back on the same address.</summary>
    public static int FreePort() => RedisServer.FreePort();

    public static MissionHubFactory WithRedis(RedisServer redis, string? keyPrefix = null, IDictionary<string, string?>? extra = null) =>
        new(Merge(new()
        {
            ["MissionHub:Storage:Provider"] = "redis",
            ["MissionHub:Storage:Redis:Configuration"] = redis.Configuration,
            ["MissionHub:Storage:Redis:KeyPrefix"] = keyPrefix ?? $"t{Guid.NewGuid():N}:",
        }, extra));

    /// <summary>The backend by name: "sqlite" (a new file in <paramref name="folder"/>) or "redis".</summary>
    public static MissionHubFactory For(string backend, TempFolder folder, RedisServer? redis, IDictionary<string, string?>? extra = null) =>
        backend == "redis"
            ? WithRedis(redis ?? throw new ArgumentNullException(nameof(redis)), extra: extra)
            : WithSqlite(folder.File($"hub-{Guid.NewGuid():N}.db"), extra);

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.UseEnvironment("Testing");
        if (TestServices is { } configure)
        {
            builder.ConfigureServices(configure);
        }
        builder.ConfigureAppConfiguration(config => config.AddInMemoryCollection(_settings));
        builder.ConfigureLogging(logging =>
        {
            logging.SetMinimumLevel(LogLevel.Information);
            logging.AddFilter("Microsoft", LogLevel.Warning);
            logging.ClearProviders();
            logging.AddProvider(Logs);
        });
    }

    private static Dictionary<string, string?> Merge(Dictionary<string, string?> settings, IDictionary<string, string?>? extra)
    {
        // Quiet by default: the periodic aggregation would add metrics.* events to logs that tests count exactly.
        // Tests of the aggregation set these themselves.
        settings.TryAdd("MissionHub:Metrics:AggregateAtStart", "false");
        settings.TryAdd("MissionHub:Metrics:AggregationInterval", "01:00:00");
        // Meters are process-wide: a name of its own keeps each test server's /metrics to itself.
        settings.TryAdd("MissionHub:Metrics:MeterName", $"MissionHub.Test{Guid.NewGuid():N}");
        foreach (var (key, value) in extra ?? new Dictionary<string, string?>())
        {
            settings[key] = value;
        }
        return settings;
    }
}
