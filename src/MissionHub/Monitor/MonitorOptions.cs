using Microsoft.Extensions.Options;

namespace MissionHub.Monitor;

/// <summary>Section <c>MissionHub:Monitor</c>.</summary>
public sealed class MonitorOptions
{
    public const string Section = "MissionHub:Monitor";

    /// <summary>
    /// Bytes queued for one monitor (every frame counted) at which its events start to be counted as missed until it
    /// resyncs.
    /// </summary>
    public int MaxQueuedBytes { get; set; } = 1024 * 1024;

    /// <summary>
    /// The bound of one monitor's queue, every frame counted: a snapshot or answer that would pass it closes the socket with
    /// 1008 (a monitor that asks for snapshots and never reads them). At least <see cref="MaxQueuedBytes"/>, and large
    /// enough for a full snapshot of the hub.
    /// </summary>
    public long MaxSendQueueBytes { get; set; } = 64L * 1024 * 1024;

    /// <summary>Interval of the server <c>heartbeat</c> message on the <c>heartbeat</c> topic.</summary>
    public TimeSpan HeartbeatInterval { get; set; } = TimeSpan.FromSeconds(15);

    /// <summary>A monitor that sends nothing for this long is closed.</summary>
    public TimeSpan IdleTimeout { get; set; } = TimeSpan.FromSeconds(90);

    /// <summary>Largest frame accepted from a monitor; bigger ones get an error frame.</summary>
    public int MaxFrameBytes { get; set; } = 64 * 1024;

    /// <summary>Events per <c>resync_data</c> chunk.</summary>
    public int ResyncChunkSize { get; set; } = 500;
}

internal sealed class MonitorOptionsValidator : IValidateOptions<MonitorOptions>
{
    public ValidateOptionsResult Validate(string? name, MonitorOptions options)
    {
        var failures = new List<string>();
        if (options.MaxQueuedBytes < 1024)
        {
            failures.Add($"{MonitorOptions.Section}:MaxQueuedBytes is {options.MaxQueuedBytes}; it must be at least 1024");
        }
        if (options.MaxSendQueueBytes < options.MaxQueuedBytes)
        {
            failures.Add($"{MonitorOptions.Section}:MaxSendQueueBytes is {options.MaxSendQueueBytes}; it must be at least MaxQueuedBytes ({options.MaxQueuedBytes})");
        }
        if (options.HeartbeatInterval <= TimeSpan.Zero)
        {
            failures.Add($"{MonitorOptions.Section}:HeartbeatInterval is {options.HeartbeatInterval}; it must be positive, e.g. 00:00:15");
        }
        if (options.IdleTimeout <= TimeSpan.Zero)
        {
            failures.Add($"{MonitorOptions.Section}:IdleTimeout is {options.IdleTimeout}; it must be positive, e.g. 00:01:30");
        }
        if (options.MaxFrameBytes < 1024)
        {
            failures.Add($"{MonitorOptions.Section}:MaxFrameBytes is {options.MaxFrameBytes}; it must be at least 1024");
        }
        if (options.ResyncChunkSize is < 1 or > 5000)
        {
            failures.Add($"{MonitorOptions.Section}:ResyncChunkSize is {options.ResyncChunkSize}; valid values: 1 to 5000");
        }
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
