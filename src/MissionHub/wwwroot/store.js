// The one projection of the wire events: jobs, workers, missions, robots and counts, as the hub had them after the last
// event applied. It knows nothing about the page (no DOM): it is fed a monitor snapshot (loadSnapshot) or a state from
// GET /api/state (loadState), then events in seq order, flat as /ws/monitor sends them or as Charter envelopes as
// GET /api/events returns them (apply). apply() says which parts of the page the event changed, so views redraw only those.
// The same rules as the server's read model (Monitor/MonitorState.cs); tests/fixtures/projection keeps both honest.

export const FINISHED_KEPT = 500;   // completed / failed jobs remembered
export const ACTIVITY_KEPT = 12;    // mission events remembered for the overview
const BROKEN = ['heartbeat_timeout', 'connection_lost', 'error', 'send_queue_full'];
const ACTIVE = ['assigned', 'running'];
const FINAL = ['completed', 'failed', 'cancelled'];

export function toMs(t) {
  if (t == null) return null;
  if (typeof t === 'string') {
    const n = Number(t);
    if (!Number.isNaN(n)) return toMs(n);
    const parsed = Date.parse(t);
    return Number.isNaN(parsed) ? null : parsed;
  }
  return t > 1e11 ? t : t * 1000; // seconds or milliseconds
}

export const isEnvelope = (e) => e && typeof e.payload === 'object' && e.payload !== null && 'source' in e;

/** A hub event's fields, flat (spec 003 §1) whichever way it came; a Charter event of another source as it is. */
export function flat(e) {
  if (isEnvelope(e) && e.source === 'hub') return { ...e.payload, type: e.type, seq: e.seq, timestamp: toMs(e.timestamp), meta: e.meta };
  return e;
}

export const emptyCounts = () => ({ pending: 0, assigned: 0, running: 0, completed: 0, failed: 0, cancelled: 0 });

export class Store {
  constructor() {
    this.reset();
  }

  reset() {
    this.workers = new Map();
    this.jobs = new Map();        // pending and active, by id
    this.completed = [];          // newest first
    this.failed = [];             // failed and cancelled, newest first
    this.finished = emptyCounts(); // completed / failed / cancelled totals (the live ones are counted from jobs)
    this.stats = null;            // the hub's last system_stats (live only)
    this.missions = new Map();
    this.missionStats = null;     // { total, by_status } (live: GET /api/missions/stats, then the events)
    this.missionActivity = [];
    this.robots = new Map();
    this.waitingOn = new Map();   // job id -> ids of pending jobs waiting for it
    this.dirtyJobs = new Set();   // active rows whose progress or status changed in place
    this.epoch = null;
    this.seq = -1;
    this.timestamp = null;        // ms of the last event or of the state loaded
  }

  /** Counts of jobs by status: pending, assigned and running from the jobs held, the finished ones from the totals. */
  counts() {
    const c = { ...emptyCounts(), completed: this.finished.completed, failed: this.finished.failed, cancelled: this.finished.cancelled };
    for (const j of this.jobs.values()) if (j.status in c) c[j.status] += 1;
    return c;
  }

  /** A full_state_snapshot of /ws/monitor. */
  loadSnapshot(data, epoch, seq) {
    const { missions, missionStats, missionActivity, robots } = this;
    this.reset();
    // Missions and robots are not in the hub snapshot: REST and the stream keep them.
    Object.assign(this, { missions, missionStats, missionActivity, robots });
    this.epoch = epoch ?? null;
    this.seq = seq ?? -1;
    for (const [id, w] of Object.entries(data.workers || {})) this.workers.set(id, { ...w, id, lastSeen: toMs(w.connected_at) ?? Date.now() });
    for (const j of [...(data.jobs?.pending || []), ...(data.jobs?.active || [])]) this.jobs.set(j.id, jobOf(j));
    this.completed = (data.jobs?.completed || []).map(jobOf);
    this.failed = (data.jobs?.failed || []).map(jobOf);
    this.stats = data.system_stats || null;
    const st = this.stats;
    // A hub from before cancelled_jobs: every job not live, completed or failed was cancelled (an upper bound after a purge).
    const cancelled = st ? (st.cancelled_jobs ?? Math.max(0, st.total_jobs - st.pending_jobs - st.active_jobs - st.completed_jobs - st.failed_jobs)) : 0;
    this.finished = { completed: st?.completed_jobs ?? this.completed.length, failed: st?.failed_jobs ?? this.failed.length, cancelled };
  }

