using System.Globalization;
using System.Text;
using System.Text.Json;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Options;
using MissionHub.Events;
using MissionHub.Hub;

namespace MissionHub.Storage.Sqlite;

/// <summary>
/// Jobs and workers in the embedded SQLite file. Each step runs on the file's one writer thread inside one
/// transaction that reads the job, decides, writes the row and appends the step's events to the event log's table:
/// a change and its events commit together or not at all. One process owns the file (<see cref="SqliteFileLock"/>).
/// </summary>
public sealed partial class SqliteJobStore(SqliteDatabase database, TimeProvider time, IOptions<HubOptions> hubOptions) : IJobStore
{
    private readonly int _maxInlineResultBytes = hubOptions.Value.MaxInlineResultBytes;

    private const string Columns = "doc, session_id, lease_until";

    private const string UpsertSql = """
        INSERT INTO jobs (id, job_type, status, worker_id, priority, order_no, updated_at, doc, session_id, lease_until, deadline, available_at, idem_key, waiting)
        VALUES ($id, $type, $status, $worker, $priority, $order, $updated, $doc, $session, $lease, $deadline, $available, $idem, $waiting)
        ON CONFLICT(id) DO UPDATE SET status = excluded.status, worker_id = excluded.worker_id, updated_at = excluded.updated_at,
          doc = excluded.doc, session_id = excluded.session_id, lease_until = excluded.lease_until, deadline = excluded.deadline,
          available_at = excluded.available_at, waiting = excluded.waiting
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
            CREATE TABLE IF NOT EXISTS workers (id TEXT PRIMARY KEY, doc TEXT NOT NULL);
            CREATE TABLE IF NOT EXISTS paused_queues (job_type TEXT PRIMARY KEY, paused_at REAL NOT NULL);
            """ + DependentsSchema;
        await create.ExecuteNonQueryAsync(cancellationToken);
        // Files of the first release lack the claim and lease columns: add them in place.
        var existing = new HashSet<string>(StringComparer.Ordinal);
        using (var info = connection.CreateCommand())
        {
            info.CommandText = "SELECT name FROM pragma_table_info('jobs')";
            using var reader = await info.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                existing.Add(reader.GetString(0));
            }
        }
        foreach (var (column, type) in new[] { ("session_id", "TEXT"), ("lease_until", "REAL"), ("deadline", "REAL"), ("available_at", "REAL"), ("idem_key", "TEXT"), ("waiting", "INTEGER") })
        {
            if (!existing.Contains(column))
            {
                using var alter = connection.CreateCommand();
                alter.CommandText = $"ALTER TABLE jobs ADD COLUMN {column} {type}";
                await alter.ExecuteNonQueryAsync(cancellationToken);
            }
        }
        await AddOfflineSinceAsync(connection, cancellationToken);
        using (var batchKeys = connection.CreateCommand())
        {
            batchKeys.CommandText = BatchKeysSchema;
            await batchKeys.ExecuteNonQueryAsync(cancellationToken);
        }
        using var indexes = connection.CreateCommand();
        indexes.CommandText = """
            CREATE INDEX IF NOT EXISTS ix_jobs_order ON jobs(order_no);
            CREATE INDEX IF NOT EXISTS ix_jobs_status_order ON jobs(status, order_no);
            CREATE INDEX IF NOT EXISTS ix_jobs_type_order ON jobs(job_type, order_no);
            CREATE INDEX IF NOT EXISTS ix_jobs_type_status_order ON jobs(job_type, status, order_no);
            CREATE INDEX IF NOT EXISTS ix_jobs_worker_order ON jobs(worker_id, order_no) WHERE worker_id IS NOT NULL;
            CREATE INDEX IF NOT EXISTS ix_jobs_status_updated ON jobs(status, updated_at);
            CREATE INDEX IF NOT EXISTS ix_jobs_pending ON jobs(job_type, priority DESC, order_no) WHERE status = 'pending';
            CREATE INDEX IF NOT EXISTS ix_jobs_ready ON jobs(job_type, priority DESC, order_no) WHERE status = 'pending' AND waiting IS NULL;
            CREATE INDEX IF NOT EXISTS ix_jobs_worker ON jobs(worker_id) WHERE status IN ('assigned', 'running');
            CREATE INDEX IF NOT EXISTS ix_jobs_lease ON jobs(lease_until) WHERE lease_until IS NOT NULL;
            CREATE INDEX IF NOT EXISTS ix_jobs_deadline ON jobs(deadline) WHERE deadline IS NOT NULL;
            CREATE INDEX IF NOT EXISTS ix_jobs_available ON jobs(available_at) WHERE available_at IS NOT NULL;
            CREATE UNIQUE INDEX IF NOT EXISTS ix_jobs_idem ON jobs(idem_key) WHERE idem_key IS NOT NULL;
            CREATE INDEX IF NOT EXISTS ix_jobs_finished ON jobs(updated_at) WHERE status IN ('completed', 'failed', 'cancelled');
            CREATE INDEX IF NOT EXISTS ix_workers_offline ON workers(offline_since) WHERE offline_since IS NOT NULL;
            CREATE INDEX IF NOT EXISTS ix_workers_seen ON workers(json_extract(doc, '$.last_seen')) WHERE offline_since IS NULL;
            """;
        await indexes.ExecuteNonQueryAsync(cancellationToken);
    }

    public Task<SubmitResult> SubmitAsync(Job job, CancellationToken cancellationToken = default)
    {
        var meta = HubEvents.CurrentMeta();
        return database.Writer.WriteAsync(write => Submit(write, job, meta), cancellationToken);
    }

    public Task<IReadOnlyList<SubmitResult>> SubmitBatchAsync(IReadOnlyList<Job> jobs, CancellationToken cancellationToken = default)
    {
        var meta = HubEvents.CurrentMeta();
        return database.Writer.WriteAsync(write => SubmitBatch(write, jobs, meta), cancellationToken);
    }

    /// <summary>A job submit inside another step's transaction (a schedule that fires it), with its job_submitted.</summary>
    internal static SubmitResult Submit(SqliteWriteContext write, Job job, EventMeta meta, int index = 0)
    {
        if (job.IdempotencyKey is { } key && FindOne(write, "idem_key = $k", ("$k", key)) is { } original)
        {
            return new SubmitResult(original, false);
        }
        var (waiting, failed) = job.DependsOn is { Count: > 0 } dependsOn ? ReadDependencies(write, dependsOn, index) : ([], null);
        var order = (long)Scalar(write, "SELECT COALESCE(MAX(order_no), 0) + 1 FROM jobs")!;
        var stored = job with { Order = order, WaitingFor = job.DependsOn is null ? null : waiting };
        Save(write, stored);
        Emit(write, HubEvents.Submitted(stored, meta));
        if (job.DependsOn is not null)
        {
            stored = LinkDependencies(write, stored, failed, stored.CreatedAt, meta);
        }
        return new SubmitResult(stored, true);
    }

    public Task<IReadOnlyList<ClaimedJob>> ClaimAsync(IReadOnlyList<FreeSlots> slots, double leaseUntil, CancellationToken cancellationToken = default)
    {
        var meta = HubEvents.CurrentMeta();
        return database.Writer.WriteAsync<IReadOnlyList<ClaimedJob>>(write => Claim(write, slots, leaseUntil, Now(), meta), cancellationToken);
    }

    public Task<JobStep> ProgressAsync(JobHolder holder, string jobId, double progress, CancellationToken cancellationToken = default) =>
        HeldStep(holder, jobId, (write, old, now, meta) =>
        {
            var job = old with { Progress = progress, UpdatedAt = now, Status = JobStatus.Running, StartedAt = old.StartedAt ?? now };
            Save(write, job);
            if (old.Status == JobStatus.Assigned)
            {
                Emit(write, HubEvents.StatusChanged(old, old.Status, JobStatus.Running, holder.WorkerId, now, meta));
            }
            Emit(write, HubEvents.Progress(old, holder.WorkerId, progress, now, meta));
            return new JobStep(StepOutcome.Done, job);
        }, cancellationToken);

    public Task<JobStep> CompleteAsync(JobHolder holder, string jobId, JsonElement? result, FreeSlots? next, double leaseUntil,
        CancellationToken cancellationToken = default) =>
        HeldStep(holder, jobId, (write, old, now, meta) =>
        {
            // A completed job shows its result, not the error of an earlier attempt (that stays in its events).
            var job = Released(old, now) with
            {
                Status = JobStatus.Completed, Progress = 1, Result = result, Error = null, CompletedAt = now,
                StartedAt = old.StartedAt ?? now, WorkerId = old.WorkerId,
            };
            Save(write, job);
            Emit(write, HubEvents.Completed(job, now, meta, _maxInlineResultBytes));
            var released = ReleaseDependents(write, jobId, now);
            // The freed slot takes its next job in the same step: one commit per job instead of two.
            var claimed = next is null ? [] : Claim(write, [next], leaseUntil, now, meta);
            WorkerMaybeIdle(write, holder.WorkerId, now, meta);
            return new JobStep(StepOutcome.Done, job, holder) { Claimed = claimed, Released = released };
        }, cancellationToken);

    public Task<JobStep> FailAsync(JobHolder holder, string jobId, string error, RetryBackoff backoff, CancellationToken cancellationToken = default) =>
        HeldStep(holder, jobId, (write, old, now, meta) =>
        {
            var delay = backoff.DelaySeconds(old.Attempts);
            var cascaded = new List<Job>();
            var job = FailAttempt(write, old, error, delay > 0 ? now + delay : null, now, meta, cascaded: cascaded);
            return new JobStep(StepOutcome.Done, job, holder) { Cascaded = cascaded };
        }, cancellationToken);

    public Task<JobStep> CancelAsync(string jobId, CancellationToken cancellationToken = default)
    {
        var meta = HubEvents.CurrentMeta();
        return database.Writer.WriteAsync(write =>
        {
            if (FindOne(write, "id = $id", ("$id", jobId)) is not { } old)
            {
                return JobStep.NotFound;
            }
            if (JobStatus.IsFinal(old.Status))
            {
                return new JobStep(StepOutcome.AlreadyFinished, old);
            }
            var now = Now();
            var job = Released(old, now) with { Status = JobStatus.Cancelled, CompletedAt = now, WorkerId = old.WorkerId };
            Save(write, job);
            Emit(write, HubEvents.StatusChanged(old, old.Status, JobStatus.Cancelled, old.WorkerId, now, meta));
            var cascaded = CancelDependents(write, jobId, now, meta);
            JobHolder? holder = null;
            if (old.WorkerId is { } workerId && old.SessionId is { } session)
            {
                holder = new JobHolder(workerId, session);
                WorkerMaybeIdle(write, workerId, now, meta);
            }
            return new JobStep(StepOutcome.Done, job, holder) { Cascaded = cascaded };
        }, cancellationToken);
    }

    public Task<SweepResult> SweepAsync(double now, double silentSince, RetryBackoff timeoutBackoff, CancellationToken cancellationToken = default)
    {
        var meta = HubEvents.CurrentMeta();
        return database.Writer.WriteAsync(write =>
        {
            var silent = new List<SilentWorker>();
            foreach (var worker in ReadSilentWorkers(write, silentSince))
            {
                MarkOffline(write, worker, "heartbeat_timeout", now, meta);
                silent.Add(new SilentWorker(worker.WorkerId, worker.SessionId, worker.NodeId));
            }
            var taken = new List<JobStep>();
            foreach (var job in FindMany(write, "(lease_until IS NOT NULL AND lease_until <= $now) OR (deadline IS NOT NULL AND deadline <= $now) LIMIT 500",
                ("$now", now)))
            {
                var holder = job.WorkerId is { } w && job.SessionId is { } s ? new JobHolder(w, s) : null;
                var timedOut = job.TimeoutS is { } limit && job.AssignedAt + limit <= now;
                var error = timedOut
                    ? string.Create(CultureInfo.InvariantCulture, $"timed out after {job.TimeoutS} s")
                    : $"the lease of worker {job.WorkerId} expired";
                var delay = timedOut ? timeoutBackoff.DelaySeconds(job.Attempts) : 0;
                var cascaded = new List<Job>();
                var after = FailAttempt(write, job, error, delay > 0 ? now + delay : null, now, meta, cascaded: cascaded);
                taken.Add(new JobStep(StepOutcome.Done, after, holder) { Cascaded = cascaded });
            }
            var release = write.Command("UPDATE jobs SET available_at = NULL WHERE available_at IS NOT NULL AND available_at <= $now AND status = 'pending'", "$now");
            release.Parameters[0].Value = now;
            var released = release.ExecuteNonQuery();
            var next = Scalar(write, """
                SELECT MIN(t) FROM (
                  SELECT MIN(lease_until) AS t FROM jobs WHERE lease_until IS NOT NULL
                  UNION ALL SELECT MIN(deadline) FROM jobs WHERE deadline IS NOT NULL
                  UNION ALL SELECT MIN(available_at) FROM jobs WHERE available_at IS NOT NULL)
                """);
            return new SweepResult(taken, released, next is double d ? d : null) { Silent = silent };
        }, cancellationToken);
    }

    // ---- steps' building blocks (on the writer thread, inside its transaction) ----

    private double Now() => EventBus.UnixSeconds(time.GetUtcNow());

    /// <summary>A step on a job the holder must hold: it runs only if it does, else the answer says why.</summary>
    private Task<JobStep> HeldStep(JobHolder holder, string jobId, Func<SqliteWriteContext, Job, double, EventMeta, JobStep> step,
        CancellationToken cancellationToken)
    {
        var meta = HubEvents.CurrentMeta();
        return database.Writer.WriteAsync(write =>
        {
            var found = Held(write, holder, jobId);
            return found is { Outcome: StepOutcome.Done, Job: { } old } ? step(write, old, Now(), meta) : found;
        }, cancellationToken);
    }

    private static void Emit(SqliteWriteContext write, CharterEvent draft) => SqliteEventLog.Insert(write, [draft]);

    private static List<ClaimedJob> Claim(SqliteWriteContext write, IReadOnlyList<FreeSlots> slots, double leaseUntil, double now, EventMeta meta)
    {
        var claimed = new List<ClaimedJob>();
        // A paused job type is not handed out; its jobs wait, pending, until it is resumed.
        var paused = ReadPausedTypes(write);
        if (paused.Count > 0)
        {
            slots = [.. slots.Select(s => s with { JobTypes = [.. s.JobTypes.Where(t => !paused.Contains(t))] })];
        }
        var left = slots.Select(s => s.Count).ToArray();
        bool any;
        do
        {
            // Round-robin: each connection with a free slot takes the best job it can run, one per pass.
            any = false;
            for (var i = 0; i < slots.Count; i++)
            {
                if (left[i] == 0 || BestPending(write, slots[i].JobTypes, now) is not { } job)
                {
                    continue;
                }
                var holder = slots[i].Holder;
                var assigned = job with
                {
                    Status = JobStatus.Assigned,
                    WorkerId = holder.WorkerId,
                    SessionId = holder.SessionId,
                    Attempts = job.Attempts + 1,
                    AssignedAt = now,
                    StartedAt = null,
                    UpdatedAt = now,
                    Progress = 0,
                    AvailableAt = null,
                    LeaseUntil = leaseUntil,
                };
                Save(write, assigned);
                Emit(write, HubEvents.Assigned(assigned, now, meta));
                SetWorkerStatus(write, holder.WorkerId, WorkerStatus.Busy, assigned.Id, now, meta);
                claimed.Add(new ClaimedJob(holder, assigned));
                left[i]--;
                any = true;
            }
        }
        while (any);
        return claimed;
    }

    /// <summary>The job as held by <paramref name="holder"/>, or why not.</summary>
    private static JobStep Held(SqliteWriteContext write, JobHolder holder, string jobId)
    {
        if (FindOne(write, "id = $id", ("$id", jobId)) is not { } job)
        {
            return JobStep.NotFound;
        }
        return JobStatus.IsActive(job.Status) && job.WorkerId == holder.WorkerId && job.SessionId == holder.SessionId
            ? new JobStep(StepOutcome.Done, job)
            : new JobStep(JobStatus.IsFinal(job.Status) ? StepOutcome.AlreadyFinished : StepOutcome.NotHeld, job);
    }

    /// <summary>The job without its holder, lease and deadline.</summary>
    private static Job Released(Job job, double now) =>
        job with { WorkerId = null, SessionId = null, LeaseUntil = null, UpdatedAt = now };

    /// <summary>
    /// An attempt ended without success: back to pending while attempts remain, else failed for good, with the jobs waiting
    /// on it (added to <paramref name="cascaded"/> when given).
    /// </summary>
    private static Job FailAttempt(SqliteWriteContext write, Job old, string error, double? retryAt, double now, EventMeta meta,
        bool settleWorker = true, List<Job>? cascaded = null)
    {
        Job job;
        if (old.Attempts < old.MaxAttempts)
        {
            job = Released(old, now) with { Status = JobStatus.Pending, Error = error, Progress = 0, AvailableAt = retryAt };
            Save(write, job);
            Emit(write, HubEvents.StatusChanged(old, old.Status, JobStatus.Pending, old.WorkerId, now, meta, error, retryAt));
        }
        else
        {
            job = Released(old, now) with { Status = JobStatus.Failed, Error = error, CompletedAt = now, WorkerId = old.WorkerId };
            Save(write, job);
            Emit(write, HubEvents.Failed(old, old.WorkerId, error, now, meta));
            var dependents = CancelDependents(write, old.Id, now, meta);
            cascaded?.AddRange(dependents);
        }
        if (settleWorker && old.WorkerId is { } workerId)
        {
            WorkerMaybeIdle(write, workerId, now, meta);
        }
        return job;
    }

    /// <summary>The best pending job of these types: one indexed lookup per type (an IN over types would sort every pending job).</summary>
    private static Job? BestPending(SqliteWriteContext write, IReadOnlyList<string> jobTypes, double now)
    {
        var command = write.Command(
            $"SELECT {Columns} FROM jobs WHERE status = 'pending' AND waiting IS NULL AND job_type = $type AND (available_at IS NULL OR available_at <= $now) ORDER BY priority DESC, order_no LIMIT 1",
            "$type", "$now");
        Job? best = null;
        foreach (var jobType in jobTypes)
        {
            command.Parameters[0].Value = jobType;
            command.Parameters[1].Value = now;
            if (ReadJobs(command).FirstOrDefault() is { } candidate
                && (best is null || candidate.Priority > best.Priority || (candidate.Priority == best.Priority && candidate.Order < best.Order)))
            {
                best = candidate;
            }
        }
        return best;
    }

    private static Job? FindOne(SqliteWriteContext write, string where, params (string Name, object Value)[] parameters) =>
        FindMany(write, where + " LIMIT 1", parameters).FirstOrDefault();

    private static List<Job> FindMany(SqliteWriteContext write, string where, params (string Name, object Value)[] parameters)
    {
        var command = write.Command($"SELECT {Columns} FROM jobs WHERE {where}", [.. parameters.Select(p => p.Name)]);
        for (var i = 0; i < parameters.Length; i++)
        {
            command.Parameters[i].Value = parameters[i].Value;
        }
        return ReadJobs(command);
    }

    private static object? Scalar(SqliteWriteContext write, string sql) =>
        write.Command(sql).ExecuteScalar() is var value && value is DBNull ? null : value;

    private static void Save(SqliteWriteContext write, Job job)
    {
        var upsert = write.Command(UpsertSql, "$id", "$type", "$status", "$worker", "$priority", "$order", "$updated", "$doc",
            "$session", "$lease", "$deadline", "$available", "$idem", "$waiting");
        var p = upsert.Parameters;
        var active = JobStatus.IsActive(job.Status);
        p[0].Value = job.Id;
        p[1].Value = job.JobType;
        p[2].Value = job.Status;
        p[3].Value = (object?)job.WorkerId ?? DBNull.Value;
        p[4].Value = job.Priority;
        p[5].Value = job.Order;
        p[6].Value = job.UpdatedAt;
        p[7].Value = JsonSerializer.Serialize(job, HubJsonContext.Default.Job);
        p[8].Value = active ? (object?)job.SessionId ?? DBNull.Value : DBNull.Value;
        p[9].Value = active ? (object?)job.LeaseUntil ?? DBNull.Value : DBNull.Value;
        p[10].Value = active && job.TimeoutS is { } timeout && job.AssignedAt is { } assignedAt ? assignedAt + timeout : DBNull.Value;
        p[11].Value = job.Status == JobStatus.Pending ? (object?)job.AvailableAt ?? DBNull.Value : DBNull.Value;
        p[12].Value = (object?)job.IdempotencyKey ?? DBNull.Value;
        // Indexed with the pending ones, so a claim passes over the jobs still waiting for a dependency.
        p[13].Value = job.IsWaiting ? 1 : DBNull.Value;
        upsert.ExecuteNonQuery();
    }

    private static List<Job> ReadJobs(SqliteCommand command)
    {
        var jobs = new List<Job>();
        using var reader = command.ExecuteReader();
        while (reader.Read())
        {
            jobs.Add(Parse(reader));
        }
        return jobs;
    }

    private static Job Parse(SqliteDataReader reader) =>
        JsonSerializer.Deserialize(reader.GetString(0), HubJsonContext.Default.Job)! with
        {
            SessionId = reader.IsDBNull(1) ? null : reader.GetString(1),
            LeaseUntil = reader.IsDBNull(2) ? null : reader.GetDouble(2),
        };
}
