using System.Globalization;
using System.Text.Json;
using Microsoft.Extensions.Options;
using MissionHub.Events;
using MissionHub.Hub;
using MissionHub.Infrastructure;
using StackExchange.Redis;

namespace MissionHub.Storage.Redis;

/// <summary>
/// Jobs and workers in Redis, shared by every MissionHub process on it. Each step is one call of
/// <see cref="RedisJobScript"/>, which also appends the step's events to the event log's stream; after it, this process's
/// event log is told that new seqs exist so its readers fetch them at once (other processes hear of them by pub/sub).
/// </summary>
public sealed class RedisJobStore(RedisConnection connection, RedisKeys keys, RedisStepEvents steps, IOptions<HubOptions> hubOptions) : IJobStore
{
    private readonly int _maxInlineResultBytes = hubOptions.Value.MaxInlineResultBytes;

    private const int ScanPage = 200;
    private const int SweepBatch = 500;

    /// <summary>How long an idempotency key keeps pointing at its job.</summary>
    private static readonly TimeSpan IdempotencyWindow = TimeSpan.FromHours(24);

    public Task InitializeAsync(CancellationToken cancellationToken) => RunAsync("index_finished", null, [], cancellationToken);

    public async Task<SubmitResult> SubmitAsync(Job job, CancellationToken cancellationToken = default) =>
        Submitted(await RunAsync("submit", job.CreatedAt, [.. SubmitArgs(job)], cancellationToken));

    public async Task<IReadOnlyList<SubmitResult>> SubmitBatchAsync(IReadOnlyList<Job> jobs, CancellationToken cancellationToken = default)
    {
        if (jobs.Count == 0)
        {
            return [];
        }
        var args = new List<RedisValue> { jobs.Count };
        foreach (var job in jobs)
        {
            args.AddRange(SubmitArgs(job));
        }
        var result = (RedisResult[])(await RunAsync("submit_batch", jobs[0].CreatedAt, [.. args], cancellationToken))!;
        ThrowIfUnknownDependencies(result);
        return [.. result.Select(Submitted)];
    }

    public async Task<OnceBatch> SubmitBatchOnceAsync(IReadOnlyList<Job> jobs, IdempotencyClaim claim, CancellationToken cancellationToken = default)
    {
        var now = jobs[0].CreatedAt;
        var args = new List<RedisValue> { claim.Key, claim.Fingerprint, Int(Math.Max(1, (long)Math.Ceiling(claim.ExpiresAt - now))), jobs.Count };
        foreach (var job in jobs)
        {
            args.AddRange(SubmitArgs(job));
        }
        var parts = (RedisResult[])(await RunAsync("submit_batch_once", now, [.. args], cancellationToken))!;
        ThrowIfUnknownDependencies(parts);
        return parts[0].ToString() == "known"
            ? new OnceBatch([], new KnownBatch(parts[1].ToString(), Jobs(parts[3]), (int)parts[2]))
            : new OnceBatch([.. ((RedisResult[])parts[1]!).Select(Submitted)]);
    }

    /// <summary>One job's arguments of the submit step, in the order the script reads them.</summary>
    internal static RedisValue[] SubmitArgs(Job job)
    {
        var submitted = JsonSerializer.Serialize(new JobSubmittedPayload(job.Id, JobData.Of(job)), HubJsonContext.Default.JobSubmittedPayload);
        return
        [
            job.Id, job.IdempotencyKey ?? "", job.JobType, Int(job.Priority), Int(job.MaxAttempts), job.TimeoutS is { } t ? Num(t) : "",
            job.Payload.ValueKind == JsonValueKind.Undefined ? "{}" : job.Payload.GetRawText(), job.WorkflowId ?? "", submitted,
            Int((long)IdempotencyWindow.TotalSeconds), job.Traceparent ?? "",
            job.RunAt is { } runAt ? Num(runAt) : "", job.AvailableAt is { } availableAt ? Num(availableAt) : "", job.ScheduleId ?? "",
            job.DependsOn is { Count: > 0 } dependsOn ? JsonSerializer.Serialize(dependsOn, HubStoreJsonContext.Default.IReadOnlyListString) : "",
        ];
    }

    private static SubmitResult Submitted(RedisResult result)
    {
        var parts = (RedisResult[])result!;
        ThrowIfUnknownDependencies(parts);
        return new SubmitResult(ParseJob(parts[1]), parts[0].ToString() == "created");
    }

