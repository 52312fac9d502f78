using System.Text.Json;
using Microsoft.Data.Sqlite;
using MissionHub.Events;
using MissionHub.Hub;

namespace MissionHub.Storage.Sqlite;

/// <summary>
/// The job store's worker steps: registration (keeping the jobs a returning worker still holds), leaving, lease renewal
/// and grace, pruning long-offline workers, and the worker rows the job steps update (idle/busy, offline).
/// </summary>
public sealed partial class SqliteJobStore
{
    private const string UpsertWorkerSql = """
        INSERT INTO workers (id, doc, offline_since) VALUES ($id, $doc, $offline)
        ON CONFLICT(id) DO UPDATE SET doc = excluded.doc, offline_since = excluded.offline_since
        """;

    public Task<WorkerRegistration> RegisterWorkerAsync(WorkerRecord worker, IReadOnlyCollection<string>? heldJobs, double leaseUntil,
        CancellationToken cancellationToken = default)
    {
        var meta = HubEvents.CurrentMeta();
        return database.Writer.WriteAsync(write =>
        {
            var now = Now();
            var previous = ReadWorker(write, worker.WorkerId);
            ReplacedSession? replaced = previous is { Status: not WorkerStatus.Offline } p && p.SessionId != worker.SessionId
                ? new ReplacedSession(p.SessionId, p.NodeId)
                : null;
            var held = heldJobs is null ? [] : new HashSet<string>(heldJobs, StringComparer.Ordinal);
            var leased = FindMany(write, "worker_id = $w AND status IN ('assigned', 'running')", ("$w", worker.WorkerId));
            var kept = new List<Job>();
            var resend = new List<Job>();
            var requeued = new List<JobStep>();
            foreach (var job in leased)
            {
                if (held.Remove(job.Id) || job.Status == JobStatus.Assigned)
                {
                    // Still the worker's: it goes on with it, or (never started) gets its job_assigned again.
                    var moved = job with { SessionId = worker.SessionId, LeaseUntil = leaseUntil };
                    Save(write, moved);
                    (heldJobs?.Contains(job.Id) == true ? kept : resend).Add(moved);
                }
                else
                {
                    var cascaded = new List<Job>();
                    var after = FailAttempt(write, job, $"worker {worker.WorkerId} reconnected without it", null, now, meta, settleWorker: false, cascaded);
                    requeued.Add(new JobStep(StepOutcome.Done, after, null) { Cascaded = cascaded });
                }
            }
            var status = kept.Count + resend.Count > 0 ? WorkerStatus.Busy : WorkerStatus.Idle;
            SaveWorker(write, new StoredWorker(worker.WorkerId, worker.SessionId, worker.NodeId, status, worker.JobTypes,
                worker.MaxConcurrentJobs, worker.ConnectedAt, now, null));
            Emit(write, HubEvents.WorkerConnected(worker, status, meta));
            return new WorkerRegistration(kept, resend, requeued, [.. held], replaced);
        }, cancellationToken);
    }

    public Task<IReadOnlyList<JobStep>> UnregisterWorkerAsync(JobHolder holder, string reason, bool requeueJobs, CancellationToken cancellationToken = default)
    {
        var meta = HubEvents.CurrentMeta();
        return database.Writer.WriteAsync<IReadOnlyList<JobStep>>(write =>
        {
            var worker = ReadWorker(write, holder.WorkerId);
            var current = worker is not null && worker.SessionId == holder.SessionId && worker.Status != WorkerStatus.Offline;
            var now = Now();
            var requeued = new List<JobStep>();
            if (requeueJobs)
            {
                // Whatever this connection still holds, even if a newer one replaced it meanwhile (a claim that raced the replacement).
                foreach (var job in FindMany(write, "worker_id = $w AND session_id = $s AND status IN ('assigned', 'running')",
                    ("$w", holder.WorkerId), ("$s", holder.SessionId)))
                {
                    var cascaded = new List<Job>();
                    var after = FailAttempt(write, job, $"worker {holder.WorkerId} was lost ({reason})", null, now, meta, settleWorker: !current, cascaded);
                    requeued.Add(new JobStep(StepOutcome.Done, after, holder) { Cascaded = cascaded });
                }
            }
            if (current)
            {
                MarkOffline(write, worker!, reason, now, meta);
            }
            return requeued;
        }, cancellationToken);
    }

    public Task RenewLeasesAsync(IReadOnlyList<JobHolder> holders, double leaseUntil, CancellationToken cancellationToken = default)
    {
        if (holders.Count == 0)
        {
            return Task.CompletedTask;
        }
        return database.Writer.WriteAsync(write =>
        {
            var now = Now();
            var renew = write.Command(
                "UPDATE jobs SET lease_until = $lease WHERE worker_id = $w AND session_id = $s AND status IN ('assigned', 'running')",
                "$lease", "$w", "$s");
            foreach (var holder in holders)
            {
                renew.Parameters[0].Value = leaseUntil;
                renew.Parameters[1].Value = holder.WorkerId;
                renew.Parameters[2].Value = holder.SessionId;
                renew.ExecuteNonQuery();
                if (ReadWorker(write, holder.WorkerId) is { } worker && worker.SessionId == holder.SessionId)
                {
                    SaveWorker(write, worker with { LastSeen = now });
                }
            }
            return true;
        }, cancellationToken);
    }

