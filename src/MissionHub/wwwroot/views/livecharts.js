// Live charts on the Overview, fed by the events the page applies (no polling): jobs submitted / completed / failed per
// second, queue depth (pending jobs) per job type, event rate by source, and robot battery and CPU per robot. Every
// point is filed under its event's own time, so the events a resync brings after a reconnect fill the seconds they
// happened in: no gap. The only REST reads are the robots' telemetry history, once, when the charts start.
import * as rest from '../api.js';
import { $, counters, page } from '../page.js';
import { flat, isEnvelope, metricsOf, toMs } from '../store.js';

const WINDOW_S = 300;            // seconds on screen
const ROBOTS_CHARTED = 8;
const DEPTH_EVENTS = new Set(['job_submitted', 'job_assigned', 'job_status_changed', 'jobs_purged']);
const rates = new Map();         // second -> { submitted, completed, failed, sources: { source: n } }
const depth = new Map();         // second -> { job_type: pending } (the last value in that second)
const robots = new Map();        // robot id -> { battery: Map(second -> v), cpu: Map(second -> v) }
const totals = { events: 0, submitted: 0, completed: 0, failed: 0, draws: 0 };
let charts = null;

const bucket = (second) => {
  let b = rates.get(second);
  if (!b) rates.set(second, (b = { submitted: 0, completed: 0, failed: 0, sources: {} }));
  return b;
};

/** One live event, after the live store applied it. */
export function onEvent(event) {
  const e = flat(event);
  const ms = isEnvelope(e) ? toMs(e.timestamp) : e.timestamp;
  if (ms == null) return;
  const second = Math.floor(ms / 1000);
  const b = bucket(second);
  const source = isEnvelope(e) ? e.source : 'hub';
  b.sources[source] = (b.sources[source] || 0) + 1;
  totals.events += 1;
  if (e.type === 'job_submitted') { b.submitted += 1; totals.submitted += 1; if (e.job_data?.job_type) jobTypes.add(e.job_data.job_type); }
  else if (e.type === 'job_completed') { b.completed += 1; totals.completed += 1; }
  else if (e.type === 'job_failed') { b.failed += 1; totals.failed += 1; }
  if (DEPTH_EVENTS.has(e.type)) depth.set(second, pendingByType());
  if (e.type === 'telemetry.metrics_published') robotPoint(e.payload?.robot_id, second, metricsOf(e.payload));
}

const jobTypes = new Set(); // every job type seen: a queue drained to 0 is still charted
function pendingByType() {
  const counts = Object.fromEntries([...jobTypes].map((t) => [t, 0]));
  for (const j of page.live.jobs.values()) {
    if (!(j.job_type in counts)) jobTypes.add(j.job_type);
    if (j.status === 'pending') counts[j.job_type] = (counts[j.job_type] || 0) + 1;
    else counts[j.job_type] ??= 0;
  }
  return counts;
}

function robotPoint(id, second, m) {
  if (!id || (m.battery === undefined && m.cpu === undefined)) return;
  let r = robots.get(id);
  if (!r) {
    if (robots.size >= ROBOTS_CHARTED) return;
    robots.set(id, (r = { battery: new Map(), cpu: new Map() }));
  }
  if (m.battery !== undefined) r.battery.set(second, m.battery);
  if (m.cpu !== undefined) r.cpu.set(second, m.cpu);
}

async function loadRobotHistory() {
  try {
    const data = await rest.robots();
    const list = (Array.isArray(data) ? data : (data?.robots || data?.items || [])).slice(0, ROBOTS_CHARTED);
    const to = Date.now() / 1000;
    await Promise.all(list.map(async (raw) => {
      const id = raw.robot_id || raw.id;
      if (!id) return;
      try {
        const history = await rest.robotHistory(id, to - WINDOW_S, to);
        const points = Array.isArray(history) ? history : (history?.buckets || history?.points || history?.history || history?.samples || []);
        for (const p of points) robotPoint(id, Math.floor(toMs(p.start ?? p.timestamp ?? p.t ?? p.time ?? p.ts ?? p.bucket) / 1000), metricsOf(p));
      } catch { /* no history for this robot: live points only */ }
    }));
  } catch { /* telemetry not on this server */ }
}

/** Draws the charts into #live-charts and keeps them current (a redraw a second, from memory). */
export async function start() {
  const { MultiChart } = await import('../charts.js');
  const host = $('live-charts');
  host.innerHTML = [
    ['jobs', 'Jobs per second'], ['depth', 'Queue depth (pending) per job type'], ['sources', 'Events per second by source'],
    ['battery', 'Robot battery % per robot'], ['cpu', 'Robot CPU % per robot'],
  ].map(([id, label]) => `<figure><figcaption id="lc-${id}-label">${label}</figcaption><div class="chart" id="lc-${id}" role="img" aria-labelledby="lc-${id}-label"></div></figure>`).join('');
  charts = {
    jobs: new MultiChart($('lc-jobs')), depth: new MultiChart($('lc-depth')), sources: new MultiChart($('lc-sources')),
    battery: new MultiChart($('lc-battery'), { range: [0, 100] }), cpu: new MultiChart($('lc-cpu'), { range: [0, 100] }),
  };
  counters.liveCharts = () => ({ ...totals, series: Object.fromEntries(Object.entries(charts).map(([k, c]) => [k, [...c.names]])) });
  counters.submittedBySecond = () => Object.fromEntries([...rates].filter(([, b]) => b.submitted).map(([second, b]) => [second, b.submitted]));
  await loadRobotHistory();
  draw();
  setInterval(draw, 1000);
}

function draw() {
  if (!charts || page.view !== 'overview' || document.hidden) return;
  const now = Math.floor(Date.now() / 1000);
  const from = now - WINDOW_S;
  for (const map of [rates, depth]) for (const s of map.keys()) if (s < from - 60) map.delete(s);
  const xs = [];
  for (let s = from; s <= now; s++) xs.push(s);
  const col = (f) => xs.map((s) => f(rates.get(s)));
  charts.jobs.set(xs, { submitted: col((b) => b?.submitted ?? 0), completed: col((b) => b?.completed ?? 0), failed: col((b) => b?.failed ?? 0) });
  const sources = new Set();
  for (const b of rates.values()) for (const src of Object.keys(b.sources)) sources.add(src);
  charts.sources.set(xs, Object.fromEntries([...sources].sort().map((src) => [src, col((b) => b?.sources[src] ?? 0)])));
  // Depth carries forward from the last second that changed it.
  const types = new Set();
  for (const d of depth.values()) for (const t of Object.keys(d)) types.add(t);
  const seconds = [...depth.keys()].sort((a, b) => a - b);
  let last = {};
  for (const s of seconds) if (s < from) last = depth.get(s);
  const depthCols = Object.fromEntries([...types].sort().map((t) => [t, []]));
  for (const s of xs) {
    if (depth.has(s)) last = depth.get(s);
    for (const t of types) depthCols[t].push(last[t] ?? 0);
  }
  charts.depth.set(xs, depthCols);
  for (const key of ['battery', 'cpu']) {
    charts[key].set(xs, Object.fromEntries([...robots].map(([id, r]) => [id, xs.map((s) => r[key].get(s) ?? null)])));
  }
  totals.draws += 1;
}
