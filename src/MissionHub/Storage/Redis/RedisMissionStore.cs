using System.Globalization;
using System.Text.Json;
using MissionHub.Missions;
using StackExchange.Redis;

namespace MissionHub.Storage.Redis;

/// <summary>
/// Missions in Redis, with the key layout of spec 002 under the configured prefix:
/// <c>mission:&lt;id&gt;</c> (the mission as JSON), <c>mission:&lt;id&gt;:log</c> (a list of JSON entries),
/// <c>missions:index</c> (sorted set of ids scored by creation order, for newest-first listing),
/// <c>missions:index:&lt;STATUS&gt;</c> (the same, per status, for the filter), <c>missions:seq</c> (the creation
/// counter) and <c>missions:stats</c> (a hash: one count per status, <c>total</c>, <c>last_updated</c>).
/// Every write is one Lua script, so the mission, its index entries, the counters and the log move together.
/// Ids never contain ':' (see <see cref="MissionService"/>), so a mission key never collides with a log key.
/// Every key a script touches is passed in KEYS; on a Redis Cluster they would also need one hash tag.
/// </summary>
public sealed class RedisMissionStore(RedisConnection connection, RedisKeys keys) : IMissionStore
{
    // KEYS: mission, index, status index, stats, log, seq, updated index. ARGV: mission JSON, id, status, created_at, log entry JSON.
    private const string CreateScript = """
        if not redis.call('SET', KEYS[1], ARGV[1], 'NX') then return 0 end
        local seq = redis.call('INCR', KEYS[6])
        redis.call('ZADD', KEYS[2], seq, ARGV[2])
        redis.call('ZADD', KEYS[3], seq, ARGV[2])
        redis.call('HINCRBY', KEYS[4], ARGV[3], 1)
        redis.call('HINCRBY', KEYS[4], 'total', 1)
        if tonumber(ARGV[4]) > tonumber(redis.call('HGET', KEYS[4], 'last_updated') or '0') then
          redis.call('HSET', KEYS[4], 'last_updated', ARGV[4])
        end
        redis.call('RPUSH', KEYS[5], ARGV[5])
        redis.call('ZADD', KEYS[7], ARGV[4], ARGV[2])
        return seq
        """;

    // KEYS: mission, index, stats, log, index of the new status, then the index of each allowed old status, last the updated index.
    // ARGV: id, new status, new mission JSON, at, n, then n pairs (allowed old status, log entry JSON for it).
    // The mission's current status is read here, inside the script: a change is decided and written in one step.
    private const string ChangeStatusScript = """
        local current = redis.call('GET', KEYS[1])
        if not current then return {'missing'} end
        local status = cjson.decode(current)['status']
        if status == ARGV[2] then return {'same', current} end
        local found = 0
        for i = 1, tonumber(ARGV[5]) do
          if ARGV[4 + i * 2] == status then found = i end
        end
        if found == 0 then return {'refused', current} end
        redis.call('SET', KEYS[1], ARGV[3])
        local seq = redis.call('ZSCORE', KEYS[2], ARGV[1]) or '0'
        redis.call('ZREM', KEYS[5 + found], ARGV[1])
        redis.call('ZADD', KEYS[5], seq, ARGV[1])
        redis.call('HINCRBY', KEYS[3], status, -1)
        redis.call('HINCRBY', KEYS[3], ARGV[2], 1)
        if tonumber(ARGV[4]) > tonumber(redis.call('HGET', KEYS[3], 'last_updated') or '0') then
          redis.call('HSET', KEYS[3], 'last_updated', ARGV[4])
        end
        redis.call('RPUSH', KEYS[4], ARGV[5 + found * 2])
        redis.call('ZADD', KEYS[#KEYS], ARGV[4], ARGV[1])
        return {'changed', status}
        """;

    // KEYS: mission, log. ARGV: entry JSON.
    private const string AppendLogScript = """
        if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
        return redis.call('RPUSH', KEYS[2], ARGV[1])
        """;

    // KEYS: index. ARGV: max score ("+inf" or "(n"), count. A flat [id, score, id, score, ...] on either RESP version.
    private const string ListScript = """
        return redis.call('ZREVRANGEBYSCORE', KEYS[1], ARGV[1], '-inf', 'WITHSCORES', 'LIMIT', 0, tonumber(ARGV[2]))
        """;

    private RedisKey MissionKey(string id) => keys.Key($"mission:{id}");

    private RedisKey LogKey(string id) => keys.Key($"mission:{id}:log");

    private RedisKey IndexKey => keys.Key("missions:index");

    private RedisKey StatusIndexKey(MissionStatus status) => keys.Key($"missions:index:{status.ToWire()}");

    private RedisKey SeqKey => keys.Key("missions:seq");

