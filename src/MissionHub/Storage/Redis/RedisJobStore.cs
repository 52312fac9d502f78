using System.Text.Json;
using MissionHub.Hub;
using MissionHub.Infrastructure;
using StackExchange.Redis;

namespace MissionHub.Storage.Redis;

/// <summary>
/// Jobs in Redis: <c>job:{id}</c> holds the JSON snapshot; <c>jobs:all</c> and <c>jobs:status:{status}</c>
/// are sorted sets by submission order. A batch of saves goes out as one MULTI/EXEC transaction.
/// </summary>
public sealed class RedisJobStore(RedisConnection connection, RedisKeys keys) : IJobStore, IAsyncDisposable
{
    private const int ScanPage = 200;
    private BatchWriter<(Job Job, string? Previous)>? _writer;

    public Task InitializeAsync(CancellationToken cancellationToken)
    {
        _writer ??= new BatchWriter<(Job, string?)>(CommitAsync);
        return Task.CompletedTask;
    }

    public Task SaveAsync(Job job, string? previousStatus, CancellationToken cancellationToken = default) =>
        (_writer ?? throw new InvalidOperationException("the job store is not initialized")).WriteAsync((job, previousStatus), cancellationToken);

    private async Task CommitAsync(IReadOnlyList<(Job Job, string? Previous)> saves, CancellationToken cancellationToken)
    {
        var db = await connection.GetDatabaseAsync(cancellationToken);
        var transaction = db.CreateTransaction();
        var writes = new List<Task>(saves.Count * 4);
        foreach (var (job, previous) in saves)
        {
            writes.Add(transaction.StringSetAsync(JobKey(job.Id), JsonSerializer.SerializeToUtf8Bytes(job, HubJsonContext.Default.Job)));
            writes.Add(transaction.SortedSetAddAsync(keys.Key("jobs:all"), job.Id, job.Order));
            if (previous is not null && previous != job.Status)
            {
                writes.Add(transaction.SortedSetRemoveAsync(StatusKey(previous), job.Id));
            }
            writes.Add(transaction.SortedSetAddAsync(StatusKey(job.Status), job.Id, job.Order));
        }
        if (!await transaction.ExecuteAsync())
        {
            throw new InvalidOperationException("Redis refused the job transaction");
        }
        await Task.WhenAll(writes);
    }

    public async Task<Job?> GetAsync(string id, CancellationToken cancellationToken = default)
    {
        var db = await connection.GetDatabaseAsync(cancellationToken);
        var value = await db.StringGetAsync(JobKey(id));
        return value.IsNull ? null : Parse(value);
    }

    public async Task<JobListing> ListAsync(JobListQuery query, CancellationToken cancellationToken = default)
    {
        var db = await connection.GetDatabaseAsync(cancellationToken);
        var index = query.Status is null ? keys.Key("jobs:all") : StatusKey(query.Status);
        var jobs = new List<Job>(query.Limit);
        var before = query.BeforeOrder ?? long.MaxValue;
        // Newest first; type and worker filters are applied while scanning the index.
        while (jobs.Count <= query.Limit)
        {
            var ids = await db.SortedSetRangeByScoreWithScoresAsync(index, double.NegativeInfinity, before,
                Exclude.Stop, Order.Descending, take: ScanPage);
            if (ids.Length == 0)
            {
                break;
            }
            var values = await db.StringGetAsync(ids.Select(e => (RedisKey)JobKey(e.Element!)).ToArray());
            foreach (var value in values)
            {
                if (value.IsNull)
                {
                    continue;
                }
                var job = Parse(value);
                if ((query.JobType is null || job.JobType == query.JobType) && (query.WorkerId is null || job.WorkerId == query.WorkerId))
                {
                    jobs.Add(job);
                    if (jobs.Count > query.Limit)
                    {
                        break;
                    }
                }
            }
            before = (long)ids[^1].Score;
            if (ids.Length < ScanPage)
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

    public async Task<IReadOnlyList<Job>> LoadUnfinishedAsync(CancellationToken cancellationToken = default)
    {
        var db = await connection.GetDatabaseAsync(cancellationToken);
        var jobs = new List<Job>();
        foreach (var status in new[] { JobStatus.Pending, JobStatus.Assigned, JobStatus.Running })
        {
            var ids = await db.SortedSetRangeByRankAsync(StatusKey(status));
            if (ids.Length == 0)
            {
                continue;
            }
            var values = await db.StringGetAsync(ids.Select(id => (RedisKey)JobKey(id!)).ToArray());
            jobs.AddRange(values.Where(v => !v.IsNull).Select(Parse).Where(j => j.Status == status));
        }
        return [.. jobs.OrderBy(j => j.Order)];
    }

    public async Task<JobCounts> CountAsync(CancellationToken cancellationToken = default)
    {
        var db = await connection.GetDatabaseAsync(cancellationToken);
        var counts = await Task.WhenAll(JobStatus.All.Select(s => db.SortedSetLengthAsync(StatusKey(s))));
        return new JobCounts(counts[0], counts[1], counts[2], counts[3], counts[4], counts[5]);
    }

    public async Task<IReadOnlyList<Job>> RecentAsync(string status, int count, CancellationToken cancellationToken = default) =>
        (await ListAsync(new JobListQuery(status, null, null, count, null), cancellationToken)).Jobs;

    public async Task<long> MaxOrderAsync(CancellationToken cancellationToken = default)
    {
        var db = await connection.GetDatabaseAsync(cancellationToken);
        var top = await db.SortedSetRangeByRankWithScoresAsync(keys.Key("jobs:all"), 0, 0, Order.Descending);
        return top.Length == 0 ? 0 : (long)top[0].Score;
    }

    public async ValueTask DisposeAsync()
    {
        if (_writer is not null)
        {
            await _writer.DisposeAsync();
        }
    }

    private RedisKey JobKey(string id) => keys.Key("job:" + id);

    private RedisKey StatusKey(string status) => keys.Key("jobs:status:" + status);

    private static Job Parse(RedisValue value) => JsonSerializer.Deserialize((byte[])value!, HubJsonContext.Default.Job)!;
}
