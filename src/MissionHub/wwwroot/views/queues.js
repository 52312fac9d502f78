// The Queues view. The counts are the server's (GET /api/queues), re-read when a job, worker or queue event arrives: at
// most every QUEUES_EVERY_MS, one request at a time, and only while the view is shown. A pause or resume shows at once
// from its event (or the button's answer); the next read confirms it. While replaying history the view shows the
// job counts per type as the store has them at that seq.
import * as rest from '../api.js';
import { $, counters, mark, page } from '../page.js';
import { badge, esc, showError, timeTag, toMs } from '../ui.js';

const QUEUES_EVERY_MS = 500;
export const QUEUE_EVENTS = new Set(['job_submitted', 'job_assigned', 'job_status_changed', 'job_completed', 'job_failed',
  'worker_connected', 'worker_disconnected', 'queue_paused', 'queue_resumed', 'jobs_purged']);

const q = { rows: null, stale: true, error: null, inFlight: false, last: 0, timer: null, seen: new Map(), busy: new Set() };

export const rows = () => (q.rows ? [...q.rows.values()] : null);
export const settled = () => !q.inFlight && !q.timer && !q.stale;

export function changed() {
  q.stale = true;
  if (page.view === 'queues') scheduleLoad();
}

/** The view was opened: a stale or failed list is read (a failed read is retried on the next event or visit, not on a timer). */
export function shown() {
  if (q.stale || q.error) scheduleLoad();
}

function scheduleLoad() {
  if (q.timer || q.inFlight) return; // an answer in flight reloads once more if it is stale
  const wait = Math.max(0, q.last + QUEUES_EVERY_MS - Date.now());
  q.timer = setTimeout(() => { q.timer = null; load(); }, wait);
}

async function load() {
  q.inFlight = true;
  q.last = Date.now();
  q.seen.clear();
  q.stale = false;
  counters.queueLoads += 1;
  try {
    const data = await rest.listQueues();
    const queues = new Map((data?.queues || []).map((x) => [x.job_type, x]));
    // A pause or resume seen while the request was out is at least as new as its answer.
    for (const [type, change] of q.seen) queues.set(type, { ...(queues.get(type) || empty(type)), ...change });
    q.rows = queues;
    q.error = null;
  } catch (err) {
    q.error = err;
  }
  q.inFlight = false;
  if (q.stale && page.view === 'queues') scheduleLoad();
  mark('queues');
}

function empty(type) {
  return { job_type: type, paused: false, paused_at: null, pending: 0, active: 0, completed: 0, failed: 0, cancelled: 0, workers: [] };
}

export function onEvent(e) {
  if (e.type === 'queue_paused') setPaused(e.job_type, true, e.paused_at);
  else if (e.type === 'queue_resumed') setPaused(e.job_type, false, null);
}

function setPaused(type, paused, at) {
  if (!type) return;
  const row = q.rows?.get(type) || empty(type);
  const change = { paused, paused_at: paused ? (at ?? row.paused_at ?? null) : null };
  if (q.inFlight) q.seen.set(type, change);
  if (q.rows) q.rows.set(type, { ...row, ...change });
  mark('queues');
}

async function changeQueue(type, pause, button) {
  q.busy.add(type);
  button.disabled = true;
  try {
    const change = await rest.setQueuePaused(type, pause);
    showError($('queue-action-error'), null);
    setPaused(change.job_type, change.paused, null);
  } catch (err) {
    showError($('queue-action-error'), new Error(`${pause ? 'Pause' : 'Resume'} ${type}: ${err.message}`));
  }
  q.busy.delete(type);
  changed();
  mark('queues');
}

export function wire() {
  $('queues-body').addEventListener('click', (ev) => {
    const button = ev.target.closest('button[data-queue]');
    if (button && !page.historic) changeQueue(button.dataset.queue, button.dataset.pause === 'true', button);
  });
}

/** Per job type as the shown store has them (history): live jobs by lane, finished ones among those remembered. */
function fromStore() {
  const s = page.store;
  const byType = new Map();
  const row = (type) => byType.get(type) || byType.set(type, { ...empty(type), workers: [] }).get(type);
  for (const j of s.jobs.values()) row(j.job_type)[j.status === 'pending' ? 'pending' : 'active'] += 1;
  for (const j of s.completed) row(j.job_type).completed += 1;
  for (const j of s.failed) row(j.job_type)[j.status === 'cancelled' ? 'cancelled' : 'failed'] += 1;
  for (const w of s.workers.values()) {
    if (['offline', 'connection_broken'].includes(w.status)) continue;
    for (const t of w.capabilities?.job_types || []) row(t).workers.push(w.id);
  }
  for (const [type, live] of q.rows || []) if (byType.has(type)) byType.get(type).paused = live.paused;
  return byType;
}

export function render() {
  showError($('queues-error'), q.error && !page.historic ? new Error(`Could not load queues: ${q.error.message}`) : null);
  const focused = document.activeElement?.dataset?.queue;
  const source = page.historic ? fromStore() : q.rows;
  const queues = source ? [...source.values()].sort((a, b) => a.job_type.localeCompare(b.job_type)) : [];
  const count = (x, name) => `<td class="num" data-count="${name}">${esc(x[name] ?? 0)}</td>`;
  $('queues-body').innerHTML = queues.length
    ? queues.map((x) => `<tr data-type="${esc(x.job_type)}" data-paused="${x.paused}"><td class="mono">${esc(x.job_type)}</td>
      <td>${x.paused ? `${badge('paused')}${x.paused_at != null ? ` <span class="muted small">${timeTag(toMs(x.paused_at), false)}</span>` : ''}` : badge('dispatching')}</td>
      ${count(x, 'pending')}${count(x, 'active')}${count(x, 'completed')}${count(x, 'failed')}${count(x, 'cancelled')}
      <td class="workers">${(x.workers || []).length ? x.workers.map((w) => `<span class="mono">${esc(w)}</span>`).join(', ') : '<span class="muted">none connected</span>'}</td>
      <td class="needs-operator"><button type="button" class="small-btn needs-operator live-only" data-queue="${esc(x.job_type)}" data-pause="${!x.paused}" ${q.busy.has(x.job_type) || page.historic ? 'disabled' : ''}>${x.paused ? 'Resume' : 'Pause'}</button></td></tr>`).join('')
    : `<tr><td colspan="9" class="muted">${source ? 'No job types yet: one appears when a job of it is submitted, or a worker that takes it connects.' : (q.error ? 'Not loaded.' : 'Loading…')}</td></tr>`;
  if (focused) $('queues-body').querySelector(`button[data-queue="${focused}"]`)?.focus();
}
