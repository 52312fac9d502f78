using System.Buffers;
using System.Globalization;
using System.Net.WebSockets;
using System.Text.Json;
using MissionHub.Infrastructure;

namespace MissionHub.Telemetry;

/// <summary>
/// One robot's telemetry socket (<c>/api/telemetry/ws/{robot_id}</c>, DESIGN.md §4). Reads frames one at a time;
/// a bad frame gets an <c>error</c> frame and the connection stays; a frame over the size limit closes it with
/// 1009. Only this loop sends on the socket, so no send ever races another.
/// </summary>
internal sealed partial class TelemetryConnection : IDisposable
{
    private readonly WebSocket _socket;
    private readonly TelemetryService _service;
    private readonly TelemetryOptions _options;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _closed = new();
    private readonly TaskCompletionSource _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly SemaphoreSlim _sendTurn = new(1, 1);
    private string? _closeReason;

    public TelemetryConnection(string robotId, WebSocket socket, TelemetryService service, TimeProvider time, ILogger logger)
    {
        RobotId = robotId;
        _socket = socket;
        _service = service;
        _options = service.Options;
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
    /// frame, and gives the robot two seconds to answer it before the socket is dropped.
    /// </summary>
    public void Close(string reason)
    {
        if (Interlocked.CompareExchange(ref _closeReason, reason, null) is not null)
        {
            return;
        }
        _ = CloseAndDropLaterAsync(reason);
    }

    private async Task CloseAndDropLaterAsync(string reason)
    {
        await CloseSocketAsync(reason);
        try
        {
            _closed.CancelAfter(TimeSpan.FromSeconds(2));
        }
        catch (ObjectDisposedException)
        {
            // Already ended.
        }
    }

    public async Task RunAsync(CancellationToken requestAborted, CancellationToken stopping)
    {
        try
        {
            await _service.AttachAsync(this, stopping);
            string reason;
            using (stopping.Register(() => Close(TelemetryCloseReasons.ServerShutdown)))
            {
                reason = await ReceiveLoopAsync(requestAborted);
            }
            await CloseSocketAsync(reason);
            await _service.DetachAsync(this, reason);
        }
        finally
        {
            _completion.TrySetResult();
        }
    }

    private async Task<string> ReceiveLoopAsync(CancellationToken requestAborted)
    {
        // An oversized frame is refused at once (close 1009) without reading the rest.
        using var reader = new WebSocketFrameReader(_socket, _options.MaxFrameBytes, skipOversized: false);
        using var heartbeat = new CancellationTokenSource(_options.HeartbeatTimeout);
        using var receive = CancellationTokenSource.CreateLinkedTokenSource(requestAborted, _closed.Token, heartbeat.Token);
        try
        {
            while (true)
            {
                var kind = await reader.ReadAsync(receive.Token);
                switch (kind)
                {
                    case FrameKind.Close:
                        return Volatile.Read(ref _closeReason) ?? TelemetryCloseReasons.ClientDisconnect;
                    case FrameKind.TooLarge:
                        return await RefuseTooLargeAsync();
                }
                heartbeat.CancelAfter(_options.HeartbeatTimeout);
                if (kind == FrameKind.Binary)
                {
                    await SendErrorAsync("unsupported_frame", "frames must be JSON text, not binary", receive.Token);
                    continue;
                }
                await HandleFrameAsync(reader.Frame, receive.Token);
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or WebSocketException or IOException)
        {
            if (Volatile.Read(ref _closeReason) is { } reason)
            {
                return reason;
            }
            // Checked first: cancelling a receive aborts the socket, which can also signal requestAborted
            // or surface as a WebSocketException.
            if (heartbeat.IsCancellationRequested)
            {
                Interlocked.CompareExchange(ref _closeReason, TelemetryCloseReasons.HeartbeatTimeout, null);
                return TelemetryCloseReasons.HeartbeatTimeout;
            }
            // Otherwise the link dropped without a close handshake (a server shutdown sets its reason first, above).
            return TelemetryCloseReasons.Error;
        }
    }

    private async Task HandleFrameAsync(ReadOnlyMemory<byte> frame, CancellationToken cancellationToken)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(frame);
        }
        catch (JsonException ex)
        {
            await SendErrorAsync("malformed_json", $"the frame is not valid JSON: {ex.Message}", cancellationToken);
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
                await SendErrorAsync(code, message!, cancellationToken);
                return;
            }
            if (await _service.IngestAsync(RobotId, values!, cancellationToken) is { } refusal)
            {
                await SendErrorAsync(refusal.Code, refusal.Message, cancellationToken);
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

    private async Task<string> RefuseTooLargeAsync()
    {
        LogRefused(_logger, RobotId, "frame_too_large", "frame over the limit");
        Interlocked.CompareExchange(ref _closeReason, TelemetryCloseReasons.Error, null);
        await CloseSocketAsync(TelemetryCloseReasons.Error, WebSocketCloseStatus.MessageTooBig,
            string.Create(CultureInfo.InvariantCulture, $"frames are limited to {_options.MaxFrameBytes} bytes"));
        return TelemetryCloseReasons.Error;
    }

    private async Task SendErrorAsync(string code, string message, CancellationToken cancellationToken)
    {
        LogRefused(_logger, RobotId, code, message);
        var frame = JsonSerializer.SerializeToUtf8Bytes(new TelemetryErrorFrame("error", code, message), TelemetryJsonContext.Default.TelemetryErrorFrame);
        await _sendTurn.WaitAsync(cancellationToken);
        try
        {
            if (_socket.State == WebSocketState.Open && Volatile.Read(ref _closeReason) is null)
            {
                await _socket.SendAsync(frame, WebSocketMessageType.Text, endOfMessage: true, cancellationToken);
            }
        }
        finally
        {
            _sendTurn.Release();
        }
    }

    private async Task CloseSocketAsync(string reason, WebSocketCloseStatus? status = null, string? description = null)
    {
        status ??= reason == TelemetryCloseReasons.ServerShutdown ? WebSocketCloseStatus.EndpointUnavailable : WebSocketCloseStatus.NormalClosure;
        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(2));
            await _sendTurn.WaitAsync(timeout.Token);
            try
            {
                if (_socket.State is WebSocketState.Open or WebSocketState.CloseReceived)
                {
                    await _socket.CloseOutputAsync(status.Value, description ?? reason, timeout.Token);
                }
            }
            finally
            {
                _sendTurn.Release();
            }
        }
        catch (Exception ex) when (ex is WebSocketException or OperationCanceledException or IOException or ObjectDisposedException)
        {
            // The peer is already gone.
        }
    }

    public void Dispose()
    {
        _closed.Dispose();
        _sendTurn.Dispose();
    }

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
