using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.Configuration;

namespace MissionHub.Tests.TestSupport;

/// <summary>
/// The real server in the ASP.NET Core test host, on a real SQLite file or a real redis-server.
/// Extra settings (<c>MissionHub:…</c> keys) override the defaults.
/// </summary>
public sealed class MissionHubFactory : WebApplicationFactory<Program>
{
    private readonly Dictionary<string, string?> _settings;

    private MissionHubFactory(Dictionary<string, string?> settings) => _settings = settings;

    /// <summary>Everything the server logs (Information and up).</summary>
    public LogCapture Logs { get; } = new();

    public static MissionHubFactory WithSqlite(string databasePath, IDictionary<string, string?>? extra = null) =>
        new(Merge(new()
        {
            ["MissionHub:Storage:Provider"] = "sqlite",
            ["MissionHub:Storage:Sqlite:Path"] = databasePath,
            ["MissionHub:Storage:Sqlite:Synchronous"] = "normal",
        }, extra));

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
        foreach (var (key, value) in extra ?? new Dictionary<string, string?>())
        {
            settings[key] = value;
        }
        return settings;
    }
}
