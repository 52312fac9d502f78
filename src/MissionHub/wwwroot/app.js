// MissionHub dashboard: one live state fed by /ws/monitor, rendered per animation frame.
// REST is used only for user actions, mission lists/detail/log loading, the queues list (re-read when an event
// says it changed), the schedules (schedules.js: each re-read when an event names it), the run times of delayed jobs
// in a snapshot, supervisor/telemetry reads and telemetry history; everything else comes from the event stream.
import { MonitorClient } from './monitor.js';
import { SchedulesView } from './schedules.js';
import { ago, api, badge, esc, localTime, showError, timeTag, toMs, until, untilTag } from './ui.js';

const $ = (id) => document.getElementById(id);
const LIST_CAP = 500;        // rows shown per job lane / mission list
const EVENTS_SHOWN = 200;    // rows shown in the event log
const EVENTS_KEPT = 1000;    // events remembered for the log
const FINISHED_KEPT = 500;   // completed / failed jobs remembered
const ACTIVITY_SHOWN = 12;
const TRANSITIONS = { PENDING: ['RUNNING', 'FAILED', 'CANCELLED'], RUNNING: ['COMPLETED', 'FAILED', 'CANCELLED'] };
const MISSION_STATUSES = ['PENDING', 'RUNNING', 'COMPLETED', 'FAILED', 'CANCELLED'];
const QUEUES_EVERY_MS = 500; // GET /api/queues at most this often, and only when an event says it changed
const QUEUE_EVENTS = new Set(['job_submitted', 'job_assigned', 'job_status_changed', 'job_completed', 'job_failed',
  'worker_connected', 'worker_disconnected', 'queue_paused', 'queue_resumed', 'jobs_purged']);

// ---------- page counters (read by tests and the bench) ----------
const counters = {
  eventsApplied: 0, lastSeq: -1, epoch: null, connection: 'connecting', reconnects: 0, resyncs: 0,
  resyncFailures: 0, snapshots: 0, errors: 0, longTasks: 0, longTaskMs: 0, renders: 0, lastServerHeartbeat: null,
  queueLoads: 0, waitingLoads: 0,
};
window.missionHub = counters;
try {
  new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      counters.longTasks += 1;
      counters.longTaskMs += entry.duration;
    }
  }).observe({ type: 'longtask', buffered: true });
} catch { /* longtask not supported */ }

// ---------- state ----------
const S = {
  workers: new Map(),
  jobs: new Map(),          // pending and active, by id
  completed: [],            // newest first
  failed: [],               // failed and cancelled, newest first
  stats: null,
  missions: new Map(),
  missionStats: null,
  missionActivity: [],
  events: [],               // newest last
  eventTypes: new Set(),
  robots: new Map(),
  queues: null,             // job type -> GET /api/queues row, once loaded
  queuesStale: true,        // an event (or a snapshot) since the last load started
  queuesError: null,
  telemetry: 'unknown',     // 'unknown' | 'available' | 'missing' | 'error'
  health: { state: 'unknown', data: null },
  open: null,               // { id, mission, log, error, loading }
  robotOpen: null,          // { id, charts, error }
};

const dirty = new Set();
const dirtyJobs = new Set();
let frameRequested = false;
function mark(...parts) {
  for (const p of parts) dirty.add(p);
  if (!frameRequested) {
    frameRequested = true;
    requestAnimationFrame(renderFrame);
  }
}
const schedules = new SchedulesView({ onChange: () => mark('schedules'), counters });

// ---------- snapshot and events ----------
function jobFromSnapshot(j) {
  return {
    ...j, created_ms: toMs(j.created_at), assigned_ms: toMs(j.assigned_at), completed_ms: toMs(j.completed_at),
    available_ms: toMs(j.available_at ?? j.run_at),
  };
}

function onSnapshot(data) {
  S.workers.clear();
  for (const [id, w] of Object.entries(data.workers || {})) {
    S.workers.set(id, { ...w, id, lastSeen: toMs(w.connected_at) ?? Date.now() });
  }
  S.jobs.clear();
  for (const j of [...(data.jobs?.pending || []), ...(data.jobs?.active || [])]) S.jobs.set(j.id, jobFromSnapshot(j));
  S.completed = (data.jobs?.completed || []).map(jobFromSnapshot);
  S.failed = (data.jobs?.failed || []).map(jobFromSnapshot);
  S.stats = data.system_stats || null;
  waitingOn.clear();
  loadWaitingJobs();
  loadDependencies();
  schedules.invalidate();
  eventLog.drawnUpTo = null; // a new snapshot may start another epoch: redraw the log in full
  // Missions are not in the hub snapshot: (re)load them so that the stream then keeps them current.
  loadMissions();
  loadMissionStats();
  queuesChanged();
  mark('overview', 'jobs', 'jobsAll', 'agents', 'missions', 'foot');
}

function onEvents(events) {
  let queues = false;
  for (const e of events) {
    applyEvent(e);
    schedules.apply(e);
    recordEvent(e);
    if (QUEUE_EVENTS.has(e.type)) queues = true;
  }
  if (queues) queuesChanged();
  mark('events', 'foot');
}

function recordEvent(e) {
  S.events.push(e);
  if (S.events.length > EVENTS_KEPT) S.events.splice(0, S.events.length - EVENTS_KEPT);
  if (!S.eventTypes.has(e.type)) {
    S.eventTypes.add(e.type);
    mark('eventTypes');
  }
  if (eventLog.paused) eventLog.newWhilePaused += 1;
}

const isEnvelope = (e) => e && typeof e.payload === 'object' && e.payload !== null && 'source' in e;
const eventMs = (e) => isEnvelope(e) ? toMs(e.timestamp) : e.timestamp;

function touchWorker(id, ms) {
  const w = id && S.workers.get(id);
  if (w) {
    w.lastSeen = Math.max(w.lastSeen || 0, ms || Date.now());
    mark('agents');
  }
}

function finishJob(job, list) {
  S.jobs.delete(job.id);
  const target = list === 'completed' ? S.completed : S.failed;
  target.unshift(job);
  if (target.length > FINISHED_KEPT) target.length = FINISHED_KEPT;
  for (const w of S.workers.values()) {
    if (w.current_jobs?.includes(job.id)) w.current_jobs = w.current_jobs.filter((x) => x !== job.id);
  }
  mark('jobsAll', 'agents');
}

// A retry: a failed or cancelled job is pending again, attempts from zero. The event's job_data makes the pending
// entry when the page no longer holds the job (it fell off the finished list, or the page opened after it failed).
function retriedJob(e, ms) {
  const d = e.job_data || {};
  const before = S.failed.find((j) => j.id === e.job_id) || S.completed.find((j) => j.id === e.job_id);
  S.failed = S.failed.filter((j) => j.id !== e.job_id);
  S.completed = S.completed.filter((j) => j.id !== e.job_id);
  const known = S.jobs.get(e.job_id) || before;
  S.jobs.set(e.job_id, {
    id: e.job_id, job_type: d.job_type ?? known?.job_type, priority: d.priority ?? known?.priority ?? 0,
    workflow_id: d.workflow_id ?? known?.workflow_id, status: 'pending', worker_id: null, progress: 0, attempts: 0,
    created_ms: toMs(d.created_at) ?? known?.created_ms ?? ms, available_ms: null, schedule_id: d.schedule_id ?? known?.schedule_id ?? null,
  });
  if (d.job_type && !typeOptions.has(d.job_type)) mark('typeOptions');
  mark('jobsAll');
}

