using MissionHub.Hub;

namespace MissionHub.Storage.Sqlite;

/// <summary>The job store's operator steps: retry and purge of finished jobs, and pausing a job type's dispatch.</summary>
public sealed partial class SqliteJobStore
{
    public Task<IReadOnlyList<Job>> RetryAsync(IReadOnlyList<string> jobIds, CancellationToken cancellationToken = default)
    {
        var meta = HubEvents.CurrentMeta();
        return database.Writer.WriteAsync<IReadOnlyList<Job>>(write =>
        {
            var now = Now();
            var retried = new List<Job>();
            foreach (var id in jobIds)
            {
                if (FindOne(write, "id = $id", ("$id", id)) is not { Status: JobStatus.Failed or JobStatus.Cancelled } old)
                {
                    continue;
                }
                var job = RewaitDependencies(write, old with
                {
                    Status = JobStatus.Pending,
                    Attempts = 0,
                    PriorAttempts = old.PriorAttempts + old.Attempts,
                    Retries = old.Retries + 1,
                    WorkerId = null,
                    SessionId = null,
                    Progress = 0,
                    Result = null,
                    Error = null,
                    AssignedAt = null,
                    StartedAt = null,
                    CompletedAt = null,
                    AvailableAt = null,
                    LeaseUntil = null,
                    UpdatedAt = now,
                    CancelReason = null,
                });
                Save(write, job);
                Emit(write, HubEvents.Retried(old, job, now, meta));
                retried.Add(job);
            }
            return retried;
        }, cancellationToken);
    }

    public Task<IReadOnlyList<Job>> PurgeAsync(IReadOnlyList<string> jobIds, string reason, CancellationToken cancellationToken = default)
    {
        var meta = HubEvents.CurrentMeta();
        return database.Writer.WriteAsync<IReadOnlyList<Job>>(write =>
        {
            var delete = write.Command("DELETE FROM jobs WHERE id = $id", "$id");
            var purged = new List<Job>();
            foreach (var id in jobIds)
            {
                if (FindOne(write, "id = $id", ("$id", id)) is { } job && JobStatus.IsFinal(job.Status))
                {
                    delete.Parameters[0].Value = id;
                    delete.ExecuteNonQuery();
                    purged.Add(job);
                }
            }
            if (purged.Count > 0)
            {
                var now = Now();
                Emit(write, HubEvents.Purged(purged, reason, now, meta));
                // A job purged before it completed never will: the jobs still waiting on it are cancelled.
                foreach (var job in purged.Where(j => j.Status != JobStatus.Completed))
                {
                    CancelDependents(write, job.Id, now, meta);
                }
            }
            return purged;
        }, cancellationToken);
    }

    public Task<bool> SetQueuePausedAsync(string jobType, bool paused, double now, CancellationToken cancellationToken = default)
    {
        var meta = HubEvents.CurrentMeta();
        return database.Writer.WriteAsync(write =>
        {
            var change = write.Command(paused
                ? "INSERT INTO paused_queues (job_type, paused_at) VALUES ($type, $now) ON CONFLICT (job_type) DO NOTHING"
                : "DELETE FROM paused_queues WHERE job_type = $type", "$type", "$now");
            change.Parameters[0].Value = jobType;
            change.Parameters[1].Value = now;
            if (change.ExecuteNonQuery() == 0)
            {
                return false;
            }
            Emit(write, paused ? HubEvents.QueuePaused(jobType, now, meta) : HubEvents.QueueResumed(jobType, now, meta));
            return true;
        }, cancellationToken);
    }

    private static HashSet<string> ReadPausedTypes(SqliteWriteContext write)
    {
        var read = write.Command("SELECT job_type FROM paused_queues");
        var types = new HashSet<string>(StringComparer.Ordinal);
        using var reader = read.ExecuteReader();
        while (reader.Read())
        {
            types.Add(reader.GetString(0));
        }
        return types;
    }
}
