// The Missions view: the list (read once from REST, then kept by the events), the create form, and one mission's detail
// with its live log and the status changes its lifecycle allows.
import * as rest from '../api.js';
import { $, mark, page } from '../page.js';
import { badge, esc, showError, timeTag, toMs } from '../ui.js';

const LIST_CAP = 500;
const TRANSITIONS = { PENDING: ['RUNNING', 'FAILED', 'CANCELLED'], RUNNING: ['COMPLETED', 'FAILED', 'CANCELLED'] };
const updated = (m) => toMs(m.updated_at) ?? 0;

let open = null; // { id, mission, log, logKeys, pendingLog, error, actionError, loading }
export const openId = () => open?.id ?? null;

let missionsRequest = 0;
export async function loadMissions() {
  const s = page.live;
  const request = ++missionsRequest;
  try {
    const answer = await rest.listMissions(LIST_CAP);
    if (request !== missionsRequest) return;
    for (const m of answer.missions || []) {
      const known = s.missions.get(m.id);
      if (!known || updated(m) >= updated(known)) s.missions.set(m.id, { ...known, ...m });
    }
    s.missionsMore = Boolean(answer.next_cursor);
    s.missionsError = null;
  } catch (err) {
    s.missionsError = err;
  }
  mark('missions');
}

let statsLoading = false;
let statsStale = false;
export async function loadMissionStats() {
  const s = page.live;
  statsLoading = true;
  statsStale = false;
  try {
    const stats = await rest.missionStats();
    s.missionStats = { total: stats.total, by_status: { ...stats.by_status } };
  } catch (err) {
    s.missionStats = null;
    s.missionStatsError = err;
  }
  statsLoading = false;
  if (statsStale) loadMissionStats(); // mission events that crossed the request may or may not be counted in its answer
  mark('overview');
}

/** A live mission event (the store has applied it): the open detail's log follows it. */
export function onEvent(e) {
  if (!e.type?.startsWith('mission.')) return;
  if (statsLoading) statsStale = true;
  const p = e.payload || {};
  if (open?.id !== p.mission_id) return;
  if (e.type === 'mission.status_changed') {
    if (open.mission) open.mission = { ...open.mission, status: p.new_status, updated_at: p.changed_at ?? e.timestamp };
    addLogEntry({ timestamp: p.changed_at ?? e.timestamp, level: 'info', message: 'Mission status changed', data: { from: p.old_status, to: p.new_status } });
  } else if (e.type === 'mission.log_appended') {
    addLogEntry({ timestamp: p.appended_at ?? e.timestamp, level: p.log_level, message: p.message, data: null });
  }
}

const logKey = (entry) => `${entry.timestamp}|${entry.message}`;
function addLogEntry(entry) {
  if (open.loading) {
    open.pendingLog.push(entry);
    return;
  }
  if (open.logKeys.has(logKey(entry))) return;
  open.logKeys.add(logKey(entry));
  open.log.push(entry);
}

export async function openMission(id) {
  if (open?.id === id) return;
  const o = { id, mission: page.live.missions.get(id) || null, log: [], logKeys: new Set(), pendingLog: [], error: null, actionError: null, loading: true };
  open = o;
  mark('detail');
  try {
    const mission = await rest.getMission(id);
    const entries = [];
    let cursor = null;
    for (let n = 0; n < 5; n++) {
      const answer = await rest.missionLog(id, cursor);
      entries.push(...(answer.entries || []));
      cursor = answer.next_cursor;
      if (!cursor) break;
    }
    if (open !== o) return;
    o.mission = { ...mission, ...(updated(o.mission || {}) > updated(mission) ? o.mission : {}) };
    o.loading = false;
    for (const entry of [...entries, ...o.pendingLog]) addLogEntry(entry);
    o.log.sort((a, b) => a.timestamp - b.timestamp);
    o.pendingLog = [];
  } catch (err) {
    if (open !== o) return;
    o.loading = false;
    o.error = err;
  }
  mark('detail');
}

async function changeStatus(id, status, button) {
  if (open?.id !== id) return;
  open.actionError = null;
  button.disabled = true;
  try {
    const mission = await rest.setMissionStatus(id, status);
    // The event brings the log entry; the answer updates the view at once.
    if (open?.id === id && open.mission && updated(mission) >= updated(open.mission)) open.mission = { ...open.mission, ...mission };
    const known = page.live.missions.get(id);
    if (known && updated(mission) >= updated(known)) Object.assign(known, mission);
  } catch (err) {
    if (open?.id === id) open.actionError = err;
  }
  button.disabled = false;
  mark('detail', 'missions');
}