function applyEvent(e) {
  if (isEnvelope(e)) {
    applyCharter(e);
    return;
  }
  const ms = e.timestamp;
  switch (e.type) {
    case 'system_stats':
      S.stats = e.stats || S.stats;
      mark('overview');
      return;
    case 'worker_connected': {
      const d = e.worker_data || {};
      S.workers.set(e.worker_id, {
        id: e.worker_id, status: d.status || 'idle', capabilities: d.capabilities || { job_types: [], max_concurrent_jobs: 1 },
        connected_at: d.connected_at, current_jobs: [...S.jobs.values()].filter((j) => j.worker_id === e.worker_id).map((j) => j.id), lastSeen: ms,
      });
      mark('agents', 'workerOptions');
      return;
    }
    case 'worker_status_changed': {
      const w = S.workers.get(e.worker_id);
      if (w) w.status = e.new_status;
      touchWorker(e.worker_id, ms);
      return;
    }
    case 'worker_disconnected': {
      const w = S.workers.get(e.worker_id);
      if (w) {
        w.status = ['heartbeat_timeout', 'connection_lost', 'error', 'send_queue_full'].includes(e.reason) ? 'connection_broken' : 'offline';
        w.reason = e.reason;
        w.current_jobs = [];
        w.lastSeen = ms;
      }
      mark('agents');
      return;
    }
    case 'job_submitted': {
      const d = e.job_data || {};
      S.jobs.set(e.job_id, {
        id: e.job_id, job_type: d.job_type, status: 'pending', priority: d.priority ?? 0, workflow_id: d.workflow_id,
        worker_id: null, progress: 0, attempts: 0, created_ms: toMs(d.created_at) ?? ms, available_ms: toMs(d.run_at),
        schedule_id: d.schedule_id ?? null,
      });
      // Every unfinished job is known here, so a dependency not among them has completed (a failed one cancels this job).
      setWaitingFor(S.jobs.get(e.job_id), (d.depends_on || []).filter((id) => S.jobs.has(id)));
      if (!typeOptions.has(d.job_type)) mark('typeOptions');
      mark('jobsAll');
      return;
    }
    case 'job_assigned': {
      const j = S.jobs.get(e.job_id);
      if (j) {
        Object.assign(j, { status: 'assigned', worker_id: e.worker_id, attempts: e.attempt ?? j.attempts + 1, assigned_ms: toMs(e.assigned_at), progress: 0 });
        const w = S.workers.get(e.worker_id);
        if (w && !w.current_jobs?.includes(j.id)) w.current_jobs = [...(w.current_jobs || []), j.id];
      }
      touchWorker(e.worker_id, ms);
      mark('jobsAll');
      return;
    }
    case 'job_status_changed': {
      if (e.new_status === 'pending' && (e.old_status === 'failed' || e.old_status === 'cancelled')) {
        retriedJob(e, ms);
        return;
      }
      const j = S.jobs.get(e.job_id);
      if (!j) return;
      if (e.new_status === 'cancelled') {
        finishJob({ ...j, status: 'cancelled', completed_ms: ms, cancel_reason: e.reason ?? null }, 'failed');
        return;
      }
      const stillActive = ['assigned', 'running'].includes(j.status) && ['assigned', 'running'].includes(e.new_status);
      j.status = e.new_status;
      if (e.error) j.error = e.error;
      if (stillActive) {
        // Same lane: patch the row, no lane rebuild.
        dirtyJobs.add(j.id);
        touchWorker(e.worker_id, ms);
        mark('jobs');
        return;
      }
      if (e.new_status === 'pending') {
        const w = S.workers.get(e.worker_id);
        if (w) w.current_jobs = (w.current_jobs || []).filter((x) => x !== j.id);
        j.worker_id = null;
        j.progress = 0;
        j.available_ms = toMs(e.retry_at); // a failed attempt waits for its backoff
      }
      touchWorker(e.worker_id, ms);
      mark('jobsAll');
      return;
    }
    case 'job_progress': {
      const j = S.jobs.get(e.job_id);
      if (j) {
        j.progress = e.progress;
        if (j.status === 'assigned') j.status = 'running';
        dirtyJobs.add(j.id);
        mark('jobs');
      }
      touchWorker(e.worker_id, ms);
      return;
    }
    case 'job_completed': {
      const j = S.jobs.get(e.job_id);
      if (j) finishJob({ ...j, status: 'completed', progress: 1, result: e.result, completed_ms: toMs(e.completed_at) ?? ms }, 'completed');
      releaseWaitingOn(e.job_id);
      touchWorker(e.worker_id, ms);
      return;
    }
    case 'job_failed': {
      const j = S.jobs.get(e.job_id);
      if (j) finishJob({ ...j, status: 'failed', error: e.error, completed_ms: toMs(e.failed_at) ?? ms }, 'failed');
      touchWorker(e.worker_id, ms);
      return;
    }
    case 'jobs_purged': {
      const ids = new Set(e.job_ids || []);
      if (!ids.size) return;
      S.completed = S.completed.filter((j) => !ids.has(j.id));
      S.failed = S.failed.filter((j) => !ids.has(j.id));
      mark('jobsAll');
      return;
    }
    case 'queue_paused':
      setQueuePaused(e.job_type, true, e.paused_at);
      return;
    case 'queue_resumed':
      setQueuePaused(e.job_type, false, null);
      return;
    default:
  }
}

function applyCharter(e) {
  const p = e.payload || {};
  if (e.type.startsWith('mission.')) {
    applyMissionEvent(e, p);
    return;
  }
  if (e.type.startsWith('telemetry.')) {
    applyTelemetryEvent(e, p);
    return;
  }
  if (e.type === 'supervisor.health_checked' && p.status) {
    S.health = { state: 'available', data: { ...(S.health.data || {}), status: p.status, checked_at: p.checked_at } };
    mark('overview');
  }
}

// ---------- dependencies ----------
// Pending jobs by the job they wait for, so a completion updates only the jobs waiting on it.
const waitingOn = new Map();
function setWaitingFor(j, ids) {
  if (!j) return;
  j.waiting_for = ids;
  for (const id of ids) {
    if (!waitingOn.has(id)) waitingOn.set(id, new Set());
    waitingOn.get(id).add(j.id);
  }
}
function releaseWaitingOn(jobId) {
  const waiting = waitingOn.get(jobId);
  if (!waiting) return;
  waitingOn.delete(jobId);
  for (const id of waiting) {
    const j = S.jobs.get(id);
    if (!j?.waiting_for) continue;
    j.waiting_for = j.waiting_for.filter((x) => x !== jobId);
    dirtyJobs.add(id);
  }
  mark('jobs');
}
// The snapshot does not say what its pending jobs wait for: the first page of pending jobs from the REST API does.
async function loadDependencies() {
  try {
    const page = await api('GET', `/api/jobs?status=pending&limit=${LIST_CAP}`);
    for (const job of page?.jobs || []) {
      const j = S.jobs.get(job.id);
      if (j && j.status === 'pending' && j.waiting_for == null && job.waiting_for?.length) setWaitingFor(j, job.waiting_for);
    }
    mark('jobsAll');
  } catch { /* shown from the events from here on */ }
}

// ---------- delayed jobs ----------
// The snapshot's pending jobs do not say when they may run: the waiting ones (GET /api/jobs?due=false, soonest first)
// do. An event seen since says it better, so only a job still pending without a known time takes the answer's.
let waitingRequest = 0;
async function loadWaitingJobs() {
  const request = ++waitingRequest;
  counters.waitingLoads += 1;
  try {
    const page = await api('GET', `/api/jobs?due=false&limit=${LIST_CAP}`);
    if (request !== waitingRequest) return;
    for (const job of page?.jobs || []) {
      const j = S.jobs.get(job.id);
      if (!j || j.status !== 'pending') continue;
      if (j.available_ms == null) j.available_ms = toMs(job.available_at ?? job.run_at);
      if (j.schedule_id == null) j.schedule_id = job.schedule_id ?? null;
    }
    mark('jobsAll');
  } catch { /* a hub without delayed jobs: pending jobs show no run time */ }
}

// ---------- missions ----------
function missionUpdated(m) {
  return toMs(m.updated_at) ?? 0;
}

function applyMissionEvent(e, p) {
  const id = p.mission_id;
  const at = toMs(e.timestamp);
  S.missionActivity.unshift(e);
  if (S.missionActivity.length > ACTIVITY_SHOWN) S.missionActivity.length = ACTIVITY_SHOWN;
  if (e.type === 'mission.created') {
    if (!S.missions.has(id)) {
      S.missions.set(id, { id, name: p.name, description: p.description, status: p.status || 'PENDING', created_at: p.created_at, updated_at: p.created_at, data: {} });
      if (S.missionStats) {
        S.missionStats.total += 1;
        S.missionStats.by_status[p.status || 'PENDING'] = (S.missionStats.by_status[p.status || 'PENDING'] || 0) + 1;
      }
    }
  } else if (e.type === 'mission.status_changed') {
    const m = S.missions.get(id);
    if (m) {
      m.status = p.new_status;
      m.updated_at = p.changed_at ?? e.timestamp;
    }
    if (S.missionStats) {
      S.missionStats.by_status[p.old_status] = Math.max(0, (S.missionStats.by_status[p.old_status] || 0) - 1);
      S.missionStats.by_status[p.new_status] = (S.missionStats.by_status[p.new_status] || 0) + 1;
    }
    if (S.open?.id === id) {
      if (S.open.mission) S.open.mission = { ...S.open.mission, status: p.new_status, updated_at: p.changed_at ?? e.timestamp };
      addLogEntry({ timestamp: p.changed_at ?? e.timestamp, level: 'info', message: 'Mission status changed', data: { from: p.old_status, to: p.new_status } });
    }
  } else if (e.type === 'mission.log_appended') {
    if (S.open?.id === id) addLogEntry({ timestamp: p.appended_at ?? e.timestamp, level: p.log_level, message: p.message, data: null });
  }
  if (missionStatsLoading) missionStatsStale = true;
  void at;
  mark('missions', 'overview', 'detail');
}

