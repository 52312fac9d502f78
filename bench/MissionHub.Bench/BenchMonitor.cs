using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using HdrHistogram;

namespace MissionHub.Bench;

/// <summary>How a benchmark monitor connects: permessage-deflate offered or not, and the <c>batching</c> it asks for.</summary>
internal sealed record MonitorMode(string Name, bool Deflate, object? Batching)
{
    public static readonly MonitorMode Plain = new("plain", false, null);
}

/// <summary>
/// A monitor for the benchmarks, the same against MissionHub and against the raw fan-out: snapshot, subscribe, then
/// read every frame (single events, <c>event_batch</c>, <c>resync_data</c>) and check delivery is exact — seqs strictly
/// increasing, each published event (payload <c>n</c>) seen once. When the hub reports <c>events_missed</c> it resyncs
/// from its last seq, so a miss is recovered and counted, never a silent gap. Bytes are counted under the WebSocket, on
/// the wire.
/// </summary>
internal sealed class BenchMonitor : IAsyncDisposable
{
    private static readonly HashSet<string> ControlTypes =
    [
        "subscribed", "monitor_connected", "heartbeat", "heartbeat_ack", "events_missed", "error", "full_state_snapshot",
        "resync_data", "event_batch",
    ];

    private readonly ClientWebSocket _socket;
    private readonly WireCountingStream _wire;
    private readonly LongHistogram? _latency;
    private readonly bool[]? _seen;
    private readonly List<long>? _seqs;
    private readonly string _epoch;
    private readonly Task _loop;
    private readonly List<string> _violations = [];
    private long _received;
    private long _lastSeq;
    private long _missedNotices;
    private long _recovered;
    private long _wireAtReset;

    private BenchMonitor(ClientWebSocket socket, WireCountingStream wire, LongHistogram? latency, int expected, bool keepSeqs, string epoch, long seq, long snapshotWireBytes)
    {
        _socket = socket;
        _wire = wire;
        _latency = latency;
        _seen = expected > 0 ? new bool[expected] : null;
        _seqs = keepSeqs ? [] : null;
        _epoch = epoch;
        _lastSeq = seq;
        SnapshotWireBytes = snapshotWireBytes;
        _wireAtReset = wire.BytesRead;
        _loop = Task.Run(RunAsync);
    }

    /// <summary>Distinct events received (live, batched or replayed).</summary>
    public long Received => Interlocked.Read(ref _received);

    public long MissedNotices => Interlocked.Read(ref _missedNotices);

    /// <summary>Events that arrived in a resync after a miss.</summary>
    public long Recovered => Interlocked.Read(ref _recovered);

    /// <summary>Bytes read from the wire since connecting (after the upgrade) or the last <see cref="ResetBytes"/>.</summary>
    public long WireBytes => _wire.BytesRead - Interlocked.Read(ref _wireAtReset);

    public long SnapshotWireBytes { get; }

    public IReadOnlyList<long> Seqs
    {
        get
        {
            lock (_violations)
            {
                return [.. _seqs ?? []];
            }
        }
    }

    public IReadOnlyList<string> Violations
    {
        get
        {
            lock (_violations)
            {
                return [.. _violations];
            }
        }
    }

    public void ResetBytes() => Interlocked.Exchange(ref _wireAtReset, _wire.BytesRead);

    /// <summary>Events <c>0..expected-1</c> (payload <c>n</c>) that never arrived.</summary>
    public int Unseen()
    {
        lock (_violations)
        {
            return _seen?.Count(s => !s) ?? 0;
        }
    }

    /// <param name="expected">How many events (payload <c>n</c> 0..expected-1) to expect; 0 for a workload without <c>n</c>.</param>
    public static async Task<BenchMonitor> ConnectAsync(
        Uri uri, string[] topics, MonitorMode mode, LongHistogram? latency = null, int expected = 0, bool keepSeqs = false, string monitorId = "bench")
    {
        WireCountingStream? wire = null;
        var handler = new SocketsHttpHandler
        {
            ConnectCallback = async (context, cancellationToken) =>
            {
                var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
                await socket.ConnectAsync(context.DnsEndPoint, cancellationToken);
                return wire = new WireCountingStream(new NetworkStream(socket, ownsSocket: true));
            },
        };
        var client = new ClientWebSocket();
        if (mode.Deflate)
        {
            client.Options.DangerousDeflateOptions = new WebSocketDeflateOptions();
            client.Options.CollectHttpResponseDetails = true; // to see whether the server took the offer
        }
        await client.ConnectAsync(uri, new HttpMessageInvoker(handler), CancellationToken.None);
        if (mode.Deflate && client.HttpResponseHeaders?.ContainsKey("Sec-WebSocket-Extensions") != true)
        {
            throw new InvalidOperationException($"{uri} did not accept permessage-deflate");
        }
        var beforeSnapshot = wire!.BytesRead;
        await SendAsync(client, $"{{\"type\":\"monitor_connect\",\"monitor_id\":\"{monitorId}\",\"request_full_state\":true}}");
        var buffer = new byte[16 * 1024 * 1024];
        var count = 0;
        ValueWebSocketReceiveResult result;
        do
        {
            result = await client.ReceiveAsync(buffer.AsMemory(count), CancellationToken.None);
            count += result.Count;
        }
        while (!result.EndOfMessage);
        using var snapshot = JsonDocument.Parse(buffer.AsMemory(0, count));
        var epoch = snapshot.RootElement.TryGetProperty("epoch", out var e) ? e.GetString() ?? "" : "";
        var seq = snapshot.RootElement.TryGetProperty("seq", out var s) ? s.GetInt64() : 0;
        var snapshotWire = wire.BytesRead - beforeSnapshot;
        await SendAsync(client, mode.Batching is null
            ? JsonSerializer.Serialize(new { type = "subscribe", topics })
            : JsonSerializer.Serialize(new { type = "subscribe", topics, batching = mode.Batching }));
        return new BenchMonitor(client, wire, latency, expected, keepSeqs, epoch, seq, snapshotWire);
    }

