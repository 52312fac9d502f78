using System.Globalization;
using System.Text.Json;
using MissionHub.Events;
using MissionHub.Infrastructure;
using MissionHub.Missions;
using StackExchange.Redis;

namespace MissionHub.Storage.Redis;

/// <summary>
/// Missions in Redis, with the key layout of spec 002 under the configured prefix:
/// <c>mission:&lt;id&gt;</c> (the mission as JSON), <c>mission:&lt;id&gt;:log</c> (a list of JSON entries),
/// <c>missions:index</c> (sorted set of ids scored by creation order, for newest-first listing),
/// <c>missions:index:&lt;STATUS&gt;</c> (the same, per status, for the filter), <c>missions:seq</c> (the creation
/// counter) and <c>missions:stats</c> (a hash: one count per status, <c>total</c>, <c>last_updated</c>).
/// Every write is one Lua script, so the mission, its index entries, the counters, the log and the event move together.
/// Ids never contain ':' (see <see cref="MissionService"/>), so a mission key never collides with a log key.
/// The write script names the mission keys from the prefix: on a Redis Cluster they would need the event log's hash tag.
/// </summary>
public sealed class RedisMissionStore(RedisConnection connection, RedisKeys keys, RedisStepEvents steps) : IMissionStore
{
    private static readonly RedisScript Write = new(WriteScript);

    // The writes: one step each, which also appends its event to the log (see RedisStepEvents.Prelude). The mission's
    // current status is read inside the script: a change is decided and written in one step.
    private const string WriteScript = RedisStepEvents.Prelude + $$"""

        local function count(status, delta, at)
          local stats = P .. 'missions:stats'
          redis.call('HINCRBY', stats, status, delta)
          if tonumber(at) > tonumber(redis.call('HGET', stats, 'last_updated') or '0') then redis.call('HSET', stats, 'last_updated', at) end
        end

        local result
        -- ARGV from A: id, mission JSON, status, created_at, log entry JSON, event payload JSON. 0 if the id is taken.
        local function create()
          local id = ARGV[A]
          if not redis.call('SET', P .. 'mission:' .. id, ARGV[A + 1], 'NX') then return 0 end
          local seq = redis.call('INCR', P .. 'missions:seq')
          redis.call('ZADD', P .. 'missions:index', seq, id)
          redis.call('ZADD', P .. 'missions:index:' .. ARGV[A + 2], seq, id)
          redis.call('HINCRBY', P .. 'missions:stats', 'total', 1)
          count(ARGV[A + 2], 1, ARGV[A + 3])
          redis.call('RPUSH', P .. 'mission:' .. id .. ':log', ARGV[A + 4])
          redis.call('ZADD', P .. 'missions:updated', ARGV[A + 3], id)
          emit_event('{{MissionEvents.Source}}', '{{MissionEvents.Created}}', nil, ARGV[A + 5])
          return seq
        end

        if STEP == 'create' then
          result = create()

        elseif STEP == 'create_once' then
          -- ARGV: as create, then the idempotency key, the request's fingerprint and the key's window in seconds.
          local key = P .. 'missions:idem:' .. ARGV[A + 6]
          local known = redis.call('HMGET', key, 'id', 'fingerprint')
          if known[1] then
            result = {'known', known[1], known[2]}
          elseif create() == 0 then
            result = {'taken'}
          else
            redis.call('HSET', key, 'id', ARGV[A], 'fingerprint', ARGV[A + 7])
            redis.call('EXPIRE', key, ARGV[A + 8])
            result = {'created'}
          end

        elseif STEP == 'status' then
          -- ARGV: id, new status, new mission JSON, at, n, then n triples (allowed old status, log entry JSON, event payload JSON).
          local id = ARGV[A]
          local key = P .. 'mission:' .. id
          local current = redis.call('GET', key)
          if not current then return step_reply({'missing'}) end
          local status = cjson.decode(current)['status']
          if status == ARGV[A + 1] then return step_reply({'same', current}) end
          local found = nil
          for i = 1, tonumber(ARGV[A + 4]) do
            if ARGV[A + 2 + i * 3] == status then found = A + 2 + i * 3 end
          end
          if not found then return step_reply({'refused', current}) end
          local at = ARGV[A + 3]
          redis.call('SET', key, ARGV[A + 2])
          local seq = redis.call('ZSCORE', P .. 'missions:index', id) or '0'
          redis.call('ZREM', P .. 'missions:index:' .. status, id)
          redis.call('ZADD', P .. 'missions:index:' .. ARGV[A + 1], seq, id)
          count(status, -1, at)
          count(ARGV[A + 1], 1, at)
          redis.call('RPUSH', key .. ':log', ARGV[found + 1])
          redis.call('ZADD', P .. 'missions:updated', at, id)
          emit_event('{{MissionEvents.Source}}', '{{MissionEvents.StatusChanged}}', 'mission_' .. id, ARGV[found + 2])
          result = {'changed', status}

        elseif STEP == 'log' then
          -- ARGV: id, entry JSON, event payload JSON, most entries. -1: no such mission, 0: the log is full.
          local id = ARGV[A]
          if redis.call('EXISTS', P .. 'mission:' .. id) == 0 then return step_reply(-1) end
          if redis.call('LLEN', P .. 'mission:' .. id .. ':log') >= tonumber(ARGV[A + 3]) then return step_reply(0) end
          result = redis.call('RPUSH', P .. 'mission:' .. id .. ':log', ARGV[A + 1])
          emit_event('{{MissionEvents.Source}}', '{{MissionEvents.LogAppended}}', 'mission_' .. id, ARGV[A + 2])
        else
          return redis.error_reply('unknown mission step ' .. STEP)
        end
        return step_reply(result)
        """;

