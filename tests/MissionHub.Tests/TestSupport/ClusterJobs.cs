using System.Collections.Concurrent;
using System.Globalization;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;

namespace MissionHub.Tests.TestSupport;

/// <summary>
/// Submits jobs round-robin to the live processes of a <see cref="ServerCluster"/>. Each job has its own
/// <c>idempotency_key</c>, so a submit whose process died before answering is retried on another process and
/// yields the original job (DESIGN §8) — the id set it records is then exactly the set of jobs the hub holds.
/// </summary>
public sealed class ClusterSubmitter(ServerCluster cluster, string jobType, int maxAttempts = 10)
{
    private readonly string _run = Guid.NewGuid().ToString("N")[..12];
    private long _retried;
    private long _replayed;

    /// <summary>Job id by submit number.</summary>
    public ConcurrentDictionary<int, string> Ids { get; } = new();

    /// <summary>Submits that had to be sent again (the process refused the connection or died mid-request).</summary>
    public long Retried => Interlocked.Read(ref _retried);

    /// <summary>Answers 200 (the original job for a key already used).</summary>
    public long Replayed => Interlocked.Read(ref _replayed);

    public string JobType => jobType;

    /// <summary>Submits jobs <paramref name="from"/> … <paramref name="from"/>+<paramref name="count"/>-1 with <paramref name="concurrency"/> requests in flight.</summary>
    public async Task SubmitAsync(int from, int count, int concurrency)
    {
        var next = from - 1;
        var last = from + count - 1;
        await Task.WhenAll(Enumerable.Range(0, concurrency).Select(async _ =>
        {
            int n;
            while ((n = Interlocked.Increment(ref next)) <= last)
            {
                Ids[n] = await SubmitOneAsync(n);
            }
        }));
    }

    private async Task<string> SubmitOneAsync(int n)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(90);
        var body = JsonSerializer.Serialize(new
        {
            job_type = jobType,
            payload = new { n },
            max_attempts = maxAttempts,
            idempotency_key = string.Create(CultureInfo.InvariantCulture, $"{_run}-{n}"),
        });
        for (var attempt = 0; ; attempt++)
        {
            var live = cluster.LiveIndexes;
            string problem;
            if (live.Count > 0)
            {
                try
                {
                    using var content = new StringContent(body, Encoding.UTF8, "application/json");
                    using var response = await cluster.Client(live[(n + attempt) % live.Count]).PostAsync(new Uri("/api/jobs", UriKind.Relative), content);
                    if ((int)response.StatusCode is 200 or 201)
                    {
                        if ((int)response.StatusCode == 200)
                        {
                            Interlocked.Increment(ref _replayed);
                        }
                        var job = await response.Content.ReadFromJsonAsync<JsonElement>();
                        return job.GetProperty("id").GetString()!;
                    }
                    problem = $"{(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}";
                    if ((int)response.StatusCode < 500)
                    {
                        Assert.Fail($"POST /api/jobs answered {problem}");
                    }
                }
                catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException or IOException or InvalidOperationException)
                {
                    problem = ex.Message;
                }
            }
            else
            {
                problem = "no process running";
            }
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"submit {n} could not be placed within 90 s: {problem}");
            }
            Interlocked.Increment(ref _retried);
            await Task.Delay(50); // a retry pause, not a wait for a condition
        }
    }
}

