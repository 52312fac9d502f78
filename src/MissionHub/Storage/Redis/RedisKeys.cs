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

    /// <summary>Hash: event type → "seq ts", the newest seq and latest time retention removed of that type.</summary>
    public RedisKey EventRemoved => _prefix + "{events}:removed";

    /// <summary>Hash: the epoch and rule signature retention's bookkeeping belongs to, and the seq classified through.</summary>
    public RedisKey EventRetentionState => _prefix + "{events}:retention";

    /// <summary>Sorted set of the seqs (score) and stream ids (member) of the events retention rule <paramref name="rule"/> holds.</summary>
    public RedisKey EventRuleSet(int rule) => _prefix + "{events}:rule:" + rule.ToString(System.Globalization.CultureInfo.InvariantCulture);

    public RedisChannel EventNotifications => RedisChannel.Literal(_prefix + "events:notify");

    public RedisKey Key(string name) => _prefix + name;

    /// <summary>A key of the job hub: in the event log's hash slot, since every hub step appends its events in the same script.</summary>
    public RedisKey Hub(string name) => _prefix + "{events}:hub:" + name;

    /// <summary>Wakes every process's dispatcher: jobs became pending.</summary>
    public RedisChannel HubWork => RedisChannel.Literal(_prefix + "hub:work");

    /// <summary>Notices for the worker connections held by one process (or, with <c>*</c>, by all).</summary>
    public RedisChannel HubNotices(string nodeId) => RedisChannel.Literal(_prefix + "hub:node:" + nodeId);

    /// <summary>Sorted set of the seqs of one epoch's state checkpoints.</summary>
    public RedisKey HistoryCheckpoints(string epoch) => _prefix + "history:" + epoch + ":checkpoints";

    /// <summary>One state checkpoint (JSON).</summary>
    public RedisKey HistoryCheckpoint(string epoch, long seq) =>
        _prefix + "history:" + epoch + ":checkpoint:" + seq.ToString(System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>Set of the epochs that have checkpoints, so those of a replaced log can be removed.</summary>
    public RedisKey HistoryEpochs => _prefix + "history:epochs";

    /// <summary>Held by the one process that writes state checkpoints.</summary>
    public RedisKey HistoryWriter => _prefix + "history:writer";

    /// <summary>Held by the one process that publishes system_stats.</summary>
    public RedisKey StatsPublisher => _prefix + "hub:stats_publisher";
}
