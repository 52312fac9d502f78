using Microsoft.Extensions.Options;

namespace MissionHub.Metrics;

/// <summary>Section <c>MissionHub:Metrics</c>: the mission-metrics aggregation job and <c>/metrics</c>.</summary>
public sealed class MetricsOptions
{
    public const string Section = "MissionHub:Metrics";

    /// <summary>How often <c>aggregate_mission_metrics</c> runs (spec 004: every 30 s).</summary>
    public TimeSpan AggregationInterval { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Each run re-reads changes this far back before its last position, so a change whose timestamp was taken before
    /// the previous run but committed after it is still counted (re-reads are idempotent).
    /// </summary>
    public TimeSpan ChangeOverlap { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// Name of the meter MissionHub's instruments live on. Meters are process-wide: two servers hosted in one process
    /// (tests) give theirs different names so each <c>/metrics</c> shows only its own.
    /// </summary>
    public string MeterName { get; set; } = "MissionHub";

    /// <summary>Run once as soon as the server starts (so figures exist at once), then every interval.</summary>
    public bool AggregateAtStart { get; set; } = true;

    /// <summary>Changed missions read per storage round trip.</summary>
    public int PageSize { get; set; } = 5000;
}

internal sealed class MetricsOptionsValidator : IValidateOptions<MetricsOptions>
{
    public ValidateOptionsResult Validate(string? name, MetricsOptions options)
    {
        var failures = new List<string>();
        if (options.AggregationInterval <= TimeSpan.Zero)
        {
            failures.Add($"{MetricsOptions.Section}:AggregationInterval is {options.AggregationInterval}; it must be positive, e.g. 00:00:30");
        }
        if (options.ChangeOverlap < TimeSpan.Zero || options.ChangeOverlap > TimeSpan.FromHours(1))
        {
            failures.Add($"{MetricsOptions.Section}:ChangeOverlap is {options.ChangeOverlap}; valid values: 00:00:00 to 01:00:00");
        }
        if (options.PageSize is < 10 or > 100_000)
        {
            failures.Add($"{MetricsOptions.Section}:PageSize is {options.PageSize}; valid values: 10 to 100000");
        }
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
