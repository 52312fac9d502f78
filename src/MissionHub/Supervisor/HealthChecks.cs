using System.Globalization;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Options;
using MissionHub.Events;
using MissionHub.Storage;
using MissionHub.Storage.Redis;
using MissionHub.Storage.Sqlite;
using StackExchange.Redis;

namespace MissionHub.Supervisor;

/// <summary>One component the supervisor's health answer is made of. Must not throw except on cancellation.</summary>
public interface ISupervisorHealthCheck
{
    /// <summary>The key in <c>checks</c>.</summary>
    string Name { get; }

    Task<HealthCheckResult> CheckAsync(CancellationToken cancellationToken);
}

/// <summary>A real round trip to the storage backend.</summary>
public interface IStorageProbe
{
    string Provider { get; }

    Task PingAsync(CancellationToken cancellationToken);
}

internal sealed class SqliteStorageProbe(SqliteDatabase database) : IStorageProbe
{
    public string Provider => "sqlite";

    public async Task PingAsync(CancellationToken cancellationToken)
    {
        // Microsoft.Data.Sqlite runs synchronously underneath (a locked file blocks in busy_timeout), so the
        // round trip gets its own thread and the caller's timeout can still answer.
        await Task.Run(async () =>
        {
            await using var connection = await database.OpenAsync(cancellationToken);
            await using var select = connection.CreateCommand();
            select.CommandText = "SELECT 1";
            var answer = await select.ExecuteScalarAsync(cancellationToken);
            if (Convert.ToInt64(answer, CultureInfo.InvariantCulture) != 1)
            {
                throw new InvalidOperationException($"SELECT 1 answered {answer}");
            }
        }, cancellationToken);
    }
}

internal sealed class RedisStorageProbe(RedisConnection connection) : IStorageProbe
{
    public string Provider => "redis";

    public async Task PingAsync(CancellationToken cancellationToken)
    {
        var db = await connection.GetDatabaseAsync(cancellationToken);
        await db.PingAsync().WaitAsync(cancellationToken);
    }
}

/// <summary>Storage answers a round trip: within the slow threshold ok, slower degraded, failing or past the timeout error.</summary>
public sealed class StorageHealthCheck(IStorageProbe probe, StorageStatus status, IOptions<SupervisorOptions> options, TimeProvider time)
    : ISupervisorHealthCheck
{
    public string Name => "storage";

    public async Task<HealthCheckResult> CheckAsync(CancellationToken cancellationToken)
    {
        var settings = options.Value;
        var started = time.GetTimestamp();
        // Not open yet, or the last write refused (disk full): a round trip may still answer, but writes do not.
        // Redis refuses writes only while it cannot be reached, so there a round trip that answers says they pass again.
        var redis = probe.Provider == "redis";
        if (status.Problem is { } problem && (!redis || !status.IsOpen))
        {
            return Result(HealthState.Error, started, problem);
        }
        using var bound = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        bound.CancelAfter(settings.StorageTimeout);
        try
        {
            await probe.PingAsync(bound.Token).WaitAsync(settings.StorageTimeout, time, cancellationToken);
        }
        catch (Exception ex) when (ex is TimeoutException || (ex is OperationCanceledException && !cancellationToken.IsCancellationRequested))
        {
            return Result(HealthState.Error, started,
                $"{probe.Provider} did not answer within {settings.StorageTimeout.TotalMilliseconds:0} ms");
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            return Result(HealthState.Error, started, $"{probe.Provider} round trip failed: {Describe(ex)}");
        }
        if (redis)
        {
            status.WriteSucceeded();
        }
        var elapsed = time.GetElapsedTime(started);
        return elapsed > settings.StorageSlowThreshold
            ? Result(HealthState.Degraded, started,
                $"{probe.Provider} answered in {elapsed.TotalMilliseconds:0} ms, slower than {settings.StorageSlowThreshold.TotalMilliseconds:0} ms")
            : Result(HealthState.Ok, started, $"{probe.Provider} answered");
    }

    private HealthCheckResult Result(string state, long started, string detail) =>
        new(Name, state, HealthChecks.Milliseconds(time.GetElapsedTime(started)), detail);

    private static string Describe(Exception ex) => ex switch
    {
        RedisException or SqliteException => ex.Message,
        _ => $"{ex.GetType().Name}: {ex.Message}",
    };
}

