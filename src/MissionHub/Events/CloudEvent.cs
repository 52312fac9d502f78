using System.Globalization;
using System.Text.Json;

namespace MissionHub.Events;

/// <summary>A Charter event as CloudEvents 1.0 (JSON format), for consumers that speak CloudEvents.</summary>
public sealed record CloudEvent(
    string Specversion,
    string Id,
    string Source,
    string Type,
    string Time,
    string Datacontenttype,
    JsonElement Data,
    string? Target,
    long Sequence,
    string? Correlationid)
{
    public const string BatchMediaType = "application/cloudevents-batch+json";

    public static CloudEvent From(CharterEvent evt) => new(
        "1.0",
        evt.Id,
        evt.Source,
        evt.Type,
        DateTimeOffset.FromUnixTimeMilliseconds((long)Math.Round(evt.Timestamp * 1000))
            .ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture),
        "application/json",
        evt.Payload,
        evt.Target,
        evt.Seq,
        evt.Meta.CorrelationId);
}