  /** The answer of GET /api/state: the whole hub as it was at its seq. */
  loadState(state) {
    this.reset();
    this.epoch = state.epoch ?? null;
    this.seq = state.seq ?? -1;
    this.timestamp = toMs(state.timestamp);
    const jobs = state.jobs || {};
    for (const j of [...(jobs.pending || []), ...(jobs.active || [])]) this.jobs.set(j.id, jobOf(j));
    this.completed = (jobs.completed || []).map(jobOf);
    this.failed = (jobs.failed || []).map(jobOf);
    const c = state.counts || {};
    this.finished = { ...emptyCounts(), completed: c.completed ?? this.completed.length, failed: c.failed ?? 0, cancelled: c.cancelled ?? 0 };
    for (const [id, w] of Object.entries(state.workers || {})) this.workers.set(id, { ...w, id, current_jobs: w.current_jobs || [], lastSeen: toMs(w.last_seen ?? w.connected_at) });
    for (const [id, r] of Object.entries(state.robots || {})) {
      const metrics = Object.fromEntries(Object.entries(metricsOf(r)).filter(([, v]) => v !== undefined));
      this.robots.set(id, { id, state: r.status || r.state || 'offline', metrics, lastSeen: toMs(r.last_seen), raw: r, liveAlerts: [] });
    }
    const byStatus = {};
    for (const m of state.missions || []) {
      this.missions.set(m.id, { ...m });
      byStatus[m.status] = (byStatus[m.status] || 0) + 1;
    }
    this.missionStats = { total: this.missions.size, by_status: byStatus };
  }

  /** Applies one event; returns the parts of the page it changed. */
  apply(event) {
    const parts = new Set();
    if (typeof event.seq === 'number' && event.seq > this.seq) this.seq = event.seq;
    const e = flat(event);
    if (isEnvelope(e)) {
      this.timestamp = toMs(e.timestamp) ?? this.timestamp;
      if (e.type.startsWith('mission.')) this.applyMission(e, e.payload || {}, parts);
      else if (e.type.startsWith('telemetry.')) this.applyTelemetry(e, e.payload || {}, parts);
      return parts;
    }
    this.timestamp = e.timestamp ?? this.timestamp;
    this.applyHub(e, parts);
    return parts;
  }

  applyHub(e, parts) {
    const ms = e.timestamp;
    switch (e.type) {
      case 'system_stats':
        this.stats = e.stats || this.stats;
        parts.add('overview');
        return;
      case 'worker_connected': {
        const d = e.worker_data || {};
        this.workers.set(e.worker_id, {
          id: e.worker_id, status: d.status || 'idle', capabilities: d.capabilities || { job_types: [], max_concurrent_jobs: 1 }, connected_at: d.connected_at,
          current_jobs: [...this.jobs.values()].filter((j) => j.worker_id === e.worker_id && ACTIVE.includes(j.status)).map((j) => j.id), lastSeen: ms,
        });
        parts.add('agents').add('workerOptions').add('overview');
        return;
      }
      case 'worker_status_changed': {
        const w = this.workers.get(e.worker_id);
        if (w) w.status = e.new_status;
        this.touch(e.worker_id, ms, parts);
        parts.add('overview');
        return;
      }
      case 'worker_disconnected': {
        const w = this.workers.get(e.worker_id);
        if (w) Object.assign(w, { status: 'offline', reason: e.reason, current_jobs: [], lastSeen: ms }); // the reason says whether it broke
        parts.add('agents').add('overview');
        return;
      }
      case 'job_submitted': {
        const d = e.job_data || {};
        if (this.jobs.has(e.job_id)) return;
        this.jobs.set(e.job_id, {
          id: e.job_id, job_type: d.job_type, status: 'pending', priority: d.priority ?? 0, workflow_id: d.workflow_id ?? null, worker_id: null,
          progress: 0, attempts: 0, created_ms: toMs(d.created_at) ?? ms, available_ms: toMs(d.run_at), schedule_id: d.schedule_id ?? null,
        });
        // Every unfinished job is known here, so a dependency not among them has completed (a failed one cancels this job).
        this.setWaitingFor(this.jobs.get(e.job_id), (d.depends_on || []).filter((id) => this.jobs.has(id)));
        parts.add('jobsAll').add('typeOptions').add('overview');
        return;
      }
      case 'job_assigned': {
        const j = this.jobs.get(e.job_id);
        if (j) {
          Object.assign(j, { status: 'assigned', worker_id: e.worker_id, attempts: e.attempt ?? j.attempts + 1, assigned_ms: toMs(e.assigned_at), progress: 0 });
          const w = this.workers.get(e.worker_id);
          if (w && !w.current_jobs?.includes(j.id)) w.current_jobs = [...(w.current_jobs || []), j.id];
        }
        this.touch(e.worker_id, ms, parts);
        parts.add('jobsAll').add('overview');
        return;
      }
      case 'job_status_changed':
        if (e.new_status === 'pending' && (e.job_data || FINAL.includes(e.old_status))) this.retried(e, ms, parts);
        else this.statusChanged(e, ms, parts);
        return;
      case 'job_progress': {
        const j = this.jobs.get(e.job_id);
        if (j) {
          j.progress = e.progress;
          this.dirtyJobs.add(j.id);
          parts.add('jobs');
        }
        this.touch(e.worker_id, ms, parts);
        return;
      }
      case 'job_completed': {
        const j = this.jobs.get(e.job_id);
        if (j) this.finish({ ...j, status: 'completed', progress: 1, result: e.result, completed_ms: toMs(e.completed_at) ?? ms }, parts);
        this.releaseWaitingOn(e.job_id, parts);
        this.touch(e.worker_id, ms, parts);
        return;
      }
      case 'job_failed': {
        const j = this.jobs.get(e.job_id);
        if (j) this.finish({ ...j, status: 'failed', error: e.error, completed_ms: toMs(e.failed_at) ?? ms }, parts);
        this.touch(e.worker_id, ms, parts);
        return;
      }
      case 'jobs_purged': {
        const ids = new Set(e.job_ids || []);
        this.completed = this.completed.filter((j) => !ids.has(j.id));
        this.failed = this.failed.filter((j) => !ids.has(j.id));
        for (const [status, n] of Object.entries(e.by_status || {})) if (status in this.finished) this.finished[status] = Math.max(0, this.finished[status] - n);
        parts.add('jobsAll').add('overview');
        return;
      }
      case 'queue_paused':
      case 'queue_resumed':
        parts.add('queues');
        return;
      default:
    }
  }

