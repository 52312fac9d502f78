namespace MissionHub.Storage.Redis;

internal static partial class RedisJobScript
{
    /// <summary>
    /// The Lua functions every job step builds on (loading a job, moving it between indexes, the worker's state, a failed
    /// attempt, claiming, submitting); shared with the other scripts that change jobs in their own steps (schedules).
    /// </summary>
    public const string Helpers = """

        local function num(x) return string.format('%.17g', x) end
        local function int(x) return string.format('%d', x) end
        local function jstr(s) if s == nil or s == '' then return 'null' end return '"' .. s .. '"' end

        local function emit(etype, target, payload) emit_event('hub', etype, target, payload) end

        -- A job's event: the job a schedule created names it (schedule_id) in each of its events.
        local function emit_job(etype, id, j, payload)
          if j.schedule_id and j.schedule_id ~= '' then
            payload = string.sub(payload, 1, -2) .. ',"schedule_id":' .. cjson.encode(j.schedule_id) .. '}'
          end
          emit(etype, 'job_' .. id, payload)
        end

        local function load(id)
          local flat = redis.call('HGETALL', P .. 'job:' .. id)
          if #flat == 0 then return nil, flat end
          local j = {}
          for i = 1, #flat, 2 do j[flat[i]] = flat[i + 1] end
          return j, flat
        end

        local function flat(id) return redis.call('HGETALL', P .. 'job:' .. id) end

        local function active(j) return j.status == 'assigned' or j.status == 'running' end

        local function score(j) return string.format('%.0f', (1000 - tonumber(j.priority)) * 1e12 + tonumber(j.order)) end

        local function move(id, j, to)
          redis.call('ZREM', P .. 'status:' .. j.status, id)
          redis.call('ZADD', P .. 'status:' .. to, j.order, id)
          redis.call('HINCRBY', P .. 'counts:' .. j.job_type, j.status, -1)
          redis.call('HINCRBY', P .. 'counts:' .. j.job_type, to, 1)
          if to == 'completed' or to == 'failed' then
            -- The newest finished, by when they finished (the monitor snapshot); only the newest thousand are kept.
            redis.call('ZADD', P .. 'recent:' .. to, NOW, id)
            redis.call('ZREMRANGEBYRANK', P .. 'recent:' .. to, 0, -1001)
          end
          -- Every finished job by when it finished: what retention removes, oldest first.
          if to == 'completed' or to == 'failed' or to == 'cancelled' then
            redis.call('ZADD', P .. 'finished', NOW, id)
          elseif j.status == 'completed' or j.status == 'failed' or j.status == 'cancelled' then
            redis.call('ZREM', P .. 'finished', id)
          end
        end

        local function set_worker_status(w, status, job)
          local key = P .. 'worker:' .. w
          local old = redis.call('HGET', key, 'status')
          if old and old ~= status and old ~= 'offline' then
            redis.call('HSET', key, 'status', status)
            emit('worker_status_changed', 'worker_' .. w, '{"worker_id":"' .. w .. '","old_status":"' .. old .. '","new_status":"' ..
              status .. '","current_job_id":' .. jstr(job) .. '}')
          end
        end

        local function mark_offline(w, old, reason)
          redis.call('HSET', P .. 'worker:' .. w, 'status', 'offline', 'last_seen', NOW, 'reason', reason)
          -- By when it went offline, so pruning reads only the workers due.
          redis.call('ZADD', P .. 'offline', NOW, w)
          redis.call('ZREM', P .. 'seen', w)
          emit('worker_disconnected', 'worker_' .. w, '{"worker_id":"' .. w .. '","reason":"' .. reason .. '"}')
          emit('worker_status_changed', 'worker_' .. w, '{"worker_id":"' .. w .. '","old_status":"' .. old ..
            '","new_status":"offline","current_job_id":null}')
        end

        local function maybe_idle(w)
          if w and w ~= '' and redis.call('SCARD', P .. 'worker:' .. w .. ':jobs') == 0 then set_worker_status(w, 'idle', nil) end
        end

        -- Takes the job from its holder: no lease, no deadline, not in the worker's set.
        local function release(id, j)
          redis.call('ZREM', P .. 'leases', id)
          redis.call('ZREM', P .. 'deadlines', id)
          if j.worker_id and j.worker_id ~= '' then redis.call('SREM', P .. 'worker:' .. j.worker_id .. ':jobs', id) end
        end

        -- A list as JSON (cjson writes an empty table as an object).
        local function jlist(list) if #list == 0 then return '[]' end return cjson.encode(list) end

        local function contains(list, x) for _, y in ipairs(list) do if y == x then return true end end return false end

        -- What a pending job still waits for (its dependencies not completed yet).
        local function waiting_for(j)
          if j.status ~= 'pending' or not j.waiting_for or j.waiting_for == '' then return {} end
          return cjson.decode(j.waiting_for)
        end

        -- A pending job that waits for nothing any more: offered now, or when its run time comes.
        local function make_ready(id, j)
          if j.available_at and j.available_at ~= '' and tonumber(j.available_at) > now then
            redis.call('ZADD', P .. 'delayed', j.available_at, id)
          else
            redis.call('HSET', P .. 'job:' .. id, 'available_at', '')
            redis.call('ZADD', P .. 'pending:' .. j.job_type, score(j), id)
          end
        end

        -- The jobs still waiting on id (dependents:{id}), which has finished; the set goes with it.
        local function take_waiting_on(id)
          local key = P .. 'dependents:' .. id
          local found = {}
          for _, d in ipairs(redis.call('SMEMBERS', key)) do
            local j = load(d)
            -- A job cancelled or retried meanwhile may no longer wait on it.
            if j and contains(waiting_for(j), id) then found[#found + 1] = {d, j} end
          end
          redis.call('DEL', key)
          return found
        end

        -- id completed: the jobs waiting on it wait for one job less; returns how many wait for none now.
        local function release_dependents(id)
          local released = 0
          for _, dj in ipairs(take_waiting_on(id)) do
            local d, j = dj[1], dj[2]
            local left = {}
            for _, x in ipairs(waiting_for(j)) do if x ~= id then left[#left + 1] = x end end
            redis.call('HSET', P .. 'job:' .. d, 'waiting_for', jlist(left), 'updated_at', NOW)
            if #left == 0 then
              make_ready(d, j)
              released = released + 1
            end
          end
          return released
        end

        -- id will never complete (failed for good, cancelled, purged): every job waiting on it is cancelled with
        -- dependency_failed, and so on down to the jobs waiting on those. Returns them.
        local function cancel_dependents(id)
          local cancelled = {}
          local ended, head = {id}, 1
          while head <= #ended do
            local e = ended[head]
            head = head + 1
            for _, dj in ipairs(take_waiting_on(e)) do
              local d, j = dj[1], dj[2]
              redis.call('HSET', P .. 'job:' .. d, 'status', 'cancelled', 'cancel_reason', 'dependency_failed', 'completed_at', NOW,
                'updated_at', NOW, 'available_at', '')
              move(d, j, 'cancelled')
              emit_job('job_status_changed', d, j, '{"job_id":"' .. d .. '","old_status":"pending","new_status":"cancelled",' ..
                '"worker_id":null,"error":null,"retry_at":null,"reason":"dependency_failed","dependency_id":"' .. e .. '"}')
              cancelled[#cancelled + 1] = flat(d)
              ended[#ended + 1] = d
            end
          end
          return cancelled
        end

        -- Jobs cancelled with the last job a fail_attempt failed for good.
        local last_cascaded = {}

        -- An attempt ended without success: back to pending while attempts remain, else failed for good (with the jobs
        -- waiting on it, in last_cascaded).
        local function fail_attempt(id, j, err, err_json, delay, settle)
          last_cascaded = {}
          release(id, j)
          local w = j.worker_id or ''
          local key = P .. 'job:' .. id
          if tonumber(j.attempts) < tonumber(j.max_attempts) then
            local retry = 'null'
            local available = ''
            if delay > 0 then
              available = num(now + delay)
              retry = available
              redis.call('ZADD', P .. 'delayed', available, id)
            else
              redis.call('ZADD', P .. 'pending:' .. j.job_type, score(j), id)
            end
            redis.call('HSET', key, 'status', 'pending', 'error', err, 'worker_id', '', 'session_id', '', 'lease_until', '',
              'progress', '0', 'updated_at', NOW, 'available_at', available)
            move(id, j, 'pending')
            emit_job('job_status_changed', id, j, '{"job_id":"' .. id .. '","old_status":"' .. j.status ..
              '","new_status":"pending","worker_id":' .. jstr(w) .. ',"error":' .. err_json .. ',"retry_at":' .. retry .. '}')
          else
            redis.call('HSET', key, 'status', 'failed', 'error', err, 'session_id', '', 'lease_until', '', 'completed_at', NOW, 'updated_at', NOW)
            move(id, j, 'failed')
            emit_job('job_failed', id, j, '{"job_id":"' .. id .. '","worker_id":' .. jstr(w) .. ',"error":' .. err_json ..
              ',"failed_at":' .. NOW .. '}')
            last_cascaded = cancel_dependents(id)
          end
          if settle then maybe_idle(w) end
          return flat(id)
        end

        -- The job if this connection holds it, else why not.
        local function held(w, s, id)
          local j = load(id)
          if not j then return nil, 'not_found' end
          if active(j) and j.worker_id == w and j.session_id == s then return j, 'done' end
          if j.status == 'completed' or j.status == 'failed' or j.status == 'cancelled' then return nil, 'finished' end
          return nil, 'not_held'
        end

        -- Round-robin over the free slots: each takes the best pending job it can run, one per pass, until none is left.
        local function claim_slots(slots, lease)
          local claimed = {}
          local any = true
          while any do
            any = false
            for _, slot in ipairs(slots) do
              if slot.left > 0 then
                local best, best_score, best_type = nil, nil, nil
                for _, t in ipairs(slot.types) do
                  -- A paused job type is not handed out; its jobs wait, pending, until it is resumed.
                  if redis.call('HEXISTS', P .. 'paused', t) == 0 then
                    local top = redis.call('ZRANGE', P .. 'pending:' .. t, 0, 0, 'WITHSCORES')
                    if top[1] and (best == nil or tonumber(top[2]) < best_score) then
                      best, best_score, best_type = top[1], tonumber(top[2]), t
                    end
                  end
                end
                if best then
                  redis.call('ZREM', P .. 'pending:' .. best_type, best)
                  local j = load(best)
                  local attempt = tonumber(j.attempts) + 1
                  redis.call('HSET', P .. 'job:' .. best, 'status', 'assigned', 'worker_id', slot.w, 'session_id', slot.s,
                    'attempts', int(attempt), 'assigned_at', NOW, 'started_at', '', 'updated_at', NOW, 'progress', '0',
                    'available_at', '', 'lease_until', lease)
                  move(best, j, 'assigned')
                  redis.call('ZADD', P .. 'leases', lease, best)
                  if j.timeout_s and j.timeout_s ~= '' then
                    redis.call('ZADD', P .. 'deadlines', num(now + tonumber(j.timeout_s)), best)
                  end
                  redis.call('SADD', P .. 'worker:' .. slot.w .. ':jobs', best)
                  emit_job('job_assigned', best, j, '{"job_id":"' .. best .. '","worker_id":"' .. slot.w ..
                    '","old_status":"pending","new_status":"assigned","assigned_at":' .. NOW .. ',"attempt":' .. int(attempt) .. '}')
                  set_worker_status(slot.w, 'busy', best)
                  claimed[#claimed + 1] = {slot.s, flat(best)}
                  slot.left = slot.left - 1
                  any = true
                end
              end
            end
          end
          return claimed
        end

        -- Slots as the arguments give them from position i: count, then per slot worker, session, type count, types, free.
        local function read_slots(i)
          local slots = {}
          local n = tonumber(ARGV[i])
          i = i + 1
          for s = 1, n do
            local slot = {w = ARGV[i], s = ARGV[i + 1], types = {}}
            local nt = tonumber(ARGV[i + 2])
            for t = 1, nt do slot.types[t] = ARGV[i + 2 + t] end
            slot.left = tonumber(ARGV[i + 3 + nt])
            slots[s] = slot
            i = i + 4 + nt
          end
          return slots
        end

        local function list_workers()
          local workers = {}
          for _, w in ipairs(redis.call('SMEMBERS', P .. 'workers')) do
            workers[#workers + 1] = {redis.call('HGETALL', P .. 'worker:' .. w), redis.call('SMEMBERS', P .. 'worker:' .. w .. ':jobs')}
          end
          return workers
        end

        -- One job's submit; its SUBMIT_ARGS arguments start at ARGV[b]: id, idempotency key, job type, priority,
        -- max attempts, timeout, payload, workflow id, job_submitted payload, idempotency window, traceparent, run at,
        -- available at (a delayed job waits in 'delayed' until then), schedule id, depends on (a JSON list, or empty).
        local SUBMIT_ARGS = 15

        -- The dependencies of the job at ARGV[b] that are not stored (checked before anything is written).
        local function unknown_dependencies(b)
          local unknown = {}
          if ARGV[b + 14] ~= '' then
            for _, d in ipairs(cjson.decode(ARGV[b + 14])) do
              if redis.call('EXISTS', P .. 'job:' .. d) == 0 then unknown[#unknown + 1] = d end
            end
          end
          return unknown
        end

        local function submit(b)
          local id, idem = ARGV[b], ARGV[b + 1]
          if idem ~= '' then
            local existing = redis.call('GET', P .. 'idem:' .. idem)
            if existing and redis.call('EXISTS', P .. 'job:' .. existing) == 1 then
              return {'existing', flat(existing)}
            end
          end
          -- Its dependencies not completed yet, and the first that failed or was cancelled (it is cancelled at once then).
          local deps, waiting, failed = ARGV[b + 14], {}, nil
          if deps ~= '' then
            for _, d in ipairs(cjson.decode(deps)) do
              local st = redis.call('HGET', P .. 'job:' .. d, 'status')
              if st == 'failed' or st == 'cancelled' then failed = failed or d
              elseif st ~= 'completed' then waiting[#waiting + 1] = d end
            end
          end
          local order = redis.call('INCR', P .. 'order')
          local j = {job_type = ARGV[b + 2], priority = ARGV[b + 3], order = order, status = 'pending', schedule_id = ARGV[b + 13]}
          local key = P .. 'job:' .. id
          redis.call('HSET', key, 'id', id, 'job_type', j.job_type, 'priority', j.priority, 'max_attempts', ARGV[b + 4],
            'timeout_s', ARGV[b + 5], 'payload', ARGV[b + 6], 'workflow_id', ARGV[b + 7], 'created_at', NOW, 'updated_at', NOW,
            'status', 'pending', 'attempts', '0', 'progress', '0', 'order', int(order), 'idempotency_key', idem,
            'traceparent', ARGV[b + 10], 'run_at', ARGV[b + 11], 'available_at', ARGV[b + 12], 'schedule_id', ARGV[b + 13])
          if deps ~= '' then redis.call('HSET', key, 'depends_on', deps, 'waiting_for', jlist(waiting)) end
          redis.call('ZADD', P .. 'status:pending', order, id)
          redis.call('ZADD', P .. 'all', order, id)
          redis.call('HINCRBY', P .. 'counts:' .. j.job_type, 'pending', 1)
          redis.call('SADD', P .. 'types', j.job_type)
          if idem ~= '' then redis.call('SET', P .. 'idem:' .. idem, id, 'EX', ARGV[b + 9]) end
          emit('job_submitted', 'job_' .. id, ARGV[b + 8])
          if failed then
            redis.call('HSET', key, 'status', 'cancelled', 'cancel_reason', 'dependency_failed', 'completed_at', NOW)
            move(id, j, 'cancelled')
            emit_job('job_status_changed', id, j, '{"job_id":"' .. id .. '","old_status":"pending","new_status":"cancelled",' ..
              '"worker_id":null,"error":null,"retry_at":null,"reason":"dependency_failed","dependency_id":"' .. failed .. '"}')
          elseif #waiting > 0 then
            for _, d in ipairs(waiting) do redis.call('SADD', P .. 'dependents:' .. d, id) end
          elseif ARGV[b + 12] ~= '' then
            redis.call('ZADD', P .. 'delayed', ARGV[b + 12], id)
          else
            redis.call('ZADD', P .. 'pending:' .. j.job_type, score(j), id)
          end
          return {'created', flat(id)}
        end

        """;
}