    // KEYS: index. ARGV: max score ("+inf" or "(n"), count. A flat [id, score, id, score, ...] on either RESP version.
    private const string ListScript = """
        return redis.call('ZREVRANGEBYSCORE', KEYS[1], ARGV[1], '-inf', 'WITHSCORES', 'LIMIT', 0, tonumber(ARGV[2]))
        """;

    private RedisKey MissionKey(string id) => keys.Key($"mission:{id}");

    private RedisKey LogKey(string id) => keys.Key($"mission:{id}:log");

    private RedisKey IndexKey => keys.Key("missions:index");

    private RedisKey StatusIndexKey(MissionStatus status) => keys.Key($"missions:index:{status.ToWire()}");

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

    public async Task<bool> CreateAsync(Mission mission, MissionLogEntry initialLog, CharterEvent created, CancellationToken cancellationToken)
    {
        var result = await steps.RunAsync(Write, keys.Prefix, "create", created.Timestamp,
            [mission.Id, ToJson(mission), mission.Status.ToWire(), Number(mission.CreatedAt), ToJson(initialLog), created.Payload.GetRawText()],
            cancellationToken);
        return (long)result > 0;
    }

    public async Task<OnceCreate> CreateOnceAsync(
        Mission mission, MissionLogEntry initialLog, CharterEvent created, IdempotencyClaim claim, CancellationToken cancellationToken)
    {
        var window = Math.Max(1, (long)Math.Ceiling(claim.ExpiresAt - mission.CreatedAt));
        var result = (RedisResult[])(await steps.RunAsync(Write, keys.Prefix, "create_once", created.Timestamp,
            [mission.Id, ToJson(mission), mission.Status.ToWire(), Number(mission.CreatedAt), ToJson(initialLog), created.Payload.GetRawText(),
                claim.Key, claim.Fingerprint, window],
            cancellationToken))!;
        return result[0].ToString() switch
        {
            "created" => new OnceCreate(true),
            "known" => new OnceCreate(false, result[1].ToString(), result[2].ToString()),
            _ => new OnceCreate(false),
        };
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

    public async Task<StatusChange> ChangeStatusAsync(
        string id, MissionStatus to, double at, Func<MissionStatus, CharterEvent> changed, CancellationToken cancellationToken)
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
        var after = seen with { Status = to, UpdatedAt = at };
        var allowedFrom = MissionStatuses.AllowedFrom(to);
        var args = new List<RedisValue> { id, to.ToWire(), ToJson(after), Number(at), allowedFrom.Count };
        foreach (var from in allowedFrom)
        {
            args.Add(from.ToWire());
            args.Add(ToJson(MissionLogEntries.StatusChanged(from, to, at)));
            args.Add(changed(from).Payload.GetRawText());
        }
        var result = (RedisResult[])(await steps.RunAsync(Write, keys.Prefix, "status", at, [.. args], cancellationToken))!;
        switch ((string)result[0]!)
        {
            case "changed":
                return new StatusChange(StatusChangeOutcome.Changed, after, MissionStatuses.Parse((string)result[1]!));
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

    public async Task<LogAppend> AppendLogAsync(string id, MissionLogEntry entry, CharterEvent appended, int maxEntries, CancellationToken cancellationToken)
    {
        var result = (long)await steps.RunAsync(Write, keys.Prefix, "log", entry.Timestamp,
            [id, ToJson(entry), appended.Payload.GetRawText(), maxEntries], cancellationToken);
        return result switch
        {
            > 0 => LogAppend.Appended,
            0 => LogAppend.Full,
            _ => LogAppend.NoSuchMission,
        };
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
