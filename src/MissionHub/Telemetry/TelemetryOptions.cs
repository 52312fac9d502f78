using Microsoft.Extensions.Options;

namespace MissionHub.Telemetry;

/// <summary>Section <c>MissionHub:Telemetry</c>: the robot socket, the time series and the alert thresholds.</summary>
public sealed class TelemetryOptions
{
    public const string Section = "MissionHub:Telemetry";

    /// <summary>No frame for this long: the connection is closed with <c>heartbeat_timeout</c> and the robot is <c>connection_broken</c>.</summary>
    public TimeSpan HeartbeatTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>A larger frame closes the socket with 1009 (message too big).</summary>
    public int MaxFrameBytes { get; set; } = 64 * 1024;

    /// <summary>Bytes queued for one robot (its error frames); a frame that would pass it closes the socket with 1008.</summary>
    public long MaxSendQueueBytes { get; set; } = 1024 * 1024;

    /// <summary>Most fields one frame may carry.</summary>
    public int MaxFieldsPerFrame { get; set; } = 64;

    /// <summary>
    /// Most distinct field names one robot's latest values may hold (names are at most 64 characters and values are
    /// numbers, so this bounds each robot's memory); a frame that would add names beyond it is refused with
    /// <c>too_many_robot_fields</c>.
    /// </summary>
    public int MaxFieldsPerRobot { get; set; } = 256;

    /// <summary>How long samples are kept in the time series.</summary>
    public TimeSpan Retention { get; set; } = TimeSpan.FromDays(1);

    /// <summary>How often samples older than <see cref="Retention"/> are deleted.</summary>
    public TimeSpan RetentionSweepInterval { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>Samples waiting to be written beyond this are dropped (and counted) instead of growing memory.</summary>
    public int MaxPendingSamples { get; set; } = 100_000;

    /// <summary>Most buckets one history answer may have.</summary>
    public int MaxHistoryBuckets { get; set; } = 10_000;

    /// <summary>A robot not heard from for this long no longer shows in the <c>/metrics</c> gauges.</summary>
    public TimeSpan GaugeStaleAfter { get; set; } = TimeSpan.FromMinutes(2);

    public TelemetryAlertOptions Alerts { get; set; } = new();
}

/// <summary>
/// Alert thresholds with hysteresis: an alert is raised after <see cref="ConsecutiveFrames"/> frames past the raise
/// threshold, and cleared after as many frames back past the (more lenient) clear threshold.
/// </summary>
public sealed class TelemetryAlertOptions
{
    public bool Enabled { get; set; } = true;

    public int ConsecutiveFrames { get; set; } = 3;

    public double BatteryLowBelow { get; set; } = 20;

    public double BatteryClearAtOrAbove { get; set; } = 25;

    public double CpuHighAbove { get; set; } = 90;

    public double CpuClearAtOrBelow { get; set; } = 85;
}

internal sealed class TelemetryOptionsValidator : IValidateOptions<TelemetryOptions>
{
    public ValidateOptionsResult Validate(string? name, TelemetryOptions options)
    {
        var failures = new List<string>();
        const string s = TelemetryOptions.Section;
        if (options.HeartbeatTimeout <= TimeSpan.Zero)
        {
            failures.Add($"{s}:HeartbeatTimeout is {options.HeartbeatTimeout}; it must be positive, e.g. 00:00:30");
        }
        if (options.MaxFrameBytes is < 256 or > 16 * 1024 * 1024)
        {
            failures.Add($"{s}:MaxFrameBytes is {options.MaxFrameBytes}; valid values: 256 to 16777216");
        }
        if (options.MaxSendQueueBytes < 4096)
        {
            failures.Add($"{s}:MaxSendQueueBytes is {options.MaxSendQueueBytes}; it must be at least 4096");
        }
        if (options.MaxFieldsPerFrame is < 4 or > 1000)
        {
            failures.Add($"{s}:MaxFieldsPerFrame is {options.MaxFieldsPerFrame}; valid values: 4 to 1000");
        }
        if (options.MaxFieldsPerRobot < options.MaxFieldsPerFrame || options.MaxFieldsPerRobot > 100_000)
        {
            failures.Add($"{s}:MaxFieldsPerRobot is {options.MaxFieldsPerRobot}; valid values: MaxFieldsPerFrame ({options.MaxFieldsPerFrame}) to 100000");
        }
        if (options.Retention <= TimeSpan.Zero)
        {
            failures.Add($"{s}:Retention is {options.Retention}; it must be positive, e.g. 1.00:00:00");
        }
        if (options.RetentionSweepInterval <= TimeSpan.Zero)
        {
            failures.Add($"{s}:RetentionSweepInterval is {options.RetentionSweepInterval}; it must be positive");
        }
        if (options.MaxPendingSamples < 1)
        {
            failures.Add($"{s}:MaxPendingSamples is {options.MaxPendingSamples}; it must be at least 1");
        }
        if (options.MaxHistoryBuckets is < 1 or > 1_000_000)
        {
            failures.Add($"{s}:MaxHistoryBuckets is {options.MaxHistoryBuckets}; valid values: 1 to 1000000");
        }
        if (options.GaugeStaleAfter <= TimeSpan.Zero)
        {
            failures.Add($"{s}:GaugeStaleAfter is {options.GaugeStaleAfter}; it must be positive");
        }
        var alerts = options.Alerts;
        if (alerts.ConsecutiveFrames is < 1 or > 10_000)
        {
            failures.Add($"{s}:Alerts:ConsecutiveFrames is {alerts.ConsecutiveFrames}; valid values: 1 to 10000");
        }
        if (alerts.BatteryClearAtOrAbove < alerts.BatteryLowBelow)
        {
            failures.Add($"{s}:Alerts:BatteryClearAtOrAbove ({alerts.BatteryClearAtOrAbove}) must be at least BatteryLowBelow ({alerts.BatteryLowBelow})");
        }
        if (alerts.CpuClearAtOrBelow > alerts.CpuHighAbove)
        {
            failures.Add($"{s}:Alerts:CpuClearAtOrBelow ({alerts.CpuClearAtOrBelow}) must be at most CpuHighAbove ({alerts.CpuHighAbove})");
        }
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
