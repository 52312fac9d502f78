using MissionHub.Events;
using MissionHub.Hub;

namespace MissionHub.Storage.Sqlite;

/// <summary>
/// Jobs that wait for others (<see cref="Job.DependsOn"/>): the table <c>job_dependents</c> maps each unfinished job to
/// the jobs waiting on it, so the step that finishes it releases them (completed) or cancels them (failed, cancelled,
/// purged) in the same transaction.
/// </summary>
public sealed partial class SqliteJobStore
{
    private const string DependentsSchema = """
        CREATE TABLE IF NOT EXISTS job_dependents (
            dependency_id TEXT NOT NULL,
            dependent_id TEXT NOT NULL,
            PRIMARY KEY (dependency_id, dependent_id)) WITHOUT ROWID;
        """;

    /// <summary>
    /// A new job's dependencies as storage has them: those not completed yet, and the first that failed or was cancelled
    /// (the job is cancelled at once then). Throws, writing nothing, when one is not stored.
    /// </summary>
    private static (List<string> Waiting, string? Failed) ReadDependencies(SqliteWriteContext write, IReadOnlyList<string> dependsOn, int index)
    {
        var waiting = new List<string>();
        var unknown = new List<string>();
        string? failed = null;
        foreach (var id in dependsOn)
        {
            switch (FindOne(write, "id = $id", ("$id", id))?.Status)
            {
                case null:
                    unknown.Add(id);
                    break;
                case JobStatus.Completed:
                    break;
                case JobStatus.Failed or JobStatus.Cancelled:
                    failed ??= id;
                    break;
                default:
                    waiting.Add(id);
                    break;
            }
        }
        if (unknown.Count > 0)
        {
            throw new UnknownDependenciesException(index, unknown);
        }
        return (waiting, failed);
    }

    /// <summary>Stores the job's dependencies, or cancels it at once when one of them already failed.</summary>
    private static Job LinkDependencies(SqliteWriteContext write, Job job, string? failed, double now, EventMeta meta)
    {
        if (failed is not null)
        {
            var cancelled = job with { Status = JobStatus.Cancelled, CancelReason = JobDependencies.DependencyFailed, CompletedAt = now, UpdatedAt = now };
            Save(write, cancelled);
            Emit(write, HubEvents.DependencyFailed(job, failed, now, meta));
            return cancelled;
        }
        AddDependents(write, job.Id, job.WaitingFor ?? []);
        return job;
    }

    private static void AddDependents(SqliteWriteContext write, string jobId, IReadOnlyList<string> waitingFor)
    {
        var insert = write.Command("INSERT OR IGNORE INTO job_dependents (dependency_id, dependent_id) VALUES ($dependency, $dependent)",
            "$dependency", "$dependent");
        foreach (var dependency in waitingFor)
        {
            insert.Parameters[0].Value = dependency;
            insert.Parameters[1].Value = jobId;
            insert.ExecuteNonQuery();
        }
    }

    /// <summary>The jobs still waiting on <paramref name="jobId"/>, taken out of the table (the job has finished).</summary>
    private static List<Job> TakeWaitingOn(SqliteWriteContext write, string jobId)
    {
        var read = write.Command("SELECT dependent_id FROM job_dependents WHERE dependency_id = $id", "$id");
        read.Parameters[0].Value = jobId;
        var ids = new List<string>();
        using (var reader = read.ExecuteReader())
        {
            while (reader.Read())
            {
                ids.Add(reader.GetString(0));
            }
        }
        if (ids.Count == 0)
        {
            return [];
        }
        var delete = write.Command("DELETE FROM job_dependents WHERE dependency_id = $id", "$id");
        delete.Parameters[0].Value = jobId;
        delete.ExecuteNonQuery();
        // A job cancelled or retried meanwhile may no longer wait on it.
        return [.. ids.Select(id => FindOne(write, "id = $id", ("$id", id)))
            .OfType<Job>()
            .Where(job => job.IsWaiting && job.WaitingFor!.Contains(jobId, StringComparer.Ordinal))];
    }

    /// <summary><paramref name="jobId"/> completed: the jobs waiting on it wait for one job less; returns how many wait for none now.</summary>
    private static int ReleaseDependents(SqliteWriteContext write, string jobId, double now)
    {
        var released = 0;
        foreach (var dependent in TakeWaitingOn(write, jobId))
        {
            var left = dependent.WaitingFor!.Where(id => id != jobId).ToList();
            Save(write, dependent with { WaitingFor = left, UpdatedAt = now });
            released += left.Count == 0 ? 1 : 0;
        }
        return released;
    }

    /// <summary>
    /// <paramref name="jobId"/> will never complete (failed for good, cancelled, purged): every job waiting on it is
    /// cancelled with <c>dependency_failed</c>, and so on down to the jobs waiting on those. Returns them.
    /// </summary>
    private static List<Job> CancelDependents(SqliteWriteContext write, string jobId, double now, EventMeta meta)
    {
        var cancelled = new List<Job>();
        var ended = new Queue<string>([jobId]);
        while (ended.TryDequeue(out var endedId))
        {
            foreach (var dependent in TakeWaitingOn(write, endedId))
            {
                var job = dependent with { Status = JobStatus.Cancelled, CancelReason = JobDependencies.DependencyFailed, CompletedAt = now, UpdatedAt = now };
                Save(write, job);
                Emit(write, HubEvents.DependencyFailed(job, endedId, now, meta));
                cancelled.Add(job);
                ended.Enqueue(job.Id);
            }
        }
        return cancelled;
    }

    /// <summary>A retried job waits again for each of its dependencies still stored and not completed.</summary>
    private static Job RewaitDependencies(SqliteWriteContext write, Job job)
    {
        if (job.DependsOn is not { Count: > 0 } dependsOn)
        {
            return job;
        }
        var waiting = dependsOn
            .Where(id => FindOne(write, "id = $id", ("$id", id)) is { Status: not JobStatus.Completed })
            .ToList();
        AddDependents(write, job.Id, waiting);
        return job with { WaitingFor = waiting };
    }
}