    /// <summary>The submit step refused a job (nothing written) because it depends on jobs not stored.</summary>
    internal static void ThrowIfUnknownDependencies(RedisResult[] parts)
    {
        if (parts.Length == 3 && parts[0].Resp2Type == ResultType.BulkString && parts[0].ToString() == "unknown_dependencies")
        {
            throw new UnknownDependenciesException((int)parts[1], [.. ((RedisResult[])parts[2]!).Select(id => id.ToString())]);
        }
    }

    public async Task<IReadOnlyList<ClaimedJob>> ClaimAsync(IReadOnlyList<FreeSlots> slots, double leaseUntil, CancellationToken cancellationToken = default)
    {
        var args = new List<RedisValue> { Num(leaseUntil) };
        AddSlots(args, slots);
        return Claimed(await RunAsync("claim", null, [.. args], cancellationToken), slots);
    }

    private static void AddSlots(List<RedisValue> args, IReadOnlyList<FreeSlots> slots)
    {
        args.Add(slots.Count);
        foreach (var slot in slots)
        {
            args.Add(slot.Holder.WorkerId);
            args.Add(slot.Holder.SessionId);
            args.Add(slot.JobTypes.Count);
            args.AddRange(slot.JobTypes.Select(t => (RedisValue)t));
            args.Add(slot.Count);
        }
    }

    private static List<ClaimedJob> Claimed(RedisResult result, IReadOnlyList<FreeSlots> slots)
    {
        var holders = slots.ToDictionary(s => s.Holder.SessionId, s => s.Holder, StringComparer.Ordinal);
        return [.. ((RedisResult[])result!).Select(r => (RedisResult[])r!).Select(pair => new ClaimedJob(holders[pair[0].ToString()], ParseJob(pair[1])))];
    }

    public async Task<JobStep> ProgressAsync(JobHolder holder, string jobId, double progress, CancellationToken cancellationToken = default) =>
        Step(await RunAsync("progress", null, [holder.WorkerId, holder.SessionId, jobId, Num(progress)], cancellationToken), holder);

    public async Task<JobStep> CompleteAsync(JobHolder holder, string jobId, JsonElement? result, FreeSlots? next, double leaseUntil,
        CancellationToken cancellationToken = default)
    {
        var slots = next is null ? [] : new[] { next };
        var args = new List<RedisValue>
        {
            holder.WorkerId, holder.SessionId, jobId, result is { ValueKind: not (JsonValueKind.Undefined or JsonValueKind.Null) } r ? r.GetRawText() : "",
            Num(leaseUntil), _maxInlineResultBytes,
        };
        AddSlots(args, slots);
        var reply = await RunAsync("complete", null, [.. args], cancellationToken);
        var step = Step(reply, holder);
        return step.Outcome == StepOutcome.Done
            ? step with { Claimed = Claimed(((RedisResult[])reply!)[2], slots), Released = (int)((RedisResult[])reply!)[3] }
            : step;
    }

    public async Task<JobStep> FailAsync(JobHolder holder, string jobId, string error, RetryBackoff backoff, CancellationToken cancellationToken = default)
    {
        var reply = await RunAsync("fail", null,
            [holder.WorkerId, holder.SessionId, jobId, error, JsonString(error), Num(backoff.Base.TotalSeconds), Num(backoff.Max.TotalSeconds)],
            cancellationToken);
        var step = Step(reply, holder);
        return step.Outcome == StepOutcome.Done ? step with { Cascaded = Jobs(((RedisResult[])reply!)[2]) } : step;
    }

    public async Task<JobStep> CancelAsync(string jobId, CancellationToken cancellationToken = default)
    {
        var parts = (RedisResult[])(await RunAsync("cancel", null, [jobId], cancellationToken))!;
        var step = Step(RedisResult.Create(parts), null);
        if (step.Outcome != StepOutcome.Done)
        {
            return step;
        }
        step = step with { Cascaded = Jobs(parts[4]) };
        return parts[2].ToString() is { Length: > 0 } workerId && parts[3].ToString() is { Length: > 0 } session
            ? step with { Holder = new JobHolder(workerId, session) }
            : step;
    }

