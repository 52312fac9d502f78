using System.Text.Json;
using MissionHub.Auth;
using StackExchange.Redis;

namespace MissionHub.Storage.Redis;

/// <summary>
/// API keys in Redis, shared by every process on it: a hash of keys by id plus indexes by secret hash and by name,
/// changed together by scripts; every change is published so each process drops what it cached at once.
/// </summary>
public sealed partial class RedisApiKeyStore(RedisConnection redis, RedisKeys keys, ILogger<RedisApiKeyStore> logger) : IApiKeyStore
{
    private const string CreateScript = """
        if redis.call('HEXISTS', KEYS[3], ARGV[2]) == 1 or redis.call('HEXISTS', KEYS[2], ARGV[3]) == 1 then return 0 end
        redis.call('HSET', KEYS[1], ARGV[1], ARGV[4])
        redis.call('HSET', KEYS[2], ARGV[3], ARGV[1])
        redis.call('HSET', KEYS[3], ARGV[2], ARGV[1])
        return 1
        """;

    private const string RevokeScript = """
        local json = redis.call('HGET', KEYS[1], ARGV[1])
        if not json then return 0 end
        local key = cjson.decode(json)
        redis.call('HDEL', KEYS[1], ARGV[1])
        redis.call('HDEL', KEYS[2], key.secret_hash)
        redis.call('HDEL', KEYS[3], key.name)
        return 1
        """;

    private const string FindScript = """
        local id = redis.call('HGET', KEYS[2], ARGV[1])
        if not id then return false end
        return redis.call('HGET', KEYS[1], id)
        """;

    private RedisKey KeysById => keys.Key("{auth}:keys");

    private RedisKey IdsByHash => keys.Key("{auth}:hashes");

    private RedisKey IdsByName => keys.Key("{auth}:names");

    private RedisChannel ChangesChannel => RedisChannel.Literal(keys.Prefix + "auth:changes");

    public event Action<KeyChange>? Changed;

    public async Task InitializeAsync(CancellationToken cancellationToken)
    {
        var multiplexer = await redis.GetAsync(cancellationToken);
        await multiplexer.GetSubscriber().SubscribeAsync(ChangesChannel, (_, message) =>
        {
            var text = (string?)message ?? "";
            var colon = text.IndexOf(':', StringComparison.Ordinal);
            if (colon > 0)
            {
                var kind = text[..colon] == "created" ? KeyChangeKind.Created : KeyChangeKind.Revoked;
                Changed?.Invoke(new KeyChange(kind, text[(colon + 1)..]));
            }
        });
    }

    public async Task<bool> CreateAsync(ApiKeyRecord key, CancellationToken cancellationToken)
    {
        var db = await redis.GetDatabaseAsync(cancellationToken);
        var json = JsonSerializer.Serialize(key, AuthJsonContext.Default.ApiKeyRecord);
        var created = (long)await db.ScriptEvaluateAsync(CreateScript, [KeysById, IdsByHash, IdsByName], [key.Id, key.Name, key.SecretHash, json]);
        if (created == 0)
        {
            return false;
        }
        await AnnounceAsync(new KeyChange(KeyChangeKind.Created, key.Id));
        return true;
    }

    public async Task<IReadOnlyList<ApiKeyRecord>> ListAsync(CancellationToken cancellationToken)
    {
        var db = await redis.GetDatabaseAsync(cancellationToken);
        var entries = await db.HashValuesAsync(KeysById);
        return entries.Select(e => JsonSerializer.Deserialize((string)e!, AuthJsonContext.Default.ApiKeyRecord)!)
            .OrderBy(k => k.CreatedAt).ThenBy(k => k.Id, StringComparer.Ordinal).ToList();
    }

    public async Task<ApiKeyRecord?> FindByHashAsync(string secretHash, CancellationToken cancellationToken)
    {
        var db = await redis.GetDatabaseAsync(cancellationToken);
        var found = await db.ScriptEvaluateAsync(FindScript, [KeysById, IdsByHash], [secretHash]);
        return found.IsNull ? null : JsonSerializer.Deserialize((string)found!, AuthJsonContext.Default.ApiKeyRecord);
    }

    public async Task<bool> RevokeAsync(string id, CancellationToken cancellationToken)
    {
        var db = await redis.GetDatabaseAsync(cancellationToken);
        var revoked = (long)await db.ScriptEvaluateAsync(RevokeScript, [KeysById, IdsByHash, IdsByName], [id]);
        if (revoked == 0)
        {
            return false;
        }
        await AnnounceAsync(new KeyChange(KeyChangeKind.Revoked, id));
        return true;
    }

    public async Task<long> CountAsync(CancellationToken cancellationToken)
    {
        var db = await redis.GetDatabaseAsync(cancellationToken);
        return await db.HashLengthAsync(KeysById);
    }

    private async Task AnnounceAsync(KeyChange change)
    {
        // Here at once; elsewhere through pub/sub (each process also drops cached keys after KeyCacheTtl).
        Changed?.Invoke(change);
        try
        {
            var multiplexer = await redis.GetAsync();
            var kind = change.Kind == KeyChangeKind.Created ? "created" : "revoked";
            await multiplexer.GetSubscriber().PublishAsync(ChangesChannel, $"{kind}:{change.Id}");
        }
        catch (RedisException ex)
        {
            LogAnnounceFailed(logger, ex, change.Id);
        }
    }

    [LoggerMessage(EventId = 7090, Level = LogLevel.Warning, Message = "Auth: could not announce the change of key {KeyId} to other processes; they drop it from their caches within KeyCacheTtl")]
    private static partial void LogAnnounceFailed(ILogger logger, Exception exception, string keyId);
}
