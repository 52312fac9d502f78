using Microsoft.AspNetCore.Diagnostics;
using MissionHub.Storage;

namespace MissionHub.Infrastructure;

/// <summary>
/// The one place a storage fault becomes an answer: Redis unreachable or timing out, the SQLite disk full or failing
/// is 503 problem+json whose <c>detail</c> names the backend and the cause, never a 500 with a stack trace.
/// </summary>
internal sealed partial class StorageFaultHandler(StorageStatus status, IProblemDetailsService problems, ILogger<StorageFaultHandler> logger)
    : IExceptionHandler
{
    public async ValueTask<bool> TryHandleAsync(HttpContext httpContext, Exception exception, CancellationToken cancellationToken)
    {
        if (StorageStatus.FindFault(exception) is not { } fault)
        {
            return false;
        }
        status.WriteFailed(fault);
        var detail = status.Describe(fault);
        LogRefused(logger, httpContext.Request.Method, httpContext.Request.Path, detail);
        return await StorageGate.WriteUnavailableAsync(httpContext, problems, detail);
    }

    [LoggerMessage(EventId = 2017, Level = LogLevel.Warning, Message = "{Method} {Path} answered 503: {Detail}")]
    private static partial void LogRefused(ILogger logger, string method, string path, string detail);
}

/// <summary>
/// While storage has not opened (Redis down at start-up), requests that need it are answered 503 at once, naming the
/// cause, instead of reaching stores that were never initialised. Health, the dashboard's files and the API documents
/// need no storage and are served.
/// </summary>
internal static class StorageGate
{
    // Retry-After for clients that honour it: about how often the start-up steps are retried.
    private const string RetryAfterSeconds = "1";

    public static IApplicationBuilder UseMissionHubStorageGate(this IApplicationBuilder app)
    {
        var status = app.ApplicationServices.GetRequiredService<StorageStatus>();
        var problems = app.ApplicationServices.GetRequiredService<IProblemDetailsService>();
        return app.Use(async (context, next) =>
        {
            if (status.NotOpenReason is { } reason && NeedsStorage(context.Request.Path))
            {
                await WriteUnavailableAsync(context, problems, reason);
                return;
            }
            await next(context);
        });
    }

    internal static async ValueTask<bool> WriteUnavailableAsync(HttpContext context, IProblemDetailsService problems, string detail)
    {
        if (context.Response.HasStarted)
        {
            return false; // a stream already under way (SSE) can only be ended, which the caller does
        }
        context.Response.Clear();
        context.Response.StatusCode = StatusCodes.Status503ServiceUnavailable;
        context.Response.Headers.RetryAfter = RetryAfterSeconds;
        return await problems.TryWriteAsync(new ProblemDetailsContext
        {
            HttpContext = context,
            ProblemDetails =
            {
                Status = StatusCodes.Status503ServiceUnavailable,
                Title = "Service unavailable",
                Detail = detail,
            },
        });
    }

    private static bool NeedsStorage(PathString path) =>
        !path.Equals("/api/health", StringComparison.OrdinalIgnoreCase)
        && !path.Equals("/api/supervisor/health", StringComparison.OrdinalIgnoreCase)
        && (path.StartsWithSegments("/api", StringComparison.OrdinalIgnoreCase)
            || path.StartsWithSegments("/ws", StringComparison.OrdinalIgnoreCase)
            || path.StartsWithSegments("/metrics", StringComparison.OrdinalIgnoreCase));
}
