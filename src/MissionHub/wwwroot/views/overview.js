// The Overview: the hub's counters, job counts by status, mission stats, supervisor health and recent mission activity.
import * as rest from '../api.js';
import { $, mark, page } from '../page.js';
import { badge, esc, timeTag, toMs } from '../ui.js';

const MISSION_STATUSES = ['PENDING', 'RUNNING', 'COMPLETED', 'FAILED', 'CANCELLED'];
const JOB_STATUSES = ['pending', 'assigned', 'running', 'completed', 'failed', 'cancelled'];
const OFFLINE = ['offline', 'connection_broken'];

export const health = { state: 'unknown', data: null, error: null };

export async function loadHealth() {
  try {
    Object.assign(health, { state: 'available', data: await rest.health(), error: null });
  } catch (err) {
    Object.assign(health, err.status === 404 ? { state: 'missing', data: null } : { state: 'error', data: err.data, error: err });
  }
  mark('overview');
}

/** supervisor.health_checked: the overall status changes live. */
export function onEvent(e) {
  if (e.type === 'supervisor.health_checked' && e.payload?.status) {
    Object.assign(health, { state: 'available', data: { ...(health.data || {}), status: e.payload.status, checked_at: e.payload.checked_at } });
    mark('overview');
  }
}

/** The system_stats cards, as the hub says them live, or as the store holds them when looking at the past. */
function stats(s) {
  const counts = s.counts();
  const workers = [...s.workers.values()];
  if (!page.historic && s.stats) return s.stats;
  return {
    total_workers: workers.filter((w) => !OFFLINE.includes(w.status)).length,
    active_workers: workers.filter((w) => w.status === 'busy' || (w.current_jobs || []).length > 0).length,
    pending_jobs: counts.pending, active_jobs: counts.assigned + counts.running, completed_jobs: counts.completed, failed_jobs: counts.failed,
    cancelled_jobs: counts.cancelled,
    total_jobs: Object.values(counts).reduce((a, b) => a + b, 0),
  };
}

export function render() {
  const s = page.store;
  const st = stats(s);
  const card = (label, value, cls = '') => `<div class="card ${cls}"><div class="label">${esc(label)}</div><div class="value" data-stat="${esc(label)}">${esc(value ?? '—')}</div></div>`;
  $('stats-cards').innerHTML = [
    card('Workers online', st.total_workers),
    card('Workers busy', st.active_workers),
    card('Jobs pending', st.pending_jobs),
    card('Jobs active', st.active_jobs),
    card('Jobs completed', st.completed_jobs, 'ok'),
    card('Jobs failed', st.failed_jobs, st.failed_jobs > 0 ? 'bad' : ''),
    card('Jobs total', st.total_jobs),
    card('Missions', s.missionStats?.total),
  ].join('');
  const counts = s.counts();
  $('job-counts').innerHTML = JOB_STATUSES.map((k) => `<span class="stat s-${k}"><span class="n" data-jcount="${k}">${counts[k]}</span><span class="l">${badge(k)}</span></span>`).join('');
  const ms = s.missionStats;
  $('mission-stats').innerHTML = ms
    ? MISSION_STATUSES.map((x) => `<a class="stat s-${x.toLowerCase()}" href="#/missions?status=${x}"><span class="n" data-mstat="${x}">${ms.by_status[x] ?? 0}</span><span class="l">${x.toLowerCase()}</span></a>`).join('')
    : `<p class="muted">${s.missionStatsError ? esc(`Mission stats unavailable: ${s.missionStatsError.message}`) : 'Loading…'}</p>`;
  renderHealth();
  $('mission-activity').innerHTML = s.missionActivity.length
    ? s.missionActivity.map((e) => `<li>${timeTag(toMs(e.timestamp))} <code>${esc(e.type)}</code> <a href="#/missions/${encodeURIComponent(e.payload.mission_id)}">${esc(s.missions.get(e.payload.mission_id)?.name || e.payload.mission_id)}</a> ${missionEventSummary(e)} <button type="button" class="linkish" data-follow-seq="${e.seq}" title="Follow this action">follow</button></li>`).join('')
    : `<li class="muted">${page.historic ? 'No mission events between the state loaded and this seq.' : 'No mission events since this page was opened.'}</li>`;
}

function renderHealth() {
  const h = health;
  if (h.state === 'missing') $('health').innerHTML = '<p class="note">Supervisor health is not available on this server (no <code>/api/supervisor/health</code>).</p>';
  else if (h.state === 'unknown') $('health').innerHTML = '<p class="muted">Loading…</p>';
  else if (h.state === 'error' && !h.data) $('health').innerHTML = `<p class="error">Health check failed: ${esc(h.error?.message)}</p>`;
  else {
    const d = h.data || {};
    const checks = d.checks || d.components || {};
    const rows = Array.isArray(checks)
      ? checks.map((c) => [c.name || c.check || '?', c.state || c.status || (c.ok ? 'ok' : 'error'), c.detail || c.message || c.error || ''])
      : Object.entries(checks).map(([name, c]) => [name, typeof c === 'string' ? c : (c?.state || c?.status || (c?.ok ? 'ok' : 'error')), typeof c === 'object' ? (c?.detail || c?.message || c?.error || '') : '']);
    $('health').innerHTML = `<p>Overall: ${badge(d.status || 'unknown')} ${d.checked_at || d.timestamp ? `<span class="muted small">checked ${timeTag(toMs(d.checked_at ?? d.timestamp), false)}</span>` : ''}${page.historic ? ' <span class="muted small">(now, not as of the seq shown)</span>' : ''}</p>`
      + (rows.length ? `<ul class="checks">${rows.map(([n, st, det]) => `<li>${badge(st)} <strong>${esc(n)}</strong> <span class="muted">${esc(det)}</span></li>`).join('')}</ul>` : '');
  }
}

function missionEventSummary(e) {
  const p = e.payload;
  if (e.type === 'mission.status_changed') return `${badge(p.old_status)} → ${badge(p.new_status)}`;
  if (e.type === 'mission.log_appended') return `<span class="muted">${esc(p.log_level)}: ${esc(p.message)}</span>`;
  if (e.type === 'mission.created') return badge(p.status || 'PENDING');
  return '';
}
