using System.Net;
using System.Net.WebSockets;
using System.Text.Json;
using System.Threading.Channels;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using MissionHub.Events;

namespace MissionHub.Bench;

/// <summary>
/// The raw ceiling of the monitor benchmark: bare Kestrel WebSockets in this process, each event serialised once (the
/// same Charter envelope MissionHub sends for it, so the same size) and queued to every client, one send loop per client.
/// No event log, no feed, no filters, no byte bounds. It answers <c>monitor_connect</c> with a minimal snapshot so
/// <see cref="BenchMonitor"/> speaks to it unchanged.
/// </summary>
internal sealed class RawFanOutServer : IAsyncDisposable
{
    private const string Epoch = "raw";

    private readonly WebApplication _app;
    private readonly Lock _clientsLock = new();
    private Channel<byte[]>[] _clients = [];
    private long _seq;

    private RawFanOutServer(WebApplication app) => _app = app;

    public Uri WebSocketUri { get; private set; } = null!;

    public static async Task<RawFanOutServer> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrel(kestrel => kestrel.Listen(IPAddress.Loopback, 0));
        var app = builder.Build();
        var server = new RawFanOutServer(app);
        app.UseWebSockets();
        app.Map("/ws", server.AcceptAsync);
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        server.WebSocketUri = new UriBuilder(address) { Scheme = "ws", Path = "/ws" }.Uri;
        return server;
    }

    /// <summary>Serialises one event and queues the same bytes to every client.</summary>
    public void Publish(JsonElement payload)
    {
        var frame = new CharterEvent
        {
            Id = Guid.NewGuid().ToString(),
            Type = "mission.bench",
            Source = "missions_service",
            Timestamp = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() / 1000.0,
            Payload = payload,
            Meta = new EventMeta(null),
            Seq = Interlocked.Increment(ref _seq),
        }.ToUtf8Json().ToArray();
        foreach (var client in Volatile.Read(ref _clients))
        {
            client.Writer.TryWrite(frame);
        }
    }

    private async Task AcceptAsync(HttpContext context)
    {
        using var socket = await context.WebSockets.AcceptWebSocketAsync(new WebSocketAcceptContext { DangerousEnableCompression = true });
        var queue = Channel.CreateUnbounded<byte[]>(new UnboundedChannelOptions { SingleReader = true });
        var buffer = new byte[64 * 1024];
        await socket.ReceiveAsync(buffer.AsMemory(), context.RequestAborted); // monitor_connect
        // Registered before the snapshot goes out: every event after it reaches this client.
        lock (_clientsLock)
        {
            _clients = [.. _clients, queue];
        }
        var snapshot = JsonSerializer.SerializeToUtf8Bytes(new Dictionary<string, object>
        {
            ["type"] = "full_state_snapshot", ["data"] = new Dictionary<string, object>(), ["epoch"] = Epoch, ["seq"] = Interlocked.Read(ref _seq),
        });
        await socket.SendAsync(snapshot, WebSocketMessageType.Text, true, context.RequestAborted);
        var sending = Task.Run(async () =>
        {
            try
            {
                await foreach (var frame in queue.Reader.ReadAllAsync(context.RequestAborted))
                {
                    await socket.SendAsync(frame, WebSocketMessageType.Text, true, CancellationToken.None);
                }
            }
            catch (Exception ex) when (ex is WebSocketException or OperationCanceledException or ObjectDisposedException or IOException)
            {
            }
        });
        try
        {
            while (socket.State == WebSocketState.Open)
            {
                var result = await socket.ReceiveAsync(buffer.AsMemory(), context.RequestAborted);
                if (result.MessageType == WebSocketMessageType.Close)
                {
                    break;
                }
            }
        }
        catch (Exception ex) when (ex is WebSocketException or OperationCanceledException or IOException)
        {
        }
        finally
        {
            lock (_clientsLock)
            {
                _clients = [.. _clients.Where(c => c != queue)];
            }
            queue.Writer.TryComplete();
            await sending;
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
