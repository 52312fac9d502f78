namespace MissionHub.Telemetry;

/// <summary>
/// The robots' time series: <c>SqliteTelemetryStore</c> (a table) or <c>RedisTelemetryStore</c> (a sorted set per robot).
/// Samples are appended in batches and deleted once older than the retention.
/// </summary>
public interface ITelemetryStore
{
    Task InitializeAsync(CancellationToken cancellationToken);

    /// <summary>Writes the batch in one step (one transaction, one pipeline).</summary>
    Task AppendAsync(IReadOnlyList<TelemetrySample> samples, CancellationToken cancellationToken);

    /// <summary>The robot's samples with <paramref name="from"/> ≤ timestamp &lt; <paramref name="to"/>, oldest first.</summary>
    IAsyncEnumerable<TelemetrySample> ReadAsync(string robotId, double from, double to, CancellationToken cancellationToken);

    /// <summary>Deletes every sample older than <paramref name="before"/>; returns how many.</summary>
    Task<long> TrimAsync(double before, CancellationToken cancellationToken);
}
