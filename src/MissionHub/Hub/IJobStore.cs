namespace MissionHub.Hub;

/// <summary>
/// Durable job records. <see cref="SaveAsync"/> is group-committed: concurrent saves share one
/// transaction (SQLite) or one pipeline (Redis), and each returns once its snapshot is durable.
/// Saves of one job are issued in order by the broker, so the last one wins.
/// </summary>
public interface IJobStore
{
    Task InitializeAsync(CancellationToken cancellationToken);

    Task SaveAsync(Job job, string? previousStatus, CancellationToken cancellationToken = default);

    Task<Job?> GetAsync(string id, CancellationToken cancellationToken = default);

    Task<JobListing> ListAsync(JobListQuery query, CancellationToken cancellationToken = default);

    /// <summary>Pending, assigned and running jobs: what the broker must hold after a restart.</summary>
    Task<IReadOnlyList<Job>> LoadUnfinishedAsync(CancellationToken cancellationToken = default);

    Task<JobCounts> CountAsync(CancellationToken cancellationToken = default);

    /// <summary>The newest finished jobs of one status, newest first.</summary>
    Task<IReadOnlyList<Job>> RecentAsync(string status, int count, CancellationToken cancellationToken = default);

    /// <summary>Highest submission order stored, so FIFO order continues across restarts.</summary>
    Task<long> MaxOrderAsync(CancellationToken cancellationToken = default);
}