    public async Task<WorkerRegistration> RegisterWorkerAsync(WorkerRecord worker, IReadOnlyCollection<string>? heldJobs, double leaseUntil,
        CancellationToken cancellationToken = default)
    {
        var held = heldJobs ?? [];
        RedisValue[] args =
        [
            worker.WorkerId, worker.SessionId, worker.NodeId,
            JsonSerializer.Serialize(worker.JobTypes, HubStoreJsonContext.Default.IReadOnlyListString),
            worker.MaxConcurrentJobs, Num(worker.ConnectedAt), HubEvents.Iso(worker.ConnectedAt), Num(leaseUntil), held.Count,
            .. held.Select(id => (RedisValue)id),
        ];
        var parts = (RedisResult[])(await RunAsync("register", worker.ConnectedAt, args, cancellationToken))!;
        var replaced = (RedisResult[])parts[0]!;
        return new WorkerRegistration(
            Jobs(parts[1]), Jobs(parts[2]), AttemptsEnded(parts[3], null),
            [.. ((RedisResult[])parts[4]!).Select(r => r.ToString())],
            replaced.Length == 2 ? new ReplacedSession(replaced[0].ToString(), replaced[1].ToString()) : null);
    }

    public async Task<IReadOnlyList<JobStep>> UnregisterWorkerAsync(JobHolder holder, string reason, bool requeueJobs, CancellationToken cancellationToken = default) =>
        AttemptsEnded(await RunAsync("unregister", null, [holder.WorkerId, holder.SessionId, reason, requeueJobs ? "1" : "0"], cancellationToken), holder);

    /// <summary>Jobs whose attempt a step ended, each as <c>{job, jobs cancelled with it}</c>.</summary>
    private static List<JobStep> AttemptsEnded(RedisResult result, JobHolder? holder) =>
        [.. ((RedisResult[])result!).Select(r => (RedisResult[])r!).Select(t => new JobStep(StepOutcome.Done, ParseJob(t[0]), holder) { Cascaded = Jobs(t[1]) })];

    public async Task RenewLeasesAsync(IReadOnlyList<JobHolder> holders, double leaseUntil, CancellationToken cancellationToken = default)
    {
        if (holders.Count == 0)
        {
            return;
        }
        await RunAsync("renew", null, [Num(leaseUntil), holders.Count, .. holders.SelectMany(h => new RedisValue[] { h.WorkerId, h.SessionId })],
            cancellationToken);
    }

    public async Task<int> PruneWorkersAsync(double offlineBefore, int max, CancellationToken cancellationToken = default) =>
        (int)(await RunAsync("prune_workers", null, [Num(offlineBefore), max], cancellationToken));

    public Task GraceLeasesAsync(double until, CancellationToken cancellationToken = default) =>
        RunAsync("grace", null, [Num(until)], cancellationToken);

    public async Task<SweepResult> SweepAsync(double now, double silentSince, RetryBackoff timeoutBackoff, CancellationToken cancellationToken = default)
    {
        var parts = (RedisResult[])(await RunAsync("sweep", now,
            [SweepBatch, Num(timeoutBackoff.Base.TotalSeconds), Num(timeoutBackoff.Max.TotalSeconds), Num(silentSince)], cancellationToken))!;
        var taken = ((RedisResult[])parts[0]!).Select(r => (RedisResult[])r!)
            .Select(t => new JobStep(StepOutcome.Done, ParseJob(t[2]), new JobHolder(t[0].ToString(), t[1].ToString())) { Cascaded = Jobs(t[3]) })
            .ToList();
        var next = parts[2].ToString();
        var silent = ((RedisResult[])parts[3]!).Select(r => (RedisResult[])r!)
            .Select(w => new SilentWorker(w[0].ToString(), w[1].ToString(), w[2].ToString()))
            .ToList();
        return new SweepResult(taken, (int)parts[1], next.Length == 0 ? null : double.Parse(next, CultureInfo.InvariantCulture)) { Silent = silent };
    }

    public async Task<Job?> GetAsync(string id, CancellationToken cancellationToken = default)
    {
        var db = await connection.GetDatabaseAsync(cancellationToken);
        var entries = await db.HashGetAllAsync(keys.Hub("job:" + id));
        return entries.Length == 0 ? null : FromFields(entries.Select(e => (e.Name.ToString(), e.Value.ToString())));
    }

