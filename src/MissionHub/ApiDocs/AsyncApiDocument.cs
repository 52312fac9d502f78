using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Schema;
using System.Text.Json.Serialization;
using MissionHub.Events;
using MissionHub.Hub;
using MissionHub.Metrics;
using MissionHub.Missions;
using MissionHub.Monitor;
using MissionHub.Schedules;
using MissionHub.Supervisor;
using MissionHub.Telemetry;

namespace MissionHub.ApiDocs;

/// <summary>
/// The AsyncAPI 3.0 document of the three WebSocket protocols and of the event stream. Every payload schema is
/// exported (<see cref="JsonSchemaExporter"/>) from the source-generated JSON contract of the record the server
/// serialises, so the document cannot say something the wire does not.
/// </summary>
public static class AsyncApiDocument
{
    /// <summary>One message of a protocol: its <c>type</c> value (null for untyped frames) and the record on the wire.</summary>
    public sealed record Frame(string Name, string? TypeValue, Type Record, string Summary);

    /// <summary>One event type of the stream and the record of its payload.</summary>
    public sealed record EventType(string Type, string Source, Type Payload, string Topic);

    public static readonly IReadOnlyList<EventType> Events =
    [
        new(MissionEvents.Created, MissionEvents.Source, typeof(MissionCreatedPayload), "missions"),
        new(MissionEvents.StatusChanged, MissionEvents.Source, typeof(MissionStatusChangedPayload), "missions"),
        new(MissionEvents.LogAppended, MissionEvents.Source, typeof(MissionLogAppendedPayload), "missions"),
        new(SupervisorEvents.HealthChecked, SupervisorEvents.Source, typeof(HealthCheckedPayload), "supervisor"),
        new(SupervisorEvents.StatusQueried, SupervisorEvents.Source, typeof(StatusQueriedPayload), "supervisor"),
        new(SupervisorEvents.AgentsListed, SupervisorEvents.Source, typeof(AgentsListedPayload), "supervisor"),
        new(MetricsEvents.AggregationStarted, MetricsEvents.Source, typeof(AggregationStartedPayload), "metrics"),
        new(MetricsEvents.AggregationCompleted, MetricsEvents.Source, typeof(AggregationCompletedPayload), "metrics"),
        new(MetricsEvents.AggregationFailed, MetricsEvents.Source, typeof(AggregationFailedPayload), "metrics"),
        new(TelemetryEvents.ConnectionEstablished, TelemetryEvents.Source, typeof(ConnectionEstablishedPayload), "telemetry"),
        new(TelemetryEvents.ConnectionClosed, TelemetryEvents.Source, typeof(ConnectionClosedPayload), "telemetry"),
        new(TelemetryEvents.MetricsPublished, TelemetryEvents.Source, typeof(MetricsPublishedPayload), "telemetry"),
        new(TelemetryEvents.AlertRaised, TelemetryEvents.Source, typeof(AlertRaisedPayload), "telemetry"),
        new(TelemetryEvents.AlertCleared, TelemetryEvents.Source, typeof(AlertClearedPayload), "telemetry"),
        new("worker_connected", "hub", typeof(WorkerConnectedPayload), "workers"),
        new("worker_disconnected", "hub", typeof(WorkerDisconnectedPayload), "workers"),
        new("worker_status_changed", "hub", typeof(WorkerStatusChangedPayload), "workers"),
        new("job_submitted", "hub", typeof(JobSubmittedPayload), "jobs"),
        new("job_assigned", "hub", typeof(JobAssignedPayload), "jobs"),
        new("job_status_changed", "hub", typeof(JobStatusChangedPayload), "jobs"),
        new("job_progress", "hub", typeof(JobProgressPayload), "jobs"),
        new("job_completed", "hub", typeof(JobCompletedPayload), "jobs"),
        new("job_failed", "hub", typeof(JobFailedPayload), "jobs"),
        new("system_stats", "hub", typeof(SystemStatsPayload), "system_stats"),
        new(HubEvents.JobsPurgedType, HubEvents.Source, typeof(JobsPurgedPayload), "jobs"),
        new(HubEvents.QueuePausedType, HubEvents.Source, typeof(QueuePausedPayload), "jobs:status"),
        new(HubEvents.QueueResumedType, HubEvents.Source, typeof(QueueResumedPayload), "jobs:status"),
        new(ScheduleEvents.Created, HubEvents.Source, typeof(ScheduleCreatedPayload), "schedules"),
        new(ScheduleEvents.Fired, HubEvents.Source, typeof(ScheduleFiredPayload), "schedules"),
        new(ScheduleEvents.Skipped, HubEvents.Source, typeof(ScheduleSkippedPayload), "schedules"),
        new(ScheduleEvents.Paused, HubEvents.Source, typeof(SchedulePausedPayload), "schedules"),
        new(ScheduleEvents.Resumed, HubEvents.Source, typeof(ScheduleResumedPayload), "schedules"),
        new(ScheduleEvents.Deleted, HubEvents.Source, typeof(ScheduleDeletedPayload), "schedules"),
    ];

