using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Json;
using System.Text;

namespace MissionHub.Tests.Faults;

/// <summary>
/// Writes that keep coming while a fault is injected: each loop creates a mission, takes it through RUNNING to
/// COMPLETED or FAILED, and submits a job for the workers. What was acknowledged (2xx) is written down; a write
/// whose answer never came (connection lost, timeout, 5xx) is in doubt: it may or may not have happened.
/// </summary>
public sealed class FaultLoad : IAsyncDisposable
{
    public const string JobType = "faults";

    private static readonly string[] Finals = ["COMPLETED", "FAILED"];

    private readonly Func<HttpClient> _client;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task[] _loops;
    private readonly string _run = Guid.NewGuid().ToString("N")[..8];
    private TaskCompletionSource _resume = Open();
    private long _acknowledged;
    private long _refused;
    private long _inDoubt;
    private long _attempts;

    /// <summary>Starts <paramref name="loops"/> writers against whatever <paramref name="client"/> answers (it throws while the server is down).</summary>
    public FaultLoad(Func<HttpClient> client, int loops = 4)
    {
        _client = client;
        _loops = Enumerable.Range(0, loops).Select(i => Task.Run(() => RunAsync(i))).ToArray();
    }

    /// <summary>Mission id → the last status a 2xx acknowledged, and the status of a later attempt in doubt (if any).</summary>
    public ConcurrentDictionary<string, (string Acked, string? InDoubt)> Missions { get; } = new(StringComparer.Ordinal);

    /// <summary>Job ids whose submit was acknowledged.</summary>
    public ConcurrentDictionary<string, byte> Jobs { get; } = new(StringComparer.Ordinal);

    public long Acknowledged => Interlocked.Read(ref _acknowledged);

    /// <summary>Writes answered 503 (refused, by the storage gate or a storage fault).</summary>
    public long Refused => Interlocked.Read(ref _refused);

    public long InDoubt => Interlocked.Read(ref _inDoubt);

    public long Attempts => Interlocked.Read(ref _attempts);

    /// <summary>Stops the writers after the write each is making (for a quiet moment to check), until <see cref="Resume"/>.</summary>
    public void Pause()
    {
        if (_resume.Task.IsCompleted)
        {
            _resume = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        }
    }

    public void Resume() => _resume.TrySetResult();

    /// <summary>Waits until every loop is between writes after <see cref="Pause"/>.</summary>
    public Task WaitUntilPausedAsync(TimeSpan timeout) =>
        Eventually.TrueAsync(() => Volatile.Read(ref _busy) == 0, timeout, "the load to pause");

    private int _busy;

    private static TaskCompletionSource Open()
    {
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        gate.SetResult();
        return gate;
    }

    /// <summary>Every acknowledged write missing or contradicted in <paramref name="rest"/>; empty when nothing acknowledged was lost.</summary>
    public IReadOnlyList<string> FindLost(RestView rest)
    {
        var lost = new List<string>();
        foreach (var (id, (acked, inDoubt)) in Missions)
        {
            if (!rest.Missions.TryGetValue(id, out var status))
            {
                lost.Add($"mission {id} (acknowledged {acked}) is missing");
            }
            else if (status != acked && status != inDoubt)
            {
                lost.Add($"mission {id} is {status}, but {acked} was acknowledged{(inDoubt is null ? "" : $" ({inDoubt} in doubt)")}");
            }
        }
        lost.AddRange(Jobs.Keys.Where(id => !rest.Jobs.ContainsKey(id)).Select(id => $"job {id} (acknowledged) is missing"));
        return lost;
    }

    public override string ToString() =>
        $"{Attempts} writes attempted: {Acknowledged} acknowledged, {Refused} refused with 503, {InDoubt} in doubt; {Missions.Count} missions, {Jobs.Count} jobs acknowledged";

