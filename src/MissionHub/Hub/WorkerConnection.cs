using System.Net.WebSockets;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using MissionHub.Infrastructure;
using MissionHub.Infrastructure.Sockets;

namespace MissionHub.Hub;

/// <summary>
/// The worker protocol of <c>/ws/worker</c> (DESIGN.md §4) on the shared <see cref="SocketShell"/>: parses and handles
/// each frame, refuses bad ones with an <c>error</c> frame and keeps going.
/// </summary>
internal sealed partial class WorkerConnection : IWorkerLink, ISocketProtocol, IDisposable
{
    private static readonly string[] KnownTypes = ["worker_register", "heartbeat", "job_progress", "job_completed", "job_failed"];

    private readonly SocketShell _shell;
    private readonly JobHub _hub;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly string _connectionId = Guid.NewGuid().ToString("N");
    private WorkerSession? _session;

    public WorkerConnection(WebSocket socket, JobHub hub, HubOptions options, TimeProvider time, ILogger logger)
    {
        _shell = new SocketShell(socket, new SocketShellOptions
        {
            // An oversized frame is refused at once: the socket closes with 1009 without reading the rest.
            MaxFrameBytes = options.MaxFrameBytes,
            LivenessTimeout = options.WorkerHeartbeatTimeout,
            MaxQueuedBytes = options.WorkerSendQueueBytes,
            MaxQueuedFrames = options.WorkerSendQueueCapacity,
        }, time);
        _hub = hub;
        _time = time;
        _logger = logger;
    }

    public bool TrySend(byte[] frame) => _shell.TrySend(frame);

    /// <summary>Ends the connection after the frames queued before, with a close frame naming the reason (e.g. <c>replaced</c>).</summary>
    public void Close(string reason) => _shell.Close(reason);

    public async Task RunAsync(CancellationToken requestAborted) => await _shell.RunAsync(this, requestAborted);

    async ValueTask ISocketProtocol.EndedAsync(SocketEnd end)
    {
        if (_session is null)
        {
            return;
        }
        var reason = end.Kind switch
        {
            SocketEndKind.PeerClosed => "client_disconnect",
            SocketEndKind.ServerClosed => end.Reason ?? "server_close",
            SocketEndKind.LivenessExpired => "heartbeat_timeout",
            SocketEndKind.FrameTooLarge => "error",
            SocketEndKind.SendQueueFull => "send_queue_full",
            _ => "connection_lost",
        };
        await _hub.DisconnectAsync(_session, reason);
    }

    async ValueTask ISocketProtocol.HandleAsync(ReadOnlyMemory<byte> frame, CancellationToken cancellationToken)
    {
        // Any frame is a sign of life; while it is handled (a slow store, say) the worker counts as seen.
        _session?.BeginFrame(_time.GetUtcNow());
        var session = _session;
        try
        {
            await HandleFrameAsync(frame);
        }
        finally
        {
            session?.EndFrame(_time.GetUtcNow());
        }
    }

    private async Task HandleFrameAsync(ReadOnlyMemory<byte> frame)
    {
        if (!ProtocolFrame.TryParse(frame, out var document, out var type, out var errorCode, out var errorMessage))
        {
            SendError(errorCode, errorMessage);
            return;
        }
        using (document)
        {
            var message = document.RootElement;
            CorrelationContext.Current = message.TryGetProperty("correlation_id", out var correlation) && correlation.ValueKind == JsonValueKind.String
                ? CorrelationContext.Normalize(correlation.GetString())
                : _connectionId;
            using var traced = Tracing.MissionHubTracing.StartFromWorkerFrame(type, message);

            if (type == "worker_register")
            {
                await RegisterAsync(message);
                return;
            }
            if (!KnownTypes.Contains(type))
            {
                SendError("unknown_type", $"unknown message type '{Truncate(type)}'; valid types: {string.Join(", ", KnownTypes)}");
                return;
            }
            if (_session is null)
            {
                SendError("not_registered", $"send worker_register before '{type}'");
                return;
            }
            switch (type)
            {
                case "heartbeat":
                    return;
                case "job_progress":
                    if (RequireJobId(message) is not { } progressJob)
                    {
                        return;
                    }
                    if (!message.TryGetProperty("progress", out var progressElement) || progressElement.ValueKind != JsonValueKind.Number
                        || !progressElement.TryGetDouble(out var progress) || progress is < 0 or > 1 || double.IsNaN(progress))
                    {
                        SendError("invalid_field", "progress must be a number from 0 to 1");
                        return;
                    }
                    Refuse(await _hub.ProgressAsync(_session, progressJob, progress), progressJob);
                    return;
                case "job_completed":
                    if (RequireJobId(message) is not { } completedJob)
                    {
                        return;
                    }
                    JsonElement? result = message.TryGetProperty("result", out var resultElement) ? resultElement.Clone() : null;
                    Refuse(await _hub.CompleteAsync(_session, completedJob, result), completedJob);
                    return;
                case "job_failed":
                    if (RequireJobId(message) is not { } failedJob)
                    {
                        return;
                    }
                    var error = message.TryGetProperty("error", out var errorElement) && errorElement.ValueKind == JsonValueKind.String
                        ? Truncate(errorElement.GetString()!, 2000)
                        : "the worker reported a failure without a message";
                    Refuse(await _hub.FailAsync(_session, failedJob, error), failedJob);
                    return;
            }
        }
    }

