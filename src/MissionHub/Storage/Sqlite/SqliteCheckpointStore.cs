using Microsoft.Data.Sqlite;
using MissionHub.History;

namespace MissionHub.Storage.Sqlite;

/// <summary>State checkpoints in the embedded file: one row per (epoch, seq). One process per file, so it is always the writer.</summary>
public sealed class SqliteCheckpointStore(SqliteDatabase database) : ICheckpointStore
{
    private const string Schema = """
        CREATE TABLE IF NOT EXISTS state_checkpoints (
            epoch TEXT NOT NULL,
            seq INTEGER NOT NULL,
            state BLOB NOT NULL,
            PRIMARY KEY (epoch, seq)) WITHOUT ROWID;
        """;

    private volatile bool _created;

    public async Task SaveAsync(string epoch, long seq, ReadOnlyMemory<byte> checkpoint, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        using (await database.WaitForWriteTurnAsync(cancellationToken))
        {
            using var insert = connection.CreateCommand();
            insert.CommandText = "INSERT OR REPLACE INTO state_checkpoints (epoch, seq, state) VALUES ($epoch, $seq, $state)";
            insert.Parameters.AddWithValue("$epoch", epoch);
            insert.Parameters.AddWithValue("$seq", seq);
            insert.Parameters.AddWithValue("$state", checkpoint.ToArray());
            await insert.ExecuteNonQueryAsync(cancellationToken);
        }
    }

    public async Task<byte[]?> LoadAtOrBeforeAsync(string epoch, long seq, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        using var select = connection.CreateCommand();
        select.CommandText = "SELECT state FROM state_checkpoints WHERE epoch = $epoch AND seq <= $seq ORDER BY seq DESC LIMIT 1";
        select.Parameters.AddWithValue("$epoch", epoch);
        select.Parameters.AddWithValue("$seq", seq);
        return await select.ExecuteScalarAsync(cancellationToken) as byte[];
    }

    public async Task<IReadOnlyList<long>> ListAsync(string epoch, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        using var select = connection.CreateCommand();
        select.CommandText = "SELECT seq FROM state_checkpoints WHERE epoch = $epoch ORDER BY seq";
        select.Parameters.AddWithValue("$epoch", epoch);
        var seqs = new List<long>();
        using var reader = await select.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            seqs.Add(reader.GetInt64(0));
        }
        return seqs;
    }

    public async Task PruneAsync(string epoch, long seq, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        using (await database.WaitForWriteTurnAsync(cancellationToken))
        {
            using var delete = connection.CreateCommand();
            delete.CommandText = "DELETE FROM state_checkpoints WHERE epoch <> $epoch OR seq < $seq";
            delete.Parameters.AddWithValue("$epoch", epoch);
            delete.Parameters.AddWithValue("$seq", seq);
            await delete.ExecuteNonQueryAsync(cancellationToken);
        }
    }

    public ValueTask<bool> IsWriterAsync(CancellationToken cancellationToken) => ValueTask.FromResult(true);

    private async Task<SqliteConnection> OpenAsync(CancellationToken cancellationToken)
    {
        var connection = await database.OpenAsync(cancellationToken);
        if (!_created)
        {
            using var create = connection.CreateCommand();
            create.CommandText = Schema;
            await create.ExecuteNonQueryAsync(cancellationToken);
            _created = true;
        }
        return connection;
    }
}
