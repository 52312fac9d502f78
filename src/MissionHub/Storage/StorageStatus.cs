using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace MissionHub.Storage;

/// <summary>Storage cannot be used right now (not opened yet, unreachable, disk full); the request may be retried later.</summary>
public sealed class StorageUnavailableException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>
/// Whether storage can be used now, and if not, why, in words a person understands: the start-up steps still
/// waiting for Redis, or the last write refused by the disk. Health, the storage gate and the 503 answers read it.
/// </summary>
public sealed partial class StorageStatus(IOptions<StorageOptions> options, TimeProvider time, ILogger<StorageStatus> logger)
{
    // SQLite primary result codes (the low byte of an extended code) that mean "the storage is in trouble", not "the query is wrong".
    private const int SqliteBusy = 5;
    private const int SqliteLocked = 6;
    private const int SqliteNoMem = 7;
    private const int SqliteReadOnly = 8;
    private const int SqliteIoErr = 10;
    private const int SqliteFull = 13;
    private const int SqliteCantOpen = 14;

    private volatile string? _notOpen;
    private volatile string? _writeFault;
    private long _writeFaultSince;

    /// <summary>False while start-up steps wait for storage: requests that need it are answered 503 until it opens.</summary>
    public bool IsOpen => _notOpen is null;

    /// <summary>Why storage is not open yet, or null.</summary>
    public string? NotOpenReason => _notOpen;

    /// <summary>What is wrong with storage now (not open, or the last write refused), or null when nothing is known to be.</summary>
    public string? Problem
    {
        get
        {
            if (_notOpen is { } notOpen)
            {
                return notOpen;
            }
            if (_writeFault is not { } fault)
            {
                return null;
            }
            var since = time.GetElapsedTime(Interlocked.Read(ref _writeFaultSince));
            return $"{fault}; writes refused for {since.TotalSeconds:0.#} s";
        }
    }

    internal void MarkNotOpen(string reason)
    {
        if (_notOpen is null)
        {
            LogNotOpen(logger, reason);
        }
        _notOpen = reason;
    }

    internal void MarkOpen()
    {
        if (_notOpen is not null)
        {
            _notOpen = null;
            LogOpened(logger);
        }
    }

    /// <summary>A write failed: remembered (until a write succeeds) when storage itself refused it.</summary>
    public void WriteFailed(Exception exception)
    {
        if (FindFault(exception) is not { } fault)
        {
            return;
        }
        if (_writeFault is null)
        {
            Interlocked.Exchange(ref _writeFaultSince, time.GetTimestamp());
            LogWritesRefused(logger, Describe(fault));
        }
        _writeFault = Describe(fault);
    }

    /// <summary>A write reached storage: whatever refused writes before has passed.</summary>
    public void WriteSucceeded()
    {
        if (_writeFault is not null)
        {
            _writeFault = null;
            LogWritesAccepted(logger);
        }
    }

    /// <summary>True when the exception (or one inside it) says storage is unavailable rather than the request wrong.</summary>
    public static bool IsUnavailable(Exception exception) => FindFault(exception) is not null;

    /// <summary>The storage fault inside <paramref name="exception"/>, or null when it is not one.</summary>
    public static Exception? FindFault(Exception exception)
    {
        for (var current = exception; current is not null; current = current.InnerException)
        {
            switch (current)
            {
                case StorageUnavailableException or RedisConnectionException or RedisTimeoutException:
                    return current;
                case RedisServerException server when IsUnavailableReply(server.Message):
                    return current;
                case SqliteException sqlite when (sqlite.SqliteErrorCode & 0xFF) is SqliteBusy or SqliteLocked or SqliteNoMem
                    or SqliteReadOnly or SqliteIoErr or SqliteFull or SqliteCantOpen:
                    return current;
                case AggregateException { InnerExceptions.Count: > 0 } aggregate:
                    if (aggregate.InnerExceptions.Select(FindFault).FirstOrDefault(f => f is not null) is { } inner)
                    {
                        return inner;
                    }
                    break;
            }
        }
        return null;
    }

    /// <summary>One line for a client's <c>detail</c>, naming the backend and the cause, never a stack trace.</summary>
    public string Describe(Exception exception)
    {
        var fault = FindFault(exception) ?? exception;
        return fault switch
        {
            StorageUnavailableException when _notOpen is { } notOpen => notOpen,
            StorageUnavailableException unavailable => $"storage unavailable: {unavailable.Message}",
            RedisTimeoutException => $"storage unavailable: redis {RedisEndpoint} did not answer in time",
            RedisConnectionException => $"storage unavailable: redis {RedisEndpoint} unreachable",
            RedisServerException server => $"storage unavailable: redis {RedisEndpoint} answered {FirstWord(server.Message)}",
            SqliteException sqlite => $"storage unavailable: {SqliteCause(sqlite)} ({SqliteFile})",
            _ => $"storage unavailable: {fault.GetType().Name}",
        };
    }

    private static string SqliteCause(SqliteException sqlite) => (sqlite.SqliteErrorCode & 0xFF) switch
    {
        SqliteFull => "disk full (SQLITE_FULL)",
        SqliteIoErr => $"disk I/O error (SQLITE_IOERR, extended code {sqlite.SqliteExtendedErrorCode})",
        SqliteReadOnly => "database is read-only (SQLITE_READONLY)",
        SqliteCantOpen => "database file cannot be opened (SQLITE_CANTOPEN)",
        SqliteNoMem => "out of memory (SQLITE_NOMEM)",
        SqliteBusy or SqliteLocked => "database is locked by another writer (SQLITE_BUSY)",
        _ => $"SQLite error {sqlite.SqliteErrorCode}",
    };

    // Replies a Redis gives while it cannot serve yet (loading its data set, a replica without its primary, out of memory).
    private static bool IsUnavailableReply(string message) =>
        message.StartsWith("LOADING", StringComparison.Ordinal) || message.StartsWith("MASTERDOWN", StringComparison.Ordinal)
        || message.StartsWith("OOM", StringComparison.Ordinal) || message.StartsWith("MISCONF", StringComparison.Ordinal)
        || message.StartsWith("TRYAGAIN", StringComparison.Ordinal) || message.StartsWith("READONLY", StringComparison.Ordinal);

    private static string FirstWord(string message) => message.Split(' ', 2)[0];

    /// <summary>The first endpoint of the configuration string: the part a person recognises.</summary>
    private string RedisEndpoint =>
        options.Value.Redis.Configuration.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries)
            .FirstOrDefault(part => !part.Contains('=', StringComparison.Ordinal)) ?? options.Value.Redis.Configuration;

    private string SqliteFile => Path.GetFullPath(options.Value.Sqlite.Path);

    [LoggerMessage(EventId = 2010, Level = LogLevel.Warning, Message = "Storage not open: {Reason}; the server runs without it and opens it once it answers")]
    private static partial void LogNotOpen(ILogger logger, string reason);

    [LoggerMessage(EventId = 2011, Level = LogLevel.Information, Message = "Storage opened: every start-up step has run")]
    private static partial void LogOpened(ILogger logger);

    [LoggerMessage(EventId = 2012, Level = LogLevel.Error, Message = "Storage refuses writes: {Reason}")]
    private static partial void LogWritesRefused(ILogger logger, string reason);

    [LoggerMessage(EventId = 2013, Level = LogLevel.Information, Message = "Storage accepts writes again")]
    private static partial void LogWritesAccepted(ILogger logger);
}