export function wire() {
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
      const mission = await rest.createMission(body);
      showError($('mission-create-error'), null);
      if (!page.live.missions.has(mission.id)) page.live.missions.set(mission.id, mission);
      form.reset();
      location.hash = `#/missions/${encodeURIComponent(mission.id)}`;
    } catch (err) {
      showError($('mission-create-error'), err);
    }
    button.disabled = false;
  });
  $('mission-detail').addEventListener('click', (ev) => {
    const button = ev.target.closest('button[data-to]');
    if (button && open?.mission) changeStatus(open.id, button.dataset.to, button);
  });
}

export function render(parts) {
  const s = page.store;
  if (parts.has('missions')) {
    const filter = $('mission-filter').value;
    const all = [...s.missions.values()].filter((m) => !filter || m.status === filter)
      .sort((a, b) => (toMs(b.created_at ?? b.updated_at) ?? 0) - (toMs(a.created_at ?? a.updated_at) ?? 0));
    const shown = all.slice(0, LIST_CAP);
    $('missions-body').innerHTML = shown.length
      ? shown.map((m) => `<tr data-id="${esc(m.id)}" data-status="${esc(m.status)}" class="${open?.id === m.id ? 'selected' : ''}"><td><a href="#/missions/${encodeURIComponent(m.id)}">${esc(m.name)}</a><div class="muted small mono">${esc(m.id)}</div></td><td>${badge(m.status)}</td><td>${timeTag(toMs(m.updated_at), false)}</td></tr>`).join('')
      : `<tr><td colspan="3" class="muted">${s.missionsError ? esc(`Could not load missions: ${s.missionsError.message}`) : 'No missions' + (filter ? ` with status ${filter}` : '') + '.'}</td></tr>`;
    $('missions-note').textContent = all.length > LIST_CAP ? `Showing the newest ${LIST_CAP} of ${all.length}.` : (s.missionsMore && !page.historic ? `Showing the newest ${LIST_CAP} missions loaded at start and every mission created since.` : '');
  }
  renderDetail();
}

function renderDetail() {
  const host = $('mission-detail');
  const o = open;
  if (!o) {
    host.innerHTML = '<p class="muted">Select a mission to see its detail and live log.</p>';
    return;
  }
  if (o.error) {
    host.innerHTML = `<h2>Mission <span class="mono">${esc(o.id)}</span></h2><p class="error">${esc(o.error.message)}</p>`;
    return;
  }
  const m = page.historic ? page.store.missions.get(o.id) : (o.mission || page.live.missions.get(o.id));
  if (!m) {
    host.innerHTML = page.historic ? '<p class="muted">This mission did not exist yet at the seq shown.</p>' : '<p class="muted">Loading…</p>';
    return;
  }
  const focused = document.activeElement?.dataset?.to;
  const allowed = page.historic ? [] : (TRANSITIONS[m.status] || []);
  const label = { RUNNING: 'Start', COMPLETED: 'Complete', FAILED: 'Mark failed', CANCELLED: 'Cancel' };
  host.innerHTML = `
    <h2>${esc(m.name)} ${badge(m.status)}</h2>
    <dl class="kv">
      <dt>Id</dt><dd class="mono">${esc(m.id)}</dd>
      ${m.description ? `<dt>Description</dt><dd>${esc(m.description)}</dd>` : ''}
      ${m.created_at ? `<dt>Created</dt><dd>${timeTag(toMs(m.created_at))}</dd>` : ''}
      <dt>Updated</dt><dd>${timeTag(toMs(m.updated_at))}</dd>
    </dl>
    <div class="actions" role="group" aria-label="Change status">
      ${allowed.length ? allowed.map((to) => `<button type="button" class="t-${to.toLowerCase()} needs-operator live-only" data-to="${to}">${label[to]} <span class="muted small">→ ${to}</span></button>`).join('') : `<span class="muted">${page.historic ? 'Viewing history: status changes are off.' : 'Final status: no further transitions.'}</span>`}
      <button type="button" class="linkish" data-follow-mission="${esc(m.id)}">Follow its actions</button>
    </div>
    <p class="error" role="alert" ${o.actionError ? '' : 'hidden'}>${esc(o.actionError?.message)}</p>
    <h3>Log <span class="muted small">(${page.historic ? 'now, not as of the seq shown' : 'live'})</span></h3>
    ${o.loading ? '<p class="muted">Loading log…</p>' : `<ol class="log" id="mission-log">${o.log.map((l) => `<li class="lv-${esc(l.level)}">${timeTag(toMs(l.timestamp))} <span class="lvl">${esc(l.level)}</span> <span class="msg">${esc(l.message)}</span>${l.data && Object.keys(l.data).length ? ` <code class="small">${esc(JSON.stringify(l.data))}</code>` : ''}</li>`).join('') || '<li class="muted">No log entries.</li>'}</ol>`}`;
  if (focused) host.querySelector(`button[data-to="${focused}"]`)?.focus();
  const log = $('mission-log');
  if (log) log.scrollTop = log.scrollHeight;
}
