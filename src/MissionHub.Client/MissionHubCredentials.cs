using System.Net.Http.Headers;
using System.Net.WebSockets;

namespace MissionHub.Client;

/// <summary>How every client sends its credential: <c>Authorization: Bearer</c> with an API key (<c>mh_…</c>) or a JWT.</summary>
public static class MissionHubCredentials
{
    /// <summary>Sets the credential on every request of this client (unless it already carries one).</summary>
    public static void Apply(HttpClient http, string? apiKey)
    {
        ArgumentNullException.ThrowIfNull(http);
        if (!string.IsNullOrEmpty(apiKey) && http.DefaultRequestHeaders.Authorization is null)
        {
            http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", apiKey);
        }
    }

    /// <summary>Sends the credential with a WebSocket handshake.</summary>
    public static void Apply(ClientWebSocketOptions socket, string? apiKey)
    {
        ArgumentNullException.ThrowIfNull(socket);
        if (!string.IsNullOrEmpty(apiKey))
        {
            socket.SetRequestHeader("Authorization", "Bearer " + apiKey);
        }
    }

    /// <summary>
    /// Opens <c>GET /api/events/stream</c> (or another SSE path) with the credential and returns a reader over it;
    /// throws <see cref="HttpRequestException"/> if the hub refuses (401/403/429).
    /// </summary>
    public static async Task<(HttpResponseMessage Response, ServerSentEventReader Reader)> OpenEventStreamAsync(
        HttpClient http, string? apiKey, string path = "api/events/stream", string? lastEventId = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(http);
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(path, UriKind.Relative));
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("text/event-stream"));
        if (!string.IsNullOrEmpty(apiKey))
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", apiKey);
        }
        if (lastEventId is not null)
        {
            request.Headers.TryAddWithoutValidation("Last-Event-ID", lastEventId);
        }
        var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
        try
        {
            response.EnsureSuccessStatusCode();
            return (response, new ServerSentEventReader(await response.Content.ReadAsStreamAsync(cancellationToken)));
        }
        catch
        {
            response.Dispose();
            throw;
        }
    }
}
