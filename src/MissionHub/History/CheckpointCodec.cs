using System.IO.Compression;
using System.Text.Json;

namespace MissionHub.History;

/// <summary>
/// How a <see cref="StateCheckpoint"/> is stored: its JSON, Brotli-compressed behind a one-byte format marker (a state's
/// JSON is mostly repeated field names and ids, so it shrinks about tenfold, which is what lets checkpoints be close
/// together). Plain JSON, as checkpoints were first stored, is still read.
/// </summary>
public static class CheckpointCodec
{
    /// <summary>The first byte of a compressed checkpoint (plain JSON starts with <c>{</c>).</summary>
    private const byte BrotliMarker = 1;

    // Fastest quality: a checkpoint is written every few thousand events and read on every rebuild.
    private const int Quality = 1;
    private const int Window = 22;

    public static byte[] Encode(StateCheckpoint checkpoint)
    {
        var json = JsonSerializer.SerializeToUtf8Bytes(checkpoint, HistoryJsonContext.Default.StateCheckpoint);
        var encoded = new byte[1 + BrotliEncoder.GetMaxCompressedLength(json.Length)];
        encoded[0] = BrotliMarker;
        if (!BrotliEncoder.TryCompress(json, encoded.AsSpan(1), out var written, Quality, Window))
        {
            throw new InvalidOperationException("a state checkpoint could not be compressed");
        }
        return encoded[..(1 + written)];
    }

    public static StateCheckpoint Decode(byte[] stored)
    {
        ArgumentNullException.ThrowIfNull(stored);
        if (stored.Length > 0 && stored[0] == BrotliMarker)
        {
            using var compressed = new MemoryStream(stored, 1, stored.Length - 1, writable: false);
            using var json = new BrotliStream(compressed, CompressionMode.Decompress);
            return JsonSerializer.Deserialize(json, HistoryJsonContext.Default.StateCheckpoint)
                ?? throw new InvalidDataException("a stored state checkpoint is empty");
        }
        return JsonSerializer.Deserialize(stored, HistoryJsonContext.Default.StateCheckpoint)
            ?? throw new InvalidDataException("a stored state checkpoint is empty");
    }
}
