using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace MissionHub.Storage.Redis;

/// <summary>
/// Every Redis key MissionHub uses, under one configurable prefix. The event-log keys share the hash tag
/// <c>{events}</c> so its scripts stay valid on a Redis Cluster.
/// </summary>
public sealed class RedisKeys(IOptions<StorageOptions> options)
{
    private readonly string _prefix = options.Value.Redis.KeyPrefix;

    public string Prefix => _prefix;

    public RedisKey EventStream => _prefix + "{events}:stream";

    public RedisKey EventSeq => _prefix + "{events}:seq";

    public RedisKey EventEpoch => _prefix + "{events}:epoch";

    public RedisKey EventFirstSeq => _prefix + "{events}:first";

    public RedisKey EventTrimmedThrough => _prefix + "{events}:trimmed_ts";

    /// <summary>Sorted set: score = whole Unix second, member = first seq appended in that second.</summary>
    public RedisKey EventTimeIndex => _prefix + "{events}:tindex";

    public RedisKey EventTimeIndexLast => _prefix + "{events}:tindex_last";

    public RedisChannel EventNotifications => RedisChannel.Literal(_prefix + "events:notify");

    public RedisKey Key(string name) => _prefix + name;
}
