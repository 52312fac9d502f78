namespace MissionHub.Infrastructure;

/// <summary>
/// The correlation id of the request or socket message being handled, flowing with the async context so
/// every event it causes carries it in <c>meta.correlation_id</c>.
/// </summary>
public static class CorrelationContext
{
    public const string HeaderName = "X-Correlation-ID";
    public const int MaxLength = 128;

    private static readonly AsyncLocal<string?> CurrentId = new();

    public static string? Current
    {
        get => CurrentId.Value;
        set => CurrentId.Value = value;
    }

    /// <summary>The given id if it is usable (1–128 visible ASCII characters), else a new one.</summary>
    public static string Normalize(string? candidate) =>
        candidate is { Length: > 0 and <= MaxLength } && candidate.All(c => c is > ' ' and <= '~')
            ? candidate
            : Guid.NewGuid().ToString("N");
}

internal sealed class CorrelationIdMiddleware(RequestDelegate next)
{
    public Task InvokeAsync(HttpContext context)
    {
        var id = CorrelationContext.Normalize(context.Request.Headers[CorrelationContext.HeaderName]);
        CorrelationContext.Current = id;
        context.Response.Headers[CorrelationContext.HeaderName] = id;
        return next(context);
    }
}
