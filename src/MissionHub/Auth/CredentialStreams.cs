using System.Collections.Concurrent;
using System.Net.WebSockets;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Options;

namespace MissionHub.Auth;

/// <summary>
/// Every WebSocket and SSE stream, by the credential that opened it: counts them against the per-credential limit,
/// and closes them when their key is revoked (here or in another process) or their credential expires — sockets
/// with close code 4401 and a reason, SSE streams by ending the response.
/// </summary>
public sealed partial class CredentialStreams : BackgroundService
{
    public const WebSocketCloseStatus RevokedCloseStatus = (WebSocketCloseStatus)4401;

    private readonly ConcurrentDictionary<string, int> _perCredential = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<OpenStream, byte> _open = new();
    private readonly AuthOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger<CredentialStreams> _logger;

    public CredentialStreams(ApiKeyRing ring, IOptions<AuthOptions> options, TimeProvider time, ILogger<CredentialStreams> logger)
    {
        _options = options.Value;
        _time = time;
        _logger = logger;
        ring.Revoked += keyId => CloseWhere(s => s.KeyId == keyId, "api key revoked");
    }

    public int OpenCount => _open.Count;

    /// <summary>Counts the stream against its credential; false if that would exceed the limit.</summary>
    internal bool TryOpen(HttpContext context, out OpenStream stream)
    {
        var partition = context.PartitionKey();
        var limit = _options.MaxStreamsPerCredential;
        var now = _perCredential.AddOrUpdate(partition, 1, (_, n) => n + 1);
        if (limit > 0 && now > limit)
        {
            Release(partition);
            stream = null!;
            return false;
        }
        stream = new OpenStream(this, partition, context.User.KeyId(), context.User.ExpiresAt(), context.RequestAborted);
        _open[stream] = 0;
        return true;
    }

    private void Release(string partition)
    {
        if (_perCredential.AddOrUpdate(partition, 0, (_, n) => n - 1) <= 0)
        {
            _perCredential.TryRemove(new KeyValuePair<string, int>(partition, 0));
        }
    }

    private void CloseWhere(Func<OpenStream, bool> which, string reason)
    {
        foreach (var stream in _open.Keys)
        {
            if (which(stream))
            {
                _ = stream.CloseAsync(reason);
            }
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        // Expiry is a time, not an event: look once a second for streams whose credential has expired.
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(1), _time);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                var now = _time.GetUtcNow();
                CloseWhere(s => s.ExpiresAt is { } expires && expires <= now, "credential expired");
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    /// <summary>One open stream: its cancellation replaces the request's, and its socket (if any) is wrapped to close it.</summary>
    internal sealed class OpenStream : IDisposable
    {
        private readonly CredentialStreams _owner;
        private readonly CancellationTokenSource _cancel;
        private int _closed;

        public OpenStream(CredentialStreams owner, string partition, string? keyId, DateTimeOffset? expiresAt, CancellationToken requestAborted)
        {
            _owner = owner;
            Partition = partition;
            KeyId = keyId;
            ExpiresAt = expiresAt;
            _cancel = CancellationTokenSource.CreateLinkedTokenSource(requestAborted);
        }

        public string Partition { get; }

        public string? KeyId { get; }

        public DateTimeOffset? ExpiresAt { get; }

        public CancellationToken Token => _cancel.Token;

        public RevocableWebSocket? Socket { get; set; }

        /// <summary>Why the hub closed the stream (revoked, expired), or null while it is open or if the client left.</summary>
        public string? ClosedReason { get; private set; }

        public async Task CloseAsync(string reason)
        {
            if (Interlocked.Exchange(ref _closed, 1) != 0)
            {
                return;
            }
            ClosedReason = reason;
            LogClosing(_owner._logger, Partition, reason);
            if (Socket is { } socket)
            {
                await socket.RevokeAsync(reason);
                // The peer answers the close frame; a peer that does not is cut off shortly after.
                TryCancelAfter(TimeSpan.FromSeconds(2));
            }
            else
            {
                TryCancelAfter(TimeSpan.Zero);
            }
        }

        private void TryCancelAfter(TimeSpan delay)
        {
            try
            {
                if (delay == TimeSpan.Zero)
                {
                    _cancel.Cancel();
                }
                else
                {
                    _cancel.CancelAfter(delay);
                }
            }
            catch (ObjectDisposedException)
            {
            }
        }

        public void Dispose()
        {
            if (_owner._open.TryRemove(this, out _))
            {
                _owner.Release(Partition);
            }
            _cancel.Dispose();
        }
    }

    [LoggerMessage(EventId = 7020, Level = LogLevel.Information, Message = "Auth: closing a stream of {Credential}: {Reason}")]
    private static partial void LogClosing(ILogger logger, string credential, string reason);
}

/// <summary>Hands out the accepted socket wrapped, so the hub can close it when its credential stops working.</summary>
internal sealed class RevocableWebSocketFeature(IHttpWebSocketFeature inner, CredentialStreams.OpenStream stream) : IHttpWebSocketFeature
{
    public bool IsWebSocketRequest => inner.IsWebSocketRequest;

