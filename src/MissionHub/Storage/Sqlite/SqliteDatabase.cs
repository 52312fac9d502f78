using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Options;

namespace MissionHub.Storage.Sqlite;

/// <summary>The embedded database file: opens connections with the pragmas every MissionHub connection uses.</summary>
public sealed class SqliteDatabase : IDisposable
{
    private readonly string _connectionString;
    private readonly string _pragmas;
    private readonly ILogger _logger;
    private readonly Lock _writerLock = new();
    private SqliteWriter? _writer;
    private bool _disposed;

    private readonly StorageStatus? _status;

    public SqliteDatabase(IOptions<StorageOptions> options, ILogger<SqliteDatabase>? logger = null, StorageStatus? status = null)
    {
        _status = status;
        _logger = (ILogger?)logger ?? Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance;
        var sqlite = options.Value.Sqlite;
        FilePath = System.IO.Path.GetFullPath(sqlite.Path);
        var folder = System.IO.Path.GetDirectoryName(FilePath);
        if (!string.IsNullOrEmpty(folder))
        {
            Directory.CreateDirectory(folder);
        }
        _connectionString = new SqliteConnectionStringBuilder
        {
            DataSource = FilePath,
            Mode = SqliteOpenMode.ReadWriteCreate,
            Cache = SqliteCacheMode.Private,
            Pooling = true,
            DefaultTimeout = 30,
        }.ToString();
        _pragmas = $"PRAGMA journal_mode=WAL; PRAGMA synchronous={sqlite.Synchronous.ToUpperInvariant()}; PRAGMA busy_timeout=5000;";
    }

    public string FilePath { get; }

    /// <summary>The one writer thread of this file, started on first use: small writes of every store share its commits.</summary>
    public SqliteWriter Writer
    {
        get
        {
            lock (_writerLock)
            {
                ObjectDisposedException.ThrowIf(_disposed, this);
                return _writer ??= new SqliteWriter(this, _logger, _status);
            }
        }
    }

    // SQLite has one writer at a time; its own busy handler waits by sleeping (1 ms, 2 ms, 5 ms ...), which turns
    // contention between the event log, jobs and missions into milliseconds of latency. Writers of this process
    // (the writer thread, missions, telemetry, retention) take turns here instead, in order, and never meet it.
    private readonly SemaphoreSlim _writeTurn = new(1, 1);

    /// <summary>Waits for this process's turn to write; dispose the result to pass the turn on.</summary>
    public async ValueTask<WriteTurn> WaitForWriteTurnAsync(CancellationToken cancellationToken = default)
    {
        await _writeTurn.WaitAsync(cancellationToken);
        return new WriteTurn(_writeTurn);
    }

    /// <summary>The same turn for the writer thread, which may block.</summary>
    internal WriteTurn WaitForWriteTurn()
    {
        _writeTurn.Wait();
        return new WriteTurn(_writeTurn);
    }

    public void Dispose()
    {
        SqliteWriter? writer;
        lock (_writerLock)
        {
            writer = _writer;
            _writer = null;
            _disposed = true;
        }
        writer?.Dispose();
        _writeTurn.Dispose();
        // Closes the idle pooled connections (their file handles) and stops the pool's prune timer, which would
        // otherwise outlive the host.
        using var pooled = new SqliteConnection(_connectionString);
        SqliteConnection.ClearPool(pooled);
    }

    public readonly struct WriteTurn(SemaphoreSlim turn) : IDisposable
    {
        public void Dispose() => turn.Release();
    }

    /// <summary>Opens a pooled connection: WAL journal, the configured synchronous level, a 5 s busy timeout.</summary>
    internal SqliteConnection Open()
    {
        var connection = new SqliteConnection(_connectionString);
        try
        {
            connection.Open();
            using var pragma = connection.CreateCommand();
            pragma.CommandText = _pragmas;
            pragma.ExecuteNonQuery();
            return connection;
        }
        catch
        {
            connection.Dispose();
            throw;
        }
    }

    /// <summary>As <see cref="Open"/>: Microsoft.Data.Sqlite opens synchronously whichever method is called.</summary>
    public Task<SqliteConnection> OpenAsync(CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        return Task.FromResult(Open());
    }
}
