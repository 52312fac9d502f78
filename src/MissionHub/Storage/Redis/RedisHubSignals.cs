using System.Text.Json;
using MissionHub.Hub;
using StackExchange.Redis;

namespace MissionHub.Storage.Redis;

/// <summary>
/// The processes of one hub on Redis pub/sub: a message on <c>hub:work</c> wakes every dispatcher; each process listens
/// on its own notice channel and on the one for all. Losing a message costs at most a second (the lease keeper's sweep
/// wakes the dispatcher too); nothing is lost, since the state is in storage. The system_stats publisher is whoever
/// holds a short-lived key, renewed while it lives.
/// </summary>
public sealed partial class RedisHubSignals(RedisConnection connection, RedisKeys keys, ILogger<RedisHubSignals> logger) : IHubSignals
{
    private static readonly TimeSpan PublisherLease = TimeSpan.FromSeconds(5);
    private ISubscriber? _subscriber;
    private Action? _onWork;
    private DateTimeOffset _renewAfter = DateTimeOffset.MinValue;

    public string NodeId { get; } = Environment.MachineName.ToLowerInvariant() + "-" + Environment.ProcessId + "-" + Guid.NewGuid().ToString("N")[..6];

    public async Task StartAsync(Action onWork, Action<HubNotice> onNotice, CancellationToken cancellationToken)
    {
        _onWork = onWork;
        var multiplexer = await connection.GetAsync(cancellationToken);
        _subscriber = multiplexer.GetSubscriber();
        // Our own announcements were acted on when they were made.
        await _subscriber.SubscribeAsync(keys.HubWork, (_, from) =>
        {
            if (from != NodeId)
            {
                onWork();
            }
        });
        void Notice(RedisChannel _, RedisValue message)
        {
            try
            {
                if (JsonSerializer.Deserialize((byte[])message!, HubJsonContext.Default.HubNotice) is { } notice)
                {
                    onNotice(notice);
                }
            }
            catch (JsonException ex)
            {
                LogBadNotice(logger, ex);
            }
        }
        await _subscriber.SubscribeAsync(keys.HubNotices(NodeId), Notice);
        await _subscriber.SubscribeAsync(keys.HubNotices(IHubSignals.AllNodes), Notice);
    }

    public void AnnounceWork()
    {
        _onWork?.Invoke();
        _subscriber?.Publish(keys.HubWork, NodeId, CommandFlags.FireAndForget);
    }

    public void Notify(string nodeId, HubNotice notice) =>
        _subscriber?.Publish(keys.HubNotices(nodeId), JsonSerializer.SerializeToUtf8Bytes(notice, HubJsonContext.Default.HubNotice), CommandFlags.FireAndForget);

    public async ValueTask<bool> IsStatsPublisherAsync(CancellationToken cancellationToken)
    {
        var now = DateTimeOffset.UtcNow;
        if (now < _renewAfter)
        {
            return true;
        }
        try
        {
            var db = await connection.GetDatabaseAsync(cancellationToken);
            // Take the key if free, or extend it if ours.
            var ours = await db.StringSetAsync(keys.StatsPublisher, NodeId, PublisherLease, When.NotExists)
                || (await db.StringGetAsync(keys.StatsPublisher) == NodeId && await db.KeyExpireAsync(keys.StatsPublisher, PublisherLease));
            _renewAfter = ours ? now + PublisherLease / 2 : DateTimeOffset.MinValue;
            return ours;
        }
        catch (RedisException ex)
        {
            // Without Redis there is nothing to publish to either; the next change asks again.
            LogPublisherCheckFailed(logger, ex);
            _renewAfter = DateTimeOffset.MinValue;
            return false;
        }
    }

    [LoggerMessage(EventId = 3021, Level = LogLevel.Warning, Message = "Could not tell whether this process publishes system_stats")]
    private static partial void LogPublisherCheckFailed(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 3020, Level = LogLevel.Warning, Message = "Ignored a hub notice that is not valid JSON")]
    private static partial void LogBadNotice(ILogger logger, Exception exception);
}