    private RedisKey StatsKey => keys.Key("missions:stats");

    /// <summary>Sorted set of ids scored by updated_at, for incremental readers.</summary>
    private RedisKey UpdatedIndexKey => keys.Key("missions:updated");

    /// <summary>Keys are created on first write; missions stored before the updated index existed are added to it once.</summary>
    public async Task InitializeAsync(CancellationToken cancellationToken)
    {
        var db = await connection.GetDatabaseAsync(cancellationToken);
        if (await db.SortedSetLengthAsync(UpdatedIndexKey) > 0 || await db.SortedSetLengthAsync(IndexKey) == 0)
        {
            return;
        }
        long? before = null;
        do
        {
            var page = await ListAsync(null, before, 1000, cancellationToken);
            if (page.Missions.Count > 0)
            {
                await db.SortedSetAddAsync(UpdatedIndexKey, [.. page.Missions.Select(m => new SortedSetEntry(m.Id, m.UpdatedAt))]);
            }
            before = page.NextBefore;
        }
        while (before is not null);
    }

    public async Task<bool> CreateAsync(Mission mission, MissionLogEntry initialLog, CancellationToken cancellationToken)
    {
        var db = await connection.GetDatabaseAsync(cancellationToken);
        var result = await db.ScriptEvaluateAsync(
            CreateScript,
            [MissionKey(mission.Id), IndexKey, StatusIndexKey(mission.Status), StatsKey, LogKey(mission.Id), SeqKey, UpdatedIndexKey],
            [ToJson(mission), mission.Id, mission.Status.ToWire(), Number(mission.CreatedAt), ToJson(initialLog)]);
        return (long)result > 0;
    }

    public async Task<Mission?> GetAsync(string id, CancellationToken cancellationToken)
    {
        var db = await connection.GetDatabaseAsync(cancellationToken);
        var json = await db.StringGetAsync(MissionKey(id));
        return json.IsNull ? null : FromJson(json!);
    }

    public async Task<MissionListing> ListAsync(MissionStatus? status, long? before, int limit, CancellationToken cancellationToken)
    {
        var db = await connection.GetDatabaseAsync(cancellationToken);
        var index = status is { } s ? StatusIndexKey(s) : IndexKey;
        var max = before is { } b ? "(" + b.ToString(CultureInfo.InvariantCulture) : "+inf";
        var range = (RedisResult[])(await db.ScriptEvaluateAsync(ListScript, [index], [max, limit + 1]))!;
        var count = Math.Min(range.Length / 2, limit);
        if (count == 0)
        {
            return new MissionListing([], null);
        }
        var missionKeys = new RedisKey[count];
        for (var i = 0; i < count; i++)
        {
            missionKeys[i] = MissionKey((string)range[i * 2]!);
        }
        var values = await db.StringGetAsync(missionKeys);
        var missions = new List<Mission>(count);
        foreach (var value in values)
        {
            if (!value.IsNull)
            {
                missions.Add(FromJson(value!));
            }
        }
        long? next = range.Length / 2 > limit ? (long)range[(count - 1) * 2 + 1] : null;
        return new MissionListing(missions, next);
    }

    public async Task<StatusChange> ChangeStatusAsync(string id, MissionStatus to, double at, CancellationToken cancellationToken)
    {
        var db = await connection.GetDatabaseAsync(cancellationToken);
        var json = await db.StringGetAsync(MissionKey(id));
        if (json.IsNull)
        {
            return StatusChange.NotFound;
        }
        var seen = FromJson(json!);
        // Answers decided from this read are true at the moment of the read; only a change needs the script.
        if (seen.Status == to)
        {
            return new StatusChange(StatusChangeOutcome.Unchanged, seen, seen.Status);
        }
        if (!MissionStatuses.CanChange(seen.Status, to))
        {
            return new StatusChange(StatusChangeOutcome.Refused, seen, seen.Status);
        }

        // Everything but status and updated_at is fixed at creation, so the new JSON can be made from this read.
        var changed = seen with { Status = to, UpdatedAt = at };
        var allowedFrom = MissionStatuses.AllowedFrom(to);
        var scriptKeys = new List<RedisKey> { MissionKey(id), IndexKey, StatsKey, LogKey(id), StatusIndexKey(to) };
        var args = new List<RedisValue> { id, to.ToWire(), ToJson(changed), Number(at), allowedFrom.Count };
        foreach (var from in allowedFrom)
        {
            scriptKeys.Add(StatusIndexKey(from));
            args.Add(from.ToWire());
            args.Add(ToJson(MissionLogEntries.StatusChanged(from, to, at)));
        }
        scriptKeys.Add(UpdatedIndexKey);
        var result = (RedisResult[])(await db.ScriptEvaluateAsync(ChangeStatusScript, [.. scriptKeys], [.. args]))!;
        switch ((string)result[0]!)
        {
            case "changed":
                return new StatusChange(StatusChangeOutcome.Changed, changed, MissionStatuses.Parse((string)result[1]!));
            case "same":
                var same = FromJson((string)result[1]!);
                return new StatusChange(StatusChangeOutcome.Unchanged, same, same.Status);
            case "refused":
                var current = FromJson((string)result[1]!);
                return new StatusChange(StatusChangeOutcome.Refused, current, current.Status);
            default:
                return StatusChange.NotFound;
        }
    }

