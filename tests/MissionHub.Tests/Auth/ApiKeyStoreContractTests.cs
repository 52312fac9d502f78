using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using MissionHub.Auth;
using MissionHub.Storage;
using MissionHub.Storage.Redis;
using MissionHub.Storage.Sqlite;

namespace MissionHub.Tests.Auth;

/// <summary>The key store contract, the same assertions against a real SQLite file and a real redis-server.</summary>
public abstract class ApiKeyStoreContractTests : IAsyncLifetime
{
    private readonly List<IAsyncDisposable> _owned = [];

    protected abstract Task<IApiKeyStore> OpenAsync(string name);

    protected void Own(IAsyncDisposable disposable) => _owned.Add(disposable);

    public Task InitializeAsync() => Task.CompletedTask;

    public virtual async Task DisposeAsync()
    {
        for (var i = _owned.Count - 1; i >= 0; i--)
        {
            await _owned[i].DisposeAsync();
        }
    }

    private static ApiKeyRecord NewKey(string name, string secret, string? pattern = null) =>
        new(ApiKeys.NewId(), name, ["worker"], pattern, null, 1_700_000_000.5, ApiKeys.Hash(secret));

    [Fact]
    public async Task CreatedKey_IsFoundByTheHashOfItsSecret_ListedAndCounted()
    {
        var store = await OpenAsync($"s{Guid.NewGuid():N}");
        var key = NewKey("render-farm", "mh_secret-one", "render-*");
        Assert.True(await store.CreateAsync(key, default));
        var found = await store.FindByHashAsync(ApiKeys.Hash("mh_secret-one"), default);
        Assert.NotNull(found);
        Assert.Equal(key.Id, found.Id);
        Assert.Equal(["worker"], found.Roles);
        Assert.Equal("render-*", found.IdPattern);
        Assert.Equal(key.CreatedAt, found.CreatedAt);
        Assert.Null(await store.FindByHashAsync(ApiKeys.Hash("mh_other"), default));
        Assert.Equal(1, await store.CountAsync(default));
        Assert.Equal([key.Id], (await store.ListAsync(default)).Select(k => k.Id));
    }

    [Fact]
    public async Task DuplicateName_IsRefused()
    {
        var store = await OpenAsync($"s{Guid.NewGuid():N}");
        Assert.True(await store.CreateAsync(NewKey("same", "mh_a"), default));
        Assert.False(await store.CreateAsync(NewKey("same", "mh_b"), default));
        Assert.Equal(1, await store.CountAsync(default));
    }

    [Fact]
    public async Task RevokedKey_IsGone_AndRevokingTwiceSaysSo()
    {
        var store = await OpenAsync($"s{Guid.NewGuid():N}");
        var key = NewKey("short", "mh_revoke-me");
        await store.CreateAsync(key, default);
        var changes = new List<KeyChange>();
        store.Changed += changes.Add;
        Assert.True(await store.RevokeAsync(key.Id, default));
        Assert.False(await store.RevokeAsync(key.Id, default));
        Assert.Null(await store.FindByHashAsync(key.SecretHash, default));
        Assert.Equal(0, await store.CountAsync(default));
        await Eventually.TrueAsync(() => changes.Contains(new KeyChange(KeyChangeKind.Revoked, key.Id)), TimeSpan.FromSeconds(5), "the revocation to be announced");
    }

    [Fact]
    public async Task Keys_SurviveReopening_AndChangesReachAnotherInstance()
    {
        var name = $"s{Guid.NewGuid():N}";
        var first = await OpenAsync(name);
        var key = NewKey("durable", "mh_durable");
        await first.CreateAsync(key, default);

        var second = await OpenAsync(name);
        Assert.Equal(key.Id, (await second.FindByHashAsync(key.SecretHash, default))?.Id);
        var seen = new List<KeyChange>();
        second.Changed += seen.Add;
        await first.RevokeAsync(key.Id, default);
        Assert.Null(await second.FindByHashAsync(key.SecretHash, default));
        if (AnnouncesAcrossInstances)
        {
            await Eventually.TrueAsync(() => seen.Contains(new KeyChange(KeyChangeKind.Revoked, key.Id)), TimeSpan.FromSeconds(5), "the other instance to hear of the revocation");
        }
    }

    /// <summary>Redis: every instance (process) hears every change. SQLite: one process per file, changes stay in it.</summary>
    protected abstract bool AnnouncesAcrossInstances { get; }
}

public sealed class SqliteApiKeyStoreTests : ApiKeyStoreContractTests
{
    private readonly TempFolder _folder = new();

    protected override bool AnnouncesAcrossInstances => false;

    protected override async Task<IApiKeyStore> OpenAsync(string name)
    {
        var database = new SqliteDatabase(Options.Create(new StorageOptions { Sqlite = { Path = _folder.File(name + ".db"), Synchronous = "normal" } }));
        Own(new DisposeAction(database.Dispose));
        var store = new SqliteApiKeyStore(database);
        await store.InitializeAsync(default);
        return store;
    }

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        _folder.Dispose();
    }

    private sealed class DisposeAction(Action dispose) : IAsyncDisposable
    {
        public ValueTask DisposeAsync()
        {
            dispose();
            return ValueTask.CompletedTask;
        }
    }
}

public sealed class RedisApiKeyStoreTests(RedisServerFixture redis) : ApiKeyStoreContractTests, IClassFixture<RedisServerFixture>
{
    protected override bool AnnouncesAcrossInstances => true;

    protected override async Task<IApiKeyStore> OpenAsync(string name)
    {
        var options = Options.Create(new StorageOptions { Provider = "redis", Redis = { Configuration = redis.Server.Configuration, KeyPrefix = name + ":" } });
        var connection = new RedisConnection(options, NullLogger<RedisConnection>.Instance);
        Own(connection);
        var store = new RedisApiKeyStore(connection, new RedisKeys(options), NullLogger<RedisApiKeyStore>.Instance);
        await store.InitializeAsync(default);
        return store;
    }
}
