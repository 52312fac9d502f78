using Microsoft.Extensions.Options;

namespace MissionHub.Hub;

/// <summary>Section <c>MissionHub:Hub</c>: workers, retries and limits of the job hub.</summary>
public sealed class HubOptions
{
    public const string Section = "MissionHub:Hub";

    /// <summary>
    /// A worker silent for this long is offline (<c>connection_broken</c>) and its jobs go back to pending. It is also the
    /// length of a job's lease: a job whose process vanished is requeued by another process within this time.
    /// </summary>
    public TimeSpan WorkerHeartbeatTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>After a start, how long leased jobs stay with their worker waiting for it to reconnect.</summary>
    public TimeSpan RestartGracePeriod { get; set; } = TimeSpan.FromSeconds(30);

    public int DefaultMaxAttempts { get; set; } = 3;

    /// <summary>First retry delay; doubles per failed attempt up to <see cref="RetryMaxDelay"/>.</summary>
    public TimeSpan RetryBaseDelay { get; set; } = TimeSpan.FromSeconds(1);

    public TimeSpan RetryMaxDelay { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>Largest WebSocket frame accepted from a worker; bigger ones close the socket with 1009.</summary>
    public int MaxFrameBytes { get; set; } = 1024 * 1024;

    /// <summary>Largest job payload accepted by <c>POST /api/jobs</c>.</summary>
    public int MaxPayloadBytes { get; set; } = 256 * 1024;

    /// <summary>Finished jobs (completed, failed, cancelled) are removed this long after they finished.</summary>
    public TimeSpan FinishedJobRetention { get; set; } = TimeSpan.FromDays(7);

    /// <summary>At most this many finished jobs are kept; the oldest beyond it are removed.</summary>
    public long FinishedJobMaxCount { get; set; } = 1_000_000;

    /// <summary>How often the finished-job retention sweep runs.</summary>
    public TimeSpan FinishedJobSweepInterval { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>Most jobs in one <c>POST /api/jobs/batch</c>.</summary>
    public int MaxBatchJobs { get; set; } = 1000;

    /// <summary>Largest body of one <c>POST /api/jobs/batch</c> (each job's payload is still held to <see cref="MaxPayloadBytes"/>).</summary>
    public int MaxBatchBytes { get; set; } = 16 * 1024 * 1024;

    /// <summary><c>system_stats</c> is published at most once per this interval.</summary>
    public TimeSpan SystemStatsInterval { get; set; } = TimeSpan.FromMilliseconds(250);

    /// <summary>Frames queued for one worker before it counts as not reading and is dropped.</summary>
    public int WorkerSendQueueCapacity { get; set; } = 4096;

    /// <summary>
    /// Bytes queued for one worker, every frame counted (<c>job_assigned</c> with its payload included); a frame that would
    /// pass it closes the socket with 1008, and the worker's jobs go back to pending.
    /// </summary>
    public long WorkerSendQueueBytes { get; set; } = 64L * 1024 * 1024;

    /// <summary>
    /// Results up to this many bytes (UTF-8 JSON) travel inline in <c>job_completed</c> and the monitor snapshot; larger
    /// ones stay in storage only and those carry <c>"result": null, "result_truncated": true, "result_ref": "/api/jobs/{id}"</c>.
    /// </summary>
    public int MaxInlineResultBytes { get; set; } = 16 * 1024;
}

internal sealed class HubOptionsValidator : IValidateOptions<HubOptions>
{
    public ValidateOptionsResult Validate(string? name, HubOptions options)
    {
        var failures = new List<string>();
        if (options.WorkerHeartbeatTimeout <= TimeSpan.Zero)
        {
            failures.Add($"{HubOptions.Section}:WorkerHeartbeatTimeout is {options.WorkerHeartbeatTimeout}; it must be positive, e.g. 00:00:30");
        }
        if (options.RestartGracePeriod < TimeSpan.Zero)
        {
            failures.Add($"{HubOptions.Section}:RestartGracePeriod is {options.RestartGracePeriod}; it must not be negative");
        }
        if (options.DefaultMaxAttempts is < 1 or > 100)
        {
            failures.Add($"{HubOptions.Section}:DefaultMaxAttempts is {options.DefaultMaxAttempts}; valid values: 1 to 100");
        }
        if (options.RetryBaseDelay < TimeSpan.Zero || options.RetryMaxDelay < options.RetryBaseDelay)
        {
            failures.Add($"{HubOptions.Section}:RetryBaseDelay/RetryMaxDelay must be 0 or more, with the maximum at least the base");
        }
        if (options.MaxFrameBytes is < 1024 or > 64 * 1024 * 1024)
        {
            failures.Add($"{HubOptions.Section}:MaxFrameBytes is {options.MaxFrameBytes}; valid values: 1024 to 67108864");
        }
        if (options.MaxPayloadBytes < 2)
        {
            failures.Add($"{HubOptions.Section}:MaxPayloadBytes is {options.MaxPayloadBytes}; it must be at least 2");
        }
        if (options.FinishedJobRetention <= TimeSpan.Zero)
        {
            failures.Add($"{HubOptions.Section}:FinishedJobRetention is {options.FinishedJobRetention}; it must be positive, e.g. 7.00:00:00");
        }
        if (options.FinishedJobMaxCount < 0)
        {
            failures.Add($"{HubOptions.Section}:FinishedJobMaxCount is {options.FinishedJobMaxCount}; it must be 0 or more");
        }
        if (options.FinishedJobSweepInterval <= TimeSpan.Zero)
        {
            failures.Add($"{HubOptions.Section}:FinishedJobSweepInterval is {options.FinishedJobSweepInterval}; it must be positive, e.g. 00:01:00");
        }
        if (options.MaxBatchJobs is < 1 or > 10_000)
        {
            failures.Add($"{HubOptions.Section}:MaxBatchJobs is {options.MaxBatchJobs}; valid values: 1 to 10000");
        }
        if (options.MaxBatchBytes < options.MaxPayloadBytes)
        {
            failures.Add($"{HubOptions.Section}:MaxBatchBytes is {options.MaxBatchBytes}; it must hold at least one job with the largest payload (MaxPayloadBytes, {options.MaxPayloadBytes})");
        }
        if (options.WorkerSendQueueCapacity < 1)
        {
            failures.Add($"{HubOptions.Section}:WorkerSendQueueCapacity is {options.WorkerSendQueueCapacity}; it must be at least 1");
        }
        if (options.WorkerSendQueueBytes < options.MaxPayloadBytes + 4096)
        {
            failures.Add($"{HubOptions.Section}:WorkerSendQueueBytes is {options.WorkerSendQueueBytes}; it must hold one job_assigned with the largest payload, at least MaxPayloadBytes + 4096 ({options.MaxPayloadBytes + 4096})");
        }
        if (options.MaxInlineResultBytes is < 0 or > 16 * 1024 * 1024)
        {
            failures.Add($"{HubOptions.Section}:MaxInlineResultBytes is {options.MaxInlineResultBytes}; valid values: 0 to 16777216");
        }
        if (options.SystemStatsInterval <= TimeSpan.Zero)
        {
            failures.Add($"{HubOptions.Section}:SystemStatsInterval is {options.SystemStatsInterval}; it must be positive");
        }
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