    public Task<int> PruneWorkersAsync(double offlineBefore, int max, CancellationToken cancellationToken = default) => database.Writer.WriteAsync(write =>
    {
        // A worker that still holds jobs (left without requeueing them) stays until they are settled.
        var prune = write.Command("""
            DELETE FROM workers WHERE id IN (
              SELECT w.id FROM workers w WHERE w.offline_since IS NOT NULL AND w.offline_since < $before
                AND NOT EXISTS (SELECT 1 FROM jobs j WHERE j.worker_id = w.id AND j.status IN ('assigned', 'running'))
              ORDER BY w.offline_since LIMIT $max)
            """, "$before", "$max");
        prune.Parameters[0].Value = offlineBefore;
        prune.Parameters[1].Value = max;
        return prune.ExecuteNonQuery();
    }, cancellationToken);

    /// <summary>Files written before workers were pruned lack <c>offline_since</c>: add it and fill it from the documents.</summary>
    private static async Task AddOfflineSinceAsync(SqliteConnection connection, CancellationToken cancellationToken)
    {
        using var info = connection.CreateCommand();
        info.CommandText = "SELECT COUNT(*) FROM pragma_table_info('workers') WHERE name = 'offline_since'";
        if ((long)(await info.ExecuteScalarAsync(cancellationToken))! > 0)
        {
            return;
        }
        using var alter = connection.CreateCommand();
        alter.CommandText = """
            ALTER TABLE workers ADD COLUMN offline_since REAL;
            UPDATE workers SET offline_since = json_extract(doc, '$.last_seen') WHERE json_extract(doc, '$.status') = 'offline';
            """;
        await alter.ExecuteNonQueryAsync(cancellationToken);
    }

    public Task GraceLeasesAsync(double until, CancellationToken cancellationToken = default) => database.Writer.WriteAsync(write =>
    {
        var grace = write.Command("UPDATE jobs SET lease_until = $until WHERE lease_until IS NOT NULL", "$until");
        grace.Parameters[0].Value = until;
        return grace.ExecuteNonQuery();
    }, cancellationToken);

    private static void WorkerMaybeIdle(SqliteWriteContext write, string workerId, double now, EventMeta meta)
    {
        if (ActiveCount(write, workerId) == 0)
        {
            SetWorkerStatus(write, workerId, WorkerStatus.Idle, null, now, meta);
        }
    }

    private static void SetWorkerStatus(SqliteWriteContext write, string workerId, string status, string? jobId, double now, EventMeta meta)
    {
        if (ReadWorker(write, workerId) is { } worker && worker.Status != status && worker.Status != WorkerStatus.Offline)
        {
            SaveWorker(write, worker with { Status = status });
            Emit(write, HubEvents.WorkerStatusChanged(workerId, worker.Status, status, jobId, now, meta));
        }
    }

    private static long ActiveCount(SqliteWriteContext write, string workerId)
    {
        var count = write.Command("SELECT COUNT(*) FROM jobs WHERE worker_id = $w AND status IN ('assigned', 'running')", "$w");
        count.Parameters[0].Value = workerId;
        return (long)count.ExecuteScalar()!;
    }

    private static StoredWorker? ReadWorker(SqliteWriteContext write, string workerId)
    {
        var read = write.Command("SELECT doc FROM workers WHERE id = $id", "$id");
        read.Parameters[0].Value = workerId;
        return read.ExecuteScalar() is string doc ? JsonSerializer.Deserialize(doc, HubStoreJsonContext.Default.StoredWorker) : null;
    }

    /// <summary>Workers still listed as connected whose connection has not been seen since <paramref name="since"/>.</summary>
    private static List<StoredWorker> ReadSilentWorkers(SqliteWriteContext write, double since)
    {
        var read = write.Command(
            "SELECT doc FROM workers WHERE offline_since IS NULL AND json_extract(doc, '$.last_seen') < $since LIMIT 500", "$since");
        read.Parameters[0].Value = since;
        var workers = new List<StoredWorker>();
        using var reader = read.ExecuteReader();
        while (reader.Read())
        {
            workers.Add(JsonSerializer.Deserialize(reader.GetString(0), HubStoreJsonContext.Default.StoredWorker)!);
        }
        return workers;
    }

    private static void MarkOffline(SqliteWriteContext write, StoredWorker worker, string reason, double now, EventMeta meta)
    {
        SaveWorker(write, worker with { Status = WorkerStatus.Offline, LastSeen = now, Reason = reason });
        Emit(write, HubEvents.WorkerDisconnected(worker.WorkerId, reason, now, meta));
        Emit(write, HubEvents.WorkerStatusChanged(worker.WorkerId, worker.Status, WorkerStatus.Offline, null, now, meta));
    }

    private static void SaveWorker(SqliteWriteContext write, StoredWorker worker)
    {
        var upsert = write.Command(UpsertWorkerSql, "$id", "$doc", "$offline");
        upsert.Parameters[0].Value = worker.WorkerId;
        upsert.Parameters[1].Value = JsonSerializer.Serialize(worker, HubStoreJsonContext.Default.StoredWorker);
        // Indexed, so pruning by OfflineRetention reads only the workers due, not every one ever seen.
        upsert.Parameters[2].Value = worker.Status == WorkerStatus.Offline ? worker.LastSeen : DBNull.Value;
        upsert.ExecuteNonQuery();
    }
}
