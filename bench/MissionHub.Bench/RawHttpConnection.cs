using System.Buffers.Text;
using System.Net.Sockets;
using System.Text;

namespace MissionHub.Bench;

/// <summary>
/// A keep-alive HTTP/1.1 connection that sends ready-made requests and reads each answer's status and body:
/// the load generator shares the two cores with the server, so it must cost as little as wrk would.
/// </summary>
internal sealed class RawHttpConnection : IDisposable
{
    private static readonly byte[] HeaderEnd = "\r\n\r\n"u8.ToArray();
    private static readonly byte[] ContentLength = "content-length:"u8.ToArray();
    private static readonly byte[] Chunked = "transfer-encoding: chunked"u8.ToArray();
    private static readonly byte[] LastChunk = "\r\n0\r\n\r\n"u8.ToArray();

    private readonly Socket _socket;
    private byte[] _buffer = new byte[16 * 1024];
    private int _start;
    private int _end;

    private RawHttpConnection(Socket socket) => _socket = socket;

    public static async Task<RawHttpConnection> OpenAsync(Uri baseAddress)
    {
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        await socket.ConnectAsync(baseAddress.Host, baseAddress.Port);
        return new RawHttpConnection(socket);
    }

    /// <summary>A POST of a JSON body, as bytes ready to send.</summary>
    public static byte[] JsonPost(Uri baseAddress, string path, string json)
    {
        var body = Encoding.UTF8.GetBytes(json);
        var head = Encoding.ASCII.GetBytes(
            $"POST {path} HTTP/1.1\r\nHost: {baseAddress.Authority}\r\nContent-Type: application/json\r\nContent-Length: {body.Length}\r\n\r\n");
        return [.. head, .. body];
    }

    /// <summary>Sends the request and returns the answer's status code once its whole body has arrived.</summary>
    public async Task<int> SendAsync(ReadOnlyMemory<byte> request)
    {
        while (!request.IsEmpty)
        {
            request = request[await _socket.SendAsync(request, SocketFlags.None)..];
        }
        int headerEnd;
        while ((headerEnd = _buffer.AsSpan(_start, _end - _start).IndexOf(HeaderEnd)) < 0)
        {
            await FillAsync();
        }
        var head = _buffer.AsSpan(_start, headerEnd);
        // "HTTP/1.1 201 Created"
        if (!Utf8Parser.TryParse(head[9..12], out int status, out _))
        {
            throw new InvalidOperationException("not an HTTP answer: " + Encoding.ASCII.GetString(head[..Math.Min(head.Length, 40)]));
        }
        var length = BodyLength(head);
        _start += headerEnd + HeaderEnd.Length;
        if (length < 0)
        {
            // Chunked: JSON bodies hold no raw CR/LF, so the body ends at the first empty last chunk.
            int last;
            while ((last = _buffer.AsSpan(_start, _end - _start).IndexOf(LastChunk)) < 0)
            {
                await FillAsync();
            }
            length = last + LastChunk.Length;
        }
        while (_end - _start < length)
        {
            await FillAsync();
        }
        _start += length;
        return status;
    }

    /// <summary>The body's length, or -1 for a chunked body.</summary>
    private static int BodyLength(ReadOnlySpan<byte> head)
    {
        Span<byte> lower = stackalloc byte[head.Length];
        Ascii.ToLower(head, lower, out _);
        var at = lower.IndexOf(ContentLength);
        if (at < 0)
        {
            return lower.IndexOf(Chunked) >= 0 ? -1 : throw new InvalidOperationException("an answer with neither Content-Length nor chunked encoding");
        }
        var value = head[(at + ContentLength.Length)..].TrimStart((byte)' ');
        return Utf8Parser.TryParse(value, out int length, out _) ? length : throw new InvalidOperationException("a bad Content-Length");
    }

    private async Task FillAsync()
    {
        if (_start > 0)
        {
            _buffer.AsSpan(_start, _end - _start).CopyTo(_buffer);
            _end -= _start;
            _start = 0;
        }
        if (_end == _buffer.Length)
        {
            // A large answer (a batch of jobs): the buffer grows, up to a bound.
            if (_buffer.Length >= 64 * 1024 * 1024)
            {
                throw new InvalidOperationException("an answer larger than 64 MiB");
            }
            Array.Resize(ref _buffer, _buffer.Length * 2);
        }
        var read = await _socket.ReceiveAsync(_buffer.AsMemory(_end), SocketFlags.None);
        if (read == 0)
        {
            throw new InvalidOperationException("the server closed the connection");
        }
        _end += read;
    }

    public void Dispose() => _socket.Dispose();
}