    public async Task<JobListing> ListWaitingAsync(double now, string? jobType, int limit, CancellationToken cancellationToken = default)
    {
        var db = await connection.GetDatabaseAsync(cancellationToken);
        var ids = await db.SortedSetRangeByScoreAsync(keys.Hub("delayed"), now, double.PositiveInfinity, Exclude.Start,
            take: jobType is null ? limit : JobListQuery.MaxScanned);
        var batch = db.CreateBatch();
        var reads = ids.Select(id => batch.HashGetAllAsync(keys.Hub("job:" + id))).ToArray();
        batch.Execute();
        var jobs = (await Task.WhenAll(reads))
            .Where(entries => entries.Length > 0)
            .Select(entries => FromFields(entries.Select(e => (e.Name.ToString(), e.Value.ToString()))))
            .Where(job => job.Status == JobStatus.Pending && (jobType is null || job.JobType == jobType))
            .Take(limit)
            .ToList();
        return new JobListing(jobs, null, ScanCapped: jobType is not null && ids.Length == JobListQuery.MaxScanned && jobs.Count < limit);
    }

    public async Task<JobListing> ListAsync(JobListQuery query, CancellationToken cancellationToken = default)
    {
        var db = await connection.GetDatabaseAsync(cancellationToken);
        if (query.ByFinishTime)
        {
            return await ListByFinishTimeAsync(db, query);
        }
        var index = keys.Hub(query.Status is null ? "all" : "status:" + query.Status);
        var jobs = new List<Job>(query.Limit);
        var before = query.BeforeOrder ?? long.MaxValue;
        // Newest first; type and worker filters are applied while scanning the index, up to the scan cap.
        var examined = 0;
        while (jobs.Count <= query.Limit)
        {
            var take = query.JobType is null && query.WorkerId is null ? ScanPage : Math.Min(ScanPage, JobListQuery.MaxScanned - examined);
            if (take <= 0)
            {
                return new JobListing(jobs, before, ScanCapped: true);
            }
            var ids = await db.SortedSetRangeByScoreWithScoresAsync(index, double.NegativeInfinity, before, Exclude.Stop, Order.Descending, take: take);
            if (ids.Length == 0)
            {
                break;
            }
            examined += ids.Length;
            var batch = db.CreateBatch();
            var reads = ids.Select(e => batch.HashGetAllAsync(keys.Hub("job:" + e.Element))).ToArray();
            batch.Execute();
            var scanned = 0;
            foreach (var entries in await Task.WhenAll(reads))
            {
                scanned++;
                if (entries.Length == 0)
                {
                    continue;
                }
                var job = FromFields(entries.Select(e => (e.Name.ToString(), e.Value.ToString())));
                if ((query.JobType is null || job.JobType == query.JobType) && (query.WorkerId is null || job.WorkerId == query.WorkerId))
                {
                    jobs.Add(job);
                    if (jobs.Count > query.Limit)
                    {
                        break;
                    }
                }
            }
            before = (long)ids[scanned - 1].Score;
            if (ids.Length < take)
            {
                break;
            }
        }
        if (jobs.Count > query.Limit)
        {
            jobs.RemoveRange(query.Limit, jobs.Count - query.Limit);
            return new JobListing(jobs, jobs[^1].Order);
        }
        return new JobListing(jobs, null);
    }

