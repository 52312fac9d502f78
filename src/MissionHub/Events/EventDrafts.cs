using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using MissionHub.Infrastructure;

namespace MissionHub.Events;

/// <summary>
/// Events as drafts (no seq yet), for a store that writes them in the same atomic step as the change they describe.
/// </summary>
public static class EventDrafts
{
    /// <summary>The meta of events caused by the current request or socket message; taken before the write leaves its context.</summary>
    public static EventMeta CurrentMeta() =>
        new(CorrelationContext.Current) { Traceparent = Tracing.MissionHubTracing.CurrentTraceparent, Actor = Auth.AuthContext.Actor };

    public static CharterEvent Create<T>(
        string type, string source, string? target, double timestamp, EventMeta meta, T payload, JsonTypeInfo<T> payloadType) => new()
    {
        Id = Guid.CreateVersion7().ToString(),
        Type = type,
        Source = source,
        Target = target,
        Timestamp = timestamp,
        Payload = JsonSerializer.SerializeToElement(payload, payloadType),
        Meta = meta,
    };
}
