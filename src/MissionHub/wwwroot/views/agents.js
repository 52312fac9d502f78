// The Agents view: workers (from the monitor stream), robots (telemetry list once, then the stream) and one robot's
// charts (its history once, then live frames).
import * as rest from '../api.js';
import { $, counters, mark, page } from '../page.js';
import { metricsOf } from '../store.js';
import { badge, esc, timeTag, toMs } from '../ui.js';

const tele = { state: 'unknown', error: null, loaded: false }; // 'unknown' | 'available' | 'missing' | 'error'
let robotOpen = null; // { id, charts }
export const openRobotId = () => robotOpen?.id ?? null;

/** The first visit reads the robots and the supervisor's agents; the stream keeps them from then on. */
export function shown(arg) {
  if (!tele.loaded) { loadRobots(); loadSupervisorAgents(); }
  if (arg && robotOpen?.id !== arg) openRobot(arg);
  if (!arg && robotOpen) closeRobot();
}

async function loadRobots() {
  tele.loaded = true;
  const s = page.live;
  try {
    const data = await rest.robots();
    const list = Array.isArray(data) ? data : (data?.robots || data?.items || []);
    for (const raw of list) {
      const id = raw.robot_id || raw.id;
      if (!id) continue;
      const r = s.robot(id);
      r.raw = raw;
      r.state = raw.state || raw.status || (raw.connected === false ? 'offline' : r.state);
      r.metrics = { ...Object.fromEntries(Object.entries(metricsOf(raw)).filter(([, v]) => v !== undefined)), ...r.metrics };
      r.lastSeen = Math.max(r.lastSeen || 0, toMs(raw.last_seen ?? raw.last_frame_at ?? raw.updated_at ?? raw.timestamp) || 0) || null;
    }
    tele.state = 'available';
  } catch (err) {
    tele.state = err.status === 404 ? 'missing' : 'error';
    tele.error = err;
  }
  mark('agents');
}

async function loadSupervisorAgents() {
  const s = page.live;
  try {
    const data = await rest.supervisorAgents();
    for (const a of Array.isArray(data) ? data : (data?.agents || [])) {
      const seen = toMs(a.last_seen ?? a.last_heartbeat);
      if (a.kind === 'robot') {
        const r = s.robot(a.id);
        r.state = a.state || r.state;
        r.lastSeen = Math.max(r.lastSeen || 0, seen || 0) || null;
      } else {
        const w = s.workers.get(a.id);
        if (w && seen) w.lastSeen = Math.max(w.lastSeen || 0, seen);
        if (!w && a.state) {
          s.workers.set(a.id, { id: a.id, status: a.state, capabilities: { job_types: a.job_types || [], max_concurrent_jobs: a.max_concurrent_jobs }, current_jobs: a.current_jobs || [], lastSeen: seen, reason: a.disconnect_reason });
        }
      }
    }
    mark('agents');
  } catch { /* supervisor not on this server: workers come from the monitor snapshot alone */ }
}

/** A live telemetry event (the store has applied it): the open robot's charts get its point. */
export function onEvent(e) {
  const p = e.payload;
  if (!robotOpen?.charts || !e.type?.startsWith('telemetry.') || p?.robot_id !== robotOpen.id) return;
  const m = metricsOf(p);
  const t = (toMs(p.published_at ?? p.received_at ?? p.timestamp ?? e.timestamp) ?? Date.now()) / 1000;
  let added = false;
  for (const key of ['battery', 'cpu', 'latency']) if (m[key] !== undefined) { robotOpen.charts[key].add(t, m[key]); added = true; }
  if (added) counters.telemetryPoints = (counters.telemetryPoints || 0) + 1;
}