    /// <summary>
    /// Finished jobs in a finish-time range, newest finished first, read from the <c>finished</c> sorted set (scored by
    /// finish time; ties by id descending, as Redis orders them). With a status, job type or worker filter at most
    /// <see cref="JobListQuery.MaxScanned"/> entries of the range are examined; then the page says it stopped there.
    /// </summary>
    private async Task<JobListing> ListByFinishTimeAsync(IDatabase db, JobListQuery query)
    {
        var index = keys.Hub("finished");
        var filtered = query.Status is not null || query.JobType is not null || query.WorkerId is not null;
        var found = new List<(Job Job, FinishedPosition At)>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var examined = 0;
        FinishedPosition? lastExamined = null;

        // Whether the page is full or the scan cap reached, after examining these entries.
        async Task<bool> ExamineAsync(IEnumerable<SortedSetEntry> entries)
        {
            var fresh = entries.Where(e => seen.Add(e.Element.ToString())).ToList();
            var batch = db.CreateBatch();
            var reads = fresh.Select(e => batch.HashGetAllAsync(keys.Hub("job:" + e.Element))).ToArray();
            batch.Execute();
            var hashes = await Task.WhenAll(reads);
            for (var i = 0; i < fresh.Count; i++)
            {
                examined++;
                lastExamined = new FinishedPosition(fresh[i].Score, fresh[i].Element.ToString());
                if (hashes[i].Length > 0 && FromFields(hashes[i].Select(e => (e.Name.ToString(), e.Value.ToString()))) is var job
                    && JobStatus.IsFinal(job.Status) && (query.Status is null || job.Status == query.Status)
                    && (query.JobType is null || job.JobType == query.JobType) && (query.WorkerId is null || job.WorkerId == query.WorkerId))
                {
                    found.Add((job, lastExamined));
                }
                if (found.Count > query.Limit || (filtered && examined >= JobListQuery.MaxScanned))
                {
                    return true;
                }
            }
            return false;
        }

        var since = query.FinishedSince ?? double.NegativeInfinity;
        var done = false;
        if (query.BeforeFinished is { } after)
        {
            // The rest of the jobs that finished at the very time the last page ended (one step finishes many at once).
            var ties = await db.SortedSetRangeByScoreWithScoresAsync(index, after.FinishedAt, after.FinishedAt, Exclude.None, Order.Descending);
            done = after.FinishedAt >= since && await ExamineAsync(ties.Where(e => after.IsAheadOf(e.Score, e.Element.ToString())));
        }
        // Offsets from one fixed bound: a job that finishes meanwhile shifts them by one, and `seen` drops the repeat.
        var high = query.BeforeFinished?.FinishedAt ?? query.FinishedUntil ?? double.PositiveInfinity;
        for (long skip = 0; !done;)
        {
            var entries = await db.SortedSetRangeByScoreWithScoresAsync(index, since, high, Exclude.Stop, Order.Descending, skip, ScanPage);
            skip += entries.Length;
            done = await ExamineAsync(entries) || entries.Length < ScanPage;
        }
        if (found.Count > query.Limit)
        {
            return new JobListing([.. found.Take(query.Limit).Select(f => f.Job)], null) { NextBeforeFinished = found[query.Limit - 1].At };
        }
        return filtered && examined >= JobListQuery.MaxScanned
            ? new JobListing([.. found.Select(f => f.Job)], null, ScanCapped: true) { NextBeforeFinished = lastExamined }
            : new JobListing([.. found.Select(f => f.Job)], null);
    }

    public async Task<JobCounts> CountAsync(CancellationToken cancellationToken = default)
    {
        var db = await connection.GetDatabaseAsync(cancellationToken);
        var counts = await Task.WhenAll(JobStatus.All.Select(s => db.SortedSetLengthAsync(keys.Hub("status:" + s))));
        return new JobCounts(counts[0], counts[1], counts[2], counts[3], counts[4], counts[5]);
    }

    public async Task<IReadOnlyDictionary<string, JobCounts>> CountByTypeAsync(CancellationToken cancellationToken = default)
    {
        var types = (RedisResult[])(await RunAsync("count_by_type", null, [], cancellationToken))!;
        var counts = new SortedDictionary<string, JobCounts>(StringComparer.Ordinal);
        foreach (var entry in types.Select(t => (RedisResult[])t!))
        {
            var byStatus = Pairs((RedisResult[])entry[1]!).ToDictionary(p => p.Name, p => long.Parse(p.Value, CultureInfo.InvariantCulture), StringComparer.Ordinal);
            counts[entry[0].ToString()] = JobCounts.From(byStatus);
        }
        return counts;
    }

    public async Task<IReadOnlyList<Job>> RetryAsync(IReadOnlyList<string> jobIds, CancellationToken cancellationToken = default) =>
        jobIds.Count == 0 ? [] : Jobs(await RunAsync("retry", null, [jobIds.Count, .. jobIds.Select(id => (RedisValue)id)], cancellationToken));

    public async Task<IReadOnlyList<Job>> PurgeAsync(IReadOnlyList<string> jobIds, string reason, CancellationToken cancellationToken = default) =>
        jobIds.Count == 0 ? [] : Jobs(await RunAsync("purge", null, [jobIds.Count, .. jobIds.Select(id => (RedisValue)id), reason], cancellationToken));

    public async Task<IReadOnlyList<string>> FinishedDueAsync(double finishedBefore, long keepAtMost, int max, CancellationToken cancellationToken = default) =>
        [.. ((RedisResult[])(await RunAsync("finished_due", null, [Num(finishedBefore), keepAtMost, max], cancellationToken))!).Select(id => id.ToString())];

