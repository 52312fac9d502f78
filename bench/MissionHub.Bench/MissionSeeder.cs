using System.Diagnostics;
using System.Text.Json;
using MissionHub.Missions;
using MissionHub.Storage.Sqlite;

namespace MissionHub.Bench;

/// <summary>
/// The seeded mission set shared by the benchmarks that need N missions stored (<c>supervisor-status</c>, <c>aggregation</c>):
/// mission <c>m{i:D7}</c>; of every 100, 10 end RUNNING, 5 COMPLETED, 2 FAILED, 1 CANCELLED, the rest PENDING.
/// </summary>
internal static class MissionSeeder
{
    private static readonly JsonElement Data = JsonDocument.Parse("""{"site":"bench"}""").RootElement.Clone();

    /// <summary>When mission <c>i</c> was created and when it reached its final seeded status; null: both "now".</summary>
    internal delegate (double CreatedAt, double LastChangeAt) Timeline(int i);

    public static string Id(int i) => $"m{i:D7}";

    /// <summary>The statuses mission <paramref name="i"/> goes through after PENDING.</summary>
    public static MissionStatus[] PathFor(int i) => (i % 100) switch
    {
        < 10 => [MissionStatus.Running],
        < 15 => [MissionStatus.Running, MissionStatus.Completed],
        < 17 => [MissionStatus.Failed],
        < 18 => [MissionStatus.Running, MissionStatus.Cancelled],
        _ => [],
    };

    /// <summary>True if mission <paramref name="i"/> is left PENDING (so a benchmark may move it on).</summary>
    public static bool EndsPending(int i) => i % 100 >= 18;

    public static long Expected(int missions, Func<int, bool> bucket) => Enumerable.Range(0, missions).Count(i => bucket(i % 100));

    /// <summary>Spreads missions evenly over the <paramref name="hours"/> before <paramref name="end"/>; each lasts 1 to 600 s.</summary>
    public static Timeline Spread(int missions, double hours, double end) => i =>
    {
        var created = end - hours * 3600 + i * (hours * 3600 / missions);
        return (created, Math.Min(end, created + 1 + i % 600));
    };

    private static double Now() => DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() / 1000.0;

    /// <summary>Step <paramref name="k"/> of <paramref name="steps"/> status changes between creation and the last change.</summary>
    private static double StepAt(double created, double last, int k, int steps) => created + (last - created) * (k + 1) / steps;

    /// <summary>Through the store's own API (one atomic write per mission and per status change), with <paramref name="writers"/> in parallel.</summary>
    public static async Task SeedThroughStoreAsync(string backend, IMissionStore store, int missions, int writers, Timeline? timeline = null)
    {
        await store.InitializeAsync(CancellationToken.None);
        var timer = Stopwatch.StartNew();
        var next = -1;
        await Task.WhenAll(Enumerable.Range(0, writers).Select(_ => Task.Run(async () =>
        {
            int i;
            while ((i = Interlocked.Increment(ref next)) < missions)
            {
                var (created, last) = timeline?.Invoke(i) ?? (Now(), Now());
                var mission = new Mission(Id(i), $"mission {i}", "seeded by the benchmark", Data, MissionStatus.Pending, created, created);
                if (!await store.CreateAsync(mission, CancellationToken.None))
                {
                    throw new InvalidOperationException($"mission {mission.Id} already existed");
                }
                var path = PathFor(i);
                for (var k = 0; k < path.Length; k++)
                {
                    var at = timeline is null ? Now() : StepAt(created, last, k, path.Length);
                    var change = await store.ChangeStatusAsync(mission.Id, path[k], at, CancellationToken.None);
                    if (change.Outcome != StatusChangeOutcome.Changed)
                    {
                        throw new InvalidOperationException($"mission {mission.Id}: {change.Outcome}");
                    }
                }
            }
        })));
        Console.Error.WriteLine($"  {backend}: seeded {missions:N0} missions through the store in {timer.Elapsed.TotalSeconds:N1} s");
    }