const logKey = (entry) => `${entry.timestamp}|${entry.message}`;
function addLogEntry(entry) {
  if (!S.open) return;
  if (S.open.loading) {
    S.open.pendingLog.push(entry);
    return;
  }
  if (S.open.logKeys.has(logKey(entry))) return;
  S.open.logKeys.add(logKey(entry));
  S.open.log.push(entry);
}

let missionsRequest = 0;
async function loadMissions() {
  const request = ++missionsRequest;
  try {
    const page = await api('GET', `/api/missions?limit=${LIST_CAP}`);
    if (request !== missionsRequest) return;
    for (const m of page.missions || []) {
      const known = S.missions.get(m.id);
      if (!known || missionUpdated(m) >= missionUpdated(known)) S.missions.set(m.id, { ...known, ...m });
    }
    S.missionsMore = Boolean(page.next_cursor);
    S.missionsError = null;
  } catch (err) {
    S.missionsError = err;
  }
  mark('missions');
}

let missionStatsLoading = false;
let missionStatsStale = false;
async function loadMissionStats() {
  missionStatsLoading = true;
  missionStatsStale = false;
  try {
    const stats = await api('GET', '/api/missions/stats');
    S.missionStats = { total: stats.total, by_status: { ...stats.by_status } };
  } catch (err) {
    S.missionStats = null;
    S.missionStatsError = err;
  }
  missionStatsLoading = false;
  // Mission events that crossed the request may or may not be counted in its answer: ask once more.
  if (missionStatsStale) loadMissionStats();
  mark('overview');
}

