using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;

namespace MissionHub.Tests.Hub;

/// <summary>
/// A fresh server per test on the backend a concrete subclass picks, with short retry delays, and the
/// REST helpers the hub tests share.
/// </summary>
public abstract class HubTestBase : IAsyncLifetime
{
    protected TempFolder Folder { get; } = new();

    protected MissionHubFactory Factory { get; set; } = null!;

    protected HttpClient Client { get; set; } = null!;

    protected abstract MissionHubFactory CreateFactory(IDictionary<string, string?> settings);

    protected virtual Dictionary<string, string?> Settings => new()
    {
        ["MissionHub:Hub:RetryBaseDelay"] = "00:00:00.050",
        ["MissionHub:Hub:RetryMaxDelay"] = "00:00:00.200",
        ["MissionHub:Hub:RestartGracePeriod"] = "00:00:01",
    };

    public Task InitializeAsync()
    {
        Factory = CreateFactory(Settings);
        Client = Factory.CreateClient();
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        Client.Dispose();
        await Factory.DisposeAsync();
        Folder.Dispose();
    }

    protected async Task<string> SubmitAsync(
        string jobType, int priority = 0, int? maxAttempts = null, double? timeout = null, string? workflowId = null, object? payload = null)
    {
        using var response = await Client.PostAsJsonAsync("/api/jobs", new Dictionary<string, object?>
        {
            ["job_type"] = jobType,
            ["priority"] = priority,
            ["payload"] = payload ?? new { },
            ["max_attempts"] = maxAttempts,
            ["timeout_s"] = timeout,
            ["workflow_id"] = workflowId,
        });
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.Created, body);
        var job = JsonDocument.Parse(body).RootElement;
        Assert.Equal("pending", job.GetProperty("status").GetString());
        Assert.Equal($"/api/jobs/{job.GetProperty("id").GetString()}", response.Headers.Location?.ToString());
        return job.GetProperty("id").GetString()!;
    }

    /// <summary>POSTs a body exactly as given (for bodies a serializer would never produce).</summary>
    protected async Task<HttpResponseMessage> PostRawAsync(string url, string body)
    {
        using var content = new StringContent(body, Encoding.UTF8, "application/json");
        return await Client.PostAsync(new Uri(url, UriKind.Relative), content);
    }

    protected Task<HttpResponseMessage> CancelAsync(string id) => Client.PostAsync(new Uri($"/api/jobs/{id}/cancel", UriKind.Relative), null);

    protected Task<JsonElement> GetJobAsync(string id) => Client.GetJsonAsync($"/api/jobs/{id}");

    protected async Task<JsonElement> WaitForStatusAsync(string id, string status, TimeSpan? timeout = null)
    {
        var job = default(JsonElement);
        try
        {
            await Eventually.TrueAsync(async () => (job = await GetJobAsync(id)).GetProperty("status").GetString() == status,
                timeout ?? TimeSpan.FromSeconds(10), $"job {id} to be {status}");
        }
        catch (TimeoutException ex)
        {
            throw new TimeoutException($"{ex.Message}; job now: {job}; server log:\n{ServerLog()}", ex);
        }
        return job;
    }

    /// <summary>Every job through <c>GET /api/jobs</c>, following the cursor.</summary>
    protected async Task<List<JsonElement>> ListAllJobsAsync(string query = "", int pageSize = JobsPageMax)
    {
        var jobs = new List<JsonElement>();
        string? cursor = null;
        do
        {
            var page = await Client.GetJsonAsync($"/api/jobs?limit={pageSize}{query}{(cursor is null ? "" : $"&cursor={cursor}")}");
            jobs.AddRange(page.GetProperty("jobs").EnumerateArray());
            cursor = page.GetProperty("next_cursor").GetString();
        }
        while (cursor is not null);
        return jobs;
    }

    protected const int JobsPageMax = 500;

    /// <summary>Events of <paramref name="type"/> about one job, in log order.</summary>
    protected async Task<List<JsonElement>> JobEventsAsync(string jobId, string type = "job_*") =>
        (await Client.ReadEventsAsync(type)).Where(e => e.PayloadString("job_id") == jobId).ToList();

    protected string ServerLog() =>
        string.Join("\n", Factory.Logs.Entries.Select(e => $"{e.Level} {e.Category}: {e.Message} {e.Exception}"));
}
