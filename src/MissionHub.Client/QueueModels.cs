namespace MissionHub.Client;

/// <summary>
/// One job type as <c>GET /api/queues</c> reports it. <see cref="Active"/> is assigned plus running; <see cref="Delayed"/>
/// counts the pending jobs not due yet (they are among <see cref="Pending"/>). Times are Unix seconds.
/// </summary>
/// <param name="JobType">The job type.</param>
/// <param name="Paused">Whether dispatch of this type is paused.</param>
/// <param name="PausedAt">When it was paused, if it is.</param>
/// <param name="Pending">Jobs waiting for a worker (delayed ones included).</param>
/// <param name="Delayed">Pending jobs whose run_at or retry backoff has not come.</param>
/// <param name="Active">Jobs assigned or running.</param>
/// <param name="Completed">Completed jobs stored.</param>
/// <param name="Failed">Failed jobs stored.</param>
/// <param name="Cancelled">Cancelled jobs stored.</param>
/// <param name="CompletedLastHour">Jobs completed in the last hour.</param>
/// <param name="FailedLastHour">Jobs failed in the last hour.</param>
/// <param name="Workers">Connected workers that take this type.</param>
public sealed record QueueInfo(
    string JobType, bool Paused, double? PausedAt, long Pending, long Delayed, long Active, long Completed, long Failed, long Cancelled,
    long CompletedLastHour, long FailedLastHour, IReadOnlyList<string> Workers);

/// <summary><c>GET /api/queues</c>.</summary>
/// <param name="Queues">Every job type the hub knows of, by name.</param>
/// <param name="ScanCapped">True when the delayed and last-hour counts stopped at the hub's scan cap and may be low.</param>
public sealed record QueueList(IReadOnlyList<QueueInfo> Queues, bool ScanCapped = false);

/// <summary>The answer of <c>POST /api/queues/{job_type}/pause|resume</c>.</summary>
/// <param name="JobType">The job type.</param>
/// <param name="Paused">Its state now.</param>
/// <param name="Changed">False when it already was in that state.</param>
public sealed record QueueChange(string JobType, bool Paused, bool Changed);