async function openMission(id) {
  if (S.open?.id === id) return;
  S.open = { id, mission: S.missions.get(id) || null, log: [], logKeys: new Set(), pendingLog: [], error: null, actionError: null, loading: true };
  mark('detail');
  const open = S.open;
  try {
    const mission = await api('GET', `/api/missions/${encodeURIComponent(id)}`);
    const entries = [];
    let cursor = null;
    for (let pageNo = 0; pageNo < 5; pageNo++) {
      const page = await api('GET', `/api/missions/${encodeURIComponent(id)}/log?limit=1000${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
      entries.push(...(page.entries || []));
      cursor = page.next_cursor;
      if (!cursor) break;
    }
    if (S.open !== open) return;
    open.mission = { ...mission, ...(missionUpdated(open.mission || {}) > missionUpdated(mission) ? open.mission : {}) };
    open.loading = false;
    for (const entry of entries) addLogEntry(entry);
    for (const entry of open.pendingLog) addLogEntry(entry);
    open.log.sort((a, b) => a.timestamp - b.timestamp);
    open.pendingLog = [];
  } catch (err) {
    if (S.open !== open) return;
    open.loading = false;
    open.error = err;
  }
  mark('detail');
}

async function changeMissionStatus(id, status, button) {
  if (!S.open || S.open.id !== id) return;
  S.open.actionError = null;
  button.disabled = true;
  try {
    const mission = await api('POST', `/api/missions/${encodeURIComponent(id)}/status`, { status });
    // The event brings the log entry; the answer updates the view at once.
    if (S.open?.id === id && S.open.mission && missionUpdated(mission) >= missionUpdated(S.open.mission)) S.open.mission = { ...S.open.mission, ...mission };
    const known = S.missions.get(id);
    if (known && missionUpdated(mission) >= missionUpdated(known)) Object.assign(known, mission);
  } catch (err) {
    if (S.open?.id === id) S.open.actionError = err;
  }
  button.disabled = false;
  mark('detail', 'missions');
}

// ---------- queues ----------
// The counts are the server's (GET /api/queues), re-read when a job, worker or queue event arrives: at most every
// QUEUES_EVERY_MS, one request at a time, and only while the view is shown. A pause or resume shows at once from
// its event (or the button's answer); the next read confirms it.
const queueLoad = { inFlight: false, last: 0, timer: null, seen: new Map(), busy: new Set() };

function queuesChanged() {
  S.queuesStale = true;
  if (view === 'queues') scheduleQueuesLoad();
}

function scheduleQueuesLoad() {
  if (queueLoad.timer || queueLoad.inFlight) return; // an answer in flight reloads once more if it is stale
  const wait = Math.max(0, queueLoad.last + QUEUES_EVERY_MS - Date.now());
  queueLoad.timer = setTimeout(() => { queueLoad.timer = null; loadQueues(); }, wait);
}

async function loadQueues() {
  queueLoad.inFlight = true;
  queueLoad.last = Date.now();
  queueLoad.seen.clear();
  S.queuesStale = false;
  counters.queueLoads += 1;
  try {
    const data = await api('GET', '/api/queues');
    const queues = new Map((data?.queues || []).map((q) => [q.job_type, q]));
    // A pause or resume seen while the request was out is at least as new as its answer.
    for (const [type, change] of queueLoad.seen) {
      const q = queues.get(type) || emptyQueue(type);
      queues.set(type, { ...q, ...change });
    }
    S.queues = queues;
    S.queuesError = null;
  } catch (err) {
    S.queuesError = err;
  }
  queueLoad.inFlight = false;
  if (S.queuesStale && view === 'queues') scheduleQueuesLoad();
  mark('queues');
}

function emptyQueue(type) {
  return { job_type: type, paused: false, paused_at: null, pending: 0, active: 0, completed: 0, failed: 0, cancelled: 0, workers: [] };
}

function setQueuePaused(type, paused, at) {
  if (!type) return;
  const q = S.queues?.get(type) || emptyQueue(type);
  const change = { paused, paused_at: paused ? (at ?? q.paused_at ?? null) : null };
  if (queueLoad.inFlight) queueLoad.seen.set(type, change);
  if (S.queues) S.queues.set(type, { ...q, ...change });
  mark('queues');
}

async function changeQueue(type, pause, button) {
  queueLoad.busy.add(type);
  button.disabled = true;
  try {
    const change = await api('POST', `/api/queues/${encodeURIComponent(type)}/${pause ? 'pause' : 'resume'}`);
    showError($('queue-action-error'), null);
    setQueuePaused(change.job_type, change.paused, null);
  } catch (err) {
    showError($('queue-action-error'), new Error(`${pause ? 'Pause' : 'Resume'} ${type}: ${err.message}`));
  }
  queueLoad.busy.delete(type);
  queuesChanged();
  mark('queues');
}

// ---------- telemetry and supervisor (features that may not be on this server) ----------
const num = (v) => (typeof v === 'number' && Number.isFinite(v) ? v : (typeof v === 'string' && v !== '' && !Number.isNaN(Number(v)) ? Number(v) : undefined));
function metricsOf(o) {
  if (!o || typeof o !== 'object') return {};
  const src = o.metrics || o.latest || o.telemetry || o.frame || o;
  // History buckets carry {min, avg, max} per metric: chart the average.
  const value = (v) => num(v !== null && typeof v === 'object' ? v.avg : v);
  return {
    battery: value(src.battery_percentage ?? src.battery),
    cpu: value(src.cpu_usage ?? src.cpu),
    latency: value(src.network_latency_ms ?? src.latency_ms ?? src.latency),
    memory: value(src.memory_usage ?? src.memory),
  };
}
function alertsOf(robot) {
  const alerts = [];
  const given = robot.raw?.alerts || robot.raw?.active_alerts;
  if (Array.isArray(given)) for (const a of given) alerts.push(typeof a === 'string' ? a : (a.message || a.type || JSON.stringify(a)));
  for (const a of robot.liveAlerts || []) alerts.push(a);
  const m = robot.metrics || {};
  if (m.battery !== undefined && m.battery < 20) alerts.push(`Battery low: ${m.battery.toFixed(0)} %`);
  if (m.cpu !== undefined && m.cpu > 90) alerts.push(`CPU high: ${m.cpu.toFixed(0)} %`);
  if (m.latency !== undefined && m.latency > 250) alerts.push(`Latency high: ${m.latency.toFixed(0)} ms`);
  return [...new Set(alerts)];
}
function robotEntry(id) {
  let r = S.robots.get(id);
  if (!r) {
    r = { id, state: 'online', metrics: {}, lastSeen: null, raw: null, liveAlerts: [] };
    S.robots.set(id, r);
  }
  return r;
}

function applyTelemetryEvent(e, p) {
  const id = p.robot_id;
  if (!id) return;
  const r = robotEntry(id);
  const at = toMs(p.published_at ?? p.received_at ?? p.timestamp ?? e.timestamp);
  r.lastSeen = Math.max(r.lastSeen || 0, at || 0);
  if (e.type === 'telemetry.connection_established') r.state = 'online';
  else if (e.type === 'telemetry.connection_closed') {
    r.state = ['heartbeat_timeout', 'connection_lost', 'error', 'send_queue_full'].includes(p.reason) ? 'connection_broken' : 'offline';
  } else if (e.type.includes('alert')) {
    const text = p.message || p.alert || p.type || e.type;
    if (p.cleared || p.resolved) r.liveAlerts = r.liveAlerts.filter((a) => a !== text);
    else r.liveAlerts = [...new Set([...r.liveAlerts, text])];
  }
  const m = metricsOf(p);
  if (Object.values(m).some((v) => v !== undefined)) {
    r.metrics = { ...r.metrics, ...Object.fromEntries(Object.entries(m).filter(([, v]) => v !== undefined)) };
    if (r.state !== 'online' && e.type !== 'telemetry.connection_closed') r.state = 'online';
    if (S.robotOpen?.id === id && S.robotOpen.charts) {
      const t = (at ?? Date.now()) / 1000;
      for (const key of ['battery', 'cpu', 'latency']) if (m[key] !== undefined) S.robotOpen.charts[key].add(t, m[key]);
      counters.telemetryPoints = (counters.telemetryPoints || 0) + 1;
    }
  }
  mark('agents');
}

let robotsLoaded = false;
async function loadRobots() {
  robotsLoaded = true;
  try {
    const data = await api('GET', '/api/telemetry/robots');
    const list = Array.isArray(data) ? data : (data?.robots || data?.items || []);
    for (const raw of list) {
      const id = raw.robot_id || raw.id;
      if (!id) continue;
      const r = robotEntry(id);
      r.raw = raw;
      r.state = raw.state || raw.status || (raw.connected === false ? 'offline' : r.state);
      const m = metricsOf(raw);
      r.metrics = { ...Object.fromEntries(Object.entries(m).filter(([, v]) => v !== undefined)), ...r.metrics };
      r.lastSeen = Math.max(r.lastSeen || 0, toMs(raw.last_seen ?? raw.last_frame_at ?? raw.updated_at ?? raw.timestamp) || 0) || null;
    }
    S.telemetry = 'available';
  } catch (err) {
    S.telemetry = err.status === 404 ? 'missing' : 'error';
    S.telemetryError = err;
  }
  mark('agents');
}

async function loadSupervisorAgents() {
  try {
    const data = await api('GET', '/api/supervisor/agents');
    const list = Array.isArray(data) ? data : (data?.agents || []);
    for (const a of list) {
      const seen = toMs(a.last_seen ?? a.last_heartbeat);
      if (a.kind === 'robot') {
        const r = robotEntry(a.id);
        r.state = a.state || r.state;
        r.lastSeen = Math.max(r.lastSeen || 0, seen || 0) || null;
      } else {
        const w = S.workers.get(a.id);
        if (w && seen) w.lastSeen = Math.max(w.lastSeen || 0, seen);
        if (!w && a.state) {
          S.workers.set(a.id, { id: a.id, status: a.state, capabilities: { job_types: a.job_types || [], max_concurrent_jobs: a.max_concurrent_jobs }, current_jobs: a.current_jobs || [], lastSeen: seen, reason: a.disconnect_reason });
        }
      }
    }
    mark('agents');
  } catch { /* supervisor not on this server: workers come from the monitor snapshot alone */ }
}

async function loadHealth() {
  try {
    S.health = { state: 'available', data: await api('GET', '/api/supervisor/health') };
  } catch (err) {
    S.health = err.status === 404 ? { state: 'missing', data: null } : { state: 'error', data: err.data, error: err };
  }
  mark('overview');
}

async function openRobot(id) {
  const { TimeChart } = await import('./charts.js');
  closeRobot();
  const host = $('robot-detail');
  host.innerHTML = `<div class="panel inner">
      <div class="toolbar"><h3>Robot ${esc(id)}</h3><button type="button" id="robot-close">Close charts</button></div>
      <p class="muted small" id="robot-note">Loading the last 15 minutes…</p>
      <div class="charts">
        <figure><figcaption>Battery %</figcaption><div class="chart" id="chart-battery"></div></figure>
        <figure><figcaption>CPU %</figcaption><div class="chart" id="chart-cpu"></div></figure>
        <figure><figcaption>Network latency (ms)</figcaption><div class="chart" id="chart-latency"></div></figure>
      </div></div>`;
  $('robot-close').addEventListener('click', () => { closeRobot(); location.hash = '#/agents'; });
  const charts = {
    battery: new TimeChart($('chart-battery'), 'Battery %', '#1f9d55', [0, 100]),
    cpu: new TimeChart($('chart-cpu'), 'CPU %', '#2563eb', [0, 100]),
    latency: new TimeChart($('chart-latency'), 'Latency ms', '#c2410c', null),
  };
  S.robotOpen = { id, charts };
  window.missionHub.chartPoints = () => ({ battery: charts.battery.count, cpu: charts.cpu.count, latency: charts.latency.count });
  const to = Date.now() / 1000;
  const from = to - 15 * 60;
  try {
    const data = await api('GET', `/api/telemetry/robots/${encodeURIComponent(id)}/history?from=${from.toFixed(3)}&to=${to.toFixed(3)}&step=5`);
    const points = Array.isArray(data) ? data : (data?.buckets || data?.points || data?.history || data?.samples || data?.items || []);
    const series = { battery: [], cpu: [], latency: [] };
    for (const point of points) {
      const t = toMs(point.start ?? point.timestamp ?? point.t ?? point.time ?? point.ts ?? point.bucket) / 1000;
      const m = metricsOf(point);
      for (const key of Object.keys(series)) if (m[key] !== undefined) series[key].push([t, m[key]]);
    }
    if (S.robotOpen?.charts !== charts) return;
    for (const key of Object.keys(series)) {
      // Keep live points that arrived while the history loaded.
      const live = charts[key].xs.map((x, i) => [x, charts[key].ys[i]]);
      charts[key].set([...series[key], ...live]);
    }
    $('robot-note').textContent = points.length ? `${points.length} samples from history; live frames are added as they arrive.` : 'No history in the last 15 minutes; live frames are added as they arrive.';
  } catch (err) {
    if (S.robotOpen?.charts !== charts) return;
    $('robot-note').textContent = err.status === 404 ? 'Telemetry history is not available on this server; showing live frames only.' : `Could not load history: ${err.message}`;
  }
}
function closeRobot() {
  if (S.robotOpen?.charts) for (const c of Object.values(S.robotOpen.charts)) c.destroy();
  S.robotOpen = null;
  $('robot-detail').innerHTML = '';
}

// ---------- rendering ----------
let view = 'overview';

function renderFrame() {
  frameRequested = false;
  counters.renders += 1;
  const parts = new Set(dirty);
  dirty.clear();
  if (parts.has('foot')) renderFoot();
  if (parts.has('typeOptions') || parts.has('workerOptions') || parts.has('jobsAll')) renderJobFilterOptions();
  if (view === 'overview' && parts.has('overview')) renderOverview();
  if (view === 'missions' && (parts.has('missions') || parts.has('detail'))) renderMissions(parts);
  if (view === 'jobs' && (parts.has('jobs') || parts.has('jobsAll'))) renderJobs(parts.has('jobsAll'));
  if (view === 'queues' && parts.has('queues')) renderQueues();
  if (view === 'schedules' && parts.has('schedules')) schedules.render();
  if (view === 'agents' && parts.has('agents')) renderAgents();
  if (view === 'events' && (parts.has('events') || parts.has('eventTypes'))) {
    // The log redraws at most 5 times a second: readable, and cheap at hundreds of events a second.
    const since = performance.now() - lastEventsRender;
    if (since < 200 && !parts.has('eventsNow')) {
      if (!eventsTimer) eventsTimer = setTimeout(() => { eventsTimer = null; mark('events', 'eventsNow'); }, 200 - since);
      parts.delete('events');
      if (parts.delete('eventTypes')) dirty.add('eventTypes');
    } else {
      lastEventsRender = performance.now();
      renderEvents(parts);
    }
  }
  // Parts for views not shown stay marked until the view is opened.
  for (const p of parts) if (!rendered(p)) dirty.add(p);
}
function rendered(part) {
  switch (part) {
    case 'overview': return view === 'overview';
    case 'missions': case 'detail': return view === 'missions';
    case 'jobs': case 'jobsAll': return view === 'jobs';
    case 'agents': return view === 'agents';
    case 'queues': return view === 'queues';
    case 'schedules': return view === 'schedules';
    case 'events': case 'eventTypes': return view === 'events';
    default: return true;
  }
}

function renderFoot() {
  $('foot-seq').textContent = `epoch ${counters.epoch ?? '—'} · seq ${counters.lastSeq} · ${counters.eventsApplied} events applied`;
}

function renderOverview() {
  const s = S.stats || {};
  const workersOnline = [...S.workers.values()].filter((w) => !['offline', 'connection_broken'].includes(w.status)).length;
  const card = (label, value, cls = '') => `<div class="card ${cls}"><div class="label">${esc(label)}</div><div class="value" data-stat="${esc(label)}">${esc(value ?? '—')}</div></div>`;
  $('stats-cards').innerHTML = [
    card('Workers online', s.total_workers ?? workersOnline),
    card('Workers busy', s.active_workers),
    card('Jobs pending', s.pending_jobs),
    card('Jobs active', s.active_jobs),
    card('Jobs completed', s.completed_jobs, 'ok'),
    card('Jobs failed', s.failed_jobs, s.failed_jobs > 0 ? 'bad' : ''),
    card('Jobs total', s.total_jobs),
    card('Missions', S.missionStats?.total),
  ].join('');
  const ms = S.missionStats;
  $('mission-stats').innerHTML = ms
    ? MISSION_STATUSES.map((st) => `<a class="stat s-${st.toLowerCase()}" href="#/missions?status=${st}"><span class="n" data-mstat="${st}">${ms.by_status[st] ?? 0}</span><span class="l">${st.toLowerCase()}</span></a>`).join('')
    : `<p class="muted">${S.missionStatsError ? esc(`Mission stats unavailable: ${S.missionStatsError.message}`) : 'Loading…'}</p>`;
  const h = S.health;
  if (h.state === 'missing') $('health').innerHTML = '<p class="note">Supervisor health is not available on this server (no <code>/api/supervisor/health</code>).</p>';
  else if (h.state === 'unknown') $('health').innerHTML = '<p class="muted">Loading…</p>';
  else if (h.state === 'error' && !h.data) $('health').innerHTML = `<p class="error">Health check failed: ${esc(h.error?.message)}</p>`;
  else {
    const d = h.data || {};
    const checks = d.checks || d.components || {};
    const rows = Array.isArray(checks)
      ? checks.map((c) => [c.name || c.check || '?', c.state || c.status || (c.ok ? 'ok' : 'error'), c.detail || c.message || c.error || ''])
      : Object.entries(checks).map(([name, c]) => [name, typeof c === 'string' ? c : (c?.state || c?.status || (c?.ok ? 'ok' : 'error')), typeof c === 'object' ? (c?.detail || c?.message || c?.error || '') : '']);
    $('health').innerHTML = `<p>Overall: ${badge(d.status || 'unknown')} ${d.checked_at || d.timestamp ? `<span class="muted small">checked ${timeTag(toMs(d.checked_at ?? d.timestamp), false)}</span>` : ''}</p>`
      + (rows.length ? `<ul class="checks">${rows.map(([n, st, det]) => `<li>${badge(st)} <strong>${esc(n)}</strong> <span class="muted">${esc(det)}</span></li>`).join('')}</ul>` : '');
  }
  $('mission-activity').innerHTML = S.missionActivity.length
    ? S.missionActivity.map((e) => `<li>${timeTag(toMs(e.timestamp))} <code>${esc(e.type)}</code> <a href="#/missions/${encodeURIComponent(e.payload.mission_id)}">${esc(S.missions.get(e.payload.mission_id)?.name || e.payload.mission_id)}</a> ${missionEventSummary(e)}</li>`).join('')
    : '<li class="muted">No mission events since this page was opened.</li>';
}
function missionEventSummary(e) {
  const p = e.payload;
  if (e.type === 'mission.status_changed') return `${badge(p.old_status)} → ${badge(p.new_status)}`;
  if (e.type === 'mission.log_appended') return `<span class="muted">${esc(p.log_level)}: ${esc(p.message)}</span>`;
  if (e.type === 'mission.created') return badge(p.status || 'PENDING');
  return '';
}

function renderMissions(parts) {
  if (parts.has('missions')) {
    const filter = $('mission-filter').value;
    const all = [...S.missions.values()].filter((m) => !filter || m.status === filter)
      .sort((a, b) => (toMs(b.created_at) ?? 0) - (toMs(a.created_at) ?? 0));
    const shown = all.slice(0, LIST_CAP);
    $('missions-body').innerHTML = shown.length
      ? shown.map((m) => `<tr data-id="${esc(m.id)}" class="${S.open?.id === m.id ? 'selected' : ''}"><td><a href="#/missions/${encodeURIComponent(m.id)}">${esc(m.name)}</a><div class="muted small mono">${esc(m.id)}</div></td><td>${badge(m.status)}</td><td>${timeTag(toMs(m.updated_at), false)}</td></tr>`).join('')
      : `<tr><td colspan="3" class="muted">${S.missionsError ? esc(`Could not load missions: ${S.missionsError.message}`) : 'No missions' + (filter ? ` with status ${filter}` : '') + '.'}</td></tr>`;
    $('missions-note').textContent = all.length > LIST_CAP ? `Showing the newest ${LIST_CAP} of ${all.length}.` : (S.missionsMore ? `Showing the newest ${LIST_CAP} missions loaded at start and every mission created since.` : '');
  }
  renderMissionDetail();
}

function renderMissionDetail() {
  const host = $('mission-detail');
  const o = S.open;
  if (!o) {
    host.innerHTML = '<p class="muted">Select a mission to see its detail and live log.</p>';
    return;
  }
  if (o.error) {
    host.innerHTML = `<h2>Mission <span class="mono">${esc(o.id)}</span></h2><p class="error">${esc(o.error.message)}</p>`;
    return;
  }
  const m = o.mission || S.missions.get(o.id);
  if (!m) {
    host.innerHTML = '<p class="muted">Loading…</p>';
    return;
  }
  const focused = document.activeElement?.dataset?.to;
  const allowed = TRANSITIONS[m.status] || [];
  host.innerHTML = `
    <h2>${esc(m.name)} ${badge(m.status)}</h2>
    <dl class="kv">
      <dt>Id</dt><dd class="mono">${esc(m.id)}</dd>
      ${m.description ? `<dt>Description</dt><dd>${esc(m.description)}</dd>` : ''}
      <dt>Created</dt><dd>${timeTag(toMs(m.created_at))}</dd>
      <dt>Updated</dt><dd>${timeTag(toMs(m.updated_at))}</dd>
    </dl>
    <div class="actions" role="group" aria-label="Change status">
      ${allowed.length ? allowed.map((to) => `<button type="button" class="t-${to.toLowerCase()} needs-operator" data-to="${to}">${to === 'RUNNING' ? 'Start' : to === 'COMPLETED' ? 'Complete' : to === 'FAILED' ? 'Mark failed' : 'Cancel'} <span class="muted small">→ ${to}</span></button>`).join('') : '<span class="muted">Final status: no further transitions.</span>'}
    </div>
    <p class="error" role="alert" ${o.actionError ? '' : 'hidden'}>${esc(o.actionError?.message)}</p>
    <h3>Log <span class="muted small">(live)</span></h3>
    ${o.loading ? '<p class="muted">Loading log…</p>' : `<ol class="log" id="mission-log">${o.log.map((l) => `<li class="lv-${esc(l.level)}">${timeTag(toMs(l.timestamp))} <span class="lvl">${esc(l.level)}</span> <span class="msg">${esc(l.message)}</span>${l.data && Object.keys(l.data).length ? ` <code class="small">${esc(JSON.stringify(l.data))}</code>` : ''}</li>`).join('') || '<li class="muted">No log entries.</li>'}</ol>`}`;
  host.querySelectorAll('button[data-to]').forEach((b) => b.addEventListener('click', () => changeMissionStatus(m.id, b.dataset.to, b)));
  if (focused) host.querySelector(`button[data-to="${focused}"]`)?.focus();
  const log = $('mission-log');
  if (log) log.scrollTop = log.scrollHeight;
}

// ---- jobs: keyed rows, patched in place for progress, lanes rebuilt at most a few times a second ----
const typeOptions = new Set();
const workerOptions = new Set();
function renderJobFilterOptions() {
  let changed = false;
  for (const j of [...S.jobs.values(), ...S.completed, ...S.failed]) {
    if (j.job_type && !typeOptions.has(j.job_type)) { typeOptions.add(j.job_type); changed = true; }
  }
  for (const w of S.workers.keys()) if (!workerOptions.has(w)) { workerOptions.add(w); changed = true; }
  if (!changed) return;
  const fill = (select, values) => {
    const current = select.value;
    select.innerHTML = '<option value="">All</option>' + [...values].sort().map((v) => `<option>${esc(v)}</option>`).join('');
    select.value = current;
  };
  fill($('f-type'), typeOptions);
  fill($('f-worker'), workerOptions);
}

function jobFilter() {
  const type = $('f-type').value;
  const worker = $('f-worker').value;
  const min = $('f-pmin').value === '' ? -Infinity : Number($('f-pmin').value);
  const max = $('f-pmax').value === '' ? Infinity : Number($('f-pmax').value);
  return (j) => (!type || j.job_type === type) && (!worker || j.worker_id === worker) && j.priority >= min && j.priority <= max;
}

const rowCache = new Map(); // job id -> { el, sig }
let lastLaneBuild = 0;
let laneTimer = null;
function renderJobs(structural) {
  if (structural) {
    const since = performance.now() - lastLaneBuild;
    if (since < 150) {
      // Rebuilding lanes is the costly part: at most ~6 times a second, the last change always shown.
      if (!laneTimer) laneTimer = setTimeout(() => { laneTimer = null; mark('jobsAll'); }, 150 - since);
      patchProgress();
      return;
    }
    lastLaneBuild = performance.now();
    buildLanes();
  } else {
    patchProgress();
  }
}

function patchProgress() {
  for (const id of dirtyJobs) {
    const cached = rowCache.get(id);
    const j = S.jobs.get(id);
    if (cached && j) updateRow(cached, j);
  }
  dirtyJobs.clear();
}

function jobSig(j) { return `${j.status}|${j.worker_id}|${j.attempts}|${j.error}|${j.available_ms}|${j.schedule_id}|${j.waiting_for?.length}|${j.cancel_reason}`; }
/** A pending job that may not be handed out yet: a delayed job until its run_at, a failed attempt until its backoff. */
function waitsUntil(j) { return j.status === 'pending' && j.available_ms != null ? j.available_ms : null; }
function jobRow(j) {
  const pct = Math.round((j.progress || 0) * 100);
  const active = j.status === 'assigned' || j.status === 'running';
  const cancellable = j.status === 'pending' || active;
  const when = j.completed_ms ?? j.assigned_ms ?? j.created_ms;
  const waits = waitsUntil(j);
  return `<div class="jhead"><span class="jtype">${esc(j.job_type)}</span> ${badge(j.status)} <span class="prio" title="priority">p${esc(j.priority)}</span></div>
    <div class="muted small mono jid">${esc(j.id)}</div>
    ${active || j.status === 'completed' ? `<div class="bar" role="progressbar" aria-label="progress of ${esc(j.id)}" aria-valuemin="0" aria-valuemax="100" aria-valuenow="${pct}"><span style="width:${pct}%"></span><em>${pct}%</em></div>` : ''}
    <div class="small">${j.worker_id ? `on <span class="mono">${esc(j.worker_id)}</span> · ` : ''}${timeTag(when, false)}${j.attempts > 1 ? ` · attempt ${j.attempts}` : ''}${j.schedule_id ? ` · schedule <a class="mono" href="#/schedules">${esc(j.schedule_id)}</a>` : ''}</div>
    ${waits != null ? `<div class="small runs-at">${untilTag(waits, j.attempts > 0 ? 'retry at' : 'runs at')}</div>` : ''}
    ${j.status === 'pending' && j.waiting_for?.length ? `<div class="small waits-for" title="${esc(j.waiting_for.join(', '))}">waits for ${j.waiting_for.length} job${j.waiting_for.length > 1 ? 's' : ''}</div>` : ''}
    ${j.cancel_reason === 'dependency_failed' ? '<div class="small errtext">a job it depends on failed</div>' : ''}
    ${j.error ? `<div class="small errtext">${esc(j.error)}</div>` : ''}
    ${cancellable ? `<button type="button" class="small-btn needs-operator" data-cancel="${esc(j.id)}">Cancel</button>` : ''}
    ${j.status === 'failed' || j.status === 'cancelled' ? `<button type="button" class="small-btn needs-operator" data-retry="${esc(j.id)}">Retry</button>` : ''}`;
}
function updateRow(cached, j) {
  const sig = jobSig(j);
  if (sig !== cached.sig) {
    cached.el.innerHTML = jobRow(j);
    cached.sig = sig;
    cached.el.dataset.status = j.status;
    cached.el.dataset.waiting = String(waitsUntil(j) != null);
    return;
  }
  const bar = cached.el.querySelector('.bar');
  if (bar) {
    const pct = Math.round((j.progress || 0) * 100);
    bar.firstElementChild.style.width = pct + '%';
    bar.lastElementChild.textContent = pct + '%';
    bar.setAttribute('aria-valuenow', String(pct));
  }
}

function buildLanes() {
  const keep = jobFilter();
  const pending = [];
  const active = [];
  for (const j of S.jobs.values()) {
    if (!keep(j)) continue;
    (j.status === 'pending' ? pending : active).push(j);
  }
  pending.sort((a, b) => b.priority - a.priority || a.created_ms - b.created_ms);
  active.sort((a, b) => (b.assigned_ms ?? 0) - (a.assigned_ms ?? 0));
  const lanes = { pending, active, completed: S.completed.filter(keep), failed: S.failed.filter(keep) };
  const seen = new Set();
  for (const [name, jobs] of Object.entries(lanes)) {
    const list = $('jobs-' + name);
    const shown = jobs.slice(0, LIST_CAP);
    const frag = document.createDocumentFragment();
    for (const j of shown) {
      const key = name + ':' + j.id;
      seen.add(key);
      let cached = rowCache.get(key);
      if (!cached) {
        const el = document.createElement('li');
        el.className = 'job';
        el.dataset.id = j.id;
        el.dataset.status = j.status;
        el.dataset.waiting = String(waitsUntil(j) != null);
        el.innerHTML = jobRow(j);
        cached = { el, sig: jobSig(j) };
        rowCache.set(key, cached);
      } else {
        updateRow(cached, j);
      }
      frag.appendChild(cached.el);
    }
    // Unchanged order (the common case under load): leave the DOM alone.
    const els = [...frag.childNodes];
    const same = list.children.length === els.length && els.every((el, i) => list.children[i] === el);
    if (!same) list.replaceChildren(...els);
    $('c-' + name).textContent = String(jobs.length);
    $('n-' + name).textContent = jobs.length > LIST_CAP ? `Showing ${LIST_CAP} of ${jobs.length}.` : (jobs.length === 0 ? 'None.' : '');
  }
  for (const key of rowCache.keys()) if (!seen.has(key)) rowCache.delete(key);
  // Progress patches find active rows by job id.
  for (const j of active.slice(0, LIST_CAP)) rowCache.set(j.id, rowCache.get('active:' + j.id));
  dirtyJobs.clear();
}

function renderQueues() {
  showError($('queues-error'), S.queuesError ? new Error(`Could not load queues: ${S.queuesError.message}`) : null);
  const focused = document.activeElement?.dataset?.queue;
  const queues = S.queues ? [...S.queues.values()].sort((a, b) => a.job_type.localeCompare(b.job_type)) : [];
  const count = (q, name) => `<td class="num" data-count="${name}">${esc(q[name] ?? 0)}</td>`;
  $('queues-body').innerHTML = queues.length
    ? queues.map((q) => `<tr data-type="${esc(q.job_type)}" data-paused="${q.paused}"><td class="mono">${esc(q.job_type)}</td>
      <td>${q.paused ? `${badge('paused')}${q.paused_at != null ? ` <span class="muted small">${timeTag(toMs(q.paused_at), false)}</span>` : ''}` : badge('dispatching')}</td>
      ${count(q, 'pending')}${count(q, 'active')}${count(q, 'completed')}${count(q, 'failed')}${count(q, 'cancelled')}
      <td class="workers">${(q.workers || []).length ? q.workers.map((w) => `<span class="mono">${esc(w)}</span>`).join(', ') : '<span class="muted">none connected</span>'}</td>
      <td class="needs-operator"><button type="button" class="small-btn needs-operator" data-queue="${esc(q.job_type)}" data-pause="${!q.paused}" ${queueLoad.busy.has(q.job_type) ? 'disabled' : ''}>${q.paused ? 'Resume' : 'Pause'}</button></td></tr>`).join('')
    : `<tr><td colspan="9" class="muted">${S.queues ? 'No job types yet: one appears when a job of it is submitted, or a worker that takes it connects.' : (S.queuesError ? 'Not loaded.' : 'Loading…')}</td></tr>`;
  if (focused) $('queues-body').querySelector(`button[data-queue="${focused}"]`)?.focus();
}

function renderAgents() {
  const workers = [...S.workers.values()].sort((a, b) => a.id.localeCompare(b.id));
  $('workers-body').innerHTML = workers.length
    ? workers.map((w) => `<tr data-id="${esc(w.id)}"><td class="mono">${esc(w.id)}</td><td>${badge(w.status)}${w.reason ? ` <span class="muted small">${esc(w.reason)}</span>` : ''}</td><td>${esc((w.capabilities?.job_types || []).join(', '))}</td><td>${(w.current_jobs || []).length}/${esc(w.capabilities?.max_concurrent_jobs ?? '?')}</td><td>${timeTag(w.lastSeen)}</td></tr>`).join('')
    : '<tr><td colspan="5" class="muted">No workers connected. Start one with the .NET client or any WebSocket client on <code>/ws/worker</code>.</td></tr>';
  const host = $('robots');
  if (S.telemetry === 'missing' && S.robots.size === 0) {
    host.innerHTML = '<p class="note">Robot telemetry is not available on this server (no <code>/api/telemetry/robots</code>). Workers above are live from the monitor stream.</p>';
    return;
  }
  if (S.telemetry === 'error' && S.robots.size === 0) {
    host.innerHTML = `<p class="error">Could not load robots: ${esc(S.telemetryError?.message)}</p>`;
    return;
  }
  if (S.telemetry === 'unknown' && S.robots.size === 0) {
    host.innerHTML = '<p class="muted">Loading…</p>';
    return;
  }
  const robots = [...S.robots.values()].sort((a, b) => a.id.localeCompare(b.id));
  const fmt = (v, unit) => (v === undefined ? '—' : `${v.toFixed(unit === 'ms' ? 1 : 0)} ${unit}`);
  host.innerHTML = robots.length
    ? `<ul class="robots">${robots.map((r) => {
      const alerts = alertsOf(r);
      return `<li class="robot ${alerts.length ? 'alerting' : ''}" data-id="${esc(r.id)}">
        <div class="jhead"><strong class="mono">${esc(r.id)}</strong> ${badge(r.state)}</div>
        <div class="metrics"><span>Battery <b>${fmt(r.metrics.battery, '%')}</b></span><span>CPU <b>${fmt(r.metrics.cpu, '%')}</b></span><span>Latency <b>${fmt(r.metrics.latency, 'ms')}</b></span></div>
        ${alerts.length ? `<ul class="alerts" aria-label="Active alerts">${alerts.map((a) => `<li>⚠ ${esc(a)}</li>`).join('')}</ul>` : ''}
        <div class="small muted">Last seen ${timeTag(r.lastSeen)}</div>
        <a class="btnlink" href="#/agents/${encodeURIComponent(r.id)}">Charts</a>
      </li>`;
    }).join('')}</ul>`
    : '<p class="muted">No robots have connected.</p>';
}

// ---- event log ----
let lastEventsRender = 0;
let eventsTimer = null;
const eventLog = { paused: false, newWhilePaused: 0, selected: null };
function eventMatcher() {
  const f = $('ev-filter').value.trim();
  if (!f) return () => true;
  const patterns = f.split(',').map((p) => p.trim()).filter(Boolean);
  return (e) => patterns.some((p) => (p.endsWith('*') ? e.type.startsWith(p.slice(0, -1)) : e.type === p || e.type.includes(p)));
}
function eventSummary(e) {
  const p = isEnvelope(e) ? e.payload : e;
  const bits = [];
  for (const k of ['mission_id', 'job_id', 'worker_id', 'robot_id', 'new_status', 'status', 'progress', 'message', 'error']) {
    if (p[k] !== undefined && p[k] !== null && typeof p[k] !== 'object') bits.push(`${k}=${k === 'progress' ? Math.round(p[k] * 100) + '%' : p[k]}`);
  }
  return bits.join(' ');
}
function renderEvents(parts) {
  if (parts.has('eventTypes')) $('ev-types').innerHTML = [...S.eventTypes].sort().map((t) => `<option value="${esc(t)}">`).join('');
  if (eventLog.paused) {
    $('ev-note').textContent = `Paused · ${eventLog.newWhilePaused} new events not shown`;
    return;
  }
  const filter = $('ev-filter').value.trim();
  const match = eventMatcher();
  const list = $('events');
  const newest = S.events.length ? S.events[S.events.length - 1].seq : 0;
  const row = (e) => `<li><button type="button" class="ev ${eventLog.selected === e.seq ? 'selected' : ''}" data-seq="${e.seq}">
      <span class="seq mono">#${e.seq}</span> <span class="etype">${esc(e.type)}</span>
      <span class="muted small">${esc(localTime(eventMs(e)))}</span>
      <span class="sum small">${esc(eventSummary(e))}</span></button></li>`;
  if (eventLog.drawnFilter === filter && eventLog.drawnUpTo != null && S.events.length && S.events[0].seq <= eventLog.drawnUpTo + 1) {
    // Only what is new goes in at the top; the oldest rows fall off the bottom.
    const fresh = [];
    for (let i = S.events.length - 1; i >= 0 && S.events[i].seq > eventLog.drawnUpTo && fresh.length < EVENTS_SHOWN; i--) if (match(S.events[i])) fresh.push(S.events[i]);
    if (fresh.length) {
      if (list.firstElementChild && !list.firstElementChild.querySelector('button')) list.replaceChildren();
      list.insertAdjacentHTML('afterbegin', fresh.map(row).join(''));
      while (list.children.length > EVENTS_SHOWN) list.lastElementChild.remove();
    }
  } else {
    const shown = [];
    for (let i = S.events.length - 1; i >= 0 && shown.length < EVENTS_SHOWN; i--) if (match(S.events[i])) shown.push(S.events[i]);
    list.innerHTML = shown.map(row).join('') || '<li class="muted">No events yet.</li>';
  }
  eventLog.drawnFilter = filter;
  eventLog.drawnUpTo = newest;
  $('ev-note').textContent = `${list.querySelectorAll('button').length} shown (newest ${EVENTS_SHOWN} on screen, ${S.events.length} in memory)`;
}
function showEvent(seq) {
  const e = S.events.find((x) => x.seq === seq);
  eventLog.selected = seq;
  $('event-detail').innerHTML = e
    ? `<h2><span class="mono">#${e.seq}</span> ${esc(e.type)}</h2><p class="muted small">${esc(new Date(eventMs(e)).toLocaleString())} · ${isEnvelope(e) ? 'Charter envelope' : 'hub event (flat, spec 003 §1)'}</p><pre class="json" tabindex="0">${esc(JSON.stringify(e, null, 2))}</pre>`
    : '<p class="muted">That event is no longer in memory.</p>';
  document.querySelectorAll('#events .ev.selected').forEach((b) => b.classList.remove('selected'));
  document.querySelector(`#events .ev[data-seq="${seq}"]`)?.classList.add('selected');
}

// "Retry all" / "Purge all" of the Failed column: every failed job (status=failed, on the server, not only the ones
// this page holds) of the job type and worker filters; the priority filter has no server-side counterpart.
async function bulkFailed(action, button) {
  const type = $('f-type').value;
  const worker = $('f-worker').value;
  const query = new URLSearchParams({ status: 'failed' });
  if (type) query.set('job_type', type);
  if (worker) query.set('worker', worker);
  const shown = S.failed.filter((j) => j.status === 'failed' && (!type || j.job_type === type) && (!worker || j.worker_id === worker)).length;
  const scope = [type && `job type ${type}`, worker && `worker ${worker}`].filter(Boolean).join(', ');
  const priority = $('f-pmin').value !== '' || $('f-pmax').value !== '';
  const text = `${action === 'retry' ? 'Retry' : 'Purge (delete for good)'} every failed job${scope ? ` of ${scope}` : ''}?`
    + ` This page shows ${shown}; the server acts on all that match.${priority ? ' The priority filter does not apply here.' : ''}`;
  if (!window.confirm(text)) return;
  button.disabled = true;
  const result = $('job-action-result');
  try {
    const answer = await api('POST', `/api/jobs/${action}?${query}`);
    showError($('job-action-error'), null);
    const n = action === 'retry' ? answer.retried : answer.purged;
    result.textContent = `${action === 'retry' ? 'Retried' : 'Purged'} ${n} job${n === 1 ? '' : 's'}${scope ? ` (${scope})` : ''}.`;
    result.hidden = false;
  } catch (err) {
    result.hidden = true;
    showError($('job-action-error'), new Error(`${action === 'retry' ? 'Retry all' : 'Purge all'}: ${err.message}`));
  }
  button.disabled = false;
}

// ---------- routing ----------
function route() {
  const hash = location.hash || '#/overview';
  const [path, query] = hash.slice(2).split('?');
  const [name, arg] = path.split('/').map(decodeURIComponent);
  view = ['overview', 'missions', 'jobs', 'queues', 'schedules', 'agents', 'events'].includes(name) ? name : 'overview';
  document.querySelectorAll('.view').forEach((v) => { v.hidden = v.dataset.view !== view; });
  document.querySelectorAll('nav a').forEach((a) => {
    if (a.dataset.view === view) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  });
  document.title = `MissionHub · ${view[0].toUpperCase()}${view.slice(1)}`;
  if (view === 'missions') {
    const status = new URLSearchParams(query || '').get('status');
    if (status !== null) $('mission-filter').value = status;
    if (arg) openMission(arg);
  }
  if (view === 'agents') {
    if (!robotsLoaded) { loadRobots(); loadSupervisorAgents(); }
    if (arg && S.robotOpen?.id !== arg) openRobot(arg);
    if (!arg && S.robotOpen) closeRobot();
  }
  if (view === 'jobs') lastLaneBuild = 0;
  if (view === 'queues' && (S.queuesStale || S.queuesError)) scheduleQueuesLoad(); // a failed read is retried on the next event or visit, not on a timer
  schedules.show(view === 'schedules');
  mark('overview', 'missions', 'detail', 'jobsAll', 'queues', 'schedules', 'agents', 'events', 'eventTypes', 'foot');
}

// ---------- connection banner ----------
let connDetail = {};
function onState(state, detail) {
  connDetail = detail;
  const conn = $('conn');
  conn.dataset.state = state;
  conn.className = `conn conn-${state}`;
  const banner = $('banner');
  if (state === 'live') {
    $('conn-text').textContent = 'Live';
    banner.hidden = true;
  } else if (state === 'connecting') {
    $('conn-text').textContent = 'Connecting…';
  } else if (state === 'resyncing') {
    $('conn-text').textContent = 'Catching up…';
    banner.hidden = false;
    banner.className = 'banner warn';
    banner.textContent = `Catching up on missed events (${detail.why || 'resync'})…`;
  } else if (state === 'reconnecting') {
    recheckIdentity();
    $('conn-text').textContent = 'Reconnecting…';
    banner.hidden = false;
    banner.className = 'banner bad';
    updateReconnectBanner();
  } else {
    $('conn-text').textContent = state;
  }
}
function updateReconnectBanner() {
  if (counters.connection !== 'reconnecting') return;
  const d = connDetail;
  const wait = d.retryAt ? Math.max(0, Math.ceil((d.retryAt - Date.now()) / 1000)) : 0;
  $('banner').textContent = `Connection to the hub lost — reconnecting${d.attempt ? ` (attempt ${d.attempt}${wait ? `, next try in ${wait} s` : ''})` : ''}. What you see is as of seq ${counters.lastSeq}; missed events will be caught up.`;
}

// ---------- wiring ----------
function wire() {
  window.addEventListener('hashchange', route);
  $('mission-filter').addEventListener('change', () => mark('missions'));
  $('mission-create').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const form = ev.currentTarget;
    const body = { name: form.name.value.trim() };
    if (form.id.value.trim()) body.id = form.id.value.trim();
    if (form.description.value.trim()) body.description = form.description.value.trim();
    const button = form.querySelector('button[type=submit]');
    button.disabled = true;
    try {
      const mission = await api('POST', '/api/missions', body);
      showError($('mission-create-error'), null);
      if (!S.missions.has(mission.id)) S.missions.set(mission.id, mission);
      form.reset();
      location.hash = `#/missions/${encodeURIComponent(mission.id)}`;
    } catch (err) {
      showError($('mission-create-error'), err);
    }
    button.disabled = false;
  });
  $('job-submit').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const form = ev.currentTarget;
    const errorEl = $('job-submit-error');
    let payload;
    try {
      payload = form.payload.value.trim() ? JSON.parse(form.payload.value) : {};
    } catch (err) {
      showError(errorEl, new Error(`Payload is not valid JSON: ${err.message}`));
      return;
    }
    const body = { job_type: form.job_type.value.trim(), priority: Number(form.priority.value || 0), payload };
    if (form.workflow_id.value.trim()) body.workflow_id = form.workflow_id.value.trim();
    const button = form.querySelector('button[type=submit]');
    button.disabled = true;
    try {
      await api('POST', '/api/jobs', body);
      showError(errorEl, null);
    } catch (err) {
      showError(errorEl, err);
    }
    button.disabled = false;
  });
  for (const id of ['f-type', 'f-worker', 'f-pmin', 'f-pmax']) $(id).addEventListener('input', () => { lastLaneBuild = 0; mark('jobsAll'); });
  $('f-clear').addEventListener('click', () => {
    for (const id of ['f-type', 'f-worker', 'f-pmin', 'f-pmax']) $(id).value = '';
    lastLaneBuild = 0;
    mark('jobsAll');
  });
  document.querySelector('.lanes').addEventListener('click', async (ev) => {
    const bulk = ev.target.closest('button[data-bulk]');
    if (bulk) {
      bulkFailed(bulk.dataset.bulk, bulk);
      return;
    }
    const button = ev.target.closest('button[data-cancel], button[data-retry]');
    if (!button) return;
    const [action, id] = button.dataset.cancel !== undefined ? ['cancel', button.dataset.cancel] : ['retry', button.dataset.retry];
    button.disabled = true;
    $('job-action-result').hidden = true;
    try {
      await api('POST', `/api/jobs/${encodeURIComponent(id)}/${action}`);
      showError($('job-action-error'), null);
    } catch (err) {
      showError($('job-action-error'), new Error(`${action === 'cancel' ? 'Cancel' : 'Retry'} ${id}: ${err.message}`));
      button.disabled = false;
    }
  });
  $('queues-body').addEventListener('click', (ev) => {
    const button = ev.target.closest('button[data-queue]');
    if (button) changeQueue(button.dataset.queue, button.dataset.pause === 'true', button);
  });
  schedules.wire();
  $('ev-filter').addEventListener('input', () => mark('events', 'eventsNow'));
  $('ev-pause').addEventListener('click', (ev) => {
    eventLog.paused = !eventLog.paused;
    eventLog.newWhilePaused = 0;
    ev.currentTarget.setAttribute('aria-pressed', String(eventLog.paused));
    ev.currentTarget.textContent = eventLog.paused ? 'Resume' : 'Pause';
    mark('events', 'eventsNow');
  });
  $('ev-clear').addEventListener('click', () => {
    S.events = [];
    eventLog.newWhilePaused = 0;
    eventLog.drawnUpTo = null;
    mark('events', 'eventsNow');
  });
  $('events').addEventListener('click', (ev) => {
    const button = ev.target.closest('button[data-seq]');
    if (button) showEvent(Number(button.dataset.seq));
  });
  // "x s ago" and "in x s" stay true without re-rendering the views.
  setInterval(() => {
    const visible = document.querySelector('.view:not([hidden])');
    visible?.querySelectorAll('time[data-ts] .ago').forEach((el) => { el.textContent = ago(Number(el.parentElement.dataset.ts)); });
    visible?.querySelectorAll('time[data-until] .in').forEach((el) => { el.textContent = until(Number(el.parentElement.dataset.until)); });
    updateReconnectBanner();
  }, 1000);
}