  statusChanged(e, ms, parts) {
    const j = this.jobs.get(e.job_id);
    if (!j) return;
    if (e.new_status === 'cancelled') {
      this.finish({ ...j, status: 'cancelled', completed_ms: ms, cancel_reason: e.reason ?? null }, parts);
      return;
    }
    const sameLane = ACTIVE.includes(j.status) && ACTIVE.includes(e.new_status);
    j.status = e.new_status;
    if (e.error) j.error = e.error;
    this.touch(e.worker_id, ms, parts);
    parts.add('overview');
    if (sameLane) {
      this.dirtyJobs.add(j.id); // same lane: the row is patched, no lane rebuild
      parts.add('jobs');
      return;
    }
    if (e.new_status === 'pending') {
      const w = this.workers.get(j.worker_id ?? e.worker_id);
      if (w) w.current_jobs = (w.current_jobs || []).filter((x) => x !== j.id);
      j.worker_id = null;
      j.progress = 0;
      j.available_ms = toMs(e.retry_at); // a failed attempt waits for its backoff
    }
    parts.add('jobsAll');
  }

  // A retry: a failed or cancelled job is pending again, attempts from zero; its job_data makes the entry when the
  // store no longer holds the job (it fell off the finished list, or the page opened after it failed).
  retried(e, ms, parts) {
    const d = e.job_data || {};
    const before = this.failed.find((j) => j.id === e.job_id) || this.completed.find((j) => j.id === e.job_id);
    this.failed = this.failed.filter((j) => j.id !== e.job_id);
    this.completed = this.completed.filter((j) => j.id !== e.job_id);
    if (e.old_status in this.finished) this.finished[e.old_status] = Math.max(0, this.finished[e.old_status] - 1);
    const known = this.jobs.get(e.job_id) || before;
    this.jobs.set(e.job_id, {
      id: e.job_id, job_type: d.job_type ?? known?.job_type, priority: d.priority ?? known?.priority ?? 0, workflow_id: d.workflow_id ?? known?.workflow_id ?? null,
      status: 'pending', worker_id: null, progress: 0, attempts: 0, created_ms: toMs(d.created_at) ?? known?.created_ms ?? ms, available_ms: null,
      schedule_id: d.schedule_id ?? known?.schedule_id ?? null,
    });
    parts.add('jobsAll').add('typeOptions').add('overview');
  }

  finish(job, parts) {
    this.jobs.delete(job.id);
    const target = job.status === 'completed' ? this.completed : this.failed;
    target.unshift(job);
    if (target.length > FINISHED_KEPT) target.length = FINISHED_KEPT;
    this.finished[job.status] += 1;
    for (const w of this.workers.values()) {
      if (w.current_jobs?.includes(job.id)) w.current_jobs = w.current_jobs.filter((x) => x !== job.id);
    }
    parts.add('jobsAll').add('agents').add('overview');
  }

