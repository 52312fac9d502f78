using System.Collections.Concurrent;
using Microsoft.Data.Sqlite;

namespace MissionHub.Storage.Sqlite;

/// <summary>
/// One thread that owns the write connection and commits, in one transaction, every small write waiting for
/// it: the event log's batches and the job rows go to disk together, with one fsync, instead of taking turns.
/// SQLite calls block; on this thread they never hold up a thread-pool thread or each other's callers.
/// A write that fails is retried on its own, so one bad write never fails the others of its group.
/// </summary>
public sealed partial class SqliteWriter : IDisposable
{
    private const int MaxGroup = 1024;

    private readonly ConcurrentQueue<SqliteWrite> _queue = new();
    // Waits without spinning: a spinning writer thread takes the CPU the callers need on a small machine.
    private readonly ManualResetEventSlim _wake = new(false, spinCount: 0);
    private readonly SqliteDatabase _database;
    private readonly ILogger _logger;
    private readonly StorageStatus? _status;
    private readonly Thread _thread;
    private readonly Dictionary<string, SqliteCommand> _commands = new(StringComparer.Ordinal);
    private SqliteConnection? _connection;
    private long _nextSeq = 1;
    private int _sleeping;
    private volatile bool _closed;

    internal SqliteWriter(SqliteDatabase database, ILogger logger, StorageStatus? status = null)
    {
        _database = database;
        _logger = logger;
        _status = status;
        _thread = new Thread(Run) { IsBackground = true, Name = "MissionHub SQLite writer" };
        _thread.Start();
    }

    /// <summary>Runs <paramref name="write"/> inside the next group's transaction; completes once that group is durable.</summary>
    /// <param name="write">The work, run on the writer thread.</param>
    /// <param name="continueOnWriter">
    /// Run the caller's continuation on the writer thread, for a caller whose continuation is short and never
    /// blocks (the event log's batch loop): saves a thread hop per commit. Everyone else continues on the pool.
    /// </param>
    public Task<T> WriteAsync<T>(Func<SqliteWriteContext, T> write, CancellationToken cancellationToken)
    {
        // Once queued the step goes ahead; the token only stops the caller waiting for it.
        var written = WriteAsync(write);
        return cancellationToken.CanBeCanceled ? written.WaitAsync(cancellationToken) : written;
    }

    public Task<T> WriteAsync<T>(Func<SqliteWriteContext, T> write, bool continueOnWriter = false)
    {
        ObjectDisposedException.ThrowIf(_closed, this);
        var pending = new SqliteWrite<T>(write, continueOnWriter);
        _queue.Enqueue(pending);
        if (Volatile.Read(ref _sleeping) == 1 && !_closed)
        {
            _wake.Set();
        }
        if (_closed)
        {
            FailLeftovers(); // closed while queueing: the writer may have gone already
        }
        return pending.Task;
    }

    /// <summary>
    /// Called on the writer thread right after a commit with the events it made durable, in seq order, before any
    /// caller hears of the commit: the event log's readers see them exactly when they exist.
    /// </summary>
    public Action<IReadOnlyList<MissionHub.Events.CharterEvent>>? EventsCommitted { get; set; }

    /// <summary>The seq the next committed event gets; set once by the event log when it opens.</summary>
    internal void StartSeqsAt(long nextSeq) => Volatile.Write(ref _nextSeq, nextSeq);

    public void Dispose()
    {
        _closed = true;
        _wake.Set();
        if (Thread.CurrentThread != _thread)
        {
            _thread.Join();
        }
        FailLeftovers();
    }

    private void FailLeftovers()
    {
        while (_queue.TryDequeue(out var write))
        {
            write.Fail(new ObjectDisposedException(nameof(SqliteWriter), "the database is closed"));
        }
    }

    /// <summary>Takes the next write, sleeping while there is none; null once closed and drained.</summary>
    private SqliteWrite? Take()
    {
        while (true)
        {
            if (_queue.TryDequeue(out var write))
            {
                return write;
            }
            _wake.Reset();
            Volatile.Write(ref _sleeping, 1);
            Interlocked.MemoryBarrier();
            if (_queue.IsEmpty)
            {
                if (_closed)
                {
                    return null;
                }
                _wake.Wait();
            }
            Volatile.Write(ref _sleeping, 0);
        }
    }

