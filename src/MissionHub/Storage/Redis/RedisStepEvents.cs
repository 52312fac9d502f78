using System.Globalization;
using System.Text.Json;
using MissionHub.Events;
using StackExchange.Redis;

namespace MissionHub.Storage.Redis;

/// <summary>
/// Runs a store's Lua step that writes its change and appends the change's events to the event log's stream in the
/// same script: the events take the next seqs of the shared counter, so a change and its event exist together or not
/// at all. The script gets the log's keys first, then the caller's; its reply's envelopes are served to this process's
/// readers from memory at once (other processes hear of them by pub/sub).
/// </summary>
public sealed class RedisStepEvents(RedisConnection connection, RedisKeys keys, RedisEventLog eventLog, TimeProvider time, StorageStatus? status = null)
{
    /// <summary>
    /// Lua a step script starts with. KEYS[1..7] are the event log's (epoch, seq, stream, first, tindex, tindex_last,
    /// trimmed); ARGV[1..7] are a new epoch, the notify channel, the caller's key prefix, now, an event id prefix, the
    /// meta JSON and the step name; the step's own arguments start at <c>ARGV[8]</c>. Defines
    /// <c>emit_event(source, type, target or nil, payload json)</c> and <c>step_reply(result)</c>, which the script returns.
    /// </summary>
    public const string Prelude = RedisEventLog.EnsureEpoch + """

        local P = ARGV[3]
        local NOW = ARGV[4]
        local now = tonumber(NOW)
        local STEP = ARGV[7]
        local A = 8
        local step_events = {count = 0, last = 0, envelopes = {}, indexed = nil}

        local function emit_event(source, etype, target, payload)
          local e = step_events
          e.count = e.count + 1
          local seq = redis.call('INCR', KEYS[2])
          local target_json = 'null'
          if target then target_json = '"' .. target .. '"' end
          local env = '{"id":"' .. ARGV[5] .. string.format('%012x', e.count) .. '","type":"' .. etype .. '","source":"' .. source ..
            '","target":' .. target_json .. ',"timestamp":' .. NOW .. ',"payload":' .. payload .. ',"meta":' .. ARGV[6] .. '}'
          redis.call('XADD', KEYS[3], string.format('%d-0', seq), 't', NOW, 'e', env)
          e.envelopes[#e.envelopes + 1] = env
          if e.indexed == nil then e.indexed = tonumber(redis.call('GET', KEYS[6]) or '-1') end
          local sec = math.floor(now)
          if sec > e.indexed then
            redis.call('ZADD', KEYS[5], sec, string.format('%d', seq))
            redis.call('SET', KEYS[6], sec)
            e.indexed = sec
          end
          e.last = seq
        end

        -- The envelopes go back too (their seqs end at the last), so the caller's process serves them from memory at once.
        local function step_reply(result)
          local last = string.format('%d', step_events.last)
          if step_events.last > 0 then redis.call('PUBLISH', ARGV[2], last) end
          return {last, result, step_events.envelopes}
        end
        """;

    private RedisKey[]? _logKeys;

    /// <summary>
    /// Runs <paramref name="script"/> (which starts with <see cref="Prelude"/>) as one atomic step and returns the step's
    /// result. <paramref name="at"/> is the step's time (now when null); its events carry the current request's meta.
    /// </summary>
    public async Task<RedisResult> RunAsync(
        RedisScript script, string keyPrefix, string step, double? at, RedisValue[] stepArgs, CancellationToken cancellationToken)
    {
        var meta = JsonSerializer.Serialize(EventDrafts.CurrentMeta(), EventsJsonContext.Default.EventMeta);
        var now = at ?? EventBus.UnixSeconds(time.GetUtcNow());
        var args = new RedisValue[7 + stepArgs.Length];
        args[0] = Guid.NewGuid().ToString("N")[..16];
        args[1] = keys.EventNotifications.ToString();
        args[2] = keyPrefix;
        args[3] = now.ToString("R", CultureInfo.InvariantCulture);
        args[4] = Guid.CreateVersion7().ToString()[..24];
        args[5] = meta;
        args[6] = step;
        stepArgs.CopyTo(args, 7);
        _logKeys ??= [keys.EventEpoch, keys.EventSeq, keys.EventStream, keys.EventFirstSeq, keys.EventTimeIndex, keys.EventTimeIndexLast, keys.EventTrimmedThrough];
        var db = await connection.GetDatabaseAsync(cancellationToken);
        // Not cancellable once sent: the step happens or not as a whole, whoever is still waiting for it.
        var result = await eventLog.AppendInOrderAsync(script, db, _logKeys, args, reply =>
        {
            var parts = (RedisResult[])reply!;
            var lastSeq = long.Parse(parts[0].ToString(), CultureInfo.InvariantCulture);
            var envelopes = lastSeq > 0 ? (RedisResult[])parts[2]! : [];
            var committed = new CharterEvent[envelopes.Length];
            var firstSeq = lastSeq - envelopes.Length + 1;
            for (var i = 0; i < envelopes.Length; i++)
            {
                committed[i] = JsonSerializer.Deserialize((byte[])envelopes[i]!, EventsJsonContext.Default.CharterEvent)! with { Seq = firstSeq + i };
            }
            return (parts[1], (IReadOnlyList<CharterEvent>)committed);
        });
        status?.WriteSucceeded(); // a write reached Redis: whatever refused writes before has passed
        return result;
    }
}
