using System.Text.Json;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using MissionHub.Events;
using MissionHub.Storage;
using MissionHub.Storage.Redis;
using MissionHub.Storage.Sqlite;

namespace MissionHub.Tests.TestSupport;

/// <summary>Builds real event logs outside the web host, for the storage contract tests.</summary>
public static class EventLogs
{
    public static async Task<SqliteEventLog> OpenSqliteAsync(string path, EventLogOptions? options = null, ILogger<SqliteEventLog>? logger = null)
    {
        var storage = Options.Create(new StorageOptions { Sqlite = { Path = path, Synchronous = "normal" } });
        var log = new SqliteEventLog(new SqliteDatabase(storage), Options.Create(options ?? new EventLogOptions()),
            logger ?? NullLogger<SqliteEventLog>.Instance);
        await log.InitializeAsync(CancellationToken.None);
        return log;
    }

    public static async Task<(RedisEventLog Log, RedisConnection Connection)> OpenRedisAsync(
        RedisServer redis, string keyPrefix, EventLogOptions? options = null)
    {
        var storage = Options.Create(new StorageOptions
        {
            Provider = "redis",
            Redis = { Configuration = redis.Configuration, KeyPrefix = keyPrefix },
        });
        var connection = new RedisConnection(storage, NullLogger<RedisConnection>.Instance);
        var log = new RedisEventLog(connection, new RedisKeys(storage), Options.Create(options ?? new EventLogOptions()),
            NullLogger<RedisEventLog>.Instance);
        await log.InitializeAsync(CancellationToken.None);
        return (log, connection);
    }

    public static CharterEvent Draft(string type, string? target = null, double? timestamp = null, string? correlationId = null, int n = 0) => new()
    {
        Id = Guid.NewGuid().ToString(),
        Type = type,
        Source = "test_source",
        Target = target,
        Timestamp = timestamp ?? DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() / 1000.0,
        Payload = JsonSerializer.SerializeToElement(new Dictionary<string, object> { ["n"] = n, ["text"] = "héllo \"quoted\"\nline" }),
        Meta = new EventMeta(correlationId),
    };

    /// <summary>Every event after <paramref name="afterSeq"/>, page by page.</summary>
    public static async Task<List<CharterEvent>> ReadAllAsync(IEventLog log, long afterSeq = 0, EventFilter? filter = null, int pageSize = 1000)
    {
        var all = new List<CharterEvent>();
        var cursor = afterSeq;
        while (true)
        {
            var page = await log.ReadAsync(new EventQuery(cursor, filter, Limit: pageSize));
            Assert.True(page.Recovered, page.Reason);
            all.AddRange(page.Events);
            if (page.NextAfterSeq >= page.LastSeq)
            {
                return all;
            }
            Assert.True(page.NextAfterSeq > cursor, "a page must make progress");
            cursor = page.NextAfterSeq;
        }
    }
}
