using System.Globalization;
using System.Net.WebSockets;
using System.Text.Json;
using MissionHub.Infrastructure.Sockets;

namespace MissionHub.Telemetry;

/// <summary>
/// One robot's telemetry protocol (<c>/api/telemetry/ws/{robot_id}</c>, DESIGN.md §4) on the shared
/// <see cref="SocketShell"/>: a bad frame gets an <c>error</c> frame and the connection stays; a frame over the size
/// limit closes it with 1009.
/// </summary>
internal sealed partial class TelemetryConnection : ISocketProtocol, IDisposable
{
    private readonly SocketShell _shell;
    private readonly TelemetryService _service;
    private readonly TelemetryOptions _options;
    private readonly ILogger _logger;
    private readonly TaskCompletionSource _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public TelemetryConnection(string robotId, WebSocket socket, TelemetryService service, TimeProvider time, ILogger logger)
    {
        RobotId = robotId;
        _service = service;
        _options = service.Options;
        _shell = new SocketShell(socket, new SocketShellOptions
        {
            MaxFrameBytes = _options.MaxFrameBytes,
            LivenessTimeout = _options.HeartbeatTimeout,
            MaxQueuedBytes = _options.MaxSendQueueBytes,
        }, time);
        _logger = logger;
        ConnectedAt = time.GetUtcNow();
        ConnectionId = string.Create(CultureInfo.InvariantCulture, $"ws_{robotId}_{ConnectedAt.ToUnixTimeSeconds()}");
    }

    public string RobotId { get; }

    public string ConnectionId { get; }

    public DateTimeOffset ConnectedAt { get; }

    /// <summary>Completes once the connection has closed and reported it.</summary>
    public Task Completion => _completion.Task;

    /// <summary>
    /// Closes the connection with <paramref name="reason"/> (e.g. <c>replaced</c>, <c>server_shutdown</c>): sends the close
    /// frame, and gives the robot the close timeout to answer it before the socket is dropped.
    /// </summary>
    public void Close(string reason) => _shell.Close(reason,
        reason == TelemetryCloseReasons.ServerShutdown ? WebSocketCloseStatus.EndpointUnavailable : WebSocketCloseStatus.NormalClosure);

    public async Task RunAsync(CancellationToken requestAborted, CancellationToken stopping)
    {
        try
        {
            await _service.AttachAsync(this, stopping);
            using (stopping.Register(() => Close(TelemetryCloseReasons.ServerShutdown)))
            {
                await _shell.RunAsync(this, requestAborted);
            }
        }
        finally
        {
            _completion.TrySetResult();
        }
    }

    async ValueTask ISocketProtocol.EndedAsync(SocketEnd end)
    {
        var reason = end.Kind switch
        {
            SocketEndKind.PeerClosed => TelemetryCloseReasons.ClientDisconnect,
            SocketEndKind.ServerClosed => end.Reason ?? TelemetryCloseReasons.Error,
            SocketEndKind.LivenessExpired => TelemetryCloseReasons.HeartbeatTimeout,
            // Oversized, not reading, or dropped without a close handshake.
            _ => TelemetryCloseReasons.Error,
        };
        if (end.Kind == SocketEndKind.FrameTooLarge)
        {
            LogRefused(_logger, RobotId, "frame_too_large", "frame over the limit");
        }
        await _service.DetachAsync(this, reason);
    }

    ValueTask ISocketProtocol.HandleAsync(ReadOnlyMemory<byte> frame, CancellationToken cancellationToken) =>
        new(HandleFrameAsync(frame, cancellationToken));