    public async Task<WebSocket> AcceptAsync(WebSocketAcceptContext context)
    {
        var socket = new RevocableWebSocket(await inner.AcceptAsync(context));
        stream.Socket = socket;
        return socket;
    }
}

/// <summary>
/// A socket whose sends take turns, so a close frame can be sent between two of the protocol's frames; once revoked
/// it drops further sends and closes, and the protocol's own close becomes a no-op.
/// </summary>
public sealed class RevocableWebSocket(WebSocket inner) : WebSocket
{
    private readonly SemaphoreSlim _sending = new(1, 1);
    private volatile bool _revoked;

    public override WebSocketCloseStatus? CloseStatus => inner.CloseStatus;

    public override string? CloseStatusDescription => inner.CloseStatusDescription;

    public override WebSocketState State => inner.State;

    public override string? SubProtocol => inner.SubProtocol;

    public override void Abort() => inner.Abort();

    public override void Dispose()
    {
        inner.Dispose();
    }

    public override Task<WebSocketReceiveResult> ReceiveAsync(ArraySegment<byte> buffer, CancellationToken cancellationToken) =>
        inner.ReceiveAsync(buffer, cancellationToken);

    public override ValueTask<ValueWebSocketReceiveResult> ReceiveAsync(Memory<byte> buffer, CancellationToken cancellationToken) =>
        inner.ReceiveAsync(buffer, cancellationToken);

    public override Task SendAsync(ArraySegment<byte> buffer, WebSocketMessageType messageType, bool endOfMessage, CancellationToken cancellationToken) =>
        SendAsync(buffer.AsMemory(), messageType, endOfMessage, cancellationToken).AsTask();

    public override async ValueTask SendAsync(ReadOnlyMemory<byte> buffer, WebSocketMessageType messageType, bool endOfMessage, CancellationToken cancellationToken)
    {
        await _sending.WaitAsync(cancellationToken);
        try
        {
            if (!_revoked)
            {
                await inner.SendAsync(buffer, messageType, endOfMessage, cancellationToken);
            }
        }
        finally
        {
            _sending.Release();
        }
    }

    public override ValueTask SendAsync(ReadOnlyMemory<byte> buffer, WebSocketMessageType messageType, WebSocketMessageFlags messageFlags, CancellationToken cancellationToken) =>
        SendAsync(buffer, messageType, messageFlags.HasFlag(WebSocketMessageFlags.EndOfMessage), cancellationToken);

    public override async Task CloseAsync(WebSocketCloseStatus closeStatus, string? statusDescription, CancellationToken cancellationToken)
    {
        if (_revoked)
        {
            return;
        }
        await _sending.WaitAsync(cancellationToken);
        try
        {
            if (!_revoked)
            {
                await inner.CloseAsync(closeStatus, statusDescription, cancellationToken);
            }
        }
        finally
        {
            _sending.Release();
        }
    }

    public override async Task CloseOutputAsync(WebSocketCloseStatus closeStatus, string? statusDescription, CancellationToken cancellationToken)
    {
        if (_revoked)
        {
            return;
        }
        await _sending.WaitAsync(cancellationToken);
        try
        {
            if (!_revoked)
            {
                await inner.CloseOutputAsync(closeStatus, statusDescription, cancellationToken);
            }
        }
        finally
        {
            _sending.Release();
        }
    }

    /// <summary>Sends close 4401 with the reason, between frames; later sends and closes are dropped.</summary>
    public async Task RevokeAsync(string reason)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(2));
        try
        {
            await _sending.WaitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            _revoked = true;
            inner.Abort();
            return;
        }
        try
        {
            _revoked = true;
            if (inner.State is WebSocketState.Open or WebSocketState.CloseReceived)
            {
                await inner.CloseOutputAsync(CredentialStreams.RevokedCloseStatus, reason, timeout.Token);
            }
        }
        catch (Exception ex) when (ex is WebSocketException or OperationCanceledException or ObjectDisposedException or InvalidOperationException)
        {
            inner.Abort();
        }
        finally
        {
            _sending.Release();
        }
    }
}
