using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace MissionHub.Storage.Redis;

/// <summary>The process's one multiplexer; connects lazily and keeps reconnecting when Redis goes away.</summary>
public sealed partial class RedisConnection(IOptions<StorageOptions> options, ILogger<RedisConnection> logger) : IAsyncDisposable
{
    private readonly SemaphoreSlim _connectLock = new(1, 1);
    private ConnectionMultiplexer? _multiplexer;

    public async Task<IConnectionMultiplexer> GetAsync(CancellationToken cancellationToken = default)
    {
        if (_multiplexer is { } existing)
        {
            return existing;
        }
        await _connectLock.WaitAsync(cancellationToken);
        try
        {
            if (_multiplexer is null)
            {
                var configuration = ConfigurationOptions.Parse(options.Value.Redis.Configuration);
                // Start even when Redis is down, and keep retrying in the background: callers see errors, not a dead process.
                configuration.AbortOnConnectFail = false;
                _multiplexer = await ConnectionMultiplexer.ConnectAsync(configuration);
                _multiplexer.ConnectionFailed += (_, e) => LogConnectionFailed(logger, e.EndPoint?.ToString() ?? "?", e.FailureType.ToString());
                _multiplexer.ConnectionRestored += (_, e) => LogConnectionRestored(logger, e.EndPoint?.ToString() ?? "?");
            }
            return _multiplexer;
        }
        finally
        {
            _connectLock.Release();
        }
    }

    public async Task<IDatabase> GetDatabaseAsync(CancellationToken cancellationToken = default) =>
        (await GetAsync(cancellationToken)).GetDatabase();

    public async ValueTask DisposeAsync()
    {
        if (_multiplexer is not null)
        {
            await _multiplexer.CloseAsync();
            _multiplexer.Dispose();
        }
        _connectLock.Dispose();
    }

    [LoggerMessage(EventId = 2001, Level = LogLevel.Warning, Message = "Redis connection to {EndPoint} failed: {FailureType}")]
    private static partial void LogConnectionFailed(ILogger logger, string endPoint, string failureType);

    [LoggerMessage(EventId = 2002, Level = LogLevel.Information, Message = "Redis connection to {EndPoint} restored")]
    private static partial void LogConnectionRestored(ILogger logger, string endPoint);
}
