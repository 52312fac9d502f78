using System.Runtime.CompilerServices;
using System.Text.Json;
using Microsoft.Data.Sqlite;
using MissionHub.Storage.Sqlite;

namespace MissionHub.Telemetry;

/// <summary>Samples in the embedded database: one row per frame, its numeric fields as a JSON object.</summary>
public sealed class SqliteTelemetryStore(SqliteDatabase database) : ITelemetryStore
{
    /// <summary>Rows deleted per transaction by the retention sweep.</summary>
    internal const int TrimChunk = 1000;

    private const string Schema = """
        CREATE TABLE IF NOT EXISTS telemetry_samples (
            robot_id TEXT NOT NULL,
            ts REAL NOT NULL,
            data TEXT NOT NULL);
        CREATE INDEX IF NOT EXISTS ix_telemetry_robot_ts ON telemetry_samples(robot_id, ts);
        CREATE INDEX IF NOT EXISTS ix_telemetry_ts ON telemetry_samples(ts);
        """;

    public async Task InitializeAsync(CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        using var create = connection.CreateCommand();
        create.CommandText = Schema;
        await create.ExecuteNonQueryAsync(cancellationToken);
    }

    public async Task AppendAsync(IReadOnlyList<TelemetrySample> samples, CancellationToken cancellationToken)
    {
        if (samples.Count == 0)
        {
            return;
        }
        await using var connection = await database.OpenAsync(cancellationToken);
        using var turn = await database.WaitForWriteTurnAsync(cancellationToken);
        using var transaction = connection.BeginTransaction(deferred: false);
        using var insert = connection.CreateCommand();
        insert.Transaction = transaction;
        insert.CommandText = "INSERT INTO telemetry_samples (robot_id, ts, data) VALUES ($robot, $ts, $data)";
        var robot = insert.Parameters.Add("$robot", SqliteType.Text);
        var ts = insert.Parameters.Add("$ts", SqliteType.Real);
        var data = insert.Parameters.Add("$data", SqliteType.Text);
        foreach (var sample in samples)
        {
            robot.Value = sample.RobotId;
            ts.Value = sample.Timestamp;
            data.Value = TelemetrySerialization.ValuesToJson(sample.Values);
            await insert.ExecuteNonQueryAsync(cancellationToken);
        }
        transaction.Commit();
    }

    public async IAsyncEnumerable<TelemetrySample> ReadAsync(
        string robotId, double from, double to, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        using var select = connection.CreateCommand();
        select.CommandText = "SELECT ts, data FROM telemetry_samples WHERE robot_id = $robot AND ts >= $from AND ts < $to ORDER BY ts";
        select.Parameters.AddWithValue("$robot", robotId);
        select.Parameters.AddWithValue("$from", from);
        select.Parameters.AddWithValue("$to", to);
        await using var reader = await select.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            yield return new TelemetrySample(robotId, reader.GetDouble(0), TelemetrySerialization.ValuesFromJson(reader.GetString(1)));
        }
    }

    public async Task<long> TrimAsync(double before, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        using var delete = connection.CreateCommand();
        // Oldest first through the ts index, one chunk per statement (its own transaction).
        delete.CommandText = "DELETE FROM telemetry_samples WHERE rowid IN (SELECT rowid FROM telemetry_samples WHERE ts < $before ORDER BY ts LIMIT $chunk)";
        delete.Parameters.AddWithValue("$before", before);
        delete.Parameters.AddWithValue("$chunk", TrimChunk);
        long removed = 0;
        while (true)
        {
            int deleted;
            // The process-wide write turn is held for one chunk only, so the event log and job writes queued behind it
            // wait for a thousand rows, not for the whole backlog of a long retention period.
            using (await database.WaitForWriteTurnAsync(cancellationToken))
            {
                deleted = await delete.ExecuteNonQueryAsync(cancellationToken);
            }
            removed += deleted;
            if (deleted < TrimChunk)
            {
                return removed;
            }
            await Task.Yield();
        }
    }
}

internal static class TelemetrySerialization
{
    public static string ValuesToJson(IReadOnlyDictionary<string, double> values) =>
        JsonSerializer.Serialize(values as Dictionary<string, double> ?? new Dictionary<string, double>(values), TelemetryJsonContext.Default.DictionaryStringDouble);

    public static Dictionary<string, double> ValuesFromJson(string json) =>
        JsonSerializer.Deserialize(json, TelemetryJsonContext.Default.DictionaryStringDouble) ?? [];
}
