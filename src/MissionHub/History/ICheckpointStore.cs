namespace MissionHub.History;

/// <summary>
/// Where state checkpoints are kept (SQLite: a table; Redis: keys under the hub's prefix), by epoch and seq.
/// The stored bytes are a <see cref="StateCheckpoint"/> as JSON.
/// </summary>
public interface ICheckpointStore
{
    Task SaveAsync(string epoch, long seq, ReadOnlyMemory<byte> checkpoint, CancellationToken cancellationToken);

    /// <summary>The newest checkpoint of <paramref name="epoch"/> at or before <paramref name="seq"/>, or null.</summary>
    Task<byte[]?> LoadAtOrBeforeAsync(string epoch, long seq, CancellationToken cancellationToken);

    /// <summary>The seqs of <paramref name="epoch"/>'s checkpoints, oldest first.</summary>
    Task<IReadOnlyList<long>> ListAsync(string epoch, CancellationToken cancellationToken);

    /// <summary>Removes <paramref name="epoch"/>'s checkpoints before <paramref name="seq"/>, and every other epoch's.</summary>
    Task PruneAsync(string epoch, long seq, CancellationToken cancellationToken);

    /// <summary>True while this process is the one that writes checkpoints (one at a time on a shared store).</summary>
    ValueTask<bool> IsWriterAsync(CancellationToken cancellationToken);
}
