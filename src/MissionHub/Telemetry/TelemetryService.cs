using System.Collections.Concurrent;
using System.Globalization;
using System.Text.Json;
using Microsoft.Extensions.Options;
using MissionHub.Agents;
using MissionHub.Events;
using MissionHub.Infrastructure;

namespace MissionHub.Telemetry;

/// <summary>
/// Every robot's telemetry: which connection it is on, its latest values, its alerts, and the batched writes of
/// its samples to the time series. The robot sockets report to it; the API and <c>/metrics</c> read from it.
/// Each robot holds at most <see cref="TelemetryOptions.MaxFieldsPerRobot"/> field names, and robots gone for longer
/// than the agents' offline retention are forgotten.
/// </summary>
public sealed partial class TelemetryService : IRobotRoster, IAsyncDisposable
{
    private readonly ConcurrentDictionary<string, RobotState> _robots = new(StringComparer.Ordinal);
    private readonly IEventPublisher _events;
    private readonly AgentRegistry _agents;
    private readonly ITelemetryStore _store;
    private readonly TelemetryOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger<TelemetryService> _logger;
    private readonly BatchWriter<TelemetrySample> _writer;
    private long _pendingSamples;
    private long _droppedSamples;
    private long _writtenSamples;
    private long _failedSamples;
    private long _framesReceived;
    private long _refusedFrames;
    private int _writeFailing;

    public TelemetryService(
        IEventPublisher events, AgentRegistry agents, ITelemetryStore store, IOptions<TelemetryOptions> options,
        TimeProvider time, ILogger<TelemetryService> logger)
    {
        _events = events;
        _agents = agents;
        _store = store;
        _options = options.Value;
        _time = time;
        _logger = logger;
        _writer = new BatchWriter<TelemetrySample>(store.AppendAsync, maxBatch: 2048);
        agents.Attach(this);
    }

    public TelemetryOptions Options => _options;

    /// <summary>Frames accepted since start.</summary>
    public long FramesReceived => Interlocked.Read(ref _framesReceived);

    /// <summary>Samples written to the time series since start.</summary>
    public long SamplesWritten => Interlocked.Read(ref _writtenSamples);

    /// <summary>Samples not stored because too many writes were waiting, or because the write failed.</summary>
    public long SamplesDropped => Interlocked.Read(ref _droppedSamples) + Interlocked.Read(ref _failedSamples);

    public long SamplesPending => Interlocked.Read(ref _pendingSamples);

    internal ITelemetryStore Store => _store;

    /// <summary>
    /// Makes <paramref name="connection"/> the robot's connection. An older one is closed with <c>replaced</c>, and its
    /// <c>connection_closed</c> is published before this one's <c>connection_established</c>.
    /// </summary>
    internal async Task AttachAsync(TelemetryConnection connection, CancellationToken cancellationToken)
    {
        TelemetryConnection? previous;
        while (true)
        {
            var robot = _robots.GetOrAdd(connection.RobotId, id => new RobotState(id, _options.Alerts));
            lock (robot.Gate)
            {
                if (robot.Removed)
                {
                    continue; // pruned just now: take the fresh state
                }
                previous = robot.Connection;
                robot.Connection = connection;
                robot.State = AgentState.Online;
                robot.ConnectedAt = connection.ConnectedAt;
                robot.LastSeen = connection.ConnectedAt;
                robot.DisconnectReason = null;
                break;
            }
        }
        if (previous is not null)
        {
            previous.Close(TelemetryCloseReasons.Replaced);
            try
            {
                await previous.Completion.WaitAsync(TimeSpan.FromSeconds(5), cancellationToken);
            }
            catch (TimeoutException)
            {
                // The old socket is stuck in a send; it will still report its close when it ends.
            }
        }
        _agents.RobotConnected(connection.RobotId);
        LogConnected(_logger, connection.RobotId, connection.ConnectionId);
        await _events.PublishAsync(
            TelemetryEvents.ConnectionEstablished, TelemetryEvents.Source, null,
            new ConnectionEstablishedPayload(connection.RobotId, connection.ConnectionId, EventBus.UnixSeconds(connection.ConnectedAt)),
            TelemetryJsonContext.Default.ConnectionEstablishedPayload, cancellationToken);
    }

