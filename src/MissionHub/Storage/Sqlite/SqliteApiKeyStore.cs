using System.Text.Json;
using Microsoft.Data.Sqlite;
using MissionHub.Auth;

namespace MissionHub.Storage.Sqlite;

/// <summary>API keys in the embedded SQLite file (one process per file, so changes are announced in-process only).</summary>
public sealed class SqliteApiKeyStore(SqliteDatabase database) : IApiKeyStore
{
    private const string Schema = """
        CREATE TABLE IF NOT EXISTS api_keys (
            id TEXT PRIMARY KEY,
            name TEXT NOT NULL UNIQUE,
            roles TEXT NOT NULL,
            id_pattern TEXT,
            expires_at REAL,
            created_at REAL NOT NULL,
            secret_hash TEXT NOT NULL UNIQUE);
        """;

    private const string Columns = "id, name, roles, id_pattern, expires_at, created_at, secret_hash";

    public event Action<KeyChange>? Changed;

    public async Task InitializeAsync(CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        using var create = connection.CreateCommand();
        create.CommandText = Schema;
        await create.ExecuteNonQueryAsync(cancellationToken);
    }

    public async Task<bool> CreateAsync(ApiKeyRecord key, CancellationToken cancellationToken)
    {
        using (await database.WaitForWriteTurnAsync(cancellationToken))
        {
            await using var connection = await database.OpenAsync(cancellationToken);
            using var insert = connection.CreateCommand();
            insert.CommandText = $"INSERT OR IGNORE INTO api_keys ({Columns}) VALUES ($id, $name, $roles, $pattern, $expires, $created, $hash)";
            insert.Parameters.AddWithValue("$id", key.Id);
            insert.Parameters.AddWithValue("$name", key.Name);
            insert.Parameters.AddWithValue("$roles", JsonSerializer.Serialize(key.Roles, AuthJsonContext.Default.IReadOnlyListString));
            insert.Parameters.AddWithValue("$pattern", (object?)key.IdPattern ?? DBNull.Value);
            insert.Parameters.AddWithValue("$expires", (object?)key.ExpiresAt ?? DBNull.Value);
            insert.Parameters.AddWithValue("$created", key.CreatedAt);
            insert.Parameters.AddWithValue("$hash", key.SecretHash);
            if (await insert.ExecuteNonQueryAsync(cancellationToken) == 0)
            {
                return false;
            }
        }
        Changed?.Invoke(new KeyChange(KeyChangeKind.Created, key.Id));
        return true;
    }

    public async Task<IReadOnlyList<ApiKeyRecord>> ListAsync(CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        using var select = connection.CreateCommand();
        select.CommandText = $"SELECT {Columns} FROM api_keys ORDER BY created_at, id";
        var keys = new List<ApiKeyRecord>();
        using var reader = await select.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            keys.Add(Read(reader));
        }
        return keys;
    }

    public async Task<ApiKeyRecord?> FindByHashAsync(string secretHash, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        using var select = connection.CreateCommand();
        select.CommandText = $"SELECT {Columns} FROM api_keys WHERE secret_hash = $hash";
        select.Parameters.AddWithValue("$hash", secretHash);
        using var reader = await select.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken) ? Read(reader) : null;
    }

    public async Task<bool> RevokeAsync(string id, CancellationToken cancellationToken)
    {
        using (await database.WaitForWriteTurnAsync(cancellationToken))
        {
            await using var connection = await database.OpenAsync(cancellationToken);
            using var delete = connection.CreateCommand();
            delete.CommandText = "DELETE FROM api_keys WHERE id = $id";
            delete.Parameters.AddWithValue("$id", id);
            if (await delete.ExecuteNonQueryAsync(cancellationToken) == 0)
            {
                return false;
            }
        }
        Changed?.Invoke(new KeyChange(KeyChangeKind.Revoked, id));
        return true;
    }

    public async Task<long> CountAsync(CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        using var count = connection.CreateCommand();
        count.CommandText = "SELECT COUNT(*) FROM api_keys";
        return Convert.ToInt64(await count.ExecuteScalarAsync(cancellationToken), System.Globalization.CultureInfo.InvariantCulture);
    }

    private static ApiKeyRecord Read(SqliteDataReader reader) => new(
        reader.GetString(0),
        reader.GetString(1),
        JsonSerializer.Deserialize(reader.GetString(2), AuthJsonContext.Default.IReadOnlyListString) ?? [],
        reader.IsDBNull(3) ? null : reader.GetString(3),
        reader.IsDBNull(4) ? null : reader.GetDouble(4),
        reader.GetDouble(5),
        reader.GetString(6));
}
