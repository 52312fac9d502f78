using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using MissionHub.Events;
using MissionHub.Missions;
using MissionHub.Storage;
using MissionHub.Storage.Redis;
using MissionHub.Storage.Sqlite;

namespace MissionHub.Bench;

/// <summary>
/// A mission store opened outside a server, for seeding: the store writes each change with its event, so the event
/// log it writes into is opened beside it.
/// </summary>
internal sealed class SeedingMissionStore(IMissionStore store, IEventLog log) : IAsyncDisposable
{
    public IMissionStore Store => store;

    public static async Task<SeedingMissionStore> OpenSqliteAsync(SqliteDatabase database)
    {
        var log = new SqliteEventLog(database, Options.Create(new EventLogOptions()), NullLogger<SqliteEventLog>.Instance);
        await log.InitializeAsync(CancellationToken.None);
        return new SeedingMissionStore(new SqliteMissionStore(database), log);
    }

    public static async Task<SeedingMissionStore> OpenRedisAsync(RedisConnection connection, IOptions<StorageOptions> storage)
    {
        var keys = new RedisKeys(storage);
        var log = new RedisEventLog(connection, keys, Options.Create(new EventLogOptions()), NullLogger<RedisEventLog>.Instance);
        await log.InitializeAsync(CancellationToken.None);
        return new SeedingMissionStore(new RedisMissionStore(connection, keys, new RedisStepEvents(connection, keys, log, TimeProvider.System)), log);
    }

    public ValueTask DisposeAsync() => log.DisposeAsync();
}