    private async Task RunAsync(int loop)
    {
        var n = 0;
        while (!_stop.IsCancellationRequested)
        {
            await _resume.Task.WaitAsync(_stop.Token).ConfigureAwait(false);
            Interlocked.Increment(ref _busy);
            try
            {
                var id = $"f{_run}-{loop}-{n++}";
                if ((await WriteAsync(HttpMethod.Post, "/api/missions", $$"""{"id":"{{id}}","name":"fault load {{id}}"}""")).Outcome != Outcome.Acked)
                {
                    continue; // created or not, it is not in the ledger: only acknowledged writes must survive
                }
                Missions[id] = ("PENDING", null);
                await ChangeAsync(id, "PENDING", "RUNNING");
                if (await WriteAsync(HttpMethod.Post, "/api/jobs", $$"""{"job_type":"{{JobType}}","idempotency_key":"{{id}}"}""") is var (outcome, jobId)
                    && outcome == Outcome.Acked && jobId is not null)
                {
                    Jobs[jobId] = 0;
                }
                if (Missions[id].Acked == "RUNNING")
                {
                    await ChangeAsync(id, "RUNNING", Finals[n % 2]);
                }
            }
            catch (OperationCanceledException) when (_stop.IsCancellationRequested)
            {
                return;
            }
            finally
            {
                Interlocked.Decrement(ref _busy);
            }
        }
    }

    private async Task ChangeAsync(string id, string from, string to)
    {
        var (outcome, _) = await WriteAsync(HttpMethod.Post, $"/api/missions/{id}/status", $$"""{"status":"{{to}}"}""");
        if (outcome == Outcome.Acked)
        {
            Missions[id] = (to, null);
        }
        else if (outcome == Outcome.InDoubt)
        {
            Missions[id] = (from, to);
        }
    }

    private enum Outcome
    {
        Acked,
        Refused,
        InDoubt,
    }

    private async Task<(Outcome Outcome, string? Id)> WriteAsync(HttpMethod method, string path, string body)
    {
        HttpClient client;
        try
        {
            client = _client();
        }
        catch (InvalidOperationException)
        {
            await PaceAsync();
            return (Outcome.Refused, null); // no server to send to: nothing was attempted
        }
        Interlocked.Increment(ref _attempts);
        try
        {
            using var request = new HttpRequestMessage(method, new Uri(path, UriKind.Relative)) { Content = new StringContent(body, Encoding.UTF8, "application/json") };
            using var response = await client.SendAsync(request, _stop.Token);
            if (response.IsSuccessStatusCode)
            {
                Interlocked.Increment(ref _acknowledged);
                var answer = await response.Content.ReadFromJsonAsync<System.Text.Json.JsonElement>(_stop.Token);
                return (Outcome.Acked, answer.TryGetProperty("id", out var id) ? id.GetString() : null);
            }
            if (response.StatusCode == HttpStatusCode.ServiceUnavailable)
            {
                Interlocked.Increment(ref _refused);
                await PaceAsync();
                // A 503 from a storage fault: the write failed, but a timeout may have failed after Redis ran it.
                return (Outcome.InDoubt, null);
            }
            if ((int)response.StatusCode >= 500)
            {
                throw new InvalidOperationException($"{method} {path} answered {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
            }
            return (Outcome.Refused, null);
        }
        // ObjectDisposedException: the server was killed and its client disposed while this write was on its way.
        catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException or IOException or ObjectDisposedException
            && !_stop.IsCancellationRequested)
        {
            Interlocked.Increment(ref _inDoubt);
            await PaceAsync();
            return (Outcome.InDoubt, null);
        }
    }

    // A refused or lost write is retried after a pause, not at once: a server that is down answers in microseconds.
    private async Task PaceAsync()
    {
        try
        {
            await Task.Delay(50, _stop.Token);
        }
        catch (OperationCanceledException)
        {
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _resume.TrySetResult();
        try
        {
            await Task.WhenAll(_loops);
        }
        catch (OperationCanceledException)
        {
        }
        _stop.Dispose();
    }
}