    public static readonly IReadOnlyList<Frame> WorkerToHub =
    [
        new("worker_register", "worker_register", typeof(WorkerRegisterFrame), "First frame: who the worker is and what it takes"),
        new("worker_heartbeat", "heartbeat", typeof(WorkerHeartbeatFrame), "At least every 10 s; renews the worker's jobs"),
        new("worker_job_progress", "job_progress", typeof(JobProgressFrame), "Progress of a held job, 0..1"),
        new("worker_job_completed", "job_completed", typeof(JobCompletedFrame), "A held job finished with its result"),
        new("worker_job_failed", "job_failed", typeof(JobFailedFrame), "A held job failed"),
    ];

    public static readonly IReadOnlyList<Frame> HubToWorker =
    [
        new("registered", "registered", typeof(RegisteredMessage), "The answer to worker_register"),
        new("job_assigned", "job_assigned", typeof(JobAssignedMessage), "A job for the worker, with its attempt"),
        new("job_cancelled", "job_cancelled", typeof(JobCancelledMessage), "Stop a held job (cancelled or timed out)"),
        new("worker_error", "error", typeof(ErrorMessage), "A refused frame; the connection stays usable"),
    ];

    public static readonly IReadOnlyList<Frame> MonitorToHub =
    [
        new("monitor_connect", "monitor_connect", typeof(MonitorConnectFrame), "Opens the session; answered with full_state_snapshot"),
        new("subscribe", "subscribe", typeof(SubscribeFrame), "Topics and filters"),
        new("monitor_heartbeat", "heartbeat", typeof(MonitorHeartbeatFrame), "Answered with heartbeat_ack"),
        new("resync_request", "resync_request", typeof(ResyncRequestFrame), "Replay from last_seq (exact) or last_event_timestamp"),
    ];

    public static readonly IReadOnlyList<Frame> HubToMonitor =
    [
        new("full_state_snapshot", "full_state_snapshot", typeof(FullStateSnapshot), "The state as of seq in epoch"),
        new("subscribed", "subscribed", typeof(SubscribedMessage), "The subscription in force and the seq it starts after"),
        new("monitor_connected", "monitor_connected", typeof(SubscribedMessage), "Sent after the snapshot"),
        new("heartbeat_ack", "heartbeat_ack", typeof(HeartbeatAck), "The answer to heartbeat, with events_missed"),
        new("server_heartbeat", "heartbeat", typeof(ServerHeartbeat), "Every 15 s on the heartbeat topic"),
        new("events_missed", "events_missed", typeof(EventsMissedNotice), "The monitor fell behind: resync"),
        new("resync_data", "resync_data", typeof(ResyncDataFrame), "A chunk of replayed events"),
        new("hub_event", null, typeof(FlatHubEventFrame), "A hub event rendered flat: type, the payload's fields, timestamp (ms), seq"),
        new("charter_event", null, typeof(CharterEvent), "An event of the other topics as its Charter envelope"),
        new("monitor_error", "error", typeof(MonitorError), "A refused frame"),
    ];

