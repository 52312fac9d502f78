namespace MissionHub.Supervisor;

/// <summary>
/// Where background services (the metrics aggregation job, …) say they are alive, so
/// <c>GET /api/supervisor/health</c> can tell when one is overdue. Register once at start with how often a
/// run is expected to succeed, then report each run.
/// </summary>
public interface IBackgroundJobHeartbeat
{
    /// <summary>Declares a job and its expected interval between successful runs; calling it again updates the interval.</summary>
    void Register(string name, TimeSpan expectedInterval);

    /// <summary>A run of <paramref name="name"/> finished successfully just now.</summary>
    void ReportSuccess(string name);

    /// <summary>A run of <paramref name="name"/> failed; <paramref name="error"/> is shown in the health detail.</summary>
    void ReportFailure(string name, string error);
}

/// <summary>What the registry knows about one background job.</summary>
public sealed record BackgroundJobStatus(
    string Name,
    TimeSpan ExpectedInterval,
    DateTimeOffset RegisteredAt,
    DateTimeOffset? LastSuccessAt,
    DateTimeOffset? LastFailureAt,
    string? LastError);

/// <summary>The in-process registry behind <see cref="IBackgroundJobHeartbeat"/>.</summary>
public sealed class BackgroundJobRegistry(TimeProvider time) : IBackgroundJobHeartbeat
{
    private readonly Lock _lock = new();
    private readonly Dictionary<string, BackgroundJobStatus> _jobs = new(StringComparer.Ordinal);

    public void Register(string name, TimeSpan expectedInterval)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(expectedInterval, TimeSpan.Zero);
        var now = time.GetUtcNow();
        lock (_lock)
        {
            _jobs[name] = _jobs.TryGetValue(name, out var known)
                ? known with { ExpectedInterval = expectedInterval }
                : new BackgroundJobStatus(name, expectedInterval, now, null, null, null);
        }
    }

    public void ReportSuccess(string name)
    {
        var now = time.GetUtcNow();
        lock (_lock)
        {
            if (_jobs.TryGetValue(name, out var known))
            {
                _jobs[name] = known with { LastSuccessAt = now };
            }
        }
    }

    public void ReportFailure(string name, string error)
    {
        var now = time.GetUtcNow();
        lock (_lock)
        {
            if (_jobs.TryGetValue(name, out var known))
            {
                _jobs[name] = known with { LastFailureAt = now, LastError = error };
            }
        }
    }

    /// <summary>Every registered job, ordered by name.</summary>
    public IReadOnlyList<BackgroundJobStatus> Snapshot()
    {
        lock (_lock)
        {
            return [.. _jobs.Values.OrderBy(j => j.Name, StringComparer.Ordinal)];
        }
    }
}