    public async Task<bool> SetQueuePausedAsync(string jobType, bool paused, double now, CancellationToken cancellationToken = default)
    {
        var payload = paused
            ? JsonSerializer.Serialize(new QueuePausedPayload(jobType, now), HubJsonContext.Default.QueuePausedPayload)
            : JsonSerializer.Serialize(new QueueResumedPayload(jobType, now), HubJsonContext.Default.QueueResumedPayload);
        return (long)(await RunAsync(paused ? "pause_queue" : "resume_queue", now, [jobType, payload], cancellationToken))! == 1;
    }

    public async Task<QueueActivity> QueueActivityAsync(double now, double since, CancellationToken cancellationToken = default)
    {
        var parts = (RedisResult[])(await RunAsync("queue_activity", null, [Num(now), Num(since), QueueActivity.MaxScanned], cancellationToken))!;
        var byType = new Dictionary<string, (long Delayed, long Completed, long Failed)>(StringComparer.Ordinal);
        var capped = false;
        foreach (var part in parts.Select(p => (RedisResult[])p!))
        {
            capped |= (long)part[0] >= QueueActivity.MaxScanned;
            foreach (var (type, status) in Pairs((RedisResult[])part[1]!))
            {
                QueueActivity.Count(byType, type, status);
            }
        }
        return new QueueActivity(byType, capped);
    }

    public async Task<IReadOnlyDictionary<string, double>> ListPausedQueuesAsync(CancellationToken cancellationToken = default) =>
        new SortedDictionary<string, double>(
            Pairs((RedisResult[])(await RunAsync("paused_queues", null, [], cancellationToken))!)
                .ToDictionary(p => p.Name, p => double.Parse(p.Value, CultureInfo.InvariantCulture), StringComparer.Ordinal),
            StringComparer.Ordinal);

    public async Task<IReadOnlyList<WorkerInfo>> ListWorkersAsync(CancellationToken cancellationToken = default) =>
        Workers(await RunAsync("workers", null, [], cancellationToken));

    private static List<WorkerInfo> Workers(RedisResult result) =>
        [.. ((RedisResult[])result!).Select(w => (RedisResult[])w!)
            .Select(w => ParseWorker(Pairs((RedisResult[])w[0]!), [.. ((RedisResult[])w[1]!).Select(j => j.ToString())]))
            .OrderBy(w => w.Id, StringComparer.Ordinal)];

    public async Task<HubSnapshot> SnapshotAsync(int recentFinished, CancellationToken cancellationToken = default)
    {
        var parts = (RedisResult[])(await RunAsync("snapshot", null, [recentFinished, _maxInlineResultBytes], cancellationToken))!;
        var counts = ((RedisResult[])parts[6]!).Select(c => (long)c).ToArray();
        var workers = Workers(parts[5]);
        var (completed, failed) = (Jobs(parts[3]), Jobs(parts[4]));
        // The script marks the finished jobs it read without their result (too large to hold, JobResults).
        var omitted = ((RedisResult[])parts[3]!).Concat((RedisResult[])parts[4]!)
            .Select(flat => Pairs((RedisResult[])flat!).ToList())
            .Where(fields => fields.Any(f => f.Name == "result_omitted"))
            .Select(fields => fields.First(f => f.Name == "id").Value)
            .ToHashSet(StringComparer.Ordinal);
        return new HubSnapshot(
            long.Parse(parts[1].ToString(), CultureInfo.InvariantCulture), parts[0].ToString(),
            [.. Jobs(parts[2]).OrderBy(j => j.Order)], completed, failed, workers,
            new JobCounts(counts[0], counts[1], counts[2], counts[3], counts[4], counts[5])) { ResultsOmitted = omitted };
    }

    // ---- the script call ----

    private Task<RedisResult> RunAsync(string step, double? at, RedisValue[] stepArgs, CancellationToken cancellationToken) =>
        steps.RunAsync(RedisJobScript.Script, keys.Hub("").ToString(), step, at, stepArgs, cancellationToken);

    private static JobStep Step(RedisResult result, JobHolder? holder)
    {
        var parts = (RedisResult[])result!;
        return parts[0].ToString() switch
        {
            "done" => new JobStep(StepOutcome.Done, ParseJob(parts[1]), holder),
            "finished" => new JobStep(StepOutcome.AlreadyFinished, parts.Length > 1 ? ParseJob(parts[1]) : null),
            "not_held" => new JobStep(StepOutcome.NotHeld, null),
            _ => JobStep.NotFound,
        };
    }

