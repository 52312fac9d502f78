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
    private const int MaxScannedPerRead = 20_000;

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

    // KEYS as above. ARGV: new epoch, after seq, count, since ('' for none), from oldest ('1' or '0').
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
        return {epoch, string.format('%d', last), string.format('%d', first), trimmed, string.format('%d', after), entries}
        """;

    // KEYS as above. ARGV: keep-from seq by count ('0' for none), age cutoff second ('' for none).
    private const string TrimScript = """
        local last = tonumber(redis.call('GET', KEYS[2]) or '0')
        local first = tonumber(redis.call('GET', KEYS[4]) or '1')
        local keep = tonumber(ARGV[1])
        if ARGV[2] ~= '' then
          local bucket = redis.call('ZRANGEBYSCORE', KEYS[5], ARGV[2], '+inf', 'LIMIT', 0, 1)
          local byAge = last + 1
          if bucket[1] then byAge = tonumber(bucket[1]) end
          if byAge > keep then keep = byAge end
        end
        if keep > last + 1 then keep = last + 1 end
        if keep <= first then return 0 end
        local before = redis.call('XREVRANGE', KEYS[3], string.format('%d-0', keep - 1), '-', 'COUNT', 1)
        if before[1] then
          local f = before[1][2]
          for j = 1, #f, 2 do
            if f[j] == 't' then redis.call('SET', KEYS[7], f[j + 1]) end
          end
        end
        local removed = redis.call('XTRIM', KEYS[3], 'MINID', string.format('%d-0', keep))
        redis.call('SET', KEYS[4], string.format('%d', keep))
        local old = redis.call('ZRANGE', KEYS[5], 0, 999)
        for i = 1, #old - 1 do
          -- keep the bucket that holds 'keep' itself: the next bucket starts after it
          if tonumber(old[i + 1]) <= keep then redis.call('ZREM', KEYS[5], old[i]) else break end
        end
        return removed
        """;

    private RedisKey[]? _scriptKeys;

    public override string Provider => StorageOptions.RedisProvider;

    protected override async Task<(string Epoch, long LastSeq, long FirstSeq)> OpenAsync(CancellationToken cancellationToken)
    {
        _scriptKeys =
        [
            keys.EventEpoch, keys.EventSeq, keys.EventStream, keys.EventFirstSeq,
            keys.EventTimeIndex, keys.EventTimeIndexLast, keys.EventTrimmedThrough,
        ];
        var multiplexer = await connection.GetAsync(cancellationToken);
        // Other processes sharing this Redis announce their commits here, so local readers wake at once.
        await multiplexer.GetSubscriber().SubscribeAsync(keys.EventNotifications, (_, message) =>
        {
            if (long.TryParse(message.ToString(), NumberStyles.None, CultureInfo.InvariantCulture, out var seq))
            {
                OnExternalCommit(seq);
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
        var result = (RedisResult[])(await db.ScriptEvaluateAsync(AppendScript, _scriptKeys, args))!;
        var epoch = result[0].ToString();
        var first = (long)result[1];
        var committed = new CharterEvent[drafts.Count];
        for (var i = 0; i < committed.Length; i++)
        {
            committed[i] = drafts[i] with { Seq = first + i };
        }
        return (epoch, committed);
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
        if (query.WhyNotRecoverable(head.Epoch, head.FirstSeq, head.LastSeq, head.TrimmedThrough) is { } why)
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
            if (scanned >= MaxScannedPerRead)
            {
                // A sparse filter over a long history: hand back what was found and where to continue.
                return new EventPage(head.Epoch, true, events, cursor, head.FirstSeq, head.LastSeq);
            }
            var next = await ReadScriptAsync(cursor, pageSize, since: null, fromOldest: false, cancellationToken);
            if (next.Epoch != head.Epoch)
            {
                return new EventPage(next.Epoch, false, [], next.LastSeq, next.FirstSeq, next.LastSeq, "the log was replaced during the read");
            }
            entries = next.Entries;
        }
    }

    public override async Task<long> TrimAsync(long? maxEvents, TimeSpan? maxAge, CancellationToken cancellationToken)
    {
        var keepByCount = maxEvents is { } max ? Math.Max(0, LastSeq - max + 1) : 0;
        var cutoff = maxAge is { } age
            ? Math.Floor(DateTimeOffset.UtcNow.Subtract(age).ToUnixTimeMilliseconds() / 1000.0).ToString(CultureInfo.InvariantCulture)
            : "";
        var db = await connection.GetDatabaseAsync(cancellationToken);
        var removed = (long)await db.ScriptEvaluateAsync(TrimScript, _scriptKeys, [keepByCount, cutoff]);
        var head = await ReadScriptAsync(0, 0, null, false, cancellationToken);
        FirstSeq = head.FirstSeq;
        return removed;
    }

    protected override ValueTask DisposeCoreAsync() => ValueTask.CompletedTask;

    /// <summary>Events a job step's script appended (with consecutive seqs): readers of this process get them from memory.</summary>
    internal void AnnounceFromScript(IReadOnlyList<CharterEvent> committed)
    {
        CountAppended(committed.Count);
        AnnounceCommitted(committed);
    }

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
        var result = (RedisResult[])(await db.ScriptEvaluateAsync(ReadScript, _scriptKeys, args))!;
        var trimmed = result[3].ToString();
        return new ScriptHead(
            result[0].ToString(),
            long.Parse(result[1].ToString(), CultureInfo.InvariantCulture),
            long.Parse(result[2].ToString(), CultureInfo.InvariantCulture),
            trimmed.Length == 0 ? double.NegativeInfinity : double.Parse(trimmed, CultureInfo.InvariantCulture),
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

    private sealed record ScriptHead(string Epoch, long LastSeq, long FirstSeq, double TrimmedThrough, long After, RedisResult[] Entries);
}
