using System.Globalization;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;

namespace MissionHub.Client;

/// <summary>The one HTTP path every typed client takes: relative URIs, JSON bodies, problem+json refusals.</summary>
internal sealed class ApiTransport
{
    private readonly HttpClient _http;

    public ApiTransport(HttpClient http)
    {
        ArgumentNullException.ThrowIfNull(http);
        if (http.BaseAddress is null)
        {
            throw new ArgumentException("the HttpClient needs a BaseAddress: the hub's URL, e.g. http://localhost:5080/", nameof(http));
        }
        _http = http;
    }

    public HttpClient Http => _http;

    public async Task<T> GetAsync<T>(string path, JsonTypeInfo<T> type, CancellationToken cancellationToken, bool acceptAnyStatusWithBody = false)
    {
        using var response = await _http.GetAsync(Relative(path), cancellationToken);
        return await ReadAsync(response, type, $"GET /{path}", cancellationToken, acceptAnyStatusWithBody);
    }

    public Task<T> PostAsync<TBody, T>(string path, TBody body, JsonTypeInfo<TBody> bodyType, JsonTypeInfo<T> type, CancellationToken cancellationToken) =>
        PostAsync(path, body, bodyType, type, [], cancellationToken);

    /// <summary>A JSON POST with request headers of its own (an <c>Idempotency-Key</c>).</summary>
    public async Task<T> PostAsync<TBody, T>(
        string path, TBody body, JsonTypeInfo<TBody> bodyType, JsonTypeInfo<T> type, IEnumerable<(string Name, string Value)> headers,
        CancellationToken cancellationToken)
    {
        using var content = JsonContent.Create(body, bodyType);
        // Buffered, so the request carries Content-Length instead of chunked encoding: cheaper on both sides.
        await content.LoadIntoBufferAsync(cancellationToken);
        using var request = new HttpRequestMessage(HttpMethod.Post, Relative(path)) { Content = content };
        foreach (var (name, value) in headers)
        {
            request.Headers.Add(name, value);
        }
        using var response = await _http.SendAsync(request, cancellationToken);
        return await ReadAsync(response, type, $"POST /{path}", cancellationToken);
    }

    public async Task<T> PostEmptyAsync<T>(string path, JsonTypeInfo<T> type, CancellationToken cancellationToken)
    {
        using var response = await _http.PostAsync(Relative(path), content: null, cancellationToken);
        return await ReadAsync(response, type, $"POST /{path}", cancellationToken);
    }

    /// <summary>A DELETE whose success has no body (204).</summary>
    public async Task DeleteAsync(string path, CancellationToken cancellationToken)
    {
        using var response = await _http.DeleteAsync(Relative(path), cancellationToken);
        if (!response.IsSuccessStatusCode)
        {
            throw await ToExceptionAsync(response, $"DELETE /{path}", cancellationToken);
        }
    }

    public static Uri Relative(string path) => new(path, UriKind.Relative);

    /// <summary><c>path?name=value&amp;…</c> with the values escaped and the empty ones left out.</summary>
    public static string Query(string path, params (string Name, object? Value)[] parameters)
    {
        var query = new StringBuilder(path);
        var separator = '?';
        foreach (var (name, value) in parameters)
        {
            var text = value switch
            {
                null => null,
                IFormattable formattable => formattable.ToString(null, CultureInfo.InvariantCulture),
                _ => value.ToString(),
            };
            if (!string.IsNullOrEmpty(text))
            {
                query.Append(separator).Append(name).Append('=').Append(Uri.EscapeDataString(text));
                separator = '&';
            }
        }
        return query.ToString();
    }

    public static string Segment(string value)
    {
        ArgumentException.ThrowIfNullOrEmpty(value);
        return Uri.EscapeDataString(value);
    }

    public static async Task<T> ReadAsync<T>(
        HttpResponseMessage response, JsonTypeInfo<T> type, string request, CancellationToken cancellationToken, bool acceptAnyStatusWithBody = false)
    {
        var isJson = response.Content.Headers.ContentType?.MediaType is { } media
            && media.EndsWith("json", StringComparison.OrdinalIgnoreCase) && !media.Contains("problem", StringComparison.OrdinalIgnoreCase);
        if (!response.IsSuccessStatusCode && !(acceptAnyStatusWithBody && isJson))
        {
            throw await ToExceptionAsync(response, request, cancellationToken);
        }
        var body = await response.Content.ReadAsStreamAsync(cancellationToken);
        return await JsonSerializer.DeserializeAsync(body, type, cancellationToken)
            ?? throw new MissionHubApiException($"{request} answered {(int)response.StatusCode} with an empty body");
    }

    public static async Task<MissionHubApiException> ToExceptionAsync(HttpResponseMessage response, string request, CancellationToken cancellationToken)
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