    private void Run()
    {
        var group = new List<SqliteWrite>(MaxGroup);
        while (Take() is { } first)
        {
            group.Add(first);
            while (group.Count < MaxGroup && _queue.TryDequeue(out var next))
            {
                group.Add(next);
            }
            try
            {
                Commit(group);
            }
            catch (Exception ex) when (group.Count > 1)
            {
                // Find the culprit: each write alone, so the others still land.
                LogGroupFailed(_logger, ex, group.Count);
                foreach (var write in group)
                {
                    try
                    {
                        Commit([write]);
                    }
                    catch (Exception alone)
                    {
                        _status?.WriteFailed(alone);
                        write.Fail(alone);
                    }
                }
            }
            catch (Exception ex)
            {
                _status?.WriteFailed(ex);
                group[0].Fail(ex);
            }
            group.Clear();
        }
        foreach (var command in _commands.Values)
        {
            command.Dispose();
        }
        _connection?.Dispose();
    }

    private SqliteConnection OpenWriterConnection()
    {
        var connection = _database.Open();
        using var pragma = connection.CreateCommand();
        // Checkpoint every ~40 MB of WAL instead of ~4 MB: a job's row is rewritten several times within seconds, so
        // rarer checkpoints copy each page once, and the commit that runs one stalls its callers far less often.
        pragma.CommandText = "PRAGMA wal_autocheckpoint=10000";
        pragma.ExecuteNonQuery();
        return connection;
    }

    private void Commit(List<SqliteWrite> group)
    {
        var connection = _connection ??= OpenWriterConnection();
        using var turn = _database.WaitForWriteTurn();
        using var transaction = connection.BeginTransaction(deferred: false);
        var context = new SqliteWriteContext(connection, transaction, _commands, Volatile.Read(ref _nextSeq));
        try
        {
            foreach (var write in group)
            {
                write.Execute(context);
            }
            transaction.Commit();
        }
        catch
        {
            foreach (var write in group)
            {
                write.Discard();
            }
            throw;
        }
        // Seqs handed out in a transaction that rolled back are handed out again: the log stays gap-free.
        Volatile.Write(ref _nextSeq, context.NextSeq);
        _status?.WriteSucceeded();
        if (context.Events.Count > 0)
        {
            EventsCommitted?.Invoke(context.Events);
        }
        // Only now durable: callers hear of it after the commit, in the order they queued.
        foreach (var write in group)
        {
            write.Complete();
        }
    }

    [LoggerMessage(EventId = 1101, Level = LogLevel.Warning, Message = "A group of {Count} SQLite writes failed; retrying each on its own")]
    private static partial void LogGroupFailed(ILogger logger, Exception exception, int count);
}

/// <summary>What a write sees: the writer's connection and open transaction, and its prepared commands.</summary>
public sealed class SqliteWriteContext
{
    private readonly Dictionary<string, SqliteCommand> _commands;

    internal SqliteWriteContext(SqliteConnection connection, SqliteTransaction transaction, Dictionary<string, SqliteCommand> commands, long nextSeq)
    {
        Connection = connection;
        Transaction = transaction;
        _commands = commands;
        NextSeq = nextSeq;
    }

    /// <summary>The seq the next event appended in this transaction gets.</summary>
    public long NextSeq { get; private set; }

    /// <summary>The events appended in this transaction, in seq order.</summary>
    internal List<MissionHub.Events.CharterEvent> Events { get; } = [];

    /// <summary>Takes the next seq for an event written in this transaction and remembers the event for after the commit.</summary>
    internal MissionHub.Events.CharterEvent Sequence(MissionHub.Events.CharterEvent draft)
    {
        var committed = draft with { Seq = NextSeq++ };
        Events.Add(committed);
        return committed;
    }

    public SqliteConnection Connection { get; }

    public SqliteTransaction Transaction { get; }

    /// <summary>A command prepared once per statement and reused; its parameters are added in the order named.</summary>
    public SqliteCommand Command(string sql, params ReadOnlySpan<string> parameterNames)
    {
        if (!_commands.TryGetValue(sql, out var command))
        {
            command = Connection.CreateCommand();
            command.CommandText = sql;
            foreach (var name in parameterNames)
            {
                command.Parameters.Add(new SqliteParameter { ParameterName = name });
            }
            _commands[sql] = command;
        }
        command.Transaction = Transaction;
        return command;
    }
}

internal abstract class SqliteWrite
{
    public abstract void Execute(SqliteWriteContext context);

    public abstract void Complete();

    public abstract void Discard();

    public abstract void Fail(Exception exception);
}

internal sealed class SqliteWrite<T>(Func<SqliteWriteContext, T> write, bool continueOnWriter) : SqliteWrite
{
    private readonly TaskCompletionSource<T> _done =
        new(continueOnWriter ? TaskCreationOptions.None : TaskCreationOptions.RunContinuationsAsynchronously);
    private T? _result;

    public Task<T> Task => _done.Task;

    public override void Execute(SqliteWriteContext context) => _result = write(context);

    public override void Complete() => _done.TrySetResult(_result!);

    public override void Discard() => _result = default;

    public override void Fail(Exception exception) => _done.TrySetException(exception);
}