    private async Task RegisterAsync(JsonElement message)
    {
        if (_session is not null)
        {
            SendError("already_registered", $"this connection is already registered as '{_session.WorkerId}'");
            return;
        }
        if (!message.TryGetProperty("worker_id", out var idElement) || idElement.ValueKind != JsonValueKind.String
            || !IsValidWorkerId(idElement.GetString()!))
        {
            SendError("invalid_field", "worker_id must be 1 to 128 letters, digits, '-', '_', '.' or ':'");
            return;
        }
        if (!message.TryGetProperty("capabilities", out var capabilities) || capabilities.ValueKind != JsonValueKind.Object)
        {
            SendError("invalid_field", "capabilities must be an object with job_types and max_concurrent_jobs");
            return;
        }
        if (!capabilities.TryGetProperty("job_types", out var typesElement) || typesElement.ValueKind != JsonValueKind.Array
            || typesElement.GetArrayLength() is 0 or > 100
            || typesElement.EnumerateArray().Any(t => t.ValueKind != JsonValueKind.String || !JobsApi.IsValidJobType(t.GetString()!)))
        {
            SendError("invalid_field", "capabilities.job_types must be a list of 1 to 100 job type names");
            return;
        }
        var slots = 1;
        if (capabilities.TryGetProperty("max_concurrent_jobs", out var slotsElement)
            && (slotsElement.ValueKind != JsonValueKind.Number || !slotsElement.TryGetInt32(out slots) || slots is < 1 or > 1000))
        {
            SendError("invalid_field", "capabilities.max_concurrent_jobs must be a whole number from 1 to 1000");
            return;
        }
        List<string>? heldJobs = null;
        if (message.TryGetProperty("held_jobs", out var heldElement) && heldElement.ValueKind != JsonValueKind.Null)
        {
            if (heldElement.ValueKind != JsonValueKind.Array || heldElement.GetArrayLength() > 1000
                || heldElement.EnumerateArray().Any(j => j.ValueKind != JsonValueKind.String || j.GetString() is not { Length: > 0 and <= 128 }))
            {
                SendError("invalid_field", "held_jobs must be a list of at most 1000 job ids this worker is still running");
                return;
            }
            heldJobs = [.. heldElement.EnumerateArray().Select(j => j.GetString()!)];
        }
        var workerId = idElement.GetString()!;
        if (!Auth.WorkerIdentity.MayRegister(workerId, out var refusal))
        {
            SendError("forbidden", refusal);
            return;
        }
        var jobTypes = typesElement.EnumerateArray().Select(t => t.GetString()!).Distinct(StringComparer.Ordinal).ToArray();
        _session = new WorkerSession(workerId, _connectionId, jobTypes, slots, this, _time.GetUtcNow());
        // Answered once storage knows the connection: whoever asks any process about this worker then finds it.
        await _hub.RegisterAsync(_session, heldJobs,
            () => TrySend(Serialize(new RegisteredMessage("registered", workerId), HubJsonContext.Default.RegisteredMessage)));
    }

    private string? RequireJobId(JsonElement message)
    {
        if (message.TryGetProperty("job_id", out var id) && id.ValueKind == JsonValueKind.String && id.GetString() is { Length: > 0 and <= 128 } jobId)
        {
            return jobId;
        }
        SendError("invalid_field", "job_id must be the id of a job this worker holds");
        return null;
    }

    private void Refuse(JobStep step, string jobId)
    {
        if (step.Outcome != StepOutcome.Done)
        {
            SendError("job_not_held", $"job '{Truncate(jobId)}' is not held by this worker: it was completed, cancelled, timed out or handed to another worker");
        }
    }

    public void SendError(string code, string message)
    {
        LogRefused(_logger, _session?.WorkerId ?? _connectionId, code, message);
        TrySend(Serialize(new ErrorMessage("error", code, message), HubJsonContext.Default.ErrorMessage));
    }

    public void Dispose() => _shell.Dispose();

    private static byte[] Serialize<T>(T message, JsonTypeInfo<T> info) => JsonSerializer.SerializeToUtf8Bytes(message, info);

    private static bool IsValidWorkerId(string id) =>
        id.Length is > 0 and <= 128 && id.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.' or ':');

    private static string Truncate(string text, int max = 100) => text.Length <= max ? text : text[..max] + "…";

    [LoggerMessage(EventId = 3101, Level = LogLevel.Information, Message = "Refused a frame from worker {WorkerId}: {Code} ({Detail})")]
    private static partial void LogRefused(ILogger logger, string workerId, string code, string detail);
}
