using System.Text;
using System.Text.Json;
using Microsoft.Data.Sqlite;
using MissionHub.Hub;

namespace MissionHub.Storage.Sqlite;

/// <summary>Jobs in the embedded SQLite file: one row per job holding its JSON snapshot, plus indexed columns.</summary>
public sealed class SqliteJobStore(SqliteDatabase database) : IJobStore
{
    private const string UpsertSql = """
        INSERT INTO jobs (id, job_type, status, worker_id, priority, order_no, updated_at, doc)
        VALUES ($id, $type, $status, $worker, $priority, $order, $updated, $doc)
        ON CONFLICT(id) DO UPDATE SET status = excluded.status, worker_id = excluded.worker_id,
          updated_at = excluded.updated_at, doc = excluded.doc
        """;

    public async Task InitializeAsync(CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        using var create = connection.CreateCommand();
        create.CommandText = """
            CREATE TABLE IF NOT EXISTS jobs (
                id TEXT PRIMARY KEY,
                job_type TEXT NOT NULL,
                status TEXT NOT NULL,
                worker_id TEXT,
                priority INTEGER NOT NULL,
                order_no INTEGER NOT NULL,
                updated_at REAL NOT NULL,
                doc TEXT NOT NULL);
            CREATE INDEX IF NOT EXISTS ix_jobs_order ON jobs(order_no);
            CREATE INDEX IF NOT EXISTS ix_jobs_status_order ON jobs(status, order_no);
            """;
        await create.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <summary>Upserts the job in the writer's next commit, beside whatever else is being written then (its events too).</summary>
    public Task SaveAsync(Job job, string? previousStatus, CancellationToken cancellationToken = default)
    {
        var doc = JsonSerializer.Serialize(job, HubJsonContext.Default.Job);
        var saved = database.Writer.WriteAsync(write => Upsert(write, job, doc));
        return cancellationToken.CanBeCanceled ? saved.WaitAsync(cancellationToken) : saved;
    }

    private static bool Upsert(SqliteWriteContext write, Job job, string doc)
    {
        var upsert = write.Command(UpsertSql, "$id", "$type", "$status", "$worker", "$priority", "$order", "$updated", "$doc");
        var p = upsert.Parameters;
        p[0].Value = job.Id;
        p[1].Value = job.JobType;
        p[2].Value = job.Status;
        p[3].Value = (object?)job.WorkerId ?? DBNull.Value;
        p[4].Value = job.Priority;
        p[5].Value = job.Order;
        p[6].Value = job.UpdatedAt;
        p[7].Value = doc;
        upsert.ExecuteNonQuery();
        return true;
    }

    public async Task<Job?> GetAsync(string id, CancellationToken cancellationToken = default)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT doc FROM jobs WHERE id = $id";
        command.Parameters.AddWithValue("$id", id);
        return await command.ExecuteScalarAsync(cancellationToken) is string json ? Parse(json) : null;
    }

    public async Task<JobListing> ListAsync(JobListQuery query, CancellationToken cancellationToken = default)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        using var command = connection.CreateCommand();
        var sql = new StringBuilder("SELECT doc, order_no FROM jobs WHERE 1 = 1");
        if (query.Status is not null)
        {
            sql.Append(" AND status = $status");
            command.Parameters.AddWithValue("$status", query.Status);
        }
        if (query.JobType is not null)
        {
            sql.Append(" AND job_type = $type");
            command.Parameters.AddWithValue("$type", query.JobType);
        }
        if (query.WorkerId is not null)
        {
            sql.Append(" AND worker_id = $worker");
            command.Parameters.AddWithValue("$worker", query.WorkerId);
        }
        if (query.BeforeOrder is { } before)
        {
            sql.Append(" AND order_no < $before");
            command.Parameters.AddWithValue("$before", before);
        }
        sql.Append(" ORDER BY order_no DESC LIMIT $limit");
        command.Parameters.AddWithValue("$limit", query.Limit + 1);
        command.CommandText = sql.ToString();
        var jobs = await ReadJobsAsync(command, cancellationToken);
        if (jobs.Count > query.Limit)
        {
            jobs.RemoveAt(jobs.Count - 1);
            return new JobListing(jobs, jobs[^1].Order);
        }
        return new JobListing(jobs, null);
    }

    public async Task<IReadOnlyList<Job>> LoadUnfinishedAsync(CancellationToken cancellationToken = default)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT doc FROM jobs WHERE status IN ('pending', 'assigned', 'running') ORDER BY order_no";
        return await ReadJobsAsync(command, cancellationToken);
    }

    public async Task<JobCounts> CountAsync(CancellationToken cancellationToken = default)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT status, COUNT(*) FROM jobs GROUP BY status";
        var counts = new Dictionary<string, long>();
        using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            counts[reader.GetString(0)] = reader.GetInt64(1);
        }
        return new JobCounts(
            counts.GetValueOrDefault(JobStatus.Pending), counts.GetValueOrDefault(JobStatus.Assigned),
            counts.GetValueOrDefault(JobStatus.Running), counts.GetValueOrDefault(JobStatus.Completed),
            counts.GetValueOrDefault(JobStatus.Failed), counts.GetValueOrDefault(JobStatus.Cancelled));
    }

    public async Task<IReadOnlyList<Job>> RecentAsync(string status, int count, CancellationToken cancellationToken = default) =>
        (await ListAsync(new JobListQuery(status, null, null, count, null), cancellationToken)).Jobs;

    public async Task<long> MaxOrderAsync(CancellationToken cancellationToken = default)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT COALESCE(MAX(order_no), 0) FROM jobs";
        return (long)(await command.ExecuteScalarAsync(cancellationToken))!;
    }

    private static async Task<List<Job>> ReadJobsAsync(SqliteCommand command, CancellationToken cancellationToken)
    {
        var jobs = new List<Job>();
        using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            jobs.Add(Parse(reader.GetString(0)));
        }
        return jobs;
    }

    private static Job Parse(string json) => JsonSerializer.Deserialize(json, HubJsonContext.Default.Job)!;
}
