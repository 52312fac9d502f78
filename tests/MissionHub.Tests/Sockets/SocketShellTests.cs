using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Net.WebSockets;
using System.Text;
using MissionHub.Infrastructure.Sockets;

namespace MissionHub.Tests.Sockets;

/// <summary>
/// The shell on its own, over a real loopback TCP connection (small socket buffers, so a client that does not read
/// backs the server up quickly), with a protocol that echoes what it is sent.
/// </summary>
public sealed class SocketShellTests
{
    [Fact]
    public async Task ByteBound_CountsControlFrames_AndClosesWith1008NamingTheBound()
    {
        await using var pair = await SocketPair.OpenAsync();
        using var shell = new SocketShell(pair.Server, Options(maxQueuedBytes: 64 * 1024), TimeProvider.System);
        var protocol = new EchoProtocol(shell);
        var running = shell.RunAsync(protocol, CancellationToken.None);

        // Control frames only (no events at all), and nobody reads them.
        var frame = new byte[1024];
        var accepted = 0;
        long mostQueued = 0;
        while (shell.TrySend(frame))
        {
            accepted++;
            mostQueued = Math.Max(mostQueued, shell.QueuedBytes);
            Assert.True(accepted < 10_000, "the queue never refused a frame: control frames are not counted");
        }
        Assert.True(mostQueued <= 64 * 1024, $"the queue held {mostQueued} bytes, over its bound");
        Assert.False(shell.TrySend(frame), "a closing shell must not take more frames");

        // Now read: whatever got through, then the close frame with its status and reason.
        var (frames, status, reason) = await pair.DrainUntilCloseAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(WebSocketCloseStatus.PolicyViolation, status);
        Assert.Equal("send queue over 65536 bytes", reason);
        Assert.True(frames <= accepted);
        var end = await running.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(SocketEndKind.SendQueueFull, end.Kind);
    }

