using System.Text.Json;
using System.Text.Json.Serialization;

namespace MissionHub.Events;

/// <summary>
/// One Charter v1.0 envelope: the unit of the event stream (DESIGN.md §1).
/// <see cref="Seq"/> is assigned by the event log; a draft that has not been appended has <c>Seq = 0</c>.
/// </summary>
public sealed record CharterEvent
{
    public required string Id { get; init; }

    public required string Type { get; init; }

    public required string Source { get; init; }

    /// <summary>Null means broadcast; serialized as an explicit <c>null</c>.</summary>
    public string? Target { get; init; }

    /// <summary>Unix seconds with fractional milliseconds.</summary>
    public required double Timestamp { get; init; }

    public required JsonElement Payload { get; init; }

    public required EventMeta Meta { get; init; }

    public long Seq { get; init; }

    private byte[]? _utf8Json;

    /// <summary>
    /// The envelope as UTF-8 JSON, serialized once and shared by every consumer (SSE, monitors).
    /// </summary>
    public ReadOnlyMemory<byte> ToUtf8Json() =>
        _utf8Json ??= JsonSerializer.SerializeToUtf8Bytes(this, EventsJsonContext.Default.CharterEvent);

    /// <summary>This event as a monitor frame, rendered once and shared by every monitor (set by the monitor).</summary>
    [JsonIgnore]
    internal byte[]? MonitorFrame { get; set; }

    public bool Equals(CharterEvent? other) =>
        other is not null && Seq == other.Seq && Id == other.Id;

    public override int GetHashCode() => HashCode.Combine(Seq, Id);
}

public sealed record EventMeta(string? CorrelationId, string Version = EventMeta.CharterVersion)
{
    public const string CharterVersion = "1.0";

    /// <summary>W3C traceparent of the trace that caused the event (a job's events: the job's); absent when untraced.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Traceparent { get; init; }

    /// <summary>Who caused the event (an API key's name or a JWT's subject); absent for anonymous callers and the hub itself.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Actor { get; init; }
}

/// <summary>
/// An answer of the log: a page of events plus where it stands, so a client can tell a gap from an end.
/// <paramref name="ScanCapped"/>: the read stopped after examining as many events as one read may, before reaching the
/// head or filling the page; continue from <paramref name="NextAfterSeq"/>.
/// </summary>
public sealed record EventPage(
    string Epoch,
    bool Recovered,
    IReadOnlyList<CharterEvent> Events,
    long NextAfterSeq,
    long FirstSeq,
    long LastSeq,
    string? Reason = null,
    bool ScanCapped = false);

[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower,
    DefaultIgnoreCondition = JsonIgnoreCondition.Never)]
[JsonSerializable(typeof(CharterEvent))]
[JsonSerializable(typeof(EventPage))]
[JsonSerializable(typeof(EventStreamReset))]
[JsonSerializable(typeof(CloudEvent))]
[JsonSerializable(typeof(List<CloudEvent>))]
[JsonSerializable(typeof(HealthResponse))]
public sealed partial class EventsJsonContext : JsonSerializerContext;

/// <summary>Sent on the SSE stream when a resume point cannot be honoured.</summary>
public sealed record EventStreamReset(bool Recovered, string Epoch, long LastSeq, string Reason);

public sealed record HealthResponse(string Status, string Storage, string Epoch, long LastSeq);