async function openRobot(id) {
  const { TimeChart } = await import('../charts.js');
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
  robotOpen = { id, charts };
  counters.chartPoints = () => ({ battery: charts.battery.count, cpu: charts.cpu.count, latency: charts.latency.count });
  const to = Date.now() / 1000;
  try {
    const data = await rest.robotHistory(id, to - 15 * 60, to);
    const points = Array.isArray(data) ? data : (data?.buckets || data?.points || data?.history || data?.samples || data?.items || []);
    const series = { battery: [], cpu: [], latency: [] };
    for (const point of points) {
      const t = toMs(point.start ?? point.timestamp ?? point.t ?? point.time ?? point.ts ?? point.bucket) / 1000;
      const m = metricsOf(point);
      for (const key of Object.keys(series)) if (m[key] !== undefined) series[key].push([t, m[key]]);
    }
    if (robotOpen?.charts !== charts) return;
    for (const key of Object.keys(series)) {
      const live = charts[key].xs.map((x, i) => [x, charts[key].ys[i]]); // live points that arrived while the history loaded
      charts[key].set([...series[key], ...live]);
    }
    $('robot-note').textContent = points.length ? `${points.length} samples from history; live frames are added as they arrive.` : 'No history in the last 15 minutes; live frames are added as they arrive.';
  } catch (err) {
    if (robotOpen?.charts !== charts) return;
    $('robot-note').textContent = err.status === 404 ? 'Telemetry history is not available on this server; showing live frames only.' : `Could not load history: ${err.message}`;
  }
}

function closeRobot() {
  if (robotOpen?.charts) for (const c of Object.values(robotOpen.charts)) c.destroy();
  robotOpen = null;
  $('robot-detail').innerHTML = '';
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

export function render() {
  const s = page.store;
  const workers = [...s.workers.values()].sort((a, b) => a.id.localeCompare(b.id));
  $('workers-body').innerHTML = workers.length
    ? workers.map((w) => `<tr data-id="${esc(w.id)}" data-status="${esc(w.status)}" data-jobs="${esc([...(w.current_jobs || [])].sort().join(' '))}"><td class="mono"><button type="button" class="linkish mono" data-follow-worker="${esc(w.id)}" title="Follow what this worker did">${esc(w.id)}</button></td><td>${badge(w.status)}${w.reason ? ` <span class="muted small">${esc(w.reason)}</span>` : ''}</td><td>${esc((w.capabilities?.job_types || []).join(', '))}</td><td>${(w.current_jobs || []).length}/${esc(w.capabilities?.max_concurrent_jobs ?? '?')}</td><td>${timeTag(w.lastSeen)}</td></tr>`).join('')
    : `<tr><td colspan="5" class="muted">${page.historic ? 'No workers at this seq.' : 'No workers connected. Start one with the .NET client or any WebSocket client on <code>/ws/worker</code>.'}</td></tr>`;
  const host = $('robots');
  if (!page.historic && s.robots.size === 0 && tele.state !== 'available') {
    host.innerHTML = tele.state === 'missing'
      ? '<p class="note">Robot telemetry is not available on this server (no <code>/api/telemetry/robots</code>). Workers above are live from the monitor stream.</p>'
      : tele.state === 'error' ? `<p class="error">Could not load robots: ${esc(tele.error?.message)}</p>` : '<p class="muted">Loading…</p>';
    return;
  }
  const robots = [...s.robots.values()].sort((a, b) => a.id.localeCompare(b.id));
  const fmt = (v, unit) => (v === undefined ? '—' : `${v.toFixed(unit === 'ms' ? 1 : 0)} ${unit}`);
  host.innerHTML = robots.length
    ? `<ul class="robots">${robots.map((r) => {
      const alerts = alertsOf(r);
      return `<li class="robot ${alerts.length ? 'alerting' : ''}" data-id="${esc(r.id)}" data-status="${esc(r.state)}">
        <div class="jhead"><strong class="mono">${esc(r.id)}</strong> ${badge(r.state)}</div>
        <div class="metrics"><span>Battery <b>${fmt(r.metrics.battery, '%')}</b></span><span>CPU <b>${fmt(r.metrics.cpu, '%')}</b></span><span>Latency <b>${fmt(r.metrics.latency, 'ms')}</b></span></div>
        ${alerts.length ? `<ul class="alerts" aria-label="Active alerts">${alerts.map((a) => `<li>⚠ ${esc(a)}</li>`).join('')}</ul>` : ''}
        <div class="small muted">Last seen ${timeTag(r.lastSeen)}</div>
        <a class="btnlink" href="#/agents/${encodeURIComponent(r.id)}">Charts</a>
      </li>`;
    }).join('')}</ul>`
    : `<p class="muted">${page.historic ? 'No robots at this seq.' : 'No robots have connected.'}</p>`;
}