const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
const client = new MonitorClient({
  url: `${scheme}//${location.host}/ws/monitor`, onSnapshot, onEvents, onState, counters,
  onTopicsUnavailable: (topics) => { if (topics.includes('schedules')) schedules.topicUnavailable(); },
});
counters.client = client;
// For tests and the bench: the seqs of the events this page has applied (the newest EVENTS_KEPT).
counters.seqs = () => S.events.map((e) => e.seq);
counters.queues = () => (S.queues ? [...S.queues.values()] : null);
counters.queuesSettled = () => !queueLoad.inFlight && !queueLoad.timer && !S.queuesStale;
counters.jobCounts = () => {
  let pending = 0;
  for (const j of S.jobs.values()) if (j.status === 'pending') pending += 1;
  return { pending, active: S.jobs.size - pending, completed: S.completed.length, failed: S.failed.length };
};
// ---------- who is signed in ----------
// The server decides (and refuses what a role may not do); the page only hides what would be refused.
async function whoAmI() {
  try {
    return await api('GET', '/api/auth/me');
  } catch {
    return { authenticated: false, protected_mode: false, roles: [], via: 'none' };
  }
}
function showSignIn() {
  document.body.classList.add('signed-out');
  $('signin').hidden = false;
  $('signin-form').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const form = ev.currentTarget;
    const button = form.querySelector('button[type=submit]');
    button.disabled = true;
    try {
      await api('POST', '/api/auth/session', { key: form.key.value.trim() });
      form.reset();
      location.reload();
    } catch (err) {
      showError($('signin-error'), err);
      button.disabled = false;
    }
  });
  $('signin-form').key.focus();
}
// A socket closed because the session's key was revoked or expired: back to the sign-in page.
let identityCheck = null;
function recheckIdentity() {
  if (identityCheck || counters.identity?.via !== 'cookie') return;
  identityCheck = whoAmI().then((now) => {
    identityCheck = null;
    if (!now.authenticated) location.reload();
  });
}
function applyIdentity(me) {
  const roles = new Set(me.roles || []);
  document.body.classList.toggle('can-operate', roles.has('operator') || roles.has('admin'));
  document.body.dataset.roles = [...roles].join(' ');
  $('who').hidden = false;
  $('who-name').textContent = me.via === 'protected_mode' ? 'local (protected mode)' : `${me.actor ?? 'signed in'} · ${[...roles].join(', ')}`;
  $('signout').hidden = me.via !== 'cookie';
  $('signout').addEventListener('click', async () => {
    try { await api('DELETE', '/api/auth/session'); } finally { location.reload(); }
  });
}

const me = await whoAmI();
counters.identity = me;
if (!me.authenticated) {
  showSignIn();
} else {
  applyIdentity(me);
  wire();
  route();
  loadHealth();
  client.start();
}
