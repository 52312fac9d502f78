using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Options;
using MissionHub.Storage;
using MissionHub.Storage.Sqlite;
using MissionHub.Tests.TestSupport;

namespace MissionHub.Tests.Events;

/// <summary>The one SQLite writer thread, on a real database file.</summary>
public sealed class SqliteWriterTests : IDisposable
{
    private readonly TempFolder _folder = new();
    private readonly SqliteDatabase _database;

    public SqliteWriterTests()
    {
        _database = new SqliteDatabase(Options.Create(new StorageOptions { Sqlite = { Path = _folder.File("writer.db"), Synchronous = "normal" } }));
        using var connection = _database.OpenAsync().GetAwaiter().GetResult();
        using var create = connection.CreateCommand();
        create.CommandText = "CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE)";
        create.ExecuteNonQuery();
    }

    [Fact]
    public async Task Concurrent_writes_are_all_durable_and_each_caller_gets_its_own_result()
    {
        var writes = Enumerable.Range(1, 2_000)
            .Select(i => Task.Run(() => _database.Writer.WriteAsync(write => Insert(write, i, $"item-{i}"))))
            .ToArray();

        var results = await Task.WhenAll(writes);

        Assert.Equal(Enumerable.Range(1, 2_000), results.Order());
        Assert.Equal(2_000L, await CountAsync());
    }

    [Fact]
    public async Task A_failing_write_fails_alone_and_the_rest_of_its_group_still_lands()
    {
        // Hold the writer on a slow first write so the next ones queue up and share one group.
        var release = new ManualResetEventSlim();
        var blocker = _database.Writer.WriteAsync(_ => release.Wait(TimeSpan.FromSeconds(10)));
        var before = Enumerable.Range(1, 50).Select(i => _database.Writer.WriteAsync(write => Insert(write, i, $"a-{i}"))).ToList();
        var duplicate = _database.Writer.WriteAsync(write => Insert(write, 1000, "a-7")); // UNIQUE(name) violated
        var after = Enumerable.Range(51, 50).Select(i => _database.Writer.WriteAsync(write => Insert(write, i, $"a-{i}"))).ToList();
        release.Set();

        Assert.True(await blocker);
        await Task.WhenAll(before.Concat(after));
        var failure = await Assert.ThrowsAsync<SqliteException>(() => duplicate);
        Assert.Contains("UNIQUE", failure.Message, StringComparison.Ordinal);
        Assert.Equal(100L, await CountAsync());
    }

    [Fact]
    public async Task A_write_after_the_database_closed_is_refused()
    {
        Assert.Equal(1, await _database.Writer.WriteAsync(write => Insert(write, 1, "first")));
        var writer = _database.Writer;
        _database.Dispose();

        await Assert.ThrowsAsync<ObjectDisposedException>(() => writer.WriteAsync(write => Insert(write, 2, "second")));
    }

    private static int Insert(SqliteWriteContext write, int id, string name)
    {
        var insert = write.Command("INSERT INTO items (id, name) VALUES ($id, $name)", "$id", "$name");
        insert.Parameters[0].Value = id;
        insert.Parameters[1].Value = name;
        insert.ExecuteNonQuery();
        return id;
    }

    private async Task<long> CountAsync()
    {
        await using var connection = await _database.OpenAsync();
        using var count = connection.CreateCommand();
        count.CommandText = "SELECT COUNT(*) FROM items";
        return (long)(await count.ExecuteScalarAsync())!;
    }

    public void Dispose()
    {
        _database.Dispose();
        SqliteConnection.ClearAllPools();
        _folder.Dispose();
    }
}
