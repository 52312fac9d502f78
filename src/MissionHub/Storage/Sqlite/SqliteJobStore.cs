using System.Text;
using System.Text.Json;
using Microsoft.Data.Sqlite;
using MissionHub.Hub;
using MissionHub.Infrastructure;

namespace MissionHub.Storage.Sqlite;

/// <summary>Jobs in the embedded SQLite file: one row per job holding its JSON snapshot, plus indexed columns.</summary>
public sealed class SqliteJobStore(SqliteDatabase database) : IJobStore, IAsyncDisposable
{
    private BatchWriter<Job>? _writer;

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
        _writer ??= new BatchWriter<Job>(CommitAsync);
    }

    public Task SaveAsync(Job job, string? previousStatus, CancellationToken cancellationToken = default) =>
        (_writer ?? throw new InvalidOperationException("the job store is not initialized")).WriteAsync(job, cancellationToken);

    private async Task CommitAsync(IReadOnlyList<Job> jobs, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        using var turn = await database.WaitForWriteTurnAsync(cancellationToken);
        using var transaction = connection.BeginTransaction(deferred: false);
        using var upsert = connection.CreateCommand();
        upsert.Transaction = transaction;
        upsert.CommandText = """
            INSERT INTO jobs (id, job_type, status, worker_id, priority, order_no, updated_at, doc)
            VALUES ($id, $type, $status, $worker, $priority, $order, $updated, $doc)
            ON CONFLICT(id) DO UPDATE SET status = excluded.status, worker_id = excluded.worker_id,
              updated_at = excluded.updated_at, doc = excluded.doc
            """;
        var id = upsert.Parameters.Add("$id", SqliteType.Text);
        var type = upsert.Parameters.Add("$type", SqliteType.Text);
        var status = upsert.Parameters.Add("$status", SqliteType.Text);
        var worker = upsert.Parameters.Add("$worker", SqliteType.Text);
        var priority = upsert.Parameters.Add("$priority", SqliteType.Integer);
        var order = upsert.Parameters.Add("$order", SqliteType.Integer);
        var updated = upsert.Parameters.Add("$updated", SqliteType.Real);
        var doc = upsert.Parameters.Add("$doc", SqliteType.Text);
        foreach (var job in jobs)
        {
            id.Value = job.Id;
            type.Value = job.JobType;
            status.Value = job.Status;
            worker.Value = (object?)job.WorkerId ?? DBNull.Value;
            priority.Value = job.Priority;
            order.Value = job.Order;
            updated.Value = job.UpdatedAt;
            doc.Value = JsonSerializer.Serialize(job, HubJsonContext.Default.Job);
            await upsert.ExecuteNonQueryAsync(cancellationToken);
        }
        await transaction.CommitAsync(cancellationToken);
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

    public async ValueTask DisposeAsync()
    {
        if (_writer is not null)
        {
            await _writer.DisposeAsync();
        }
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
