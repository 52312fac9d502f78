using System.Buffers;
using System.Net.WebSockets;

namespace MissionHub.Client;

/// <summary>
/// The transport <see cref="WorkerClient"/> and <see cref="MonitorClient"/> share: one socket at a time to one address,
/// with the client's credentials and socket settings, and a new one after a backoff whenever an attempt ends. Each client
/// brings only its protocol (an attempt) and its backoff curve.
/// </summary>
internal sealed class ReconnectingSocket(Uri endpoint, string? apiKey, Action<ClientWebSocketOptions>? configure, Func<int, TimeSpan> backoff)
{
    private SocketConnection? _current;

    /// <summary>Drops the current connection as a network failure would; the next attempt follows the backoff.</summary>
    public void Abort() => Volatile.Read(ref _current)?.Abort();

    /// <summary>
    /// Runs <paramref name="attempt"/> on a fresh connection until <paramref name="stop"/> is cancelled. After each attempt,
    /// <paramref name="waiting"/> hears how it ended and how long the wait before the next one is. Failures count up
    /// from 1 and start again at 1 after an attempt that got somewhere (<see cref="Attempt.Progressed"/>). An exception
    /// from the attempt ends the loop (a refusal no retry can fix); cancellation by <paramref name="stop"/> just returns.
    /// </summary>
    public async Task RunAsync(
        Func<SocketConnection, CancellationToken, Task<Attempt>> attempt, Action<Attempt, TimeSpan>? waiting, CancellationToken stop)
    {
        var failures = 0;
        while (!stop.IsCancellationRequested)
        {
            Attempt result;
            var connection = new SocketConnection(endpoint, apiKey, configure);
            Volatile.Write(ref _current, connection);
            try
            {
                result = await attempt(connection, stop);
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
                return;
            }
            finally
            {
                Volatile.Write(ref _current, null);
                connection.Dispose();
            }
            if (stop.IsCancellationRequested)
            {
                return;
            }
            failures = result.Progressed ? 1 : failures + 1;
            var delay = backoff(failures);
            waiting?.Invoke(result, delay);
            try
            {
                await Task.Delay(delay, stop);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }
}

/// <summary>How one attempt ended: whether it got anywhere (resets the backoff), and why it ended.</summary>
internal readonly record struct Attempt(bool Progressed, string Reason, Exception? Exception = null);

/// <summary>
/// One client WebSocket: connect, whole messages in, sends one at a time, and the close handshake within a timeout.
/// </summary>
internal sealed class SocketConnection : IDisposable
{
    private static readonly TimeSpan CloseTimeout = TimeSpan.FromSeconds(2);

    private readonly Uri _endpoint;
    private readonly ClientWebSocket _socket = new();
    private readonly SemaphoreSlim _sendTurn = new(1, 1);
    private readonly ArrayBufferWriter<byte> _received = new(16 * 1024);

    public SocketConnection(Uri endpoint, string? apiKey, Action<ClientWebSocketOptions>? configure)
    {
        _endpoint = endpoint;
        MissionHubCredentials.Apply(_socket.Options, apiKey);
        configure?.Invoke(_socket.Options);
    }

    public WebSocketState State => _socket.State;

    /// <summary>The server's close status and reason, e.g. <c>(PolicyViolation send queue over … bytes)</c>, once it closed.</summary>
    public string CloseDescription => $"{_socket.CloseStatus} {_socket.CloseStatusDescription}".Trim();

    public async Task ConnectAsync(CancellationToken cancellationToken) => await _socket.ConnectAsync(_endpoint, cancellationToken);

    /// <summary>
    /// The next whole message (valid until the next call), or null once the server sent its close frame. Cancelling it
    /// aborts the socket, as cancelling any ClientWebSocket receive does.
    /// </summary>
    public async Task<ReadOnlyMemory<byte>?> ReceiveAsync(CancellationToken cancellationToken)
    {
        _received.ResetWrittenCount();
        ValueWebSocketReceiveResult result;
        do
        {
            result = await _socket.ReceiveAsync(_received.GetMemory(16 * 1024), cancellationToken);
            _received.Advance(result.Count);
        }
        while (!result.EndOfMessage);
        return result.MessageType == WebSocketMessageType.Close ? null : _received.WrittenMemory;
    }

    /// <summary>Sends one text frame; sends from several callers take turns, since a socket allows one at a time.</summary>
    public async Task SendAsync(ReadOnlyMemory<byte> frame, CancellationToken cancellationToken)
    {
        await _sendTurn.WaitAsync(cancellationToken);
        try
        {
            await _socket.SendAsync(frame, WebSocketMessageType.Text, endOfMessage: true, cancellationToken);
        }
        finally
        {
            _sendTurn.Release();
        }
    }

    /// <summary>Sends the close frame (or answers the server's) within two seconds; a server that does not take it is left.</summary>
    public async Task CloseAsync(string description)
    {
        if (_socket.State is not (WebSocketState.Open or WebSocketState.CloseReceived))
        {
            return;
        }
        try
        {
            using var timeout = new CancellationTokenSource(CloseTimeout);
            await _socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, description, timeout.Token);
        }
        catch (Exception ex) when (ex is WebSocketException or OperationCanceledException or ObjectDisposedException)
        {
            // Already gone.
        }
    }

    public void Abort() => _socket.Abort();

    public void Dispose()
    {
        _socket.Dispose();
        _sendTurn.Dispose();
    }
}