    /// <summary>
    /// SQLite only, much faster: the same rows the store would write (missions, their log entries, the counters in
    /// <c>mission_stats</c>) as raw inserts in one transaction, without their events (the aggregation reads missions only). The store's schema is created first by the store itself.
    /// </summary>
    public static async Task SeedSqliteBulkAsync(SqliteDatabase database, int missions, Timeline timeline)
    {
        await new SqliteMissionStore(database).InitializeAsync(CancellationToken.None);
        var timer = Stopwatch.StartNew();
        await using var connection = await database.OpenAsync();
        using var transaction = connection.BeginTransaction(deferred: false);
        using var insertMission = connection.CreateCommand();
        insertMission.Transaction = transaction;
        insertMission.CommandText = """
            INSERT INTO missions (id, name, description, data, status, created_at, updated_at)
            VALUES ($id, $name, $description, $data, $status, $created_at, $updated_at)
            """;
        var mId = insertMission.Parameters.Add("$id", Microsoft.Data.Sqlite.SqliteType.Text);
        var mName = insertMission.Parameters.Add("$name", Microsoft.Data.Sqlite.SqliteType.Text);
        insertMission.Parameters.AddWithValue("$description", "seeded by the benchmark");
        insertMission.Parameters.AddWithValue("$data", Data.GetRawText());
        var mStatus = insertMission.Parameters.Add("$status", Microsoft.Data.Sqlite.SqliteType.Text);
        var mCreated = insertMission.Parameters.Add("$created_at", Microsoft.Data.Sqlite.SqliteType.Real);
        var mUpdated = insertMission.Parameters.Add("$updated_at", Microsoft.Data.Sqlite.SqliteType.Real);
        insertMission.Prepare();

        using var insertLog = connection.CreateCommand();
        insertLog.Transaction = transaction;
        insertLog.CommandText = "INSERT INTO mission_log (mission_id, idx, ts, level, message, data) VALUES ($id, $idx, $ts, $level, $message, $data)";
        var lId = insertLog.Parameters.Add("$id", Microsoft.Data.Sqlite.SqliteType.Text);
        var lIdx = insertLog.Parameters.Add("$idx", Microsoft.Data.Sqlite.SqliteType.Integer);
        var lTs = insertLog.Parameters.Add("$ts", Microsoft.Data.Sqlite.SqliteType.Real);
        var lLevel = insertLog.Parameters.Add("$level", Microsoft.Data.Sqlite.SqliteType.Text);
        var lMessage = insertLog.Parameters.Add("$message", Microsoft.Data.Sqlite.SqliteType.Text);
        var lData = insertLog.Parameters.Add("$data", Microsoft.Data.Sqlite.SqliteType.Text);
        insertLog.Prepare();

        void Log(string id, long idx, MissionLogEntry entry)
        {
            lId.Value = id;
            lIdx.Value = idx;
            lTs.Value = entry.Timestamp;
            lLevel.Value = entry.Level;
            lMessage.Value = entry.Message;
            lData.Value = (object?)entry.Data?.GetRawText() ?? DBNull.Value;
            insertLog.ExecuteNonQuery();
        }

        var counts = MissionStatuses.All.ToDictionary(s => s, _ => 0L);
        var lastAt = 0.0;
        for (var i = 0; i < missions; i++)
        {
            var (created, last) = timeline(i);
            var id = Id(i);
            var mission = new Mission(id, $"mission {i}", "seeded by the benchmark", Data, MissionStatus.Pending, created, created);
            var path = PathFor(i);
            var status = MissionStatus.Pending;
            var updated = created;
            Log(id, 0, MissionLogEntries.Created(mission));
            for (var k = 0; k < path.Length; k++)
            {
                updated = StepAt(created, last, k, path.Length);
                Log(id, k + 1, MissionLogEntries.StatusChanged(status, path[k], updated));
                status = path[k];
            }
            mId.Value = id;
            mName.Value = mission.Name;
            mStatus.Value = status.ToWire();
            mCreated.Value = created;
            mUpdated.Value = updated;
            insertMission.ExecuteNonQuery();
            counts[status]++;
            lastAt = Math.Max(lastAt, updated);
        }

        using var stats = connection.CreateCommand();
        stats.Transaction = transaction;
        stats.CommandText = "UPDATE mission_stats SET count = count + $delta, updated_at = $at WHERE status = $status";
        var sDelta = stats.Parameters.Add("$delta", Microsoft.Data.Sqlite.SqliteType.Integer);
        var sStatus = stats.Parameters.Add("$status", Microsoft.Data.Sqlite.SqliteType.Text);
        stats.Parameters.AddWithValue("$at", lastAt);
        foreach (var (status, count) in counts)
        {
            sDelta.Value = count;
            sStatus.Value = status.ToWire();
            stats.ExecuteNonQuery();
        }
        transaction.Commit();
        Console.Error.WriteLine($"  sqlite: seeded {missions:N0} missions with raw inserts in one transaction in {timer.Elapsed.TotalSeconds:N1} s");
    }
}
