using System.Globalization;
using System.Text.Json;
using Microsoft.Extensions.Options;
using MissionHub.Events;
using StackExchange.Redis;

namespace MissionHub.Storage.Redis;

/// <summary>
/// The event log as a Redis Stream whose entry ids are the seqs. One Lua script appends a whole group of
/// events: it takes the next seqs from one counter (so several MissionHub processes share one gap-free
/// sequence), adds the entries, keeps a per-second time index and publishes a wake-up for other processes.
/// </summary>
public sealed partial class RedisEventLog(
    RedisConnection connection,
    RedisKeys keys,
    IOptions<EventLogOptions> options,
    ILogger<RedisEventLog> logger)
    : GroupCommitEventLog(options.Value.MaxBatchSize, maxBatchesInFlight: 4, options.Value.RecentEventsInMemory, logger, options.Value.RecentEventsMaxBytes)
{
    // Per event: the timestamp (for the time index and retention) and the whole envelope as one JSON field:
    // Lua touches two values per event instead of eight.
    private const int FieldsPerEvent = 2;
    private const int ScanPageSize = 500;

    // A missing epoch means the store was flushed or never used: start a new epoch from seq 1.
    internal const string EnsureEpoch = """
        local epoch = redis.call('GET', KEYS[1])
        if not epoch then
          epoch = ARGV[1]
          redis.call('DEL', KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7])
          redis.call('SET', KEYS[1], epoch)
        end
        """;

    // KEYS: epoch, seq, stream, first, tindex, tindex_last, trimmed. ARGV: new epoch, channel, n, then (timestamp, envelope) per event.
    private const string AppendScript = EnsureEpoch + """

        local n = tonumber(ARGV[3])
        local last = redis.call('INCRBY', KEYS[2], n)
        local first = last - n + 1
        local indexed = tonumber(redis.call('GET', KEYS[6]) or '-1')
        for i = 0, n - 1 do
          local b = 4 + i * 2
          local seq = first + i
          redis.call('XADD', KEYS[3], string.format('%d-0', seq), 't', ARGV[b], 'e', ARGV[b+1])
          local sec = math.floor(tonumber(ARGV[b]))
          if sec > indexed then
            redis.call('ZADD', KEYS[5], sec, seq)
            indexed = sec
          end
        end
        redis.call('SET', KEYS[6], indexed)
        redis.call('PUBLISH', ARGV[2], last)
        return {epoch, first}
        """;

    // KEYS as above, then removed, retention state. ARGV: new epoch, after seq, count, since ('' for none), from oldest ('1' or '0').
    private const string ReadScript = EnsureEpoch + """

        local last = tonumber(redis.call('GET', KEYS[2]) or '0')
        local first = tonumber(redis.call('GET', KEYS[4]) or '1')
        local trimmed = redis.call('GET', KEYS[7]) or ''
        local after = tonumber(ARGV[2])
        if ARGV[5] == '1' and after < first - 1 then after = first - 1 end
        if ARGV[4] ~= '' then
          local bucket = redis.call('ZREVRANGEBYSCORE', KEYS[5], ARGV[4], '-inf', 'LIMIT', 0, 1)
          if bucket[1] and tonumber(bucket[1]) - 1 > after then after = tonumber(bucket[1]) - 1 end
        end
        local entries = {}
        if after < last and tonumber(ARGV[3]) > 0 then
          entries = redis.call('XRANGE', KEYS[3], string.format('(%d-0', after), '+', 'COUNT', ARGV[3])
        end
        local removed = {}
        if redis.call('HGET', KEYS[9], 'epoch') == epoch then
          removed = redis.call('HGETALL', KEYS[8])
        elseif first > 1 then
          -- Trimmed before removals were tracked by type: everything below the first retained seq counts as removed.
          if trimmed == '' then trimmed = '-1e300' end
          removed = {'*', string.format('%d', first - 1) .. ' ' .. trimmed}
        end
        return {epoch, string.format('%d', last), string.format('%d', first), removed, string.format('%d', after), entries}
        """;

    // One bounded step of retention. KEYS: epoch, seq, stream, first, tindex, tindex_last, trimmed, removed, retention state,
    // then one sorted set per rule. ARGV: rule signature, budget (entries examined), default max events and age cutoff
    // ('' for none), where the default class's walk goes on from ('-' to start), rule count, then per rule: patterns
    // (comma separated), max events, age cutoff. Returns {removed, done, walk position}.
    // First every event not yet seen is classified (its stream id goes into its rule's set), then each rule's oldest events
    // beyond its limits go, then the oldest events no rule holds; each removal is marked by type in the removed hash.
    private const string TrimScript = """
        local epoch = redis.call('GET', KEYS[1])
        if not epoch then return {0, 1, '-'} end
        local last = tonumber(redis.call('GET', KEYS[2]) or '0')
        local budget = tonumber(ARGV[2])
        local nrules = tonumber(ARGV[6])
        local rules = {}
        for r = 1, nrules do
          local b = 7 + (r - 1) * 3
          local pats = {}
          for p in string.gmatch(ARGV[b], '[^,]+') do
            if string.sub(p, -1) == '*' then pats[#pats + 1] = {string.sub(p, 1, -2), true} else pats[#pats + 1] = {p, false} end
          end
          rules[r] = {pats = pats, max = tonumber(ARGV[b + 1]), cutoff = tonumber(ARGV[b + 2]), key = KEYS[9 + r]}
        end
        local function rule_of(t)
          for r = 1, nrules do
            for _, p in ipairs(rules[r].pats) do
              if (p[2] and string.sub(t, 1, #p[1]) == p[1]) or (not p[2] and t == p[1]) then return r end
            end
          end
          return 0
        end
        local function field(fields, name)
          for j = 1, #fields, 2 do if fields[j] == name then return fields[j + 1] end end
          return nil
        end
        -- The envelope's first "type" is its own: it follows the id, before any payload.
        local function type_of(fields) return string.match(field(fields, 'e') or '', '"type":"(.-)"') or '' end
        local function seq_of(id) return tonumber(string.match(id, '^(%d+)')) end

        local state = redis.call('HMGET', KEYS[9], 'epoch', 'sig', 'classified')
        if state[1] ~= epoch then
          redis.call('DEL', KEYS[8])
          local first = tonumber(redis.call('GET', KEYS[4]) or '1')
          if first > 1 then
            redis.call('HSET', KEYS[8], '*', string.format('%d', first - 1) .. ' ' .. (redis.call('GET', KEYS[7]) or '-1e300'))
          end
          state = {epoch, '', '0'}
        end
        if state[2] ~= ARGV[1] then
          for r = 1, nrules do redis.call('DEL', rules[r].key) end
          state[3] = '0'
        end
        local classified = tonumber(state[3] or '0')
        local spent = 0
        if classified < last then
          local entries = redis.call('XRANGE', KEYS[3], string.format('(%d-0', classified), '+', 'COUNT', budget)
          for _, e in ipairs(entries) do
            local r = rule_of(type_of(e[2]))
            if r > 0 then redis.call('ZADD', rules[r].key, seq_of(e[1]), e[1]) end
            classified = seq_of(e[1])
          end
          if #entries < budget then classified = last end
          spent = #entries
        end
        redis.call('HSET', KEYS[9], 'epoch', epoch, 'sig', ARGV[1], 'classified', string.format('%d', classified))
        if classified < last then return {0, 0, ARGV[5]} end

        local removed = 0
        local function remove(id, fields)
          local t = type_of(fields)
          local seq, ts = seq_of(id), tonumber(field(fields, 't') or '0')
          local old = redis.call('HGET', KEYS[8], t)
          if old then
            local os, ot = string.match(old, '^(%S+) (%S+)$')
            if tonumber(os) > seq then seq = tonumber(os) end
            if tonumber(ot) > ts then ts = tonumber(ot) end
          end
          redis.call('HSET', KEYS[8], t, string.format('%d', seq) .. ' ' .. string.format('%.17g', ts))
          redis.call('XDEL', KEYS[3], id)
          removed = removed + 1
        end
        local function finish(done, at)
          local head = redis.call('XRANGE', KEYS[3], '-', '+', 'COUNT', 1)
          local keep = last + 1
          if head[1] then keep = seq_of(head[1][1]) end
          redis.call('SET', KEYS[4], string.format('%d', keep))
          local old = redis.call('ZRANGE', KEYS[5], 0, 999)
          for i = 1, #old - 1 do
            -- keep the bucket that holds 'keep' itself: the next bucket starts after it
            if tonumber(old[i + 1]) <= keep then redis.call('ZREM', KEYS[5], old[i]) else break end
          end
          return {removed, done, at}
        end

        local inrules = 0
        for r = 1, nrules do
          local rule = rules[r]
          while spent < budget do
            local oldest = redis.call('ZRANGE', rule.key, 0, 0)
            if not oldest[1] then break end
            spent = spent + 1
            local entry = redis.call('XRANGE', KEYS[3], oldest[1], oldest[1])
            if not entry[1] then
              redis.call('ZREM', rule.key, oldest[1])
            elseif (rule.max and redis.call('ZCARD', rule.key) > rule.max)
                or (rule.cutoff and tonumber(field(entry[1][2], 't') or '0') < rule.cutoff) then
              remove(oldest[1], entry[1][2])
              redis.call('ZREM', rule.key, oldest[1])
            else
              break
            end
          end
          inrules = inrules + redis.call('ZCARD', rule.key)
        end
        if spent >= budget then return finish(0, ARGV[5]) end

        local excess = 0
        if ARGV[3] ~= '' then excess = redis.call('XLEN', KEYS[3]) - inrules - tonumber(ARGV[3]) end
        local cutoff = tonumber(ARGV[4])
        local at = ARGV[5]
        while spent < budget do
          local entries = redis.call('XRANGE', KEYS[3], at, '+', 'COUNT', math.min(500, budget - spent))
          if #entries == 0 then return finish(1, at) end
          for _, e in ipairs(entries) do
            spent = spent + 1
            if rule_of(type_of(e[2])) == 0 then
              if excess > 0 or (cutoff and tonumber(field(e[2], 't') or '0') < cutoff) then
                remove(e[1], e[2])
                excess = excess - 1
              else
                return finish(1, at)
              end
            end
            at = '(' .. e[1]
          end
        end
        return finish(0, at)
        """;

    private const int TrimBudget = 2000;

    private static readonly RedisScript Append = new(AppendScript);
    private static readonly RedisScript Read = new(ReadScript);
    private static readonly RedisScript Trim = new(TrimScript);

    private RedisKey[]? _scriptKeys;
    private RedisKey[]? _readKeys;
    private AnnouncementOrder? _announcements;

    // One per log, whoever asks first: two would each number their own sends.
    private AnnouncementOrder Announcements => Volatile.Read(ref _announcements)
        ?? Interlocked.CompareExchange(ref _announcements, new AnnouncementOrder(AnnounceOwn, OnExternalCommit), null)
        ?? _announcements!;

    public override string Provider => StorageOptions.RedisProvider;

    // Counted as they are announced, in order, with the steps' events (AnnounceOwn).
    protected override bool CountsOwnBatches => false;

    protected override async Task<(string Epoch, long LastSeq, long FirstSeq)> OpenAsync(CancellationToken cancellationToken)
    {
        _scriptKeys =
        [
            keys.EventEpoch, keys.EventSeq, keys.EventStream, keys.EventFirstSeq,
            keys.EventTimeIndex, keys.EventTimeIndexLast, keys.EventTrimmedThrough,
        ];
        _readKeys = [.. _scriptKeys, keys.EventRemoved, keys.EventRetentionState];
        var multiplexer = await connection.GetAsync(cancellationToken);
        // Other processes sharing this Redis announce their commits here, so local readers wake at once.
        await multiplexer.GetSubscriber().SubscribeAsync(keys.EventNotifications, (_, message) =>
        {
            if (long.TryParse(message.ToString(), NumberStyles.None, CultureInfo.InvariantCulture, out var seq))
            {
                Announcements.Notified(seq);
            }
        });
        var head = await ReadScriptAsync(afterSeq: 0, count: 0, since: null, fromOldest: false, cancellationToken);
        return (head.Epoch, head.LastSeq, head.FirstSeq);
    }

    protected override async Task<(string Epoch, CharterEvent[] Events)> CommitBatchAsync(
        IReadOnlyList<CharterEvent> drafts, CancellationToken cancellationToken)
    {
        var args = new RedisValue[3 + drafts.Count * FieldsPerEvent];
        args[0] = NewEpochId();
        args[1] = keys.EventNotifications.ToString();
        args[2] = drafts.Count;
        for (var i = 0; i < drafts.Count; i++)
        {
            var evt = drafts[i];
            var b = 3 + i * FieldsPerEvent;
            args[b] = evt.Timestamp.ToString("R", CultureInfo.InvariantCulture);
            // The draft's own bytes, not ToUtf8Json(): that cache would be copied into the event with its seq.
            args[b + 1] = JsonSerializer.SerializeToUtf8Bytes(evt, EventsJsonContext.Default.CharterEvent);
        }
        var db = await connection.GetDatabaseAsync(cancellationToken);
        var committed = new CharterEvent[drafts.Count];
        var epoch = await AppendInOrderAsync(Append, db, _scriptKeys!, args, reply =>
        {
            var result = (RedisResult[])reply!;
            var first = (long)result[1];
            for (var i = 0; i < committed.Length; i++)
            {
                committed[i] = drafts[i] with { Seq = first + i };
            }
            return (result[0].ToString(), (IReadOnlyList<CharterEvent>)committed);
        });
        return (epoch, committed);
    }

    /// <summary>
    /// Runs a script that appends events and gives its events to this process's readers in the order Redis ran such
    /// scripts (<see cref="AnnouncementOrder"/>). <paramref name="parse"/> reads the reply into a result and the
    /// events it committed (consecutive seqs; none is fine).
    /// </summary>
    internal async Task<TResult> AppendInOrderAsync<TResult>(RedisScript script, IDatabase db, RedisKey[] scriptKeys, RedisValue[] args,
        Func<RedisResult, (TResult Result, IReadOnlyList<CharterEvent> Committed)> parse)
    {
        var ticket = Announcements.Send(() => script.EvaluateAsync(db, scriptKeys, args), out var sent);
        IReadOnlyList<CharterEvent>? committed = null;
        try
        {
            var (result, events) = parse(await sent);
            committed = events;
            return result;
        }
        finally
        {
            Announcements.Done(ticket, committed);
        }
    }

    private void AnnounceOwn(IReadOnlyList<CharterEvent> committed)
    {
        CountAppended(committed.Count);
        AnnounceCommitted(committed);
    }

    protected override async Task<EventPage> ReadCoreAsync(EventQuery query, CancellationToken cancellationToken)
    {
        var filter = query.EffectiveFilter;
        var events = new List<CharterEvent>(Math.Min(query.Limit, 256));
        var pageSize = Math.Max(query.Limit, ScanPageSize);
        var head = await ReadScriptAsync(query.AfterSeq, pageSize, query.Since, query.FromOldestRetained, cancellationToken);
        if (head.Epoch != Epoch)
        {
            OnEpochChanged(head.Epoch, head.LastSeq, head.FirstSeq);
        }
        Removed = head.Removed;
        if (query.WhyNotRecoverable(head.Epoch, head.FirstSeq, head.LastSeq, head.Removed) is { } why)
        {
            return new EventPage(head.Epoch, false, [], head.LastSeq, head.FirstSeq, head.LastSeq, why);
        }

        var cursor = head.After;
        var scanned = 0;
        var entries = head.Entries;
        while (true)
        {
            foreach (var entry in entries)
            {
                var evt = ParseEntry(entry);
                cursor = evt.Seq;
                scanned++;
                if (filter.Matches(evt) && (query.Since is not { } since || evt.Timestamp >= since))
                {
                    events.Add(evt);
                    if (events.Count == query.Limit)
                    {
                        return new EventPage(head.Epoch, true, events, cursor, head.FirstSeq, head.LastSeq);
                    }
                }
            }
            if (entries.Length < pageSize || cursor >= head.LastSeq)
            {
                return new EventPage(head.Epoch, true, events, Math.Max(cursor, head.LastSeq), head.FirstSeq, head.LastSeq);
            }
            if (scanned >= EventQuery.MaxScanned)
            {
                // A sparse filter over a long history: hand back what was found, say so, and where to continue.
                return new EventPage(head.Epoch, true, events, cursor, head.FirstSeq, head.LastSeq, ScanCapped: true);
            }
            var next = await ReadScriptAsync(cursor, pageSize, since: null, fromOldest: false, cancellationToken);
            if (next.Epoch != head.Epoch)
            {
                return new EventPage(next.Epoch, false, [], next.LastSeq, next.FirstSeq, next.LastSeq, "the log was replaced during the read");
            }
            entries = next.Entries;
        }
    }

    public override async Task<long> TrimAsync(EventRetentionPolicy policy, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(policy);
        var now = DateTimeOffset.UtcNow;
        RedisKey[] trimKeys = [.. _readKeys!, .. policy.Rules.Select((_, r) => keys.EventRuleSet(r + 1))];
        var args = new List<RedisValue>
        {
            policy.Signature, TrimBudget, Limit(policy.Default.MaxEvents), Cutoff(policy.Default, now), "-", policy.Rules.Count,
        };
        foreach (var rule in policy.Rules)
        {
            args.AddRange([string.Join(',', rule.Types.Patterns), Limit(rule.MaxEvents), Cutoff(rule, now)]);
        }
        var db = await connection.GetDatabaseAsync(cancellationToken);
        long removed = 0;
        while (true)
        {
            // Bounded steps: other scripts (appends, job steps) run between them.
            var step = (RedisResult[])(await Trim.EvaluateAsync(db, trimKeys, [.. args]))!;
            removed += (long)step[0];
            if ((long)step[1] == 1)
            {
                break;
            }
            cancellationToken.ThrowIfCancellationRequested();
            args[4] = step[2].ToString();
        }
        var head = await ReadScriptAsync(0, 0, null, false, cancellationToken);
        FirstSeq = head.FirstSeq;
        Removed = head.Removed;
        return removed;

        static RedisValue Limit(long? max) => max is { } m ? m : "";

        static RedisValue Cutoff(EventRetentionClass retention, DateTimeOffset now) =>
            retention.AgeCutoff(now) is { } c ? c.ToString("R", CultureInfo.InvariantCulture) : "";
    }

    protected override ValueTask DisposeCoreAsync() => ValueTask.CompletedTask;

    private async Task<ScriptHead> ReadScriptAsync(long afterSeq, int count, double? since, bool fromOldest, CancellationToken cancellationToken)
    {
        var db = await connection.GetDatabaseAsync(cancellationToken);
        RedisValue[] args =
        [
            NewEpochId(),
            afterSeq,
            count,
            since is { } s ? s.ToString("R", CultureInfo.InvariantCulture) : "",
            fromOldest ? "1" : "0",
        ];
        var result = (RedisResult[])(await Read.EvaluateAsync(db, _readKeys!, args))!;
        return new ScriptHead(
            result[0].ToString(),
            long.Parse(result[1].ToString(), CultureInfo.InvariantCulture),
            long.Parse(result[2].ToString(), CultureInfo.InvariantCulture),
            ParseRemoved((RedisResult[])result[3]!),
            long.Parse(result[4].ToString(), CultureInfo.InvariantCulture),
            (RedisResult[])result[5]!);
    }

    private static CharterEvent ParseEntry(RedisResult entry)
    {
        var parts = (RedisResult[])entry!;
        var id = parts[0].ToString();
        var seq = long.Parse(id.AsSpan(0, id.IndexOf('-', StringComparison.Ordinal)), CultureInfo.InvariantCulture);
        var fields = (RedisResult[])parts[1]!;
        for (var i = 0; i + 1 < fields.Length; i += 2)
        {
            if (fields[i].ToString() == "e")
            {
                var envelope = JsonSerializer.Deserialize((byte[])fields[i + 1]!, EventsJsonContext.Default.CharterEvent)
                    ?? throw new InvalidDataException($"stream entry {id} holds no envelope");
                return envelope with { Seq = seq };
            }
        }
        throw new InvalidDataException($"stream entry {id} has no 'e' field");
    }

    /// <summary>The removed hash as HGETALL returns it: type, "seq ts", type, "seq ts", …</summary>
    private static RetentionMarks ParseRemoved(RedisResult[] flat)
    {
        if (flat.Length == 0)
        {
            return RetentionMarks.None;
        }
        var marks = new Dictionary<string, RemovedThrough>(StringComparer.Ordinal);
        for (var i = 0; i + 1 < flat.Length; i += 2)
        {
            var parts = flat[i + 1].ToString().Split(' ');
            marks[flat[i].ToString()] = new RemovedThrough(
                long.Parse(parts[0], CultureInfo.InvariantCulture), double.Parse(parts[1], CultureInfo.InvariantCulture));
        }
        return new RetentionMarks(marks);
    }

    private sealed record ScriptHead(string Epoch, long LastSeq, long FirstSeq, RetentionMarks Removed, long After, RedisResult[] Entries);
}
