using System.Globalization;
using System.Threading.RateLimiting;
using Microsoft.Extensions.Options;

namespace MissionHub.Auth;

/// <summary>
/// The per-credential request rate: a token bucket per credential (or per client address without one), refilled every
/// second. The container owns it, so its replenishment timer stops with the host.
/// </summary>
public sealed class RequestLimiter : IDisposable, IAsyncDisposable
{
    private readonly PartitionedRateLimiter<HttpContext> _limiter;

    public RequestLimiter(IOptions<AuthOptions> options)
    {
        var settings = options.Value;
        _limiter = PartitionedRateLimiter.Create<HttpContext, string>(context =>
        {
            var partition = context.PartitionKey();
            var rate = context.User.IsProtectedModeCaller() ? settings.LoopbackRequestsPerSecond : settings.RequestsPerSecond;
            return rate == 0
                ? RateLimitPartition.GetNoLimiter(partition)
                : RateLimitPartition.GetTokenBucketLimiter(partition, _ => new TokenBucketRateLimiterOptions
                {
                    TokenLimit = Math.Max(settings.RequestBurst, 1),
                    TokensPerPeriod = rate,
                    ReplenishmentPeriod = TimeSpan.FromSeconds(1),
                    QueueLimit = 0,
                    AutoReplenishment = true,
                });
        });
    }

    /// <summary>Takes one request's token; the lease says whether it was granted, and when to retry if not.</summary>
    public RateLimitLease Acquire(HttpContext context) => _limiter.AttemptAcquire(context);

    public void Dispose() => _limiter.Dispose();

    public ValueTask DisposeAsync() => _limiter.DisposeAsync();
}

/// <summary>After authorization: 429 with Retry-After once the caller's credential has used its requests per second.</summary>
internal sealed class RequestLimitMiddleware(RequestDelegate next, RequestLimiter limiter, AuthMetrics metrics)
{
    public Task InvokeAsync(HttpContext context)
    {
        using var lease = limiter.Acquire(context);
        if (lease.IsAcquired)
        {
            return next(context);
        }
        var retryAfter = lease.TryGetMetadata(MetadataName.RetryAfter, out var wait) ? Math.Max(1, (int)Math.Ceiling(wait.TotalSeconds)) : 1;
        context.Response.Headers.RetryAfter = retryAfter.ToString(CultureInfo.InvariantCulture);
        metrics.Limited("requests");
        return AuthProblems.WriteAsync(context, StatusCodes.Status429TooManyRequests, "Too many requests",
            $"this credential sent more than its MissionHub:Auth:RequestsPerSecond allows; retry after {retryAfter} s");
    }
}
