using System.Globalization;
using System.Net.Http.Json;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;

namespace MissionHub.Client;

/// <summary>
/// The jobs REST API (<c>/api/jobs</c>) over an <see cref="HttpClient"/> whose <see cref="HttpClient.BaseAddress"/>
/// is the hub (e.g. <c>http://localhost:5080/</c>). A refusal surfaces as <see cref="MissionHubApiException"/>.
/// </summary>
public sealed class JobsClient
{
    private readonly HttpClient _http;

    /// <param name="http">The client whose base address is the hub.</param>
    /// <param name="apiKey">An API key (or JWT) sent as <c>Authorization: Bearer</c> on every request; null in protected mode.</param>
    public JobsClient(HttpClient http, string? apiKey = null)
    {
        ArgumentNullException.ThrowIfNull(http);
        if (http.BaseAddress is null)
        {
            throw new ArgumentException("the HttpClient needs a BaseAddress: the hub's URL, e.g. http://localhost:5080/", nameof(http));
        }
        _http = http;
        MissionHubCredentials.Apply(http, apiKey);
    }

    /// <summary><c>POST /api/jobs</c>: the new job, <c>pending</c>.</summary>
    public async Task<JobInfo> SubmitAsync(JobSubmission submission, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(submission);
        using var content = JsonContent.Create(submission, MissionHubClientJsonContext.Default.JobSubmission);
        // Buffered, so the request carries Content-Length instead of chunked encoding: cheaper on both sides.
        await content.LoadIntoBufferAsync(cancellationToken);
        using var response = await _http.PostAsync(Relative("api/jobs"), content, cancellationToken);
        return await ReadAsync(response, MissionHubClientJsonContext.Default.JobInfo, "POST /api/jobs", cancellationToken);
    }

    /// <summary><c>GET /api/jobs/{id}</c>; an unknown id is a 404 <see cref="MissionHubApiException"/>.</summary>
    public async Task<JobInfo> GetAsync(string id, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(id);
        var path = $"api/jobs/{Uri.EscapeDataString(id)}";
        using var response = await _http.GetAsync(Relative(path), cancellationToken);
        return await ReadAsync(response, MissionHubClientJsonContext.Default.JobInfo, $"GET /{path}", cancellationToken);
    }

    /// <summary><c>GET /api/jobs</c>: one page, newest first, filtered by any of status, job type and worker id.</summary>
    public async Task<JobPage> ListAsync(
        string? status = null, string? jobType = null, string? worker = null, int? limit = null, string? cursor = null,
        CancellationToken cancellationToken = default)
    {
        var query = new StringBuilder("api/jobs");
        var separator = '?';
        void Add(string name, string? value)
        {
            if (!string.IsNullOrEmpty(value))
            {
                query.Append(separator).Append(name).Append('=').Append(Uri.EscapeDataString(value));
                separator = '&';
            }
        }
        Add("status", status);
        Add("job_type", jobType);
        Add("worker", worker);
        Add("limit", limit?.ToString(CultureInfo.InvariantCulture));
        Add("cursor", cursor);
        var path = query.ToString();
        using var response = await _http.GetAsync(Relative(path), cancellationToken);
        return await ReadAsync(response, MissionHubClientJsonContext.Default.JobPage, $"GET /{path}", cancellationToken);
    }

    /// <summary>Every job matching the filters, page by page.</summary>
    public async IAsyncEnumerable<JobInfo> ListAllAsync(
        string? status = null, string? jobType = null, string? worker = null, int pageSize = 100,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        string? cursor = null;
        do
        {
            var page = await ListAsync(status, jobType, worker, pageSize, cursor, cancellationToken);
            foreach (var job in page.Jobs)
            {
                yield return job;
            }
            cursor = page.NextCursor;
        }
        while (cursor is not null);
    }

    /// <summary>
    /// <c>POST /api/jobs/{id}/cancel</c>: the job, now <c>cancelled</c> (a worker running it gets <c>job_cancelled</c>).
    /// A job that already finished is a 409 <see cref="MissionHubApiException"/>; an unknown one a 404.
    /// </summary>
    public async Task<JobInfo> CancelAsync(string id, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(id);
        var path = $"api/jobs/{Uri.EscapeDataString(id)}/cancel";
        using var response = await _http.PostAsync(Relative(path), content: null, cancellationToken);
        return await ReadAsync(response, MissionHubClientJsonContext.Default.JobInfo, $"POST /{path}", cancellationToken);
    }

    private static Uri Relative(string path) => new(path, UriKind.Relative);

    private static async Task<T> ReadAsync<T>(HttpResponseMessage response, JsonTypeInfo<T> type, string request, CancellationToken cancellationToken)
    {
        if (!response.IsSuccessStatusCode)
        {
            throw await ToExceptionAsync(response, request, cancellationToken);
        }
        var body = await response.Content.ReadAsStreamAsync(cancellationToken);
        return await JsonSerializer.DeserializeAsync(body, type, cancellationToken)
            ?? throw new MissionHubApiException($"{request} answered {(int)response.StatusCode} with an empty body");
    }

    private static async Task<MissionHubApiException> ToExceptionAsync(HttpResponseMessage response, string request, CancellationToken cancellationToken)
    {
        var body = await response.Content.ReadAsStringAsync(cancellationToken);
        ProblemBody? problem = null;
        if (response.Content.Headers.ContentType?.MediaType is { } mediaType && mediaType.EndsWith("json", StringComparison.OrdinalIgnoreCase))
        {
            try
            {
                problem = JsonSerializer.Deserialize(body, MissionHubClientJsonContext.Default.ProblemBody);
            }
            catch (JsonException)
            {
                // Not a problem document after all: the raw body stands in for the detail.
            }
        }
        var detail = problem?.Detail ?? (string.IsNullOrWhiteSpace(body) ? null : Truncate(body.Trim(), 500));
        return new MissionHubApiException(response.StatusCode, problem?.Title ?? response.ReasonPhrase, detail, problem?.Field, body, request);
    }

    private static string Truncate(string text, int max) => text.Length <= max ? text : text[..max] + "…";
}
