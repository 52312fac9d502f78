using Microsoft.Extensions.Options;

namespace MissionHub.Supervisor;

/// <summary>Section <c>MissionHub:Supervisor</c>: the bounds the health checks judge by.</summary>
public sealed class SupervisorOptions
{
    public const string Section = "MissionHub:Supervisor";

    /// <summary>A storage round trip (SQLite <c>SELECT 1</c>, Redis <c>PING</c>) not answered within this is an error.</summary>
    public TimeSpan StorageTimeout { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>A storage round trip slower than this is degraded.</summary>
    public TimeSpan StorageSlowThreshold { get; set; } = TimeSpan.FromMilliseconds(250);

    /// <summary>An event-log append slower than this is degraded.</summary>
    public TimeSpan EventLogSlowThreshold { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>An event-log append still waiting after this is an error (the log is stuck).</summary>
    public TimeSpan EventLogStallTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>A background job is overdue once this many expected intervals have passed without a success.</summary>
    public double BackgroundJobOverdueFactor { get; set; } = 2.0;
}

internal sealed class SupervisorOptionsValidator : IValidateOptions<SupervisorOptions>
{
    public ValidateOptionsResult Validate(string? name, SupervisorOptions options)
    {
        var failures = new List<string>();
        if (options.StorageTimeout <= TimeSpan.Zero)
        {
            failures.Add($"{SupervisorOptions.Section}:StorageTimeout is {options.StorageTimeout}; it must be positive, e.g. 00:00:02");
        }
        if (options.StorageSlowThreshold <= TimeSpan.Zero || options.StorageSlowThreshold > options.StorageTimeout)
        {
            failures.Add($"{SupervisorOptions.Section}:StorageSlowThreshold is {options.StorageSlowThreshold}; it must be positive and at most StorageTimeout ({options.StorageTimeout})");
        }
        if (options.EventLogSlowThreshold <= TimeSpan.Zero || options.EventLogSlowThreshold > options.EventLogStallTimeout)
        {
            failures.Add($"{SupervisorOptions.Section}:EventLogSlowThreshold is {options.EventLogSlowThreshold}; it must be positive and at most EventLogStallTimeout ({options.EventLogStallTimeout})");
        }
        if (options.BackgroundJobOverdueFactor is < 1 or > 100 || double.IsNaN(options.BackgroundJobOverdueFactor))
        {
            failures.Add($"{SupervisorOptions.Section}:BackgroundJobOverdueFactor is {options.BackgroundJobOverdueFactor}; valid values: 1 to 100");
        }
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
