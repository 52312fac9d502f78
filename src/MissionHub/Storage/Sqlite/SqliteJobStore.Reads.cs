using System.Text;
using System.Text.Json;
using Microsoft.Data.Sqlite;
using MissionHub.Hub;

namespace MissionHub.Storage.Sqlite;

/// <summary>The job store's reads: on pooled connections of their own, beside the writer, never through it.</summary>
public sealed partial class SqliteJobStore
{
    public async Task<Job?> GetAsync(string id, CancellationToken cancellationToken = default)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        using var command = connection.CreateCommand();
        command.CommandText = $"SELECT {Columns} FROM jobs WHERE id = $id";
        command.Parameters.AddWithValue("$id", id);
        var jobs = await ReadJobsAsync(command, cancellationToken);
        return jobs.Count == 0 ? null : jobs[0];
    }

    /// <summary>
    /// Newest first, from the index that matches the filter exactly (status, job type, both, or worker). A worker with a
    /// status or a job type is read from the worker's index and the rest checked row by row, at most
    /// <see cref="JobListQuery.MaxScanned"/> rows: then the page says it stopped there.
    /// </summary>
    public async Task<JobListing> ListWaitingAsync(double now, string? jobType, int limit, CancellationToken cancellationToken = default)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        using var command = connection.CreateCommand();
        // The partial index on available_at holds only waiting jobs; the type filter looks at the first MaxScanned of them.
        command.CommandText = $"""
            SELECT {Columns} FROM (
              SELECT {Columns}, job_type, available_at FROM jobs
              WHERE available_at IS NOT NULL AND available_at > $now AND status = 'pending' ORDER BY available_at LIMIT $cap)
            WHERE $type IS NULL OR job_type = $type ORDER BY available_at LIMIT $limit
            """;
        command.Parameters.AddWithValue("$now", now);
        command.Parameters.AddWithValue("$cap", jobType is null ? limit : JobListQuery.MaxScanned);
        command.Parameters.AddWithValue("$type", (object?)jobType ?? DBNull.Value);
        command.Parameters.AddWithValue("$limit", limit);
        var jobs = await ReadJobsAsync(command, cancellationToken);
        return new JobListing(jobs, null);
    }

    public async Task<JobListing> ListAsync(JobListQuery query, CancellationToken cancellationToken = default)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        if (query.ByFinishTime)
        {
            return await ListByFinishTimeAsync(connection, query, cancellationToken);
        }
        using var command = connection.CreateCommand();
        var exact = new StringBuilder("1 = 1");
        var rest = new StringBuilder("1 = 1");
        if (query.Status is not null)
        {
            (query.WorkerId is null ? exact : rest).Append(" AND status = $status");
            command.Parameters.AddWithValue("$status", query.Status);
        }
        if (query.JobType is not null)
        {
            (query.WorkerId is null ? exact : rest).Append(" AND job_type = $type");
            command.Parameters.AddWithValue("$type", query.JobType);
        }
        if (query.WorkerId is not null)
        {
            exact.Append(" AND worker_id = $worker");
            command.Parameters.AddWithValue("$worker", query.WorkerId);
        }
        if (query.BeforeOrder is { } before)
        {
            exact.Append(" AND order_no < $before");
            command.Parameters.AddWithValue("$before", before);
        }
        command.Parameters.AddWithValue("$limit", query.Limit + 1);
        var capped = query.WorkerId is not null && (query.Status is not null || query.JobType is not null);
        if (capped)
        {
            // The orders examined come back too (matched = 0 for those the rest of the filter refused), so the page knows
            // where it stopped.
            command.CommandText = $"""
                SELECT order_no, ({rest}) AS matched FROM jobs WHERE {exact} ORDER BY order_no DESC LIMIT $cap
                """;
            command.Parameters.AddWithValue("$cap", JobListQuery.MaxScanned);
            var orders = new List<long>();
            long examined = 0, lastExamined = 0;
            using (var reader = await command.ExecuteReaderAsync(cancellationToken))
            {
                while (orders.Count <= query.Limit && await reader.ReadAsync(cancellationToken))
                {
                    examined++;
                    lastExamined = reader.GetInt64(0);
                    if (reader.GetInt64(1) == 1)
                    {
                        orders.Add(lastExamined);
                    }
                }
            }
            command.Parameters.Clear();
            command.CommandText = $"SELECT {Columns} FROM jobs WHERE order_no IN ({string.Join(',', orders)}) ORDER BY order_no DESC";
            var found = orders.Count == 0 ? [] : await ReadJobsAsync(command, cancellationToken);
            if (found.Count > query.Limit)
            {
                found.RemoveAt(found.Count - 1);
                return new JobListing(found, found[^1].Order);
            }
            return examined == JobListQuery.MaxScanned ? new JobListing(found, lastExamined, ScanCapped: true) : new JobListing(found, null);
        }
        command.CommandText = $"SELECT {Columns} FROM jobs WHERE {exact} ORDER BY order_no DESC LIMIT $limit";
        var jobs = await ReadJobsAsync(command, cancellationToken);
        if (jobs.Count > query.Limit)
        {
            jobs.RemoveAt(jobs.Count - 1);
            return new JobListing(jobs, jobs[^1].Order);
        }
        return new JobListing(jobs, null);
    }

    /// <summary>
    /// Finished jobs in a finish-time range, newest finished first, from the index of finished jobs by finish time (a
    /// finished job's <c>updated_at</c> is when it finished: nothing changes it after that but a retry, which makes it
    /// pending). Status is exact from the index; a job type or worker filter checks at most
    /// <see cref="JobListQuery.MaxScanned"/> rows of the range, then the page says it stopped there.
    /// </summary>
    private static async Task<JobListing> ListByFinishTimeAsync(SqliteConnection connection, JobListQuery query, CancellationToken cancellationToken)
    {
        if (query.Status is { } wanted && !JobStatus.IsFinal(wanted))
        {
            return new JobListing([], null);
        }
        using var command = connection.CreateCommand();
        // INDEXED BY: the statement fails rather than fall back to a walk over every job.
        var exact = new StringBuilder(query.Status is null
            ? "FROM jobs INDEXED BY ix_jobs_finished WHERE status IN ('completed', 'failed', 'cancelled')"
            : "FROM jobs INDEXED BY ix_jobs_status_updated WHERE status = $status");
        if (query.Status is not null)
        {
            command.Parameters.AddWithValue("$status", query.Status);
        }
        if (query.FinishedSince is { } since)
        {
            exact.Append(" AND updated_at >= $since");
            command.Parameters.AddWithValue("$since", since);
        }
        if (query.FinishedUntil is { } until)
        {
            exact.Append(" AND updated_at < $until");
            command.Parameters.AddWithValue("$until", until);
        }
        if (query.BeforeFinished is { } after)
        {
            exact.Append(" AND updated_at <= $at AND (updated_at < $at OR id < $after_id)");
            command.Parameters.AddWithValue("$at", after.FinishedAt);
            command.Parameters.AddWithValue("$after_id", after.JobId);
        }
        var rest = new StringBuilder("1 = 1");
        if (query.JobType is not null)
        {
            rest.Append(" AND job_type = $type");
            command.Parameters.AddWithValue("$type", query.JobType);
        }
        if (query.WorkerId is not null)
        {
            rest.Append(" AND worker_id = $worker");
            command.Parameters.AddWithValue("$worker", query.WorkerId);
        }
        var filtered = query.JobType is not null || query.WorkerId is not null;
        var cap = filtered ? JobListQuery.MaxScanned : query.Limit + 1;
        command.CommandText = $"SELECT updated_at, id, ({rest}) AS matched {exact} ORDER BY updated_at DESC, id DESC LIMIT $cap";
        command.Parameters.AddWithValue("$cap", cap);
        var matched = new List<FinishedPosition>();
        var examined = 0;
        FinishedPosition? lastExamined = null;
        using (var reader = await command.ExecuteReaderAsync(cancellationToken))
        {
            while (matched.Count <= query.Limit && await reader.ReadAsync(cancellationToken))
            {
                examined++;
                lastExamined = new FinishedPosition(reader.GetDouble(0), reader.GetString(1));
                if (reader.GetInt64(2) == 1)
                {
                    matched.Add(lastExamined);
                }
            }
        }
        command.Parameters.Clear();
        var names = matched.Select((_, i) => $"$id{i}").ToList();
        command.CommandText = $"SELECT {Columns} FROM jobs WHERE id IN ({string.Join(',', names)})";
        for (var i = 0; i < matched.Count; i++)
        {
            command.Parameters.AddWithValue(names[i], matched[i].JobId);
        }
        var byId = matched.Count == 0 ? [] : (await ReadJobsAsync(command, cancellationToken)).ToDictionary(j => j.Id, StringComparer.Ordinal);
        var jobs = matched.Take(query.Limit).Select(p => byId.GetValueOrDefault(p.JobId)).OfType<Job>().ToList();
        if (matched.Count > query.Limit)
        {
            return new JobListing(jobs, null) { NextBeforeFinished = matched[query.Limit - 1] };
        }
        return filtered && examined == cap
            ? new JobListing(jobs, null, ScanCapped: true) { NextBeforeFinished = lastExamined }
            : new JobListing(jobs, null);
    }

    public async Task<JobCounts> CountAsync(CancellationToken cancellationToken = default)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        return await CountAsync(connection, null, cancellationToken);
    }

    public async Task<IReadOnlyDictionary<string, JobCounts>> CountByTypeAsync(CancellationToken cancellationToken = default)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT job_type, status, COUNT(*) FROM jobs GROUP BY job_type, status";
        var byType = new SortedDictionary<string, Dictionary<string, long>>(StringComparer.Ordinal);
        using (var reader = await command.ExecuteReaderAsync(cancellationToken))
        {
            while (await reader.ReadAsync(cancellationToken))
            {
                if (!byType.TryGetValue(reader.GetString(0), out var counts))
                {
                    byType[reader.GetString(0)] = counts = new Dictionary<string, long>(StringComparer.Ordinal);
                }
                counts[reader.GetString(1)] = reader.GetInt64(2);
            }
        }
        return byType.ToDictionary(t => t.Key, t => JobCounts.From(t.Value), StringComparer.Ordinal);
    }

    public async Task<IReadOnlyList<string>> FinishedDueAsync(double finishedBefore, long keepAtMost, int max, CancellationToken cancellationToken = default)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        const string Finished = "status IN ('completed', 'failed', 'cancelled')";
        var due = await ReadIdsAsync(connection,
            $"SELECT id FROM jobs WHERE {Finished} AND updated_at < $before ORDER BY updated_at LIMIT $max", cancellationToken,
            ("$before", finishedBefore), ("$max", max));
        if (due.Count > 0)
        {
            return due;
        }
        using var count = connection.CreateCommand();
        count.CommandText = $"SELECT COUNT(*) FROM jobs WHERE {Finished}";
        var excess = (long)(await count.ExecuteScalarAsync(cancellationToken))! - keepAtMost;
        return excess <= 0
            ? []
            : await ReadIdsAsync(connection, $"SELECT id FROM jobs WHERE {Finished} ORDER BY updated_at LIMIT $max",
                cancellationToken, ("$max", Math.Min(excess, max)));
    }

    private static async Task<List<string>> ReadIdsAsync(
        SqliteConnection connection, string sql, CancellationToken cancellationToken, params (string Name, object Value)[] parameters)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        foreach (var (name, value) in parameters)
        {
            command.Parameters.AddWithValue(name, value);
        }
        var ids = new List<string>();
        using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            ids.Add(reader.GetString(0));
        }
        return ids;
    }

    public async Task<QueueActivity> QueueActivityAsync(double now, double since, CancellationToken cancellationToken = default)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        var byType = new Dictionary<string, (long Delayed, long Completed, long Failed)>(StringComparer.Ordinal);
        var capped = false;
        // Each from its index (available_at; the finished jobs' updated_at), at most MaxScanned rows.
        foreach (var (sql, kind) in new[]
        {
            ("SELECT job_type, status FROM jobs WHERE available_at > $at AND status = 'pending' LIMIT $max", 0),
            ("SELECT job_type, status FROM jobs WHERE status IN ('completed', 'failed', 'cancelled') AND updated_at >= $at LIMIT $max", 1),
        })
        {
            using var command = connection.CreateCommand();
            command.CommandText = sql;
            command.Parameters.AddWithValue("$at", kind == 0 ? now : since);
            command.Parameters.AddWithValue("$max", QueueActivity.MaxScanned);
            var rows = 0;
            using var reader = await command.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                rows++;
                QueueActivity.Count(byType, reader.GetString(0), reader.GetString(1));
            }
            capped |= rows >= QueueActivity.MaxScanned;
        }
        return new QueueActivity(byType, capped);
    }

    public async Task<IReadOnlyDictionary<string, double>> ListPausedQueuesAsync(CancellationToken cancellationToken = default)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT job_type, paused_at FROM paused_queues";
        var paused = new SortedDictionary<string, double>(StringComparer.Ordinal);
        using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            paused[reader.GetString(0)] = reader.GetDouble(1);
        }
        return paused;
    }

    public async Task<IReadOnlyList<WorkerInfo>> ListWorkersAsync(CancellationToken cancellationToken = default)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        return await ListWorkersAsync(connection, null, cancellationToken);
    }

    public async Task<HubSnapshot> SnapshotAsync(int recentFinished, CancellationToken cancellationToken = default)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        // One read transaction: the jobs, workers, counts and the seq all come from the same commit.
        using var transaction = connection.BeginTransaction(deferred: true);
        using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = """
            SELECT (SELECT value FROM event_log_meta WHERE key = 'epoch'),
                   MAX((SELECT COALESCE(MAX(seq), 0) FROM events), COALESCE((SELECT CAST(value AS INTEGER) FROM event_log_meta WHERE key = 'last_seq'), 0))
            """;
        string epoch;
        long seq;
        using (var reader = await command.ExecuteReaderAsync(cancellationToken))
        {
            await reader.ReadAsync(cancellationToken);
            epoch = reader.GetString(0);
            seq = reader.GetInt64(1);
        }
        command.CommandText = $"SELECT {Columns} FROM jobs WHERE status IN ('pending', 'assigned', 'running') ORDER BY order_no";
        var unfinished = await ReadJobsAsync(command, cancellationToken);
        // Results too large to travel inline stay in the file: the snapshot never loads them (JobResults).
        command.CommandText = """
            SELECT CASE WHEN big THEN json_remove(doc, '$.result') ELSE doc END, session_id, lease_until, big FROM (
              SELECT doc, session_id, lease_until, updated_at,
                     COALESCE(length(CAST(json_extract(doc, '$.result') AS BLOB)), 0) > $max AS big
              FROM jobs WHERE status = $status ORDER BY updated_at DESC LIMIT $n)
            ORDER BY updated_at DESC
            """;
        command.Parameters.AddWithValue("$n", recentFinished);
        command.Parameters.AddWithValue("$max", _maxInlineResultBytes);
        var status = command.Parameters.AddWithValue("$status", JobStatus.Completed);
        var omitted = new HashSet<string>(StringComparer.Ordinal);
        var completed = await ReadFinishedAsync(command, omitted, cancellationToken);
        status.Value = JobStatus.Failed;
        var failed = await ReadFinishedAsync(command, omitted, cancellationToken);
        var workers = await ListWorkersAsync(connection, transaction, cancellationToken);
        var counts = await CountAsync(connection, transaction, cancellationToken);
        return new HubSnapshot(seq, epoch, unfinished, completed, failed, workers, counts) { ResultsOmitted = omitted };
    }

    private static async Task<List<Job>> ReadFinishedAsync(SqliteCommand command, HashSet<string> omitted, CancellationToken cancellationToken)
    {
        var jobs = new List<Job>();
        using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            var job = Parse(reader);
            if (reader.GetBoolean(3))
            {
                omitted.Add(job.Id);
            }
            jobs.Add(job);
        }
        return jobs;
    }

    private static async Task<List<Job>> ReadJobsAsync(SqliteCommand command, CancellationToken cancellationToken)
    {
        var jobs = new List<Job>();
        using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            jobs.Add(Parse(reader));
        }
        return jobs;
    }

    private static async Task<JobCounts> CountAsync(SqliteConnection connection, SqliteTransaction? transaction, CancellationToken cancellationToken)
    {
        using var command = connection.CreateCommand();
        command.Transaction = transaction;
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

    private static async Task<IReadOnlyList<WorkerInfo>> ListWorkersAsync(SqliteConnection connection, SqliteTransaction? transaction,
        CancellationToken cancellationToken)
    {
        using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = """
            SELECT w.doc, (SELECT group_concat(j.id) FROM jobs j WHERE j.worker_id = w.id AND j.status IN ('assigned', 'running'))
            FROM workers w ORDER BY w.id
            """;
        var workers = new List<WorkerInfo>();
        using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            var worker = JsonSerializer.Deserialize(reader.GetString(0), HubStoreJsonContext.Default.StoredWorker)!;
            var jobs = reader.IsDBNull(1) || worker.Status == WorkerStatus.Offline ? [] : reader.GetString(1).Split(',');
            workers.Add(worker.ToInfo(jobs));
        }
        return workers;
    }
}
