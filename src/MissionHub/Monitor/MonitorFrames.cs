using System.Buffers;
using System.Text.Json;
using MissionHub.Events;
using MissionHub.Hub;

namespace MissionHub.Monitor;

/// <summary>
/// How events look on <c>/ws/monitor</c>: hub events flat as in spec 003 §1
/// (<c>{"type", …payload, "timestamp": ms, "seq"}</c>), every other event as its Charter envelope.
/// Each event is rendered once and the bytes are shared by every monitor.
/// </summary>
internal static class MonitorFrames
{
    public static byte[] Render(CharterEvent evt)
    {
        if (evt.MonitorFrame is { } cached)
        {
            return cached;
        }
        var frame = evt.Source == HubEvents.Source ? RenderFlat(evt) : evt.ToUtf8Json().ToArray();
        evt.MonitorFrame = frame;
        return frame;
    }

    private static byte[] RenderFlat(CharterEvent evt)
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            writer.WriteString("type", evt.Type);
            if (evt.Payload.ValueKind == JsonValueKind.Object)
            {
                foreach (var property in evt.Payload.EnumerateObject())
                {
                    if (property.NameEquals("type") || property.NameEquals("timestamp") || property.NameEquals("seq"))
                    {
                        continue;
                    }
                    property.WriteTo(writer);
                }
            }
            writer.WriteNumber("timestamp", (long)Math.Round(evt.Timestamp * 1000));
            writer.WriteNumber("seq", evt.Seq);
            writer.WriteEndObject();
        }
        return buffer.WrittenSpan.ToArray();
    }

    /// <summary><c>{"type":"event_batch","events":[…]}</c> from already-rendered frames.</summary>
    public static byte[] Batch(IReadOnlyList<byte[]> frames)
    {
        var buffer = new ArrayBufferWriter<byte>(frames.Sum(f => f.Length) + 64);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            writer.WriteString("type", "event_batch");
            writer.WriteStartArray("events");
            foreach (var frame in frames)
            {
                writer.WriteRawValue(frame, skipInputValidation: true);
            }
            writer.WriteEndArray();
            writer.WriteEndObject();
        }
        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>One <c>resync_data</c> chunk.</summary>
    public static byte[] ResyncData(IReadOnlyList<byte[]> frames, bool recovered, string epoch, long lastSeq, bool done, long timestampMs, string? reason)
    {
        var buffer = new ArrayBufferWriter<byte>(frames.Sum(f => f.Length) + 160);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            writer.WriteString("type", "resync_data");
            writer.WriteStartArray("events");
            foreach (var frame in frames)
            {
                writer.WriteRawValue(frame, skipInputValidation: true);
            }
            writer.WriteEndArray();
            writer.WriteNumber("timestamp", timestampMs);
            writer.WriteBoolean("recovered", recovered);
            writer.WriteString("epoch", epoch);
            writer.WriteNumber("last_seq", lastSeq);
            writer.WriteBoolean("done", done);
            if (reason is not null)
            {
                writer.WriteString("reason", reason);
            }
            writer.WriteEndObject();
        }
        return buffer.WrittenSpan.ToArray();
    }
}
