using System.Diagnostics;
using Microsoft.Extensions.Options;
using MissionHub.Events;
using MissionHub.Hub;
using MissionHub.Missions;
using MissionHub.Supervisor;

namespace MissionHub.Metrics;

/// <summary>
/// <c>aggregate_mission_metrics</c> (spec 004 events 1–3): every <see cref="MetricsOptions.AggregationInterval"/>, one run at a
/// time, folds the missions that changed since the last run into an in-memory picture of the last 24 hours (seeded once,
/// at the first run, from the missions changed in that time), and publishes the figures. A run reads only what changed,
/// plus the maintained per-status counters, so it stays fast however many missions are stored. A failed run is reported
/// and the schedule goes on; the next run picks up from where the last successful one ended.
/// </summary>
public sealed partial class MissionMetricsAggregator(
    IMissionStore store,
    MissionHub.Monitor.MonitorState hubState,
    IEventPublisher events,
    IOptions<MetricsOptions> options,
    IBackgroundJobHeartbeat heartbeat,
    TimeProvider time,
    ILogger<MissionMetricsAggregator> logger) : BackgroundService
{
    public static readonly IReadOnlyList<(string Name, TimeSpan Span)> Windows =
        [("5m", TimeSpan.FromMinutes(5)), ("1h", TimeSpan.FromHours(1)), ("24h", TimeSpan.FromHours(24))];

    private static readonly TimeSpan Horizon = TimeSpan.FromHours(24);

    private readonly SemaphoreSlim _turn = new(1, 1);
    private readonly Dictionary<string, MissionChange> _recent = new(StringComparer.Ordinal);
    private bool _seeded;
    private double _cursorAt;
    private string? _cursorId;
    private (JobCounts Counts, long Timestamp)? _lastJobs;
    private MissionMetrics? _latest;
    private AggregationRun? _lastRun;
    private long _runs;
    private long _failures;

    /// <summary>The figures of the last successful run, or null before the first.</summary>
    public MissionMetrics? Latest => Volatile.Read(ref _latest);

    public long Runs => Interlocked.Read(ref _runs);

    public long Failures => Interlocked.Read(ref _failures);

    public MissionMetricsResponse Describe() => new(Latest, Volatile.Read(ref _lastRun), Runs, Failures);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        // The supervisor's health check reports this job overdue when it stops succeeding.
        heartbeat.Register(MetricsEvents.JobId, options.Value.AggregationInterval);
        using var timer = new PeriodicTimer(options.Value.AggregationInterval, time);
        try
        {
            if (!options.Value.AggregateAtStart)
            {
                await timer.WaitForNextTickAsync(stoppingToken);
            }
            do
            {
                await RunOnceAsync(stoppingToken);
            }
            // A run longer than the interval makes the next tick come at once, never a second run beside it.
            while (await timer.WaitForNextTickAsync(stoppingToken));
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    /// <summary>One run; waits for a run in progress rather than overlapping it. True if it completed.</summary>
    public async Task<bool> RunOnceAsync(CancellationToken cancellationToken)
    {
        await _turn.WaitAsync(cancellationToken);
        try
        {
            var started = time.GetUtcNow();
            var stopwatch = time.GetTimestamp();
            Interlocked.Increment(ref _runs);
            await events.PublishAsync(
                MetricsEvents.AggregationStarted, MetricsEvents.Source, null,
                new AggregationStartedPayload(MetricsEvents.JobId, EventBus.UnixSeconds(started)),
                MetricsJsonContext.Default.AggregationStartedPayload, cancellationToken);
            try
            {
                var (metrics, processed) = await AggregateAsync(started, stopwatch, cancellationToken);
                var durationMs = (long)time.GetElapsedTime(stopwatch).TotalMilliseconds;
                metrics = metrics with { DurationMs = durationMs };
                Volatile.Write(ref _latest, metrics);
                var completedAt = time.GetUtcNow();
                Volatile.Write(ref _lastRun, new AggregationRun("completed", EventBus.UnixSeconds(completedAt), durationMs, null, null));
                await events.PublishAsync(
                    MetricsEvents.AggregationCompleted, MetricsEvents.Source, null,
                    new AggregationCompletedPayload(MetricsEvents.JobId, processed, durationMs, EventBus.UnixSeconds(completedAt)),
                    MetricsJsonContext.Default.AggregationCompletedPayload, cancellationToken);
                LogCompleted(logger, processed, durationMs);
                heartbeat.ReportSuccess(MetricsEvents.JobId);
                return true;
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                throw;
            }
            catch (Exception ex)
            {
                Interlocked.Increment(ref _failures);
                var failedAt = time.GetUtcNow();
                var durationMs = (long)time.GetElapsedTime(stopwatch).TotalMilliseconds;
                var errorType = ex.GetType().Name;
                Volatile.Write(ref _lastRun, new AggregationRun("failed", EventBus.UnixSeconds(failedAt), durationMs, ex.Message, errorType));
                LogFailed(logger, ex);
                heartbeat.ReportFailure(MetricsEvents.JobId, $"{errorType}: {ex.Message}");
                await events.PublishAsync(
                    MetricsEvents.AggregationFailed, MetricsEvents.Source, null,
                    new AggregationFailedPayload(MetricsEvents.JobId, ex.Message, errorType, EventBus.UnixSeconds(failedAt)),
                    MetricsJsonContext.Default.AggregationFailedPayload, cancellationToken);
                return false;
            }
        }
        finally
        {
            _turn.Release();
        }
    }

    private async Task<(MissionMetrics Metrics, long Processed)> AggregateAsync(DateTimeOffset now, long stopwatch, CancellationToken cancellationToken)
    {
        var settings = options.Value;
        var nowSeconds = EventBus.UnixSeconds(now);
        var horizon = nowSeconds - Horizon.TotalSeconds;

        // 1. Fold in what changed: from the horizon on the first run, else from a little before the last position.
        var since = _seeded ? Math.Max(horizon, _cursorAt - settings.ChangeOverlap.TotalSeconds) : horizon;
        string? after = null;
        var (cursorAt, cursorId) = (_cursorAt, _cursorId);
        long processed = 0;
        while (true)
        {
            var page = await store.ListChangedAsync(since, after, settings.PageSize, cancellationToken);
            foreach (var change in page)
            {
                if (!_recent.TryGetValue(change.Id, out var known) || known != change)
                {
                    _recent[change.Id] = change;
                    processed++;
                }
                if (change.UpdatedAt > cursorAt || (change.UpdatedAt == cursorAt && string.CompareOrdinal(change.Id, cursorId) > 0))
                {
                    (cursorAt, cursorId) = (change.UpdatedAt, change.Id);
                }
            }
            if (page.Count < settings.PageSize)
            {
                break;
            }
            (since, after) = (page[^1].UpdatedAt, page[^1].Id);
        }

        // 2. The maintained counters: exact per status without a scan.
        var stats = await store.GetStatsAsync(cancellationToken);

        // Only now is the run sure to succeed: move the position on and forget what left the 24 h picture.
        (_cursorAt, _cursorId, _seeded) = (cursorAt, cursorId, true);
        List<string>? expired = null;
        foreach (var (id, change) in _recent)
        {
            if (change.UpdatedAt < horizon)
            {
                (expired ??= []).Add(id);
            }
        }
        expired?.ForEach(id => _recent.Remove(id));

        // 3. The windows, from the picture.
        var windows = new List<WindowStats>(Windows.Count);
        foreach (var (name, span) in Windows)
        {
            var from = nowSeconds - span.TotalSeconds;
            long created = 0, completed = 0, failed = 0, cancelled = 0;
            var durations = new List<double>();
            foreach (var change in _recent.Values)
            {
                if (change.CreatedAt >= from)
                {
                    created++;
                }
                if (change.Status.IsFinal() && change.UpdatedAt >= from)
                {
                    switch (change.Status)
                    {
                        case MissionStatus.Completed: completed++; break;
                        case MissionStatus.Failed: failed++; break;
                        default: cancelled++; break;
                    }
                    durations.Add(Math.Max(0, change.UpdatedAt - change.CreatedAt));
                }
            }
            windows.Add(new WindowStats(name, span.TotalSeconds, created, completed, failed, cancelled,
                Rate(completed, completed + failed + cancelled), Percentiles(durations)));
        }

        var byStatus = stats.ByStatus;
        var finals = byStatus.GetValueOrDefault("COMPLETED") + byStatus.GetValueOrDefault("FAILED") + byStatus.GetValueOrDefault("CANCELLED");
        var metrics = new MissionMetrics(
            nowSeconds, stats.Total, byStatus, Rate(byStatus.GetValueOrDefault("COMPLETED"), finals), windows, JobFigures(), processed,
            (long)time.GetElapsedTime(stopwatch).TotalMilliseconds);
        return (metrics, processed);
    }

    private JobStats JobFigures()
    {
        var counts = hubState.Counts();
        var now = time.GetTimestamp();
        double? completedPerMinute = null, failedPerMinute = null;
        if (_lastJobs is { } last && time.GetElapsedTime(last.Timestamp, now).TotalMinutes is var minutes and > 0
            && counts.Completed >= last.Counts.Completed && counts.Failed >= last.Counts.Failed)
        {
            completedPerMinute = Math.Round((counts.Completed - last.Counts.Completed) / minutes, 3);
            failedPerMinute = Math.Round((counts.Failed - last.Counts.Failed) / minutes, 3);
        }
        _lastJobs = (counts, now);
        var byStatus = new Dictionary<string, long>(StringComparer.Ordinal)
        {
            [JobStatus.Pending] = counts.Pending,
            [JobStatus.Assigned] = counts.Assigned,
            [JobStatus.Running] = counts.Running,
            [JobStatus.Completed] = counts.Completed,
            [JobStatus.Failed] = counts.Failed,
            [JobStatus.Cancelled] = counts.Cancelled,
        };
        return new JobStats(byStatus, counts.Total, completedPerMinute, failedPerMinute, Rate(counts.Failed, counts.Completed + counts.Failed));
    }

    private static double? Rate(long part, long whole) => whole == 0 ? null : Math.Round((double)part / whole, 6);

    /// <summary>Nearest-rank percentiles: the smallest value with at least p % of the values at or below it.</summary>
    internal static DurationStats Percentiles(List<double> values)
    {
        if (values.Count == 0)
        {
            return new DurationStats(0, null, null, null);
        }
        values.Sort();
        double Rank(double p) => Math.Round(values[Math.Max(0, (int)Math.Ceiling(p / 100 * values.Count) - 1)], 3);
        return new DurationStats(values.Count, Rank(50), Rank(95), Math.Round(values[^1], 3));
    }

    public override void Dispose()
    {
        _turn.Dispose();
        base.Dispose();
    }

    [LoggerMessage(EventId = 5001, Level = LogLevel.Debug, Message = "Mission metrics aggregated: {EntriesProcessed} changes in {DurationMs} ms")]
    private static partial void LogCompleted(ILogger logger, long entriesProcessed, long durationMs);

    [LoggerMessage(EventId = 5002, Level = LogLevel.Warning, Message = "Mission metrics aggregation failed; the next run will retry")]
    private static partial void LogFailed(ILogger logger, Exception exception);
}
