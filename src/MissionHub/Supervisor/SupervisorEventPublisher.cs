using System.Collections.Concurrent;
using System.Text.Json.Serialization.Metadata;
using MissionHub.Events;

namespace MissionHub.Supervisor;

/// <summary>
/// Publishes the <c>supervisor.*</c> events without making the request wait for the append (spec 001:
/// publishing never fails or slows the request), and watches how those appends end. Every health check
/// publishes one, so the event-log health check learns from real appends without writing probe events.
/// </summary>
public sealed class SupervisorEventPublisher(IEventPublisher events, EventBus bus, TimeProvider time)
{
    private readonly ConcurrentDictionary<long, long> _pendingSince = new();
    private long _nextId;
    private long _lastSuccessTicks;
    private long _lastSuccessLatencyTicks;
    private long _failuresAtLastSuccess = -1;
    private long _lastFailureTicks;

    /// <summary>Starts the append and returns at once; the outcome is recorded when it completes.</summary>
    public void Publish<TPayload>(string type, TPayload payload, JsonTypeInfo<TPayload> payloadType)
    {
        var id = Interlocked.Increment(ref _nextId);
        var started = time.GetTimestamp();
        _pendingSince[id] = started;
        // The request's token is not passed: the event must go out even if the client has gone.
        var append = events.PublishAsync(type, SupervisorEvents.Source, null, payload, payloadType, CancellationToken.None);
        if (append.IsCompleted)
        {
            Record(id, started, append.Result);
        }
        else
        {
            _ = ObserveAsync(id, started, append);
        }
    }

    private async Task ObserveAsync(long id, long started, ValueTask<CharterEvent?> append) =>
        Record(id, started, await append);

    private void Record(long id, long started, CharterEvent? appended)
    {
        _pendingSince.TryRemove(id, out _);
        var now = time.GetTimestamp();
        if (appended is null)
        {
            Interlocked.Exchange(ref _lastFailureTicks, now);
            return;
        }
        Interlocked.Exchange(ref _lastSuccessLatencyTicks, now - started);
        Interlocked.Exchange(ref _failuresAtLastSuccess, bus.PublishFailures);
        Interlocked.Exchange(ref _lastSuccessTicks, now);
    }

    /// <summary>What the recent appends say about the event log.</summary>
    public EventLogObservation Observe()
    {
        var now = time.GetTimestamp();
        TimeSpan? oldestPending = null;
        foreach (var since in _pendingSince.Values)
        {
            var waited = time.GetElapsedTime(since, now);
            if (oldestPending is null || waited > oldestPending)
            {
                oldestPending = waited;
            }
        }
        var lastSuccess = Interlocked.Read(ref _lastSuccessTicks);
        var failuresAtSuccess = Interlocked.Read(ref _failuresAtLastSuccess);
        var lastFailure = Interlocked.Read(ref _lastFailureTicks);
        return new EventLogObservation(
            LastSuccessAgo: lastSuccess == 0 ? null : time.GetElapsedTime(lastSuccess, now),
            LastSuccessLatency: lastSuccess == 0 ? null : TimeSpan.FromTicks(
                Interlocked.Read(ref _lastSuccessLatencyTicks) * TimeSpan.TicksPerSecond / time.TimestampFrequency),
            FailuresSinceLastSuccess: bus.PublishFailures - Math.Max(failuresAtSuccess, 0),
            LastFailureAgo: lastFailure == 0 ? null : time.GetElapsedTime(lastFailure, now),
            OldestPending: oldestPending);
    }
}

/// <summary>
/// <see cref="FailuresSinceLastSuccess"/> counts every failed publish in the process (any feature) since the
/// supervisor's last successful append, or since start if there has been none.
/// </summary>
public sealed record EventLogObservation(
    TimeSpan? LastSuccessAgo,
    TimeSpan? LastSuccessLatency,
    long FailuresSinceLastSuccess,
    TimeSpan? LastFailureAgo,
    TimeSpan? OldestPending);
