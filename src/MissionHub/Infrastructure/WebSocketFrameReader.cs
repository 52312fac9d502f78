using System.Buffers;
using System.Net.WebSockets;

namespace MissionHub.Infrastructure;

public enum FrameKind
{
    Text,
    Binary,
    Close,

    /// <summary>The message was longer than the limit; its bytes are not kept.</summary>
    TooLarge,
}

/// <summary>
/// Reads whole WebSocket messages into one pooled buffer that grows up to a size limit. An oversized
/// message is either refused at once (the caller closes the socket) or read to its end and dropped
/// (the connection lives on), as the protocol chooses.
/// </summary>
public sealed class WebSocketFrameReader(WebSocket socket, int maxBytes, bool skipOversized) : IDisposable
{
    private byte[] _buffer = ArrayPool<byte>.Shared.Rent(Math.Min(16 * 1024, maxBytes + 1));
    private int _count;

    /// <summary>The last message read (valid until the next read).</summary>
    public ReadOnlyMemory<byte> Frame => _buffer.AsMemory(0, _count);

    public async ValueTask<FrameKind> ReadAsync(CancellationToken cancellationToken)
    {
        _count = 0;
        var oversized = false;
        ValueWebSocketReceiveResult result;
        do
        {
            if (_count == _buffer.Length)
            {
                if (_buffer.Length > maxBytes)
                {
                    if (!skipOversized)
                    {
                        return FrameKind.TooLarge;
                    }
                    oversized = true;
                    _count = 0; // keep reading to the end of the message, keeping nothing
                }
                else
                {
                    var larger = ArrayPool<byte>.Shared.Rent(Math.Min(_buffer.Length * 2, maxBytes + 1));
                    _buffer.AsSpan(0, _count).CopyTo(larger);
                    ArrayPool<byte>.Shared.Return(_buffer);
                    _buffer = larger;
                }
            }
            result = await socket.ReceiveAsync(_buffer.AsMemory(_count), cancellationToken);
            _count += result.Count;
        }
        while (!result.EndOfMessage);

        if (result.MessageType == WebSocketMessageType.Close)
        {
            return FrameKind.Close;
        }
        if (oversized || _count > maxBytes)
        {
            _count = 0;
            return FrameKind.TooLarge;
        }
        return result.MessageType == WebSocketMessageType.Text ? FrameKind.Text : FrameKind.Binary;
    }

    public void Dispose()
    {
        ArrayPool<byte>.Shared.Return(_buffer);
        _buffer = [];
    }
}