    /// <summary>The connection ended: marks the robot (unless a newer connection took over) and publishes <c>connection_closed</c>.</summary>
    internal async Task DetachAsync(TelemetryConnection connection, string reason)
    {
        var now = _time.GetUtcNow();
        if (_robots.TryGetValue(connection.RobotId, out var robot))
        {
            var current = false;
            lock (robot.Gate)
            {
                if (ReferenceEquals(robot.Connection, connection))
                {
                    current = true;
                    robot.Connection = null;
                    robot.State = reason is TelemetryCloseReasons.HeartbeatTimeout or TelemetryCloseReasons.Error
                        ? AgentState.ConnectionBroken
                        : AgentState.Offline;
                    robot.DisconnectReason = reason;
                }
            }
            if (current)
            {
                _agents.RobotDisconnected(connection.RobotId, reason);
            }
        }
        var duration = Math.Round((now - connection.ConnectedAt).TotalSeconds, 3);
        LogDisconnected(_logger, connection.RobotId, connection.ConnectionId, reason, duration);
        try
        {
            await _events.PublishAsync(
                TelemetryEvents.ConnectionClosed, TelemetryEvents.Source, null,
                new ConnectionClosedPayload(connection.RobotId, connection.ConnectionId, duration, reason, EventBus.UnixSeconds(now)),
                TelemetryJsonContext.Default.ConnectionClosedPayload, CancellationToken.None);
        }
        catch (Exception ex) when (Storage.StorageStatus.IsUnavailable(ex))
        {
            LogClosedNotStored(_logger, connection.RobotId, ex.Message);
        }
    }

    /// <summary>A frame without data (<c>{"type":"heartbeat"}</c>): the robot is alive.</summary>
    internal void Touch(string robotId)
    {
        if (_robots.TryGetValue(robotId, out var robot))
        {
            lock (robot.Gate)
            {
                robot.LastSeen = _time.GetUtcNow();
            }
        }
    }

    /// <summary>
    /// A valid frame: updates the latest values, queues the sample for the time series, and publishes any alert
    /// the frame raised or cleared. A frame that would give the robot more than <see cref="TelemetryOptions.MaxFieldsPerRobot"/>
    /// field names is refused as a whole (nothing of it applied or stored), and the refusal is returned for the robot.
    /// </summary>
    internal async ValueTask<TelemetryRefusal?> IngestAsync(string robotId, Dictionary<string, double> values, CancellationToken cancellationToken)
    {
        if (!_robots.TryGetValue(robotId, out var robot))
        {
            return null;
        }
        var now = _time.GetUtcNow();
        var timestamp = EventBus.UnixSeconds(now);
        List<AlertChange>? alerts = null;
        lock (robot.Gate)
        {
            var added = 0;
            foreach (var name in values.Keys)
            {
                added += robot.Latest.ContainsKey(name) ? 0 : 1;
            }
            if (robot.Latest.Count + added > _options.MaxFieldsPerRobot)
            {
                robot.LastSeen = now;
                Interlocked.Increment(ref _refusedFrames);
                return new TelemetryRefusal("too_many_robot_fields", string.Create(CultureInfo.InvariantCulture,
                    $"a robot may report at most {_options.MaxFieldsPerRobot} distinct fields; this frame would add {added} to the {robot.Latest.Count} known"));
            }
            foreach (var (name, value) in values)
            {
                robot.Latest[name] = value;
            }
            robot.LatestJson = null;
            robot.LatestTimestamp = timestamp;
            robot.LastSeen = now;
            if (_options.Alerts.Enabled)
            {
                Evaluate(robot.Battery, values, now, ref alerts);
                Evaluate(robot.Cpu, values, now, ref alerts);
            }
        }
        Interlocked.Increment(ref _framesReceived);
        _agents.RobotTelemetry(robotId);
        QueueWrite(new TelemetrySample(robotId, timestamp, values));

        if (alerts is not null)
        {
            foreach (var change in alerts)
            {
                await PublishAlertAsync(robotId, change, cancellationToken);
            }
        }
        return null;
    }

    /// <summary>Frames refused because they would exceed <see cref="TelemetryOptions.MaxFieldsPerRobot"/>, since start.</summary>
    public long FramesRefused => Interlocked.Read(ref _refusedFrames);

    public JsonElement? LatestTelemetry(string robotId)
    {
        if (!_robots.TryGetValue(robotId, out var robot))
        {
            return null;
        }
        lock (robot.Gate)
        {
            // Rendered once per change when someone asks, never per frame.
            return robot.LatestJson ??= JsonSerializer.SerializeToElement(robot.Latest, TelemetryJsonContext.Default.DictionaryStringDouble);
        }
    }