    [Fact]
    public async Task CloseHandshake_WithAClientThatNeverAnswers_EndsWithinTheCloseTimeout()
    {
        await using var pair = await SocketPair.OpenAsync();
        using var shell = new SocketShell(pair.Server, Options(closeTimeout: TimeSpan.FromMilliseconds(300)), TimeProvider.System);
        var running = shell.RunAsync(new EchoProtocol(shell), CancellationToken.None);

        var clock = Stopwatch.StartNew();
        shell.Close("going away");
        var end = await running.WaitAsync(TimeSpan.FromSeconds(10));

        Assert.Equal(new SocketEnd(SocketEndKind.ServerClosed, "going away"), end);
        // Two close timeouts at most (the writer's, then the final one); far from the liveness deadline of a minute.
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(5), $"closing took {clock.Elapsed}");
        Assert.Equal(WebSocketState.Aborted, pair.Server.State);
    }

    [Fact]
    public async Task CloseHandshake_WithAClientThatAnswers_CarriesTheReason_AndEndsCleanly()
    {
        await using var pair = await SocketPair.OpenAsync();
        using var shell = new SocketShell(pair.Server, Options(), TimeProvider.System);
        var running = shell.RunAsync(new EchoProtocol(shell), CancellationToken.None);

        Assert.True(shell.TrySend("last words"u8.ToArray()));
        shell.Close("replaced");
        var (frames, status, reason) = await pair.DrainUntilCloseAsync(TimeSpan.FromSeconds(10));
        await pair.Client.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "ok", CancellationToken.None);

        Assert.Equal(1, frames); // the frame queued before the close still went out
        Assert.Equal(WebSocketCloseStatus.NormalClosure, status);
        Assert.Equal("replaced", reason);
        Assert.Equal(new SocketEnd(SocketEndKind.ServerClosed, "replaced"), await running.WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.Equal(WebSocketState.Closed, pair.Server.State);
    }

    [Fact]
    public async Task LivenessDeadline_DoesNotRunWhileTheServerHandlesAFrame_AndRestartsAfterIt()
    {
        await using var pair = await SocketPair.OpenAsync();
        var liveness = TimeSpan.FromMilliseconds(300);
        using var shell = new SocketShell(pair.Server, Options(liveness: liveness), TimeProvider.System);
        var protocol = new EchoProtocol(shell) { HandlingTime = liveness * 4 };
        var running = shell.RunAsync(protocol, CancellationToken.None);

        // The server spends four deadlines on this frame (a stalled store); the client says nothing meanwhile.
        await pair.SendAsync("slow");
        Assert.Equal("slow", await pair.ReceiveTextAsync(TimeSpan.FromSeconds(10)));
        Assert.False(running.IsCompleted, "the deadline ran while the server was busy with the client's frame");

        // Handled: now the client's silence counts again, and the deadline ends the connection.
        protocol.HandlingTime = TimeSpan.Zero;
        var end = await running.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(SocketEndKind.LivenessExpired, end.Kind);
        Assert.Equal(SocketEndKind.LivenessExpired, protocol.Ended?.Kind);
    }

    private static SocketShellOptions Options(
        long maxQueuedBytes = 1024 * 1024, TimeSpan? liveness = null, TimeSpan? closeTimeout = null) => new()
    {
        MaxFrameBytes = 64 * 1024,
        LivenessTimeout = liveness ?? TimeSpan.FromMinutes(1),
        MaxQueuedBytes = maxQueuedBytes,
        CloseTimeout = closeTimeout ?? TimeSpan.FromSeconds(2),
    };

    /// <summary>Answers each text frame with itself, after <see cref="HandlingTime"/> (a stand-in for a slow store).</summary>
    private sealed class EchoProtocol(SocketShell shell) : ISocketProtocol
    {
        public TimeSpan HandlingTime { get; set; }

        public SocketEnd? Ended { get; private set; }

        public async ValueTask HandleAsync(ReadOnlyMemory<byte> frame, CancellationToken cancellationToken)
        {
            var copy = frame.ToArray();
            if (HandlingTime > TimeSpan.Zero)
            {
                await Task.Delay(HandlingTime, cancellationToken);
            }
            shell.TrySend(copy);
        }

        public void SendError(string code, string message) => shell.TrySend(Encoding.UTF8.GetBytes(code));

        public ValueTask EndedAsync(SocketEnd end)
        {
            Ended = end;
            return ValueTask.CompletedTask;
        }
    }

    /// <summary>A server and a client WebSocket over one real loopback TCP connection with small buffers.</summary>
    private sealed class SocketPair : IAsyncDisposable
    {
        private readonly Socket _serverSocket;
        private readonly Socket _clientSocket;
        private readonly byte[] _buffer = new byte[256 * 1024];

        private SocketPair(Socket server, Socket client)
        {
            _serverSocket = server;
            _clientSocket = client;
            Server = WebSocket.CreateFromStream(new NetworkStream(server, ownsSocket: true), new WebSocketCreationOptions { IsServer = true });
            Client = WebSocket.CreateFromStream(new NetworkStream(client, ownsSocket: true), new WebSocketCreationOptions { IsServer = false });
        }

        public WebSocket Server { get; }

        public WebSocket Client { get; }

        public static async Task<SocketPair> OpenAsync()
        {
            using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
            listener.Listen(1);
            var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { ReceiveBufferSize = 8 * 1024 };
            await client.ConnectAsync(listener.LocalEndPoint!);
            var server = await listener.AcceptAsync();
            server.SendBufferSize = 8 * 1024;
            return new SocketPair(server, client);
        }

        public Task SendAsync(string text) =>
            Client.SendAsync(Encoding.UTF8.GetBytes(text).AsMemory(), WebSocketMessageType.Text, endOfMessage: true, CancellationToken.None).AsTask();

        public async Task<string> ReceiveTextAsync(TimeSpan timeout)
        {
            using var cancel = new CancellationTokenSource(timeout);
            var result = await Client.ReceiveAsync(_buffer.AsMemory(), cancel.Token);
            Assert.Equal(WebSocketMessageType.Text, result.MessageType);
            return Encoding.UTF8.GetString(_buffer, 0, result.Count);
        }

        /// <summary>Reads every frame until the server's close frame; returns how many came and the close status and reason.</summary>
        public async Task<(int Frames, WebSocketCloseStatus? Status, string? Reason)> DrainUntilCloseAsync(TimeSpan timeout)
        {
            using var cancel = new CancellationTokenSource(timeout);
            var frames = 0;
            while (true)
            {
                var result = await Client.ReceiveAsync(_buffer.AsMemory(), cancel.Token);
                if (result.MessageType == WebSocketMessageType.Close)
                {
                    return (frames, Client.CloseStatus, Client.CloseStatusDescription);
                }
                if (result.EndOfMessage)
                {
                    frames++;
                }
            }
        }

        public ValueTask DisposeAsync()
        {
            Client.Dispose();
            Server.Dispose();
            _clientSocket.Dispose();
            _serverSocket.Dispose();
            return ValueTask.CompletedTask;
        }
    }
}