    private static Task SendAsync(ClientWebSocket socket, string text) =>
        socket.SendAsync(Encoding.UTF8.GetBytes(text), WebSocketMessageType.Text, true, CancellationToken.None);

    private async Task RunAsync()
    {
        var buffer = new byte[4 * 1024 * 1024];
        try
        {
            while (true)
            {
                var count = 0;
                ValueWebSocketReceiveResult result;
                do
                {
                    if (count == buffer.Length)
                    {
                        Array.Resize(ref buffer, buffer.Length * 2);
                    }
                    result = await _socket.ReceiveAsync(buffer.AsMemory(count), CancellationToken.None);
                    count += result.Count;
                }
                while (!result.EndOfMessage);
                if (result.MessageType == WebSocketMessageType.Close)
                {
                    return;
                }
                var arrived = Stopwatch.GetTimestamp();
                using var frame = JsonDocument.Parse(buffer.AsMemory(0, count));
                var root = frame.RootElement;
                var type = root.GetProperty("type").GetString();
                switch (type)
                {
                    case "event_batch":
                        foreach (var evt in root.GetProperty("events").EnumerateArray())
                        {
                            Take(evt, arrived, replayed: false);
                        }
                        break;
                    case "resync_data":
                        if (!root.GetProperty("recovered").GetBoolean())
                        {
                            Violation($"resync not recovered: {root.GetRawText()[..Math.Min(200, root.GetRawText().Length)]}");
                        }
                        foreach (var evt in root.GetProperty("events").EnumerateArray())
                        {
                            Take(evt, arrived, replayed: true);
                        }
                        break;
                    case "events_missed":
                        // The hub stops this monitor's stream until it resyncs: ask for everything after what arrived.
                        Interlocked.Increment(ref _missedNotices);
                        await SendAsync(_socket, JsonSerializer.Serialize(new
                        {
                            type = "resync_request", last_seq = Interlocked.Read(ref _lastSeq), epoch = _epoch,
                        }));
                        break;
                    case "error":
                        Violation($"error frame: {root.GetRawText()}");
                        break;
                    case var _ when !ControlTypes.Contains(type!):
                        Take(root, arrived, replayed: false);
                        break;
                }
            }
        }
        catch (Exception ex) when (ex is WebSocketException or OperationCanceledException or ObjectDisposedException)
        {
        }
    }

    private void Take(JsonElement evt, long arrived, bool replayed)
    {
        var seq = evt.GetProperty("seq").GetInt64();
        lock (_violations)
        {
            if (seq <= _lastSeq)
            {
                Violation($"seq {seq} after {_lastSeq}: out of order or doubled");
                return;
            }
            _lastSeq = seq;
            _seqs?.Add(seq);
            if (_seen is not null && evt.TryGetProperty("payload", out var payload) && payload.TryGetProperty("n", out var n))
            {
                var index = n.GetInt32();
                if (index < 0 || index >= _seen.Length || _seen[index])
                {
                    Violation($"event n={index} (seq {seq}) arrived twice or was never published");
                    return;
                }
                _seen[index] = true;
                if (_latency is not null)
                {
                    var published = payload.GetProperty("t").GetInt64();
                    lock (_latency)
                    {
                        _latency.RecordValue(Math.Max(0, arrived - published));
                    }
                }
            }
        }
        Interlocked.Increment(ref _received);
        if (replayed)
        {
            Interlocked.Increment(ref _recovered);
        }
    }

    private void Violation(string what)
    {
        lock (_violations)
        {
            if (_violations.Count < 20)
            {
                _violations.Add(what);
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        _socket.Abort();
        await _loop;
        _socket.Dispose();
    }
}
