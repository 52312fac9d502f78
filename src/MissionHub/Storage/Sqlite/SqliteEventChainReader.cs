using MissionHub.History;

namespace MissionHub.Storage.Sqlite;

/// <summary>Chains from the events table's indexes on correlation_id and traceparent: no scan, however long the log.</summary>
public sealed class SqliteEventChainReader(SqliteDatabase database) : IEventChainReader
{
    public async Task<EventChain> ReadChainAsync(ChainQuery query, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(query);
        await using var connection = await database.OpenAsync(cancellationToken);
        using var transaction = connection.BeginTransaction(deferred: true);
        using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = """
            SELECT (SELECT value FROM event_log_meta WHERE key = 'epoch'),
                   MAX((SELECT COALESCE(MAX(seq), 0) FROM events), (SELECT CAST(value AS INTEGER) FROM event_log_meta WHERE key = 'last_seq'))
            """;
        string epoch;
        long lastSeq;
        using (var reader = await command.ExecuteReaderAsync(cancellationToken))
        {
            await reader.ReadAsync(cancellationToken);
            epoch = reader.GetString(0);
            lastSeq = reader.IsDBNull(1) ? 0 : reader.GetInt64(1);
        }
        string condition;
        if (query.CorrelationId is { } id)
        {
            condition = "correlation_id = $id";
            command.Parameters.AddWithValue("$id", id);
        }
        else
        {
            // A range on the traceparent index: every version-00 traceparent of that trace id.
            condition = "traceparent >= $low AND traceparent < $high";
            command.Parameters.AddWithValue("$low", $"00-{query.TraceId}-");
            command.Parameters.AddWithValue("$high", $"00-{query.TraceId}.");
        }
        if (query.Since is { } since)
        {
            condition += " AND ts >= $since";
            command.Parameters.AddWithValue("$since", since);
        }
        command.Parameters.AddWithValue("$limit", query.Limit);
        command.CommandText = $"SELECT {SqliteEventLog.Columns} FROM events WHERE {condition} ORDER BY seq LIMIT $limit";
        var events = await SqliteEventLog.ReadEventsAsync(command, cancellationToken);
        return new EventChain(epoch, events, false, 1, lastSeq);
    }
}
