using System.Net.Http.Headers;
using System.Text.Json;
using MissionHub.Client;

namespace MissionHub.Tests.TestSupport;

public static class HttpExtensions
{
    public static async Task<JsonElement> GetJsonAsync(this HttpClient client, string url)
    {
        using var response = await client.GetAsync(new Uri(url, UriKind.Relative));
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, $"GET {url} answered {(int)response.StatusCode}: {body}");
        return JsonDocument.Parse(body).RootElement.Clone();
    }

    /// <summary>Asserts a problem+json answer with the given status that names <paramref name="field"/>.</summary>
    public static async Task<JsonElement> AssertProblemAsync(this HttpResponseMessage response, int status, string? field = null)
    {
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(status == (int)response.StatusCode, $"expected {status}, got {(int)response.StatusCode}: {body}");
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = JsonDocument.Parse(body).RootElement.Clone();
        Assert.False(string.IsNullOrWhiteSpace(problem.GetProperty("detail").GetString()), "a problem must say what is wrong");
        if (field is not null)
        {
            Assert.Equal(field, problem.GetProperty("field").GetString());
        }
        return problem;
    }

    /// <summary>Opens the SSE stream; returns once the response headers have arrived.</summary>
    public static async Task<(HttpResponseMessage Response, ServerSentEventReader Reader)> OpenEventStreamAsync(
        this HttpClient client, string url = "/api/events/stream", string? lastEventId = null, CancellationToken cancellationToken = default)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(url, UriKind.Relative));
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("text/event-stream"));
        if (lastEventId is not null)
        {
            request.Headers.Add("Last-Event-ID", lastEventId);
        }
        var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
        response.EnsureSuccessStatusCode();
        var stream = await response.Content.ReadAsStreamAsync(cancellationToken);
        return (response, new ServerSentEventReader(stream));
    }
}