    public int PruneOffline(DateTimeOffset lastSeenBefore)
    {
        var pruned = 0;
        foreach (var robot in _robots.Values)
        {
            lock (robot.Gate)
            {
                if (robot.Connection is not null || (robot.LastSeen ?? robot.ConnectedAt ?? DateTimeOffset.MinValue) >= lastSeenBefore)
                {
                    continue;
                }
                // Marked under its lock: a connection attaching at this moment takes a fresh state instead.
                robot.Removed = true;
            }
            if (_robots.TryRemove(new KeyValuePair<string, RobotState>(robot.RobotId, robot)))
            {
                pruned++;
            }
        }
        return pruned;
    }

    private void Evaluate(AlertTracker tracker, Dictionary<string, double> values, DateTimeOffset now, ref List<AlertChange>? changes)
    {
        if (!values.TryGetValue(tracker.Metric, out var value))
        {
            return;
        }
        if (tracker.Observe(value, _options.Alerts.ConsecutiveFrames, now) is { } change)
        {
            (changes ??= []).Add(change);
        }
    }

    private async ValueTask PublishAlertAsync(string robotId, AlertChange change, CancellationToken cancellationToken)
    {
        var tracker = change.Tracker;
        if (change.Raised)
        {
            LogAlertRaised(_logger, robotId, tracker.Alert, change.Value);
            await _events.PublishAsync(
                TelemetryEvents.AlertRaised, TelemetryEvents.Source, null,
                new AlertRaisedPayload(robotId, tracker.Alert, tracker.Metric, change.Value, tracker.RaiseThreshold,
                    _options.Alerts.ConsecutiveFrames, EventBus.UnixSeconds(change.At)),
                TelemetryJsonContext.Default.AlertRaisedPayload, cancellationToken);
        }
        else
        {
            LogAlertCleared(_logger, robotId, tracker.Alert, change.Value);
            await _events.PublishAsync(
                TelemetryEvents.AlertCleared, TelemetryEvents.Source, null,
                new AlertClearedPayload(robotId, tracker.Alert, tracker.Metric, change.Value, tracker.ClearThreshold,
                    Math.Round(change.ActiveFor.TotalSeconds, 3), EventBus.UnixSeconds(change.At)),
                TelemetryJsonContext.Default.AlertClearedPayload, cancellationToken);
        }
    }