    private static List<Job> Jobs(RedisResult result) => [.. ((RedisResult[])result!).Select(ParseJob)];

    internal static Job ParseJob(RedisResult flat) => FromFields(Pairs((RedisResult[])flat!));

    private static IEnumerable<(string Name, string Value)> Pairs(RedisResult[] flat)
    {
        for (var i = 0; i + 1 < flat.Length; i += 2)
        {
            yield return (flat[i].ToString(), flat[i + 1].ToString());
        }
    }

    private static Job FromFields(IEnumerable<(string Name, string Value)> pairs)
    {
        var f = pairs.ToDictionary(p => p.Name, p => p.Value, StringComparer.Ordinal);
        string? Text(string name) => f.TryGetValue(name, out var v) && v.Length > 0 ? v : null;
        double? Number(string name) => Text(name) is { } v ? double.Parse(v, CultureInfo.InvariantCulture) : null;
        JsonElement? Json(string name) => Text(name) is { } v ? JsonDocument.Parse(v).RootElement.Clone() : null;
        IReadOnlyList<string>? List(string name) =>
            Text(name) is { } v ? JsonSerializer.Deserialize(v, HubStoreJsonContext.Default.IReadOnlyListString) : null;
        return new Job
        {
            Id = f["id"],
            JobType = f["job_type"],
            Priority = int.Parse(f["priority"], CultureInfo.InvariantCulture),
            Payload = Json("payload") ?? default,
            WorkflowId = Text("workflow_id"),
            MaxAttempts = int.Parse(f["max_attempts"], CultureInfo.InvariantCulture),
            TimeoutS = Number("timeout_s"),
            Status = f["status"],
            Attempts = int.Parse(f["attempts"], CultureInfo.InvariantCulture),
            WorkerId = Text("worker_id"),
            SessionId = Text("session_id"),
            Progress = Number("progress") ?? 0,
            Result = Json("result"),
            Error = Text("error"),
            CreatedAt = Number("created_at") ?? 0,
            UpdatedAt = Number("updated_at") ?? 0,
            AssignedAt = Number("assigned_at"),
            StartedAt = Number("started_at"),
            CompletedAt = Number("completed_at"),
            AvailableAt = Number("available_at"),
            RunAt = Number("run_at"),
            ScheduleId = Text("schedule_id"),
            Order = long.Parse(f["order"], CultureInfo.InvariantCulture),
            IdempotencyKey = Text("idempotency_key"),
            LeaseUntil = Number("lease_until"),
            Traceparent = Text("traceparent"),
            Retries = Text("retries") is { } retries ? int.Parse(retries, CultureInfo.InvariantCulture) : 0,
            PriorAttempts = Text("prior_attempts") is { } prior ? int.Parse(prior, CultureInfo.InvariantCulture) : 0,
            DependsOn = List("depends_on"),
            WaitingFor = List("waiting_for"),
            CancelReason = Text("cancel_reason"),
        };
    }

    private static WorkerInfo ParseWorker(IEnumerable<(string Name, string Value)> pairs, IReadOnlyList<string> jobs)
    {
        var f = pairs.ToDictionary(p => p.Name, p => p.Value, StringComparer.Ordinal);
        var status = f.GetValueOrDefault("status", WorkerStatus.Offline);
        return new StoredWorker(
            f.GetValueOrDefault("id", ""), f.GetValueOrDefault("session_id", ""), f.GetValueOrDefault("node_id", ""), status,
            JsonSerializer.Deserialize(f.GetValueOrDefault("job_types", "[]"), HubStoreJsonContext.Default.IReadOnlyListString) ?? [],
            int.Parse(f.GetValueOrDefault("slots", "1"), CultureInfo.InvariantCulture),
            double.Parse(f.GetValueOrDefault("connected_at", "0"), CultureInfo.InvariantCulture),
            double.Parse(f.GetValueOrDefault("last_seen", "0"), CultureInfo.InvariantCulture),
            f.GetValueOrDefault("reason") is { Length: > 0 } reason ? reason : null)
            .ToInfo(status == WorkerStatus.Offline ? [] : jobs);
    }

    private static string JsonString(string text) => JsonSerializer.Serialize(text, HubStoreJsonContext.Default.String);

    internal static string Num(double value) => value.ToString("R", CultureInfo.InvariantCulture);

    private static string Int(long value) => value.ToString(CultureInfo.InvariantCulture);
}
