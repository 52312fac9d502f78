namespace MissionHub.Storage.Redis;

/// <summary>
/// The job hub's steps as one Lua script: each call runs one step atomically — it checks the job is where the caller
/// thinks, changes it, moves the indexes, the worker's state and the lease, and appends the step's events to the event
/// log's stream with the next seqs of the shared counter. Redis runs one script at a time, so two processes racing for
/// the same job cannot both win: the second finds it changed and is told so.
/// </summary>
/// <remarks>
/// Keys: a job is the hash <c>job:{id}</c>; <c>pending:{type}</c> is a sorted set scored so that the lowest score is the
/// highest priority, first submitted; <c>delayed</c>, <c>leases</c> and <c>deadlines</c> are sorted by time;
/// <c>status:{status}</c> and <c>all</c> by submission order (listing and counting); a worker is <c>worker:{id}</c> with the
/// set <c>worker:{id}:jobs</c> of what it holds. All of them share the event log's hash tag.
/// Numbers are handed to Redis as formatted strings: Lua's own conversion keeps only 14 digits.
/// </remarks>
internal static partial class RedisJobScript
{
    public static readonly RedisScript Script = new(Source);

    // KEYS and the first ARGV: see RedisStepEvents.Prelude (the caller's key prefix is the hub's).
    public const string Source = RedisStepEvents.Prelude + Helpers + """
        local result

        local function index_finished()
          if redis.call('SETNX', P .. 'finished_indexed', '1') == 1 then
            -- Jobs that finished before the finish-time index existed: indexed once, by when they last changed.
            for _, status in ipairs({'completed', 'failed', 'cancelled'}) do
              for _, id in ipairs(redis.call('ZRANGE', P .. 'status:' .. status, 0, -1)) do
                redis.call('ZADD', P .. 'finished', redis.call('HGET', P .. 'job:' .. id, 'updated_at') or NOW, id)
              end
            end
          end
        end

        -- A batch guarded by an idempotency key is the plain batch with its key looked up before and stored after, so the
        -- two never differ. ARGV from A: key, body fingerprint, window in seconds, then the batch's own arguments.
        local batch_key, batch_fingerprint, batch_window
        if STEP == 'submit_batch_once' then
          batch_key, batch_fingerprint, batch_window = P .. 'batch_idem:' .. ARGV[A], ARGV[A + 1], ARGV[A + 2]
          local known = redis.call('HMGET', batch_key, 'fingerprint', 'job_ids', 'created')
          if known[1] then
            local jobs = {}
            for _, id in ipairs(cjson.decode(known[2])) do
              if redis.call('EXISTS', P .. 'job:' .. id) == 1 then jobs[#jobs + 1] = flat(id) end
            end
            return step_reply({'known', known[1], known[3], jobs})
          end
          STEP, A = 'submit_batch', A + 3
        end

        if STEP == 'submit' then
          local unknown = unknown_dependencies(A)
          if #unknown > 0 then result = {'unknown_dependencies', 0, unknown} else result = submit(A) end

        elseif STEP == 'submit_batch' then
          -- All or nothing: every job's dependencies are checked before the first is stored.
          local n = tonumber(ARGV[A])
          for k = 0, n - 1 do
            local unknown = unknown_dependencies(A + 1 + k * SUBMIT_ARGS)
            if #unknown > 0 and not result then result = {'unknown_dependencies', k, unknown} end
          end
          if not result then
            result = {}
            for k = 0, n - 1 do
              result[#result + 1] = submit(A + 1 + k * SUBMIT_ARGS)
            end
          end

        elseif STEP == 'claim' then
          result = claim_slots(read_slots(A + 1), ARGV[A])

        elseif STEP == 'progress' then
          local w, s, id, p = ARGV[A], ARGV[A + 1], ARGV[A + 2], ARGV[A + 3]
          local j, why = held(w, s, id)
          if not j then
            result = {why}
          else
            local key = P .. 'job:' .. id
            if j.status == 'assigned' then
              redis.call('HSET', key, 'status', 'running')
              if not j.started_at or j.started_at == '' then redis.call('HSET', key, 'started_at', NOW) end
              move(id, j, 'running')
              emit_job('job_status_changed', id, j, '{"job_id":"' .. id ..
                '","old_status":"assigned","new_status":"running","worker_id":"' .. w .. '","error":null,"retry_at":null}')
            end
            redis.call('HSET', key, 'progress', p, 'updated_at', NOW)
            emit_job('job_progress', id, j, '{"job_id":"' .. id .. '","worker_id":"' .. w .. '","progress":' .. p .. '}')
            result = {'done', flat(id)}
          end

        elseif STEP == 'complete' then
          local w, s, id, r = ARGV[A], ARGV[A + 1], ARGV[A + 2], ARGV[A + 3]
          local j, why = held(w, s, id)
          if not j then
            result = {why}
          else
            release(id, j)
            local key = P .. 'job:' .. id
            redis.call('HSET', key, 'status', 'completed', 'progress', '1', 'result', r, 'error', '', 'completed_at', NOW,
              'updated_at', NOW, 'session_id', '', 'lease_until', '')
            if not j.started_at or j.started_at == '' then redis.call('HSET', key, 'started_at', NOW) end
            move(id, j, 'completed')
            local rj = r
            if rj == '' then rj = 'null' end
            -- A result too large to travel inline is only referenced (JobResults).
            local tail = '}'
            if #r > tonumber(ARGV[A + 5]) then
              rj = 'null'
              tail = ',"result_truncated":true,"result_ref":"/api/jobs/' .. id .. '"}'
            end
            emit_job('job_completed', id, j, '{"job_id":"' .. id .. '","worker_id":"' .. w .. '","result":' .. rj ..
              ',"completed_at":' .. NOW .. tail)
            local released = release_dependents(id)
            -- The freed slot takes its next job in the same step.
            local claimed = claim_slots(read_slots(A + 6), ARGV[A + 4])
            maybe_idle(w)
            result = {'done', flat(id), claimed, released}
          end

        elseif STEP == 'fail' then
          local w, s, id = ARGV[A], ARGV[A + 1], ARGV[A + 2]
          local j, why = held(w, s, id)
          if not j then
            result = {why}
          else
            local delay = math.min(tonumber(ARGV[A + 5]) * math.pow(2, math.max(0, tonumber(j.attempts) - 1)), tonumber(ARGV[A + 6]))
            local failed = fail_attempt(id, j, ARGV[A + 3], ARGV[A + 4], delay, true)
            result = {'done', failed, last_cascaded}
          end

        elseif STEP == 'cancel' then
          local id = ARGV[A]
          local j = load(id)
          if not j then
            result = {'not_found'}
          elseif j.status == 'completed' or j.status == 'failed' or j.status == 'cancelled' then
            result = {'finished', flat(id)}
          else
            local w, s = j.worker_id or '', j.session_id or ''
            if j.status == 'pending' then
              redis.call('ZREM', P .. 'pending:' .. j.job_type, id)
              redis.call('ZREM', P .. 'delayed', id)
            end
            release(id, j)
            redis.call('HSET', P .. 'job:' .. id, 'status', 'cancelled', 'completed_at', NOW, 'updated_at', NOW, 'session_id', '',
              'lease_until', '', 'available_at', '')
            move(id, j, 'cancelled')
            emit_job('job_status_changed', id, j, '{"job_id":"' .. id .. '","old_status":"' .. j.status ..
              '","new_status":"cancelled","worker_id":' .. jstr(w) .. ',"error":null,"retry_at":null}')
            local cascaded = cancel_dependents(id)
            maybe_idle(w)
            result = {'done', flat(id), w, s, cascaded}
          end

        elseif STEP == 'register' then
          local w, s, node, types, slots, connected, iso, lease = ARGV[A], ARGV[A + 1], ARGV[A + 2], ARGV[A + 3], ARGV[A + 4],
            ARGV[A + 5], ARGV[A + 6], ARGV[A + 7]
          local nheld = tonumber(ARGV[A + 8])
          local listed = {}
          for i = 1, nheld do listed[ARGV[A + 8 + i]] = true end
          local wkey = P .. 'worker:' .. w
          local prev = redis.call('HMGET', wkey, 'session_id', 'node_id', 'status')
          local replaced = {}
          if prev[1] and prev[3] ~= 'offline' and prev[1] ~= s then replaced = {prev[1], prev[2]} end
          local kept, resend, requeued, unknown = {}, {}, {}, {}
          for _, id in ipairs(redis.call('SMEMBERS', wkey .. ':jobs')) do
            local j = load(id)
            if not j or not active(j) or j.worker_id ~= w then
              redis.call('SREM', wkey .. ':jobs', id)
            elseif listed[id] or j.status == 'assigned' then
              redis.call('HSET', P .. 'job:' .. id, 'session_id', s, 'lease_until', lease)
              redis.call('ZADD', P .. 'leases', lease, id)
              if listed[id] then kept[#kept + 1] = flat(id) else resend[#resend + 1] = flat(id) end
              listed[id] = nil
            else
              local err = 'worker ' .. w .. ' reconnected without it'
              local after = fail_attempt(id, j, err, '"' .. err .. '"', 0, false)
              requeued[#requeued + 1] = {after, last_cascaded}
            end
          end
          for id, _ in pairs(listed) do unknown[#unknown + 1] = id end
          local status = 'idle'
          if #kept + #resend > 0 then status = 'busy' end
          redis.call('HSET', wkey, 'id', w, 'session_id', s, 'node_id', node, 'status', status, 'job_types', types, 'slots', slots,
            'connected_at', connected, 'last_seen', NOW, 'reason', '')
          redis.call('SADD', P .. 'workers', w)
          redis.call('ZREM', P .. 'offline', w)
          redis.call('ZADD', P .. 'seen', NOW, w)
          emit('worker_connected', 'worker_' .. w, '{"worker_id":"' .. w .. '","worker_data":{"id":"' .. w .. '","status":"' .. status ..
            '","capabilities":{"job_types":' .. types .. ',"max_concurrent_jobs":' .. slots .. '},"connected_at":"' .. iso .. '"}}')
          result = {replaced, kept, resend, requeued, unknown}

        elseif STEP == 'unregister' then
          local w, s, reason, requeue = ARGV[A], ARGV[A + 1], ARGV[A + 2], ARGV[A + 3]
          local wkey = P .. 'worker:' .. w
          local cur = redis.call('HMGET', wkey, 'session_id', 'status')
          result = {}
          if requeue == '1' then
            -- Whatever this connection still holds, even if a newer one replaced it meanwhile (a claim that raced the replacement).
            local err = 'worker ' .. w .. ' was lost (' .. reason .. ')'
            for _, id in ipairs(redis.call('SMEMBERS', wkey .. ':jobs')) do
              local j = load(id)
              if j and active(j) and j.session_id == s then
                local after = fail_attempt(id, j, err, '"' .. err .. '"', 0, cur[1] ~= s)
                result[#result + 1] = {after, last_cascaded}
              end
            end
          end
          if cur[1] == s and cur[2] ~= 'offline' then mark_offline(w, cur[2], reason) end

        elseif STEP == 'renew' then
          local lease = ARGV[A]
          local n = tonumber(ARGV[A + 1])
          for i = 0, n - 1 do
            local w, s = ARGV[A + 2 + i * 2], ARGV[A + 3 + i * 2]
            local wkey = P .. 'worker:' .. w
            if redis.call('HGET', wkey, 'session_id') == s then
              redis.call('HSET', wkey, 'last_seen', NOW)
              redis.call('ZADD', P .. 'seen', 'XX', NOW, w)
              for _, id in ipairs(redis.call('SMEMBERS', wkey .. ':jobs')) do
                if redis.call('HGET', P .. 'job:' .. id, 'session_id') == s then
                  redis.call('HSET', P .. 'job:' .. id, 'lease_until', lease)
                  redis.call('ZADD', P .. 'leases', 'XX', lease, id)
                end
              end
            end
          end
          result = {}

        elseif STEP == 'sweep' then
          local max = ARGV[A]
          local silent = {}
          if redis.call('SETNX', P .. 'seen_indexed', '1') == 1 then
            -- Connected workers stored before this index existed: indexed once, by when they were last seen.
            for _, w in ipairs(redis.call('SMEMBERS', P .. 'workers')) do
              local f = redis.call('HMGET', P .. 'worker:' .. w, 'status', 'last_seen')
              if f[1] and f[1] ~= 'offline' then redis.call('ZADD', P .. 'seen', f[2] or NOW, w) end
            end
          end
          -- Workers whose connection no process has renewed (the process died, or its disconnect never got here).
          for _, w in ipairs(redis.call('ZRANGEBYSCORE', P .. 'seen', '-inf', '(' .. ARGV[A + 3], 'LIMIT', 0, max)) do
            local f = redis.call('HMGET', P .. 'worker:' .. w, 'status', 'session_id', 'node_id')
            if f[1] and f[1] ~= 'offline' then
              mark_offline(w, f[1], 'heartbeat_timeout')
              silent[#silent + 1] = {w, f[2], f[3]}
            else
              redis.call('ZREM', P .. 'seen', w)
            end
          end
          local taken = {}
          for _, kind in ipairs({'leases', 'deadlines'}) do
            for _, id in ipairs(redis.call('ZRANGEBYSCORE', P .. kind, '-inf', NOW, 'LIMIT', 0, max)) do
              local j = load(id)
              if j and active(j) then
                local err
                local delay = 0
                if kind == 'leases' then err = 'the lease of worker ' .. j.worker_id .. ' expired'
                else
                  err = 'timed out after ' .. j.timeout_s .. ' s'
                  delay = math.min(tonumber(ARGV[A + 1]) * math.pow(2, math.max(0, tonumber(j.attempts) - 1)), tonumber(ARGV[A + 2]))
                end
                local w, s = j.worker_id, j.session_id
                local after = fail_attempt(id, j, err, '"' .. err .. '"', delay, true)
                taken[#taken + 1] = {w, s, after, last_cascaded}
              else
                redis.call('ZREM', P .. kind, id)
              end
            end
          end
          local released = 0
          for _, id in ipairs(redis.call('ZRANGEBYSCORE', P .. 'delayed', '-inf', NOW, 'LIMIT', 0, max)) do
            redis.call('ZREM', P .. 'delayed', id)
            local j = load(id)
            if j and j.status == 'pending' and #waiting_for(j) == 0 then
              redis.call('HSET', P .. 'job:' .. id, 'available_at', '')
              redis.call('ZADD', P .. 'pending:' .. j.job_type, score(j), id)
              released = released + 1
            end
          end
          local next = ''
          for _, kind in ipairs({'leases', 'deadlines', 'delayed'}) do
            local first = redis.call('ZRANGE', P .. kind, 0, 0, 'WITHSCORES')
            if first[2] and (next == '' or tonumber(first[2]) < tonumber(next)) then next = first[2] end
          end
          result = {taken, released, next, silent}

        elseif STEP == 'grace' then
          -- Extend only: other processes may hold live connections whose leases run longer.
          for _, id in ipairs(redis.call('ZRANGEBYSCORE', P .. 'leases', '-inf', '(' .. ARGV[A])) do
            redis.call('ZADD', P .. 'leases', ARGV[A], id)
            redis.call('HSET', P .. 'job:' .. id, 'lease_until', ARGV[A])
          end
          result = {}

        elseif STEP == 'prune_workers' then
          local before, max = ARGV[A], tonumber(ARGV[A + 1])
          if redis.call('SETNX', P .. 'offline_indexed', '1') == 1 then
            -- Workers that went offline before the index existed: indexed once, by when they were last seen.
            for _, w in ipairs(redis.call('SMEMBERS', P .. 'workers')) do
              local f = redis.call('HMGET', P .. 'worker:' .. w, 'status', 'last_seen')
              if f[1] == 'offline' then redis.call('ZADD', P .. 'offline', f[2] or NOW, w) end
            end
          end
          local pruned = 0
          for _, w in ipairs(redis.call('ZRANGEBYSCORE', P .. 'offline', '-inf', '(' .. before, 'LIMIT', 0, max)) do
            local wkey = P .. 'worker:' .. w
            redis.call('ZREM', P .. 'offline', w)
            if redis.call('HGET', wkey, 'status') == 'offline' then
              if redis.call('SCARD', wkey .. ':jobs') == 0 then
                redis.call('DEL', wkey, wkey .. ':jobs')
                redis.call('SREM', P .. 'workers', w)
                redis.call('ZREM', P .. 'seen', w)
                pruned = pruned + 1
              else
                -- Still holds jobs (left without requeueing them): looked at again later.
                redis.call('ZADD', P .. 'offline', NOW, w)
              end
            end
          end
          result = pruned

        elseif STEP == 'count_by_type' then
          result = {}
          for _, t in ipairs(redis.call('SMEMBERS', P .. 'types')) do
            result[#result + 1] = {t, redis.call('HGETALL', P .. 'counts:' .. t)}
          end

        elseif STEP == 'retry' then
          -- ARGV: count, job ids. Failed or cancelled jobs back to pending, attempts from zero; others left as they are.
          result = {}
          for i = 1, tonumber(ARGV[A]) do
            local id = ARGV[A + i]
            local j = load(id)
            if j and (j.status == 'failed' or j.status == 'cancelled') then
              local retries = tonumber(j.retries or '0') + 1
              local prior = tonumber(j.prior_attempts or '0') + tonumber(j.attempts)
              redis.call('HSET', P .. 'job:' .. id, 'status', 'pending', 'attempts', '0', 'prior_attempts', int(prior),
                'retries', int(retries), 'worker_id', '', 'session_id', '', 'progress', '0', 'result', '', 'error', '',
                'assigned_at', '', 'started_at', '', 'completed_at', '', 'available_at', '', 'lease_until', '', 'updated_at', NOW,
                'cancel_reason', '')
              redis.call('ZREM', P .. 'recent:' .. j.status, id)
              move(id, j, 'pending')
              -- It waits again for every dependency still stored and not completed (a failed one must be retried first).
              local waiting = {}
              if j.depends_on and j.depends_on ~= '' then
                for _, d in ipairs(cjson.decode(j.depends_on)) do
                  local st = redis.call('HGET', P .. 'job:' .. d, 'status')
                  if st and st ~= 'completed' then
                    waiting[#waiting + 1] = d
                    redis.call('SADD', P .. 'dependents:' .. d, id)
                  end
                end
                redis.call('HSET', P .. 'job:' .. id, 'waiting_for', jlist(waiting))
              end
              if #waiting == 0 then redis.call('ZADD', P .. 'pending:' .. j.job_type, score(j), id) end
              emit_job('job_status_changed', id, j, '{"job_id":"' .. id .. '","old_status":"' .. j.status ..
                '","new_status":"pending","worker_id":' .. jstr(j.worker_id) .. ',"job_data":{"id":"' .. id .. '","job_type":' ..
                cjson.encode(j.job_type) .. ',"status":"pending","priority":' .. j.priority .. ',"workflow_id":' ..
                (j.workflow_id ~= nil and j.workflow_id ~= '' and cjson.encode(j.workflow_id) or 'null') .. ',"created_at":' ..
                j.created_at .. ',"run_at":' .. ((j.run_at ~= nil and j.run_at ~= '') and j.run_at or 'null') .. ',"schedule_id":' ..
                ((j.schedule_id ~= nil and j.schedule_id ~= '') and cjson.encode(j.schedule_id) or 'null') ..
                ((j.depends_on ~= nil and j.depends_on ~= '') and (',"depends_on":' .. j.depends_on) or '') ..
                '},"retries":' .. int(retries) .. '}')
              result[#result + 1] = flat(id)
            end
          end

        elseif STEP == 'purge' then
          -- ARGV: count, job ids. Finished jobs removed, with one jobs_purged event for all of them.
          result = {}
          local ids, by_status = {}, {}
          for i = 1, tonumber(ARGV[A]) do
            local id = ARGV[A + i]
            local j = load(id)
            if j and (j.status == 'completed' or j.status == 'failed' or j.status == 'cancelled') then
              result[#result + 1] = flat(id)
              redis.call('DEL', P .. 'job:' .. id)
              redis.call('ZREM', P .. 'status:' .. j.status, id)
              redis.call('ZREM', P .. 'recent:' .. j.status, id)
              redis.call('ZREM', P .. 'all', id)
              redis.call('ZREM', P .. 'finished', id)
              redis.call('HINCRBY', P .. 'counts:' .. j.job_type, j.status, -1)
              ids[#ids + 1] = id
              by_status[j.status] = (by_status[j.status] or 0) + 1
            end
          end
          if #ids > 0 then
            emit('jobs_purged', 'jobs', cjson.encode({count = #ids, by_status = by_status, job_ids = ids, reason = ARGV[A + tonumber(ARGV[A]) + 1]}))
            -- A job purged before it completed never will: the jobs still waiting on it are cancelled.
            for _, id in ipairs(ids) do cancel_dependents(id) end
          end

        elseif STEP == 'index_finished' then
          -- At start, so finish-time listings see every finished job.
          index_finished()
          result = {}

        elseif STEP == 'finished_due' then
          -- ARGV: finished before (Unix seconds), most finished jobs to keep, max ids. The ids retention may remove now:
          -- finished before the time, then the oldest beyond the count.
          index_finished()
          local max = tonumber(ARGV[A + 2])
          result = redis.call('ZRANGEBYSCORE', P .. 'finished', '-inf', '(' .. ARGV[A], 'LIMIT', 0, max)
          if #result == 0 then
            local excess = redis.call('ZCARD', P .. 'finished') - tonumber(ARGV[A + 1])
            if excess > 0 then result = redis.call('ZRANGE', P .. 'finished', 0, math.min(excess, max) - 1) end
          end

        elseif STEP == 'queue_activity' then
          -- ARGV: now, since, max. Delayed pending jobs, and jobs finished since, as {job_type, status} pairs.
          local max = tonumber(ARGV[A + 2])
          result = {}
          for _, range in ipairs({{'delayed', '(' .. ARGV[A]}, {'finished', ARGV[A + 1]}}) do
            local ids = redis.call('ZRANGEBYSCORE', P .. range[1], range[2], '+inf', 'LIMIT', 0, max)
            local found = {}
            for _, id in ipairs(ids) do
              local f = redis.call('HMGET', P .. 'job:' .. id, 'job_type', 'status')
              if f[1] then found[#found + 1] = f[1]; found[#found + 1] = f[2] end
            end
            result[#result + 1] = {#ids, found}
          end

        elseif STEP == 'pause_queue' then
          -- ARGV: job type, the queue_paused payload.
          if redis.call('HSETNX', P .. 'paused', ARGV[A], NOW) == 1 then
            emit('queue_paused', 'queue_' .. ARGV[A], ARGV[A + 1])
            result = 1
          else
            result = 0
          end

        elseif STEP == 'resume_queue' then
          if redis.call('HDEL', P .. 'paused', ARGV[A]) == 1 then
            emit('queue_resumed', 'queue_' .. ARGV[A], ARGV[A + 1])
            result = 1
          else
            result = 0
          end

        elseif STEP == 'paused_queues' then
          result = redis.call('HGETALL', P .. 'paused')

        elseif STEP == 'workers' then
          result = list_workers()

        elseif STEP == 'snapshot' then
          local recent, max_result = tonumber(ARGV[A]), tonumber(ARGV[A + 1])
          local unfinished = {}
          for _, status in ipairs({'pending', 'assigned', 'running'}) do
            for _, id in ipairs(redis.call('ZRANGE', P .. 'status:' .. status, 0, -1)) do unfinished[#unfinished + 1] = flat(id) end
          end
          local finished = {}
          for _, status in ipairs({'completed', 'failed'}) do
            local list = {}
            for _, id in ipairs(redis.call('ZREVRANGE', P .. 'recent:' .. status, 0, recent - 1)) do
              local key = P .. 'job:' .. id
              if redis.call('HSTRLEN', key, 'result') <= max_result then
                list[#list + 1] = flat(id)
              else
                -- Too large to hold in a snapshot (JobResults): every field but the result, and a marker.
                local names = {}
                for _, k in ipairs(redis.call('HKEYS', key)) do if k ~= 'result' then names[#names + 1] = k end end
                local values = redis.call('HMGET', key, unpack(names))
                local light = {}
                for i, k in ipairs(names) do light[#light + 1] = k; light[#light + 1] = values[i] end
                light[#light + 1] = 'result_omitted'
                light[#light + 1] = '1'
                list[#list + 1] = light
              end
            end
            finished[#finished + 1] = list
          end
          local workers = list_workers()
          local counts = {}
          for _, status in ipairs({'pending', 'assigned', 'running', 'completed', 'failed', 'cancelled'}) do
            counts[#counts + 1] = redis.call('ZCARD', P .. 'status:' .. status)
          end
          result = {epoch, redis.call('GET', KEYS[2]) or '0', unfinished, finished[1], finished[2], workers, counts}
        else
          return redis.error_reply('unknown hub step ' .. STEP)
        end

        -- A batch refused for its dependencies stored nothing, so its key stays free.
        if batch_key and result[1] ~= 'unknown_dependencies' then
          local ids, created = {}, 0
          for i, r in ipairs(result) do
            if r[1] == 'created' then created = created + 1 end
            for f = 1, #r[2], 2 do if r[2][f] == 'id' then ids[i] = r[2][f + 1] end end
          end
          redis.call('HSET', batch_key, 'fingerprint', batch_fingerprint, 'job_ids', cjson.encode(ids), 'created', created)
          redis.call('EXPIRE', batch_key, batch_window)
          result = {'stored', result}
        end

        return step_reply(result)
        """;
}