    public static readonly IReadOnlyList<Frame> RobotToHub =
    [
        new("telemetry_frame", null, typeof(TelemetryFrame), "One sample; extra numeric fields are kept"),
    ];

    public static readonly IReadOnlyList<Frame> HubToRobot =
    [
        new("telemetry_error", "error", typeof(TelemetryErrorFrame), "A refused frame"),
    ];

    private static readonly JsonSerializerContext[] Contracts =
    [
        ProtocolFramesJsonContext.Default, HubJsonContext.Default, MonitorJsonContext.Default, EventsJsonContext.Default,
        MissionsJsonContext.Default, SupervisorJsonContext.Default, TelemetryJsonContext.Default, MetricsJsonContext.Default,
        ScheduleJsonContext.Default,
    ];

    /// <summary>
    /// The JSON Schema of a record exactly as the server's source-generated contract serialises it, self-contained
    /// (the exporter's schema-local <c>$ref</c>s to repeated types are inlined, so it can sit inside the document).
    /// </summary>
    public static JsonNode SchemaOf(Type record)
    {
        var typeInfo = Contracts.Select(c => c.GetTypeInfo(record)).FirstOrDefault(t => t is not null)
            ?? throw new InvalidOperationException($"{record.Name} is in no source-generated JSON context of the server");
        var schema = typeInfo.GetJsonSchemaAsNode(new JsonSchemaExporterOptions { TreatNullObliviousAsNonNullable = true });
        return Inline(schema, schema, 0);
    }

    private static JsonNode Inline(JsonNode node, JsonNode root, int depth)
    {
        if (depth > 32)
        {
            throw new InvalidOperationException("schema nesting too deep to inline");
        }
        switch (node)
        {
            case JsonObject obj when obj["$ref"] is JsonValue reference && reference.GetValue<string>() is ['#', ..] pointer:
                JsonNode? target = root;
                foreach (var segment in pointer.TrimStart('#').Split('/', StringSplitOptions.RemoveEmptyEntries))
                {
                    target = target is JsonArray array ? array[int.Parse(segment, System.Globalization.CultureInfo.InvariantCulture)] : target?[segment];
                }
                return Inline(target!.DeepClone(), root, depth + 1);
            case JsonObject obj:
                var copy = new JsonObject();
                foreach (var (key, value) in obj)
                {
                    copy[key] = value is null ? null : Inline(value, root, depth + 1);
                }
                return copy;
            case JsonArray array:
                return new JsonArray(array.Select(item => item is null ? null : Inline(item, root, depth + 1)).ToArray());
            default:
                return node.DeepClone();
        }
    }