    private void QueueWrite(TelemetrySample sample)
    {
        if (Interlocked.Increment(ref _pendingSamples) > _options.MaxPendingSamples)
        {
            Interlocked.Decrement(ref _pendingSamples);
            if (Interlocked.Increment(ref _droppedSamples) == 1)
            {
                LogSamplesDropped(_logger, _options.MaxPendingSamples);
            }
            return;
        }
        Task write;
        try
        {
            write = _writer.WriteAsync(sample);
        }
        catch (ObjectDisposedException)
        {
            Interlocked.Decrement(ref _pendingSamples);
            return; // shutting down
        }
        _ = write.ContinueWith(
            static (task, state) => ((TelemetryService)state!).OnWritten(task),
            this, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
    }

    private void OnWritten(Task write)
    {
        Interlocked.Decrement(ref _pendingSamples);
        if (write.IsCompletedSuccessfully)
        {
            Interlocked.Increment(ref _writtenSamples);
            if (Interlocked.Exchange(ref _writeFailing, 0) == 1)
            {
                LogWritesRecovered(_logger);
            }
            return;
        }
        Interlocked.Increment(ref _failedSamples);
        if (Interlocked.Exchange(ref _writeFailing, 1) == 0)
        {
            LogWriteFailed(_logger, write.Exception?.GetBaseException());
        }
    }

    /// <summary>Every robot seen since start, ordered by id.</summary>
    public IReadOnlyList<RobotSummary> ListRobots() =>
        [.. _robots.Values.Select(Describe).OrderBy(r => r.RobotId, StringComparer.Ordinal)];

    public RobotSummary? GetRobot(string robotId) => _robots.TryGetValue(robotId, out var robot) ? Describe(robot) : null;

    /// <summary>
    /// The latest values of a robot that has sent at least one frame; publishes <c>telemetry.metrics_published</c>
    /// without making the read wait for the event's durable append (spec 004: publishing never blocks the request;
    /// the append still completes, and a failure is logged by the publisher).
    /// </summary>
    public RobotMetricsResponse? PublishLatest(string robotId)
    {
        if (GetRobot(robotId) is not { } robot || !_robots.TryGetValue(robotId, out var state) || state.LatestTimestamp is not { } at)
        {
            return null;
        }
        var now = EventBus.UnixSeconds(_time.GetUtcNow());
        _ = _events.PublishAsync(
            TelemetryEvents.MetricsPublished, TelemetryEvents.Source, null,
            new MetricsPublishedPayload(robotId, robot.Metrics, now),
            TelemetryJsonContext.Default.MetricsPublishedPayload, CancellationToken.None).AsTask();
        return new RobotMetricsResponse(robotId, robot.State, robot.Metrics, robot.Extra, at);
    }

    /// <summary>Robots connected now or heard from within <see cref="TelemetryOptions.GaugeStaleAfter"/>, with their latest values.</summary>
    public IReadOnlyList<(string RobotId, IReadOnlyDictionary<string, double> Latest)> RecentRobots()
    {
        var cutoff = _time.GetUtcNow() - _options.GaugeStaleAfter;
        var recent = new List<(string, IReadOnlyDictionary<string, double>)>();
        foreach (var robot in _robots.Values)
        {
            lock (robot.Gate)
            {
                if (robot.Connection is not null || robot.LastSeen >= cutoff)
                {
                    recent.Add((robot.RobotId, new Dictionary<string, double>(robot.Latest)));
                }
            }
        }
        return recent;
    }

    /// <summary>How many robots are in each state (online, offline, connection_broken).</summary>
    public IReadOnlyDictionary<string, int> CountByState()
    {
        var counts = new Dictionary<string, int>(StringComparer.Ordinal)
        {
            [AgentState.Online] = 0, [AgentState.Offline] = 0, [AgentState.ConnectionBroken] = 0,
        };
        foreach (var robot in _robots.Values)
        {
            lock (robot.Gate)
            {
                counts[robot.State] = counts.GetValueOrDefault(robot.State) + 1;
            }
        }
        return counts;
    }

    public int ConnectedCount => _robots.Values.Count(r => Volatile.Read(ref r.Connection) is not null);

    /// <summary>The time series downsampled into buckets of <paramref name="step"/> seconds from <paramref name="from"/>.</summary>
    public async Task<RobotHistory> HistoryAsync(string robotId, double from, double to, double step, CancellationToken cancellationToken)
    {
        var buckets = new SortedDictionary<long, BucketAccumulator>();
        var samples = 0;
        await foreach (var sample in _store.ReadAsync(robotId, from, to, cancellationToken))
        {
            samples++;
            var index = (long)Math.Floor((sample.Timestamp - from) / step);
            if (!buckets.TryGetValue(index, out var bucket))
            {
                buckets[index] = bucket = new BucketAccumulator();
            }
            bucket.Add(sample.Values);
        }
        return new RobotHistory(robotId, from, to, step, samples,
            [.. buckets.Select(b => b.Value.ToBucket(from + b.Key * step, Math.Min(to, from + (b.Key + 1) * step)))]);
    }

    public bool IsKnown(string robotId) => _robots.ContainsKey(robotId);

    private static RobotSummary Describe(RobotState robot)
    {
        lock (robot.Gate)
        {
            var latest = robot.Latest;
            var metrics = new RobotMetrics(
                Get(latest, TelemetryMetricNames.CpuUsage),
                Get(latest, TelemetryMetricNames.MemoryUsage),
                Get(latest, TelemetryMetricNames.NetworkLatencyMs),
                Get(latest, TelemetryMetricNames.BatteryPercentage));
            var extra = latest.Where(p => !TelemetryMetricNames.Standard.Contains(p.Key))
                .ToDictionary(p => p.Key, p => p.Value, StringComparer.Ordinal);
            List<string> alerts = [];
            if (robot.Battery.Active)
            {
                alerts.Add(robot.Battery.Alert);
            }
            if (robot.Cpu.Active)
            {
                alerts.Add(robot.Cpu.Alert);
            }
            return new RobotSummary(
                robot.RobotId,
                robot.State,
                robot.Connection is not null,
                robot.Connection?.ConnectionId,
                robot.ConnectedAt is { } connected ? EventBus.UnixSeconds(connected) : null,
                robot.LastSeen is { } seen ? EventBus.UnixSeconds(seen) : null,
                robot.DisconnectReason,
                metrics,
                extra,
                alerts);
        }
    }

    private static double? Get(Dictionary<string, double> values, string name) => values.TryGetValue(name, out var value) ? value : null;

    public async ValueTask DisposeAsync() => await _writer.DisposeAsync();

    private sealed class RobotState(string robotId, TelemetryAlertOptions alerts)
    {
        public readonly Lock Gate = new();
        public readonly string RobotId = robotId;
        public readonly Dictionary<string, double> Latest = new(StringComparer.Ordinal);
        public readonly AlertTracker Battery = AlertTracker.Below("battery_low", TelemetryMetricNames.BatteryPercentage, alerts.BatteryLowBelow, alerts.BatteryClearAtOrAbove);
        public readonly AlertTracker Cpu = AlertTracker.Above("cpu_high", TelemetryMetricNames.CpuUsage, alerts.CpuHighAbove, alerts.CpuClearAtOrBelow);
        public TelemetryConnection? Connection;
        public string State = AgentState.Offline;
        public DateTimeOffset? ConnectedAt;
        public DateTimeOffset? LastSeen;
        public double? LatestTimestamp;
        public string? DisconnectReason;
        public JsonElement? LatestJson;
        public bool Removed;
    }

    private sealed class BucketAccumulator
    {
        private readonly Dictionary<string, (double Min, double Sum, double Max, int Count)> _metrics = new(StringComparer.Ordinal);
        private int _count;

        public void Add(IReadOnlyDictionary<string, double> values)
        {
            _count++;
            foreach (var (name, value) in values)
            {
                _metrics[name] = _metrics.TryGetValue(name, out var m)
                    ? (Math.Min(m.Min, value), m.Sum + value, Math.Max(m.Max, value), m.Count + 1)
                    : (value, value, value, 1);
            }
        }

        public HistoryBucket ToBucket(double start, double end) => new(
            start, end, _count,
            _metrics.OrderBy(m => m.Key, StringComparer.Ordinal).ToDictionary(
                m => m.Key, m => new MetricSummary(m.Value.Min, Math.Round(m.Value.Sum / m.Value.Count, 6), m.Value.Max), StringComparer.Ordinal));
    }

    [LoggerMessage(EventId = 4001, Level = LogLevel.Information, Message = "Robot {RobotId} connected ({ConnectionId})")]
    private static partial void LogConnected(ILogger logger, string robotId, string connectionId);

    [LoggerMessage(EventId = 4002, Level = LogLevel.Information, Message = "Robot {RobotId} disconnected ({ConnectionId}): {Reason} after {DurationSeconds} s")]
    private static partial void LogDisconnected(ILogger logger, string robotId, string connectionId, string reason, double durationSeconds);

    [LoggerMessage(EventId = 4008, Level = LogLevel.Warning, Message = "Robot {RobotId} disconnected, but storage did not take its connection_closed event: {Detail}")]
    private static partial void LogClosedNotStored(ILogger logger, string robotId, string detail);

    [LoggerMessage(EventId = 4003, Level = LogLevel.Warning, Message = "Telemetry samples are being dropped: more than {MaxPending} are waiting to be written")]
    private static partial void LogSamplesDropped(ILogger logger, int maxPending);

    [LoggerMessage(EventId = 4004, Level = LogLevel.Error, Message = "Writing telemetry samples failed; the latest values stay current but the history has a gap")]
    private static partial void LogWriteFailed(ILogger logger, Exception? exception);

    [LoggerMessage(EventId = 4005, Level = LogLevel.Information, Message = "Writing telemetry samples works again")]
    private static partial void LogWritesRecovered(ILogger logger);

    [LoggerMessage(EventId = 4006, Level = LogLevel.Warning, Message = "Alert {Alert} raised for robot {RobotId} at {Value}")]
    private static partial void LogAlertRaised(ILogger logger, string robotId, string alert, double value);

    [LoggerMessage(EventId = 4007, Level = LogLevel.Information, Message = "Alert {Alert} cleared for robot {RobotId} at {Value}")]
    private static partial void LogAlertCleared(ILogger logger, string robotId, string alert, double value);
}

/// <summary>Why a valid frame was not taken: sent to the robot as an <c>error</c> frame with this code.</summary>
internal readonly record struct TelemetryRefusal(string Code, string Message);