/// <summary>What the event log says about a set of jobs, read through <c>GET /api/events</c> of any process.</summary>
public static class ClusterEvents
{
    /// <summary>Waits until every job in <paramref name="jobIds"/> has a <c>job_completed</c> event, tailing the log.</summary>
    public static async Task WaitForCompletionsAsync(ServerCluster cluster, IReadOnlyCollection<string> jobIds, TimeSpan timeout)
    {
        var wanted = jobIds.ToHashSet(StringComparer.Ordinal);
        var seen = new HashSet<string>(StringComparer.Ordinal);
        long cursor = 0;
        var deadline = DateTime.UtcNow + timeout;
        var index = 0;
        while (true)
        {
            try
            {
                var client = cluster.LiveClient(index);
                while (true)
                {
                    var page = await client.GetJsonAsync(string.Create(CultureInfo.InvariantCulture, $"/api/events?after_seq={cursor}&type=job_completed&limit=1000"));
                    Assert.True(page.GetProperty("recovered").GetBoolean(), $"the event log lost events after seq {cursor}: {page}");
                    foreach (var evt in page.GetProperty("events").EnumerateArray())
                    {
                        if (evt.PayloadString("job_id") is { } id && wanted.Contains(id))
                        {
                            seen.Add(id);
                        }
                    }
                    var next = page.GetProperty("next_after_seq").GetInt64();
                    var more = next > cursor && next < page.GetProperty("last_seq").GetInt64();
                    cursor = Math.Max(cursor, next);
                    if (!more)
                    {
                        break;
                    }
                }
            }
            catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException or InvalidOperationException)
            {
                index++; // that process is gone: read from another
            }
            if (seen.Count == wanted.Count)
            {
                return;
            }
            if (DateTime.UtcNow > deadline)
            {
                var missing = wanted.Except(seen).ToList();
                var samples = new StringBuilder();
                foreach (var id in missing.Take(5))
                {
                    try
                    {
                        samples.Append(await cluster.LiveClient(0).GetStringAsync(new Uri($"/api/jobs/{id}", UriKind.Relative))).Append('\n');
                    }
                    catch (HttpRequestException ex)
                    {
                        samples.Append(id).Append(": ").Append(ex.Message).Append('\n');
                    }
                }
                throw new TimeoutException(
                    $"after {timeout.TotalSeconds:0} s, {missing.Count} of {wanted.Count} jobs have no job_completed event; for example:\n{samples}{cluster.Diagnostics()}");
            }
            await Task.Delay(100); // poll interval of the tail
        }
    }

    /// <summary>Per job: the attempts of its <c>job_assigned</c> events in seq order, and its counts of the other job events.</summary>
    public static async Task<JobHistory> ReadHistoryAsync(HttpClient client)
    {
        var events = await client.ReadEventsAsync("job_submitted,job_assigned,job_completed,job_failed");
        var history = new JobHistory();
        foreach (var evt in events.OrderBy(e => e.GetProperty("seq").GetInt64()))
        {
            var id = evt.PayloadString("job_id");
            if (id is null)
            {
                continue;
            }
            switch (evt.GetProperty("type").GetString())
            {
                case "job_submitted":
                    history.Submitted[id] = history.Submitted.GetValueOrDefault(id) + 1;
                    break;
                case "job_assigned":
                    var attempt = evt.GetProperty("payload").TryGetProperty("attempt", out var a) && a.ValueKind == JsonValueKind.Number ? a.GetInt32() : -1;
                    if (!history.Attempts.TryGetValue(id, out var attempts))
                    {
                        history.Attempts[id] = attempts = [];
                    }
                    attempts.Add(attempt);
                    break;
                case "job_completed":
                    history.Completed[id] = history.Completed.GetValueOrDefault(id) + 1;
                    break;
                case "job_failed":
                    history.Failed[id] = history.Failed.GetValueOrDefault(id) + 1;
                    break;
            }
        }
        return history;
    }
}

public sealed class JobHistory
{
    public Dictionary<string, int> Submitted { get; } = new(StringComparer.Ordinal);

    public Dictionary<string, List<int>> Attempts { get; } = new(StringComparer.Ordinal);

    public Dictionary<string, int> Completed { get; } = new(StringComparer.Ordinal);

    public Dictionary<string, int> Failed { get; } = new(StringComparer.Ordinal);

    /// <summary>
    /// The contract for a finished load: each job submitted once, completed exactly once, never failed, and its
    /// <c>job_assigned</c> attempts are 1, 2, 3 … (every requeue counted, none repeated); no event of a job not in the set.
    /// </summary>
    public void AssertExactlyOnce(IReadOnlyCollection<string> jobIds)
    {
        var ids = jobIds.ToHashSet(StringComparer.Ordinal);
        Assert.Equal(jobIds.Count, ids.Count);
        var lost = ids.Where(id => Completed.GetValueOrDefault(id) == 0).ToList();
        var doubled = Completed.Where(c => c.Value > 1).Select(c => $"{c.Key} x{c.Value}").ToList();
        var unknown = Completed.Keys.Concat(Submitted.Keys).Where(id => !ids.Contains(id)).Distinct().ToList();
        var submittedTwice = Submitted.Where(s => s.Value > 1).Select(s => s.Key).ToList();
        var failed = Failed.Keys.Where(ids.Contains).ToList();
        var badAttempts = Attempts.Where(a => ids.Contains(a.Key) && !a.Value.SequenceEqual(Enumerable.Range(1, a.Value.Count)))
            .Select(a => $"{a.Key}: [{string.Join(',', a.Value)}]").ToList();
        var report = new StringBuilder();
        void Add(string what, List<string> items)
        {
            if (items.Count > 0)
            {
                report.Append(CultureInfo.InvariantCulture, $"{items.Count} {what}, e.g. {string.Join("; ", items.Take(5))}\n");
            }
        }
        Add("jobs lost (never completed)", lost);
        Add("jobs completed more than once", doubled);
        Add("events of jobs nobody submitted (a retried submit made a second job?)", unknown);
        Add("jobs with two job_submitted events", submittedTwice);
        Add("jobs failed", failed);
        Add("jobs whose job_assigned attempts are not 1,2,3…", badAttempts);
        Assert.True(report.Length == 0, report.ToString());
    }

    /// <summary>Jobs that were assigned more than once (requeued after a crash or an expired lease).</summary>
    public int Requeued => Attempts.Count(a => a.Value.Count > 1);
}