    public static JsonObject Build(string host)
    {
        var messages = new JsonObject();
        var channels = new JsonObject();
        var operations = new JsonObject();

        void AddChannel(string id, string address, string description, string server, IReadOnlyList<Frame> received, IReadOnlyList<Frame> sent, JsonObject? parameters = null)
        {
            var channelMessages = new JsonObject();
            foreach (var frame in received.Concat(sent))
            {
                var key = $"{id}_{frame.Name}";
                messages[key] = Message(frame.Name, frame.Summary, SchemaOf(frame.Record), frame.TypeValue);
                channelMessages[frame.Name] = Ref($"#/components/messages/{key}");
            }
            var channel = new JsonObject
            {
                ["address"] = address,
                ["description"] = description,
                ["servers"] = new JsonArray(Ref($"#/servers/{server}")),
                ["messages"] = channelMessages,
            };
            if (parameters is not null)
            {
                channel["parameters"] = parameters;
            }
            channels[id] = channel;
            if (received.Count > 0)
            {
                operations[$"{id}_receive"] = Operation("receive", id, $"What the hub receives on {address}", received);
            }
            if (sent.Count > 0)
            {
                operations[$"{id}_send"] = Operation("send", id, $"What the hub sends on {address}", sent);
            }
        }

        AddChannel("worker", "/ws/worker",
            "Workers: register, heartbeat, report progress and outcomes; the hub assigns and cancels jobs. JSON text frames, one message per frame, type first.",
            "websocket", WorkerToHub, HubToWorker);
        AddChannel("monitor", "/ws/monitor",
            "Monitors (spec 003 §2/§5): snapshot, subscribe with topics and filters, heartbeat, resync. Every event carries seq.",
            "websocket", MonitorToHub, HubToMonitor);
        AddChannel("telemetry", "/api/telemetry/ws/{robot_id}",
            "Robots stream telemetry frames; the hub emits telemetry.connection_established / connection_closed.",
            "websocket", RobotToHub, HubToRobot,
            new JsonObject { ["robot_id"] = new JsonObject { ["description"] = "1 to 128 letters, digits, '-', '_' or '.'" } });

        var eventMessages = new JsonObject();
        foreach (var evt in Events)
        {
            var key = $"event_{evt.Type.Replace('.', '_')}";
            var envelope = SchemaOf(typeof(CharterEvent)).AsObject();
            var properties = envelope["properties"]!.AsObject();
            properties["type"] = new JsonObject { ["type"] = "string", ["const"] = evt.Type };
            properties["source"] = new JsonObject { ["type"] = "string", ["const"] = evt.Source };
            properties["payload"] = SchemaOf(evt.Payload);
            messages[key] = new JsonObject
            {
                ["name"] = evt.Type,
                ["title"] = evt.Type,
                ["summary"] = $"Charter v1.0 envelope from {evt.Source}; monitor topic '{evt.Topic}'",
                ["contentType"] = "application/json",
                ["payload"] = envelope,
            };
            eventMessages[evt.Type] = Ref($"#/components/messages/{key}");
        }
        channels["events"] = new JsonObject
        {
            ["address"] = "/api/events/stream",
            ["description"] = "Server-Sent Events: id is <epoch>:<seq>, event is the type, data the envelope. Reconnect with Last-Event-ID to resume with no gap. The same envelopes are read with GET /api/events.",
            ["servers"] = new JsonArray(Ref("#/servers/http")),
            ["messages"] = eventMessages,
        };
        operations["events_send"] = new JsonObject
        {
            ["action"] = "send",
            ["channel"] = Ref("#/channels/events"),
            ["summary"] = "Every state change, in seq order",
            ["messages"] = new JsonArray(Events.Select(e => (JsonNode)Ref($"#/channels/events/messages/{e.Type}")).ToArray()),
        };

        return new JsonObject
        {
            ["asyncapi"] = "3.0.0",
            ["info"] = new JsonObject
            {
                ["title"] = "MissionHub",
                ["version"] = "v1",
                ["description"] = "The WebSocket protocols of MissionHub (workers, monitors, robots) and the event types of its event stream. The REST API is in /openapi/v1.json.",
            },
            ["defaultContentType"] = "application/json",
            ["servers"] = new JsonObject
            {
                ["websocket"] = new JsonObject { ["host"] = host, ["protocol"] = "ws", ["description"] = "This server (wss behind TLS)" },
                ["http"] = new JsonObject { ["host"] = host, ["protocol"] = "http", ["description"] = "This server, Server-Sent Events" },
            },
            ["channels"] = channels,
            ["operations"] = operations,
            ["components"] = new JsonObject { ["messages"] = messages },
        };

        JsonObject Operation(string action, string channel, string summary, IReadOnlyList<Frame> frames) => new()
        {
            ["action"] = action,
            ["channel"] = Ref($"#/channels/{channel}"),
            ["summary"] = summary,
            ["messages"] = new JsonArray(frames.Select(f => (JsonNode)Ref($"#/channels/{channel}/messages/{f.Name}")).ToArray()),
        };
    }

    private static JsonObject Message(string name, string summary, JsonNode schema, string? typeValue)
    {
        if (typeValue is not null && schema is JsonObject obj && obj["properties"] is JsonObject properties)
        {
            properties["type"] = new JsonObject { ["type"] = "string", ["const"] = typeValue };
        }
        return new JsonObject
        {
            ["name"] = typeValue ?? name,
            ["title"] = name,
            ["summary"] = summary,
            ["contentType"] = "application/json",
            ["payload"] = schema,
        };
    }

    private static JsonObject Ref(string pointer) => new() { ["$ref"] = pointer };
}
