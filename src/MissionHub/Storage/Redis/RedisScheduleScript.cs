namespace MissionHub.Storage.Redis;

/// <summary>
/// The schedules' steps as one Lua script, on the job script's helpers: a tick that fires submits its job exactly as
/// <c>POST /api/jobs</c> would, in the same script that moves the schedule on, so a tick and its job exist together or
/// not at all, and of the processes racing for one tick only the first finds it current.
/// </summary>
/// <remarks>
/// Keys (in the hub's hash slot): a schedule is the hash <c>schedule:{id}</c> (<c>def</c>, the definition as JSON;
/// <c>paused</c>, <c>next</c>, <c>fired</c>, <c>skipped</c>, <c>last_run</c>, <c>last_skip</c>, <c>last_job</c>,
/// <c>overlap</c>); <c>schedules</c> holds every id (score 0, listed by id) and <c>schedules:due</c> the unpaused ones by
/// next run. The C# side writes every JSON value and event payload; the script compares, stores and emits.
/// </remarks>
internal static class RedisScheduleScript
{
    /// <summary>Arguments per tick of the <c>tick</c> step: id, tick, next run, has job, the job's submit arguments, the fired variant (2), the skipped variant (3).</summary>
    public const int TickArgs = 9 + SubmitArgs;

    /// <summary>Must match SUBMIT_ARGS in <see cref="RedisJobScript.Helpers"/>.</summary>
    public const int SubmitArgs = 15;

    public const string Source = RedisStepEvents.Prelude + RedisJobScript.Helpers + """
        local function skey(id) return P .. 'schedule:' .. id end

        local function set_next(id, next)
          redis.call('HSET', skey(id), 'next', next)
          if next == '' then redis.call('ZREM', P .. 'schedules:due', id) else redis.call('ZADD', P .. 'schedules:due', next, id) end
        end

        local function unfinished(job_id)
          if not job_id or job_id == '' then return false end
          local status = redis.call('HGET', P .. 'job:' .. job_id, 'status')
          return status and status ~= 'completed' and status ~= 'failed' and status ~= 'cancelled'
        end

        -- Fires a schedule's job: submit(b) stores it with its job_submitted; then the run is recorded with its event.
        local function fire(id, b, next, last_run, payload)
          local submitted = submit(b)
          local key = skey(id)
          redis.call('HINCRBY', key, 'fired', 1)
          redis.call('HSET', key, 'last_run', last_run, 'last_job', ARGV[b])
          if next then set_next(id, next) end
          emit('schedule_fired', 'schedule_' .. id, payload)
          return submitted[2]
        end

        local result

        if STEP == 'create' then
          -- ARGV: id, definition, overlap, next run, schedule_created payload, most schedules the hub may hold.
          local id = ARGV[A]
          if redis.call('EXISTS', skey(id)) == 1 then
            result = 0
          elseif redis.call('ZCARD', P .. 'schedules') >= tonumber(ARGV[A + 5]) then
            result = 2
          else
            redis.call('HSET', skey(id), 'def', ARGV[A + 1], 'overlap', ARGV[A + 2], 'paused', '0', 'fired', '0', 'skipped', '0',
              'last_run', '', 'last_skip', '', 'last_job', '')
            set_next(id, ARGV[A + 3])
            redis.call('ZADD', P .. 'schedules', 0, id)
            emit('schedule_created', 'schedule_' .. id, ARGV[A + 4])
            result = 1
          end

        elseif STEP == 'delete' then
          local id = ARGV[A]
          if redis.call('DEL', skey(id)) == 1 then
            redis.call('ZREM', P .. 'schedules', id)
            redis.call('ZREM', P .. 'schedules:due', id)
            emit('schedule_deleted', 'schedule_' .. id, ARGV[A + 1])
            result = 1
          else
            result = 0
          end

        elseif STEP == 'pause' then
          -- ARGV: id, '1' to pause or '0' to resume, the next run when resumed, the event's payload.
          local id, paused = ARGV[A], ARGV[A + 1]
          local current = redis.call('HGET', skey(id), 'paused')
          if not current then
            result = {0}
          elseif current == paused then
            result = {1, redis.call('HGETALL', skey(id))}
          else
            redis.call('HSET', skey(id), 'paused', paused)
            if paused == '1' then
              set_next(id, '')
              emit('schedule_paused', 'schedule_' .. id, ARGV[A + 3])
            else
              set_next(id, ARGV[A + 2])
              emit('schedule_resumed', 'schedule_' .. id, ARGV[A + 3])
            end
            result = {2, redis.call('HGETALL', skey(id))}
          end

        elseif STEP == 'tick' then
          -- Per tick (TickArgs each): id, tick, next run, has job ('1'/'0'), the job's submit arguments, last_run and the
          -- schedule_fired payload, last_skip and the schedule_skipped payload, how many ticks the skip counts.
          result = {}
          local n = tonumber(ARGV[A])
          for k = 0, n - 1 do
            local b = A + 1 + k * TICK_ARGS
            local id, tick, next, has_job = ARGV[b], ARGV[b + 1], ARGV[b + 2], ARGV[b + 3] == '1'
            local sb = b + 4
            local after = sb + SUBMIT_ARGS
            local f = redis.call('HMGET', skey(id), 'paused', 'next', 'overlap', 'last_job')
            if not f[1] or f[1] ~= '0' or f[2] ~= tick then
              result[#result + 1] = {'stale', redis.call('HGETALL', skey(id)), {}}
            elseif not has_job or (f[3] == 'skip' and unfinished(f[4])) then
              redis.call('HINCRBY', skey(id), 'skipped', ARGV[after + 4])
              redis.call('HSET', skey(id), 'last_skip', ARGV[after + 2])
              set_next(id, next)
              emit('schedule_skipped', 'schedule_' .. id, ARGV[after + 3])
              result[#result + 1] = {'skipped', redis.call('HGETALL', skey(id)), {}}
            else
              local job = fire(id, sb, next, ARGV[after], ARGV[after + 1])
              result[#result + 1] = {'fired', redis.call('HGETALL', skey(id)), job}
            end
          end

        elseif STEP == 'trigger' then
          -- ARGV: id, the job's submit arguments, last_run, the schedule_fired payload.
          local id = ARGV[A]
          if redis.call('EXISTS', skey(id)) == 0 then
            result = {'not_found', {}, {}}
          else
            local after = A + 1 + SUBMIT_ARGS
            local job = fire(id, A + 1, nil, ARGV[after], ARGV[after + 1])
            result = {'fired', redis.call('HGETALL', skey(id)), job}
          end
        end

        return step_reply(result)
        """;

    /// <summary>The script with its stride constants filled in.</summary>
    public static readonly string Script = "local TICK_ARGS = " + TickArgs + "\n" + Source;

    public static readonly RedisScript Step = new(Script);
}
