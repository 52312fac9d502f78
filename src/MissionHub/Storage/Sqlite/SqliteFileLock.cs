namespace MissionHub.Storage.Sqlite;

/// <summary>
/// One server process per database file: the job hub's claims and leases are kept consistent by one process's single
/// writer, so a second process on the same file would hand out the same jobs. Taken when the server starts, held until
/// the process ends however it ends (the OS releases it). Redis is the way to run several processes.
/// </summary>
public sealed class SqliteFileLock(SqliteDatabase database) : IDisposable
{
    private FileStream? _lock;

    public string LockPath => database.FilePath + ".lock";

    public void Take()
    {
        try
        {
            // FileShare.None takes an exclusive lock on the file (flock on Linux).
            _lock ??= new FileStream(LockPath, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
            _lock.SetLength(0);
            _lock.Write(System.Text.Encoding.ASCII.GetBytes(Environment.ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture)));
            _lock.Flush();
        }
        catch (IOException ex)
        {
            throw new StorageInUseException(
                $"the SQLite database {database.FilePath} is in use by another MissionHub process (lock file {LockPath} is held); " +
                "stop that process, point MissionHub:Storage:Sqlite:Path at another file, or use Redis to run several processes", ex);
        }
    }

    public void Dispose() => _lock?.Dispose();
}

/// <summary>The storage cannot be opened by this process because another one owns it.</summary>
public sealed class StorageInUseException(string message, Exception inner) : Exception(message, inner);
