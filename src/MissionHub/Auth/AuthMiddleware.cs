using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Options;

namespace MissionHub.Auth;

/// <summary>Protected mode: with no key and no JWT configured, only loopback clients are served.</summary>
internal sealed class ProtectedModeMiddleware(RequestDelegate next, ApiKeyRing ring)
{
    public Task InvokeAsync(HttpContext context)
    {
        if (ring.IsProtectedMode && !ApiKeyAuthenticationHandler.IsLoopback(context.Connection.RemoteIpAddress) && !AuthApi.IsOpen(context.Request))
        {
            return AuthProblems.WriteAsync(context, StatusCodes.Status403Forbidden, "Protected mode",
                "MissionHub is in protected mode: no API key or JWT is configured, so it answers only clients on this machine "
                + "(loopback). To serve other clients, configure a key in MissionHub:Auth:Keys (or create one from this machine with "
                + "POST /api/auth/keys) or JWT settings in MissionHub:Auth:Jwt, then send it as 'Authorization: Bearer mh_…'.");
        }
        return next(context);
    }
}

/// <summary>
/// After authentication: makes the caller ambient (for <c>meta.actor</c> and the worker socket), keeps
/// <c>access_token</c> out of everything downstream, and applies the browser-safety rules — JSON bodies only on
/// the API, and WebSocket handshakes only from allowed origins.
/// </summary>
internal sealed class CallerMiddleware(RequestDelegate next, IOptions<AuthOptions> options)
{
    private readonly HashSet<string> _allowedOrigins = options.Value.AllowedOrigins
        .Select(o => o.TrimEnd('/')).ToHashSet(StringComparer.OrdinalIgnoreCase);

    public Task InvokeAsync(HttpContext context)
    {
        AuthContext.User = context.User;
        var request = context.Request;
        if (request.Query.ContainsKey(ApiKeyAuthenticationHandler.AccessTokenParameter))
        {
            request.QueryString = QueryString.Create(request.Query
                .Where(p => p.Key != ApiKeyAuthenticationHandler.AccessTokenParameter)
                .SelectMany(p => p.Value.Select(v => new KeyValuePair<string, string?>(p.Key, v))));
        }
        if (HasBody(request) && request.Path.StartsWithSegments("/api") && !request.HasJsonContentType())
        {
            return AuthProblems.WriteAsync(context, StatusCodes.Status415UnsupportedMediaType, "Unsupported media type",
                $"the request body must be JSON, sent with 'Content-Type: application/json', not '{(string.IsNullOrEmpty(request.ContentType) ? "nothing" : request.ContentType)}'");
        }
        if (context.WebSockets.IsWebSocketRequest && request.Headers.Origin.ToString() is { Length: > 0 } origin && !IsAllowedOrigin(request, origin))
        {
            return AuthProblems.WriteAsync(context, StatusCodes.Status403Forbidden, "Forbidden origin",
                $"WebSocket handshakes from origin '{origin}' are not allowed; allowed: this server's own origin{(_allowedOrigins.Count > 0 ? " and " + string.Join(", ", _allowedOrigins) : "")} (MissionHub:Auth:AllowedOrigins)");
        }
        return next(context);
    }

    private static bool HasBody(HttpRequest request) =>
        !HttpMethods.IsGet(request.Method) && !HttpMethods.IsHead(request.Method) && !HttpMethods.IsOptions(request.Method)
        && (request.ContentLength > 0 || (request.ContentLength is null && request.Headers.TransferEncoding.Count > 0));

    private bool IsAllowedOrigin(HttpRequest request, string origin)
    {
        var trimmed = origin.TrimEnd('/');
        return string.Equals(trimmed, $"{request.Scheme}://{request.Host.Value}", StringComparison.OrdinalIgnoreCase)
            || _allowedOrigins.Contains(trimmed);
    }
}

/// <summary>
/// After authorization: counts each WebSocket and SSE stream against its credential (429 past the limit) and
/// makes it closable when the credential stops working.
/// </summary>
internal sealed class StreamLimitMiddleware(RequestDelegate next, CredentialStreams streams, IOptions<AuthOptions> options, AuthMetrics metrics)
{
    public async Task InvokeAsync(HttpContext context)
    {
        if (!IsStream(context))
        {
            await next(context);
            return;
        }
        if (!streams.TryOpen(context, out var stream))
        {
            metrics.Limited("streams");
            context.Response.Headers.RetryAfter = "5";
            await AuthProblems.WriteAsync(context, StatusCodes.Status429TooManyRequests, "Too many streams",
                $"this credential already holds {options.Value.MaxStreamsPerCredential} open WebSockets and SSE streams (MissionHub:Auth:MaxStreamsPerCredential); close one first");
            return;
        }
        using (stream)
        {
            var aborted = context.RequestAborted;
            context.RequestAborted = stream.Token;
            if (context.Features.Get<IHttpWebSocketFeature>() is { IsWebSocketRequest: true } webSockets)
            {
                context.Features.Set<IHttpWebSocketFeature>(new RevocableWebSocketFeature(webSockets, stream));
            }
            try
            {
                await next(context);
            }
            finally
            {
                context.RequestAborted = aborted;
            }
            if (stream.ClosedReason is { } reason && stream.Socket is null && context.Response.HasStarted && !aborted.IsCancellationRequested
                && context.Response.ContentType?.StartsWith("text/event-stream", StringComparison.Ordinal) == true)
            {
                // An SSE stream ended by its credential: say why as a last event, so the client does not just reconnect.
                await WriteClosedEventAsync(context.Response, reason, aborted);
            }
        }
    }

    private static async Task WriteClosedEventAsync(HttpResponse response, string reason, CancellationToken cancellationToken)
    {
        try
        {
            await response.WriteAsync($"event: credential_closed\ndata: {{\"code\":4401,\"reason\":\"{reason}\"}}\n\n", cancellationToken);
            await response.Body.FlushAsync(cancellationToken);
        }
        catch (Exception ex) when (ex is IOException or OperationCanceledException or InvalidOperationException)
        {
            // The client is gone already.
        }
    }

    private static bool IsStream(HttpContext context) =>
        context.WebSockets.IsWebSocketRequest
        || (HttpMethods.IsGet(context.Request.Method)
            && (context.Request.Path.StartsWithSegments("/api/events/stream")
                || context.Request.Headers.Accept.ToString().Contains("text/event-stream", StringComparison.OrdinalIgnoreCase)));
}
