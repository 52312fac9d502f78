using System.Collections.Concurrent;
using Microsoft.Extensions.Options;

namespace MissionHub.Auth;

/// <summary>
/// Every key the hub accepts: those in configuration and those in the store, the latter validated by the hash of
/// their secret through a bounded in-memory cache so a request costs no storage read. Knows whether the hub is in
/// protected mode (no key anywhere and no JWT), and tells <see cref="Revoked"/> when a key stops working.
/// </summary>
public sealed partial class ApiKeyRing
{
    private readonly IApiKeyStore _store;
    private readonly AuthOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger<ApiKeyRing> _logger;
    private readonly Dictionary<string, ApiKeyRecord> _configured = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, CachedKey> _cache = new(StringComparer.Ordinal);
    private long _storedKeys = -1;
    private long _recountRequestedAt;

    public ApiKeyRing(IApiKeyStore store, IOptions<AuthOptions> options, TimeProvider time, ILogger<ApiKeyRing> logger)
    {
        _store = store;
        _options = options.Value;
        _time = time;
        _logger = logger;
        foreach (var key in _options.Keys)
        {
            var hash = key.SecretHash is { Length: > 0 } given ? ApiKeys.NormalizeHash(given)! : ApiKeys.Hash(key.Secret!);
            _configured[hash] = new ApiKeyRecord("config:" + key.Name, key.Name, key.Roles.Distinct(StringComparer.Ordinal).ToArray(),
                string.IsNullOrEmpty(key.IdPattern) ? null : key.IdPattern, key.ExpiresAt, 0, hash);
        }
        store.Changed += OnChanged;
    }

    /// <summary>A key stopped working (revoked, here or in another process): close what was opened with it.</summary>
    public event Action<string>? Revoked;

    public IReadOnlyCollection<ApiKeyRecord> ConfiguredKeys => _configured.Values;

    /// <summary>
    /// No key configured or stored and no JWT settings: only loopback clients are served. While the number of stored
    /// keys is unknown (storage unreachable at start), the hub is not in protected mode: it fails closed.
    /// </summary>
    public bool IsProtectedMode
    {
        get
        {
            if (_configured.Count > 0 || _options.Jwt.Enabled)
            {
                return false;
            }
            var stored = Interlocked.Read(ref _storedKeys);
            if (stored < 0)
            {
                RequestRecount();
            }
            return stored == 0;
        }
    }

    public async Task InitializeAsync(CancellationToken cancellationToken)
    {
        await _store.InitializeAsync(cancellationToken);
        try
        {
            Interlocked.Exchange(ref _storedKeys, await _store.CountAsync(cancellationToken));
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            LogCountFailed(_logger, ex);
        }
    }

    /// <summary>The key with this secret if it works now (known, not revoked, not expired), else null.</summary>
    public async ValueTask<ApiKeyRecord?> ValidateAsync(string secret, CancellationToken cancellationToken)
    {
        var hash = ApiKeys.Hash(secret);
        var now = _time.GetUtcNow();
        var nowSeconds = now.ToUnixTimeMilliseconds() / 1000.0;
        if (_configured.TryGetValue(hash, out var configured))
        {
            return configured.IsExpired(nowSeconds) ? null : configured;
        }
        if (_cache.TryGetValue(hash, out var cached) && now < cached.Until)
        {
            return cached.Key is { } hit && !hit.IsExpired(nowSeconds) ? hit : null;
        }
        var stored = await _store.FindByHashAsync(hash, cancellationToken);
        if (_cache.Count >= _options.KeyCacheCapacity)
        {
            // Bounded: start over rather than grow (a full cache means a flood of distinct secrets, most of them wrong).
            _cache.Clear();
        }
        // Unknown secrets are remembered briefly too, so a flood of one wrong secret does not become a flood of reads.
        _cache[hash] = new CachedKey(stored, now + (stored is null ? TimeSpan.FromSeconds(1) : _options.KeyCacheTtl));
        return stored is not null && !stored.IsExpired(nowSeconds) ? stored : null;
    }

    public Task<IReadOnlyList<ApiKeyRecord>> ListStoredAsync(CancellationToken cancellationToken) => _store.ListAsync(cancellationToken);

    public Task<bool> CreateAsync(ApiKeyRecord key, CancellationToken cancellationToken) =>
        _configured.Values.Any(k => k.Name == key.Name) ? Task.FromResult(false) : _store.CreateAsync(key, cancellationToken);

    public Task<bool> RevokeAsync(string id, CancellationToken cancellationToken) => _store.RevokeAsync(id, cancellationToken);

    private void OnChanged(KeyChange change)
    {
        if (change.Kind == KeyChangeKind.Created)
        {
            // Protected mode ends at once, before the recount confirms it.
            if (Interlocked.Read(ref _storedKeys) <= 0)
            {
                Interlocked.Exchange(ref _storedKeys, 1);
            }
            foreach (var (hash, entry) in _cache)
            {
                if (entry.Key is null)
                {
                    _cache.TryRemove(hash, out _);
                }
            }
        }
        else
        {
            foreach (var (hash, entry) in _cache)
            {
                if (entry.Key?.Id == change.Id)
                {
                    _cache.TryRemove(hash, out _);
                }
            }
            LogRevoked(_logger, change.Id);
            Revoked?.Invoke(change.Id);
        }
        RequestRecount(force: true);
    }

    private void RequestRecount(bool force = false)
    {
        var now = _time.GetTimestamp();
        var last = Interlocked.Read(ref _recountRequestedAt);
        if (!force && last != 0 && _time.GetElapsedTime(last).TotalSeconds < 1)
        {
            return;
        }
        Interlocked.Exchange(ref _recountRequestedAt, now);
        _ = Task.Run(async () =>
        {
            try
            {
                var count = await _store.CountAsync(CancellationToken.None);
                // Never back into protected mode behind a key created meanwhile: only a recount that still sees no key does that.
                Interlocked.Exchange(ref _storedKeys, count);
            }
            catch (Exception ex)
            {
                LogCountFailed(_logger, ex);
            }
        });
    }

    private sealed record CachedKey(ApiKeyRecord? Key, DateTimeOffset Until);

    [LoggerMessage(EventId = 7001, Level = LogLevel.Warning, Message = "Auth: could not count the stored API keys; credentials are required until storage answers")]
    private static partial void LogCountFailed(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 7002, Level = LogLevel.Information, Message = "Auth: key {KeyId} was revoked; closing what was opened with it")]
    private static partial void LogRevoked(ILogger logger, string keyId);
}
