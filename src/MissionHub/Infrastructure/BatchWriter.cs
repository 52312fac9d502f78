using System.Threading.Channels;

namespace MissionHub.Infrastructure;

/// <summary>
/// Group commit for a store: writes queue up and one loop hands everything waiting to
/// <c>commit</c> as one batch (one transaction, one pipeline). Each write completes when its batch is durable.
/// </summary>
public sealed class BatchWriter<T> : IAsyncDisposable
{
    private readonly Channel<Pending> _queue = Channel.CreateUnbounded<Pending>(new UnboundedChannelOptions { SingleReader = true });
    private readonly Func<IReadOnlyList<T>, CancellationToken, Task> _commit;
    private readonly int _maxBatch;
    private readonly Task _loop;

    public BatchWriter(Func<IReadOnlyList<T>, CancellationToken, Task> commit, int maxBatch = 512)
    {
        _commit = commit;
        _maxBatch = maxBatch;
        _loop = Task.Run(RunAsync);
    }

    public Task WriteAsync(T item, CancellationToken cancellationToken = default)
    {
        var pending = new Pending(item);
        ObjectDisposedException.ThrowIf(!_queue.Writer.TryWrite(pending), this);
        return cancellationToken.CanBeCanceled ? pending.Task.WaitAsync(cancellationToken) : pending.Task;
    }

    private async Task RunAsync()
    {
        var reader = _queue.Reader;
        var batch = new List<Pending>(_maxBatch);
        var items = new List<T>(_maxBatch);
        while (await reader.WaitToReadAsync())
        {
            while (batch.Count < _maxBatch && reader.TryRead(out var pending))
            {
                batch.Add(pending);
                items.Add(pending.Item);
            }
            try
            {
                await _commit(items, CancellationToken.None);
                foreach (var pending in batch)
                {
                    pending.TrySetResult();
                }
            }
            catch (Exception ex)
            {
                foreach (var pending in batch)
                {
                    pending.TrySetException(ex);
                }
            }
            batch.Clear();
            items.Clear();
        }
    }

    public async ValueTask DisposeAsync()
    {
        _queue.Writer.TryComplete();
        await _loop;
    }

    private sealed class Pending(T item) : TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)
    {
        public T Item { get; } = item;
    }
}