    private async Task HandleFrameAsync(ReadOnlyMemory<byte> frame, CancellationToken cancellationToken)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(frame);
        }
        catch (JsonException ex)
        {
            SendError("malformed_json", $"the frame is not valid JSON: {ex.Message}");
            return;
        }
        using (document)
        {
            var (values, code, message) = Parse(document.RootElement, _options.MaxFieldsPerFrame);
            if (code == "heartbeat")
            {
                _service.Touch(RobotId);
                return;
            }
            if (code is not null)
            {
                SendError(code, message!);
                return;
            }
            if (await _service.IngestAsync(RobotId, values!, cancellationToken) is { } refusal)
            {
                SendError(refusal.Code, refusal.Message);
            }
        }
    }

    /// <summary>
    /// A frame is a JSON object of numbers (<c>cpu_usage</c>, <c>memory_usage</c>, <c>network_latency_ms</c>,
    /// <c>battery_percentage</c> and any extra numeric fields). An optional <c>type</c> may be <c>telemetry</c>, or
    /// <c>heartbeat</c> for a frame that only says the robot is alive; an optional <c>timestamp</c> is ignored
    /// (the hub stamps samples with its own clock).
    /// </summary>
    internal static (Dictionary<string, double>? Values, string? Code, string? Message) Parse(JsonElement root, int maxFields)
    {
        if (root.ValueKind != JsonValueKind.Object)
        {
            return (null, "invalid_frame", "a telemetry frame must be a JSON object of numeric fields, e.g. {\"cpu_usage\":45.2}");
        }
        var values = new Dictionary<string, double>(StringComparer.Ordinal);
        foreach (var property in root.EnumerateObject())
        {
            var name = property.Name;
            var value = property.Value;
            if (name == "type")
            {
                var type = value.ValueKind == JsonValueKind.String ? value.GetString() : null;
                if (type == "heartbeat")
                {
                    return (null, "heartbeat", null);
                }
                if (type != "telemetry")
                {
                    return (null, "unknown_type", "type may be 'telemetry' or 'heartbeat'");
                }
                continue;
            }
            if (name == "timestamp")
            {
                continue;
            }
            if (!IsValidFieldName(name))
            {
                return (null, "invalid_field", $"field name '{Truncate(name)}' must be 1 to 64 letters, digits, '_' or '.'");
            }
            if (value.ValueKind != JsonValueKind.Number || !value.TryGetDouble(out var number) || !double.IsFinite(number))
            {
                return (null, "non_numeric", $"field '{name}' must be a number, not {Describe(value.ValueKind)}");
            }
            if (values.Count == maxFields)
            {
                return (null, "too_many_fields", $"a frame may carry at most {maxFields} fields");
            }
            values[name] = number;
        }
        if (values.Count == 0)
        {
            return (null, "empty_frame", "the frame has no numeric fields; send e.g. {\"cpu_usage\":45.2,\"battery_percentage\":78}");
        }
        return (values, null, null);
    }

    public void SendError(string code, string message)
    {
        LogRefused(_logger, RobotId, code, message);
        _shell.TrySend(JsonSerializer.SerializeToUtf8Bytes(new TelemetryErrorFrame("error", code, message), TelemetryJsonContext.Default.TelemetryErrorFrame));
    }

    public void Dispose() => _shell.Dispose();

    internal static bool IsValidRobotId(string? id) =>
        id is { Length: > 0 and <= 128 } && id.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.');

    private static bool IsValidFieldName(string name) =>
        name.Length is > 0 and <= 64 && name.All(c => char.IsAsciiLetterOrDigit(c) || c is '_' or '.');

    private static string Describe(JsonValueKind kind) => kind switch
    {
        JsonValueKind.String => "a string",
        JsonValueKind.Object => "an object",
        JsonValueKind.Array => "an array",
        JsonValueKind.True or JsonValueKind.False => "a boolean",
        JsonValueKind.Null => "null",
        _ => "a number that does not fit a double",
    };

    private static string Truncate(string text, int max = 64) => text.Length <= max ? text : text[..max] + "…";

    [LoggerMessage(EventId = 4101, Level = LogLevel.Information, Message = "Refused a frame from robot {RobotId}: {Code} ({Detail})")]
    private static partial void LogRefused(ILogger logger, string robotId, string code, string detail);
}