    public async Task<bool> AppendLogAsync(string id, MissionLogEntry entry, CancellationToken cancellationToken)
    {
        var db = await connection.GetDatabaseAsync(cancellationToken);
        var result = await db.ScriptEvaluateAsync(AppendLogScript, [MissionKey(id), LogKey(id)], [ToJson(entry)]);
        return (long)result > 0;
    }

    public async Task<MissionLogSlice?> ReadLogAsync(string id, long from, int limit, CancellationToken cancellationToken)
    {
        var db = await connection.GetDatabaseAsync(cancellationToken);
        var exists = db.KeyExistsAsync(MissionKey(id));
        var range = db.ListRangeAsync(LogKey(id), from, from + limit);
        if (!await exists)
        {
            await range;
            return null;
        }
        var values = await range;
        var count = Math.Min(values.Length, limit);
        var entries = new List<MissionLogEntry>(count);
        for (var i = 0; i < count; i++)
        {
            entries.Add(JsonSerializer.Deserialize((string)values[i]!, MissionsJsonContext.Default.MissionLogEntry)!);
        }
        return new MissionLogSlice(entries, values.Length > limit ? from + limit : null);
    }

    public async Task<MissionStats> GetStatsAsync(CancellationToken cancellationToken)
    {
        var db = await connection.GetDatabaseAsync(cancellationToken);
        var fields = await db.HashGetAllAsync(StatsKey);
        var counts = MissionStatuses.All.ToDictionary(s => s.ToWire(), _ => 0L);
        long total = 0;
        double? lastUpdated = null;
        foreach (var field in fields)
        {
            var name = (string)field.Name!;
            if (name == "total")
            {
                total = (long)field.Value;
            }
            else if (name == "last_updated")
            {
                lastUpdated = double.Parse((string)field.Value!, CultureInfo.InvariantCulture);
            }
            else if (counts.ContainsKey(name))
            {
                counts[name] = (long)field.Value;
            }
        }
        return new MissionStats(total, counts, lastUpdated);
    }

    public async Task<IReadOnlyList<MissionChange>> ListChangedAsync(double since, string? afterId, int limit, CancellationToken cancellationToken)
    {
        var db = await connection.GetDatabaseAsync(cancellationToken);
        var ids = new List<(string Id, double UpdatedAt)>(limit);
        long skip = 0;
        while (ids.Count < limit)
        {
            var page = await db.SortedSetRangeByScoreWithScoresAsync(UpdatedIndexKey, since, double.PositiveInfinity, Exclude.None, Order.Ascending, skip, limit);
            foreach (var entry in page)
            {
                var id = (string)entry.Element!;
                // Ties on updated_at are ordered by id (Redis orders equal scores by member bytes, like ordinal order).
                if (afterId is not null && entry.Score == since && string.CompareOrdinal(id, afterId) <= 0)
                {
                    continue;
                }
                if (ids.Count < limit)
                {
                    ids.Add((id, entry.Score));
                }
            }
            if (page.Length < limit)
            {
                break;
            }
            skip += page.Length;
        }
        if (ids.Count == 0)
        {
            return [];
        }
        var values = await db.StringGetAsync([.. ids.Select(i => MissionKey(i.Id))]);
        var changes = new List<MissionChange>(ids.Count);
        for (var i = 0; i < values.Length; i++)
        {
            if (!values[i].IsNull)
            {
                var mission = FromJson(values[i]!);
                changes.Add(new MissionChange(mission.Id, mission.Status, mission.CreatedAt, mission.UpdatedAt));
            }
        }
        return changes;
    }

    private static string ToJson(Mission mission) => JsonSerializer.Serialize(mission, MissionsJsonContext.Default.Mission);

    private static string ToJson(MissionLogEntry entry) => JsonSerializer.Serialize(entry, MissionsJsonContext.Default.MissionLogEntry);

    private static Mission FromJson(string json) => JsonSerializer.Deserialize(json, MissionsJsonContext.Default.Mission)!;

    private static string Number(double value) => value.ToString("R", CultureInfo.InvariantCulture);
}
