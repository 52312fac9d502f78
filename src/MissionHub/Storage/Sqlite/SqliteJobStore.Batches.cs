using System.Text.Json;
using MissionHub.Events;
using MissionHub.Hub;
using MissionHub.Infrastructure;

namespace MissionHub.Storage.Sqlite;

/// <summary>Batches guarded by an <c>Idempotency-Key</c>: the key, the body's fingerprint and the batch's job ids.</summary>
public sealed partial class SqliteJobStore
{
    private const string BatchKeysSchema = """
        CREATE TABLE IF NOT EXISTS job_batch_keys (
            key TEXT PRIMARY KEY,
            fingerprint TEXT NOT NULL,
            job_ids TEXT NOT NULL,
            created INTEGER NOT NULL,
            expires_at REAL NOT NULL) WITHOUT ROWID;
        CREATE INDEX IF NOT EXISTS ix_job_batch_keys_expires ON job_batch_keys(expires_at);
        """;

    public Task<OnceBatch> SubmitBatchOnceAsync(IReadOnlyList<Job> jobs, IdempotencyClaim claim, CancellationToken cancellationToken = default)
    {
        var meta = HubEvents.CurrentMeta();
        // One writer transaction reads the key and stores the batch with it: of any number of racing requests, the first
        // stores and the others find its key.
        return database.Writer.WriteAsync(write =>
        {
            var now = Now();
            // Keys whose window ended go a few at a time, so the table holds about a window's worth of keys.
            var expire = write.Command(
                "DELETE FROM job_batch_keys WHERE key IN (SELECT key FROM job_batch_keys WHERE expires_at <= $now LIMIT 16)", "$now");
            expire.Parameters[0].Value = now;
            expire.ExecuteNonQuery();
            var known = write.Command("SELECT fingerprint, job_ids, created FROM job_batch_keys WHERE key = $key", "$key");
            known.Parameters[0].Value = claim.Key;
            using (var reader = known.ExecuteReader())
            {
                if (reader.Read())
                {
                    var ids = JsonSerializer.Deserialize(reader.GetString(1), HubStoreJsonContext.Default.IReadOnlyListString) ?? [];
                    var found = ids.Select(id => FindOne(write, "id = $id", ("$id", id))).OfType<Job>().ToList();
                    return new OnceBatch([], new KnownBatch(reader.GetString(0), found, reader.GetInt32(2)));
                }
            }
            var stored = SubmitBatch(write, jobs, meta);
            var remember = write.Command(
                "INSERT INTO job_batch_keys (key, fingerprint, job_ids, created, expires_at) VALUES ($key, $fingerprint, $ids, $created, $expires)",
                "$key", "$fingerprint", "$ids", "$created", "$expires");
            remember.Parameters[0].Value = claim.Key;
            remember.Parameters[1].Value = claim.Fingerprint;
            remember.Parameters[2].Value = JsonSerializer.Serialize<IReadOnlyList<string>>(
                [.. stored.Select(r => r.Job.Id)], HubStoreJsonContext.Default.IReadOnlyListString);
            remember.Parameters[3].Value = stored.Count(r => r.Created);
            remember.Parameters[4].Value = claim.ExpiresAt;
            remember.ExecuteNonQuery();
            return new OnceBatch(stored);
        }, cancellationToken);
    }

    /// <summary>Every job of a batch, in order, in the caller's transaction: the one path of plain and guarded batches.</summary>
    private static IReadOnlyList<SubmitResult> SubmitBatch(SqliteWriteContext write, IReadOnlyList<Job> jobs, EventMeta meta) =>
        [.. jobs.Select((job, index) => Submit(write, job, meta, index))];
}
