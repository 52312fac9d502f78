using Microsoft.Extensions.Options;

namespace MissionHub.Storage;

/// <summary>Section <c>MissionHub:Storage</c>: which backend holds missions, jobs and the event log.</summary>
public sealed class StorageOptions
{
    public const string Section = "MissionHub:Storage";
    public const string SqliteProvider = "sqlite";
    public const string RedisProvider = "redis";
    public static readonly string[] Providers = [SqliteProvider, RedisProvider];

    /// <summary><c>sqlite</c> (embedded, the default) or <c>redis</c>.</summary>
    public string Provider { get; set; } = SqliteProvider;

    public SqliteStorageOptions Sqlite { get; set; } = new();

    public RedisStorageOptions Redis { get; set; } = new();

    public bool UsesRedis => string.Equals(Provider, RedisProvider, StringComparison.OrdinalIgnoreCase);
}

public sealed class SqliteStorageOptions
{
    /// <summary>Database file; relative paths are under the working directory. Its folder is created.</summary>
    public string Path { get; set; } = "data/missionhub.db";

    /// <summary><c>full</c> (fsync on every commit: survives power loss) or <c>normal</c> (survives a process crash).</summary>
    public string Synchronous { get; set; } = "full";
}

public sealed class RedisStorageOptions
{
    /// <summary>A StackExchange.Redis configuration string.</summary>
    public string Configuration { get; set; } = "127.0.0.1:6379";

    /// <summary>Prefix of every key, so one Redis can host several deployments.</summary>
    public string KeyPrefix { get; set; } = "missionhub:";
}

internal sealed class StorageOptionsValidator : IValidateOptions<StorageOptions>
{
    public ValidateOptionsResult Validate(string? name, StorageOptions options)
    {
        if (!StorageOptions.Providers.Contains(options.Provider, StringComparer.OrdinalIgnoreCase))
        {
            return Fail("Provider", options.Provider, "sqlite, redis");
        }
        if (!options.UsesRedis)
        {
            if (string.IsNullOrWhiteSpace(options.Sqlite.Path))
            {
                return ValidateOptionsResult.Fail($"{StorageOptions.Section}:Sqlite:Path must name a database file");
            }
            if (options.Sqlite.Synchronous is not ("full" or "normal" or "FULL" or "NORMAL"))
            {
                return Fail("Sqlite:Synchronous", options.Sqlite.Synchronous, "full, normal");
            }
        }
        else if (string.IsNullOrWhiteSpace(options.Redis.Configuration))
        {
            return ValidateOptionsResult.Fail($"{StorageOptions.Section}:Redis:Configuration must be a Redis connection string such as 127.0.0.1:6379");
        }
        return ValidateOptionsResult.Success;
    }

    private static ValidateOptionsResult Fail(string setting, string value, string valid) =>
        ValidateOptionsResult.Fail($"{StorageOptions.Section}:{setting} is '{value}'; valid values: {valid}");
}