  touch(id, ms, parts) {
    const w = id && this.workers.get(id);
    if (w) {
      w.lastSeen = Math.max(w.lastSeen || 0, ms || 0);
      parts.add('agents');
    }
  }

  setWaitingFor(j, ids) {
    if (!j) return;
    j.waiting_for = ids;
    for (const id of ids) {
      if (!this.waitingOn.has(id)) this.waitingOn.set(id, new Set());
      this.waitingOn.get(id).add(j.id);
    }
  }

  releaseWaitingOn(jobId, parts) {
    const waiting = this.waitingOn.get(jobId);
    if (!waiting) return;
    this.waitingOn.delete(jobId);
    for (const id of waiting) {
      const j = this.jobs.get(id);
      if (!j?.waiting_for) continue;
      j.waiting_for = j.waiting_for.filter((x) => x !== jobId);
      this.dirtyJobs.add(id);
    }
    parts.add('jobs');
  }

  applyMission(e, p, parts) {
    const id = p.mission_id;
    this.missionActivity.unshift(e);
    if (this.missionActivity.length > ACTIVITY_KEPT) this.missionActivity.length = ACTIVITY_KEPT;
    const ms = this.missionStats;
    const count = (status, n) => { if (ms && status) ms.by_status[status] = Math.max(0, (ms.by_status[status] || 0) + n); };
    if (e.type === 'mission.created' && !this.missions.has(id)) {
      this.missions.set(id, { id, name: p.name, description: p.description, status: p.status || 'PENDING', created_at: p.created_at, updated_at: p.created_at, data: {} });
      if (ms) ms.total += 1;
      count(p.status || 'PENDING', +1);
    } else if (e.type === 'mission.status_changed') {
      const m = this.missions.get(id);
      if (m) Object.assign(m, { status: p.new_status, updated_at: p.changed_at ?? e.timestamp });
      count(p.old_status, -1);
      count(p.new_status, +1);
    }
    parts.add('missions').add('overview').add('detail');
  }

  robot(id) {
    let r = this.robots.get(id);
    if (!r) {
      r = { id, state: 'online', metrics: {}, lastSeen: null, raw: null, liveAlerts: [] };
      this.robots.set(id, r);
    }
    return r;
  }

  applyTelemetry(e, p, parts) {
    const id = p.robot_id;
    if (!id) return;
    const r = this.robot(id);
    const at = toMs(p.published_at ?? p.received_at ?? p.timestamp ?? e.timestamp);
    r.lastSeen = Math.max(r.lastSeen || 0, at || 0);
    if (e.type === 'telemetry.connection_established') r.state = 'online';
    else if (e.type === 'telemetry.connection_closed') r.state = BROKEN.includes(p.reason) ? 'connection_broken' : 'offline';
    else if (e.type.includes('alert')) {
      const text = p.message || p.alert || p.type || e.type;
      if (p.cleared || p.resolved) r.liveAlerts = r.liveAlerts.filter((a) => a !== text);
      else r.liveAlerts = [...new Set([...r.liveAlerts, text])];
    }
    const m = metricsOf(p);
    if (Object.values(m).some((v) => v !== undefined)) {
      r.metrics = { ...r.metrics, ...Object.fromEntries(Object.entries(m).filter(([, v]) => v !== undefined)) };
      if (r.state !== 'online' && e.type !== 'telemetry.connection_closed') r.state = 'online';
    }
    parts.add('agents');
  }
}

function jobOf(j) {
  return {
    ...j, created_ms: toMs(j.created_at), assigned_ms: toMs(j.assigned_at), completed_ms: toMs(j.completed_at), available_ms: toMs(j.available_at ?? j.run_at),
  };
}

const num = (v) => (typeof v === 'number' && Number.isFinite(v) ? v : (typeof v === 'string' && v !== '' && !Number.isNaN(Number(v)) ? Number(v) : undefined));

/** Battery, CPU, latency and memory of a telemetry frame, event or history bucket (a bucket's {min, avg, max}: the average). */
export function metricsOf(o) {
  if (!o || typeof o !== 'object') return {};
  const src = o.metrics || o.latest || o.telemetry || o.frame || o;
  const value = (v) => num(v !== null && typeof v === 'object' ? v.avg : v);
  return {
    battery: value(src.battery_percentage ?? src.battery),
    cpu: value(src.cpu_usage ?? src.cpu),
    latency: value(src.network_latency_ms ?? src.latency_ms ?? src.latency),
    memory: value(src.memory_usage ?? src.memory),
  };
}