/// <summary>
/// The event log takes appends: judged from the supervisor's own recent appends (every health check makes one)
/// and the publisher's failure counter, so checking health does not add probe events to the log.
/// </summary>
public sealed class EventLogHealthCheck(
    SupervisorEventPublisher publisher, IEventLog log, IOptions<SupervisorOptions> options) : ISupervisorHealthCheck
{
    public string Name => "event_log";

    public Task<HealthCheckResult> CheckAsync(CancellationToken cancellationToken)
    {
        var settings = options.Value;
        var seen = publisher.Observe();
        var latency = seen.LastSuccessLatency is { } last ? HealthChecks.Milliseconds(last) : 0;
        var where = $"{log.Provider} log, epoch {log.Epoch}, last seq {log.LastSeq}";
        HealthCheckResult result;
        if (seen.OldestPending is { } waiting && waiting > settings.EventLogStallTimeout)
        {
            result = new(Name, HealthState.Error, HealthChecks.Milliseconds(waiting),
                $"an append has been waiting {waiting.TotalSeconds:0.#} s (bound {settings.EventLogStallTimeout.TotalSeconds:0.#} s); {where}");
        }
        else if (seen.FailuresSinceLastSuccess > 0)
        {
            var since = seen.LastSuccessAgo is { } ago ? $"the last successful append {ago.TotalSeconds:0.#} s ago" : "start, with none succeeding";
            result = new(Name, HealthState.Error, latency,
                $"{seen.FailuresSinceLastSuccess} append(s) failed since {since}; {where}");
        }
        else if (seen.LastSuccessLatency is { } slow && slow > settings.EventLogSlowThreshold)
        {
            result = new(Name, HealthState.Degraded, latency,
                $"the last append took {slow.TotalMilliseconds:0} ms, slower than {settings.EventLogSlowThreshold.TotalMilliseconds:0} ms; {where}");
        }
        else if (seen.LastSuccessAgo is null)
        {
            result = new(Name, HealthState.Ok, latency, $"no append failed since start (none observed yet); {where}");
        }
        else
        {
            result = new(Name, HealthState.Ok, latency, $"last append took {latency:0.###} ms; {where}");
        }
        return Task.FromResult(result);
    }
}

/// <summary>Background jobs registered through <see cref="IBackgroundJobHeartbeat"/> have succeeded recently enough.</summary>
public sealed class BackgroundJobsHealthCheck(BackgroundJobRegistry registry, IOptions<SupervisorOptions> options, TimeProvider time)
    : ISupervisorHealthCheck
{
    public string Name => "background_jobs";

    public Task<HealthCheckResult> CheckAsync(CancellationToken cancellationToken)
    {
        var started = time.GetTimestamp();
        var jobs = registry.Snapshot();
        if (jobs.Count == 0)
        {
            return Task.FromResult(new HealthCheckResult(Name, HealthState.Ok, HealthChecks.Milliseconds(time.GetElapsedTime(started)),
                "no background jobs registered"));
        }
        var now = time.GetUtcNow();
        var factor = options.Value.BackgroundJobOverdueFactor;
        var overdue = new List<string>();
        foreach (var job in jobs)
        {
            var reference = job.LastSuccessAt ?? job.RegisteredAt;
            var silence = now - reference;
            if (silence > job.ExpectedInterval * factor)
            {
                var what = job.LastSuccessAt is null ? "no successful run since it registered" : "no successful run";
                var error = job.LastError is null ? "" : $" (last error: {job.LastError})";
                overdue.Add($"{job.Name}: {what} for {silence.TotalSeconds:0.#} s, expected every {job.ExpectedInterval.TotalSeconds:0.#} s{error}");
            }
        }
        // An overdue job does not stop the hub serving requests, so it degrades health but never makes it an error (503).
        var result = overdue.Count == 0
            ? new HealthCheckResult(Name, HealthState.Ok, HealthChecks.Milliseconds(time.GetElapsedTime(started)),
                $"{jobs.Count} job(s) on schedule: {string.Join(", ", jobs.Select(j => j.Name))}")
            : new HealthCheckResult(Name, HealthState.Degraded, HealthChecks.Milliseconds(time.GetElapsedTime(started)),
                $"overdue: {string.Join("; ", overdue)}");
        return Task.FromResult(result);
    }
}

internal static class HealthChecks
{
    public static double Milliseconds(TimeSpan elapsed) => Math.Round(elapsed.TotalMilliseconds, 3);
}
