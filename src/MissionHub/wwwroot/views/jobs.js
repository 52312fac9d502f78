// The Jobs view: the submit form, filters, and four lanes (pending, active, completed, failed/cancelled) of keyed rows
// patched in place for progress and rebuilt at most a few times a second.
import * as rest from '../api.js';
import { $, mark, page } from '../page.js';
import { badge, esc, showError, timeTag, untilTag } from '../ui.js';

const LIST_CAP = 500;
const typeOptions = new Set();
const workerOptions = new Set();
const rowCache = new Map(); // `${lane}:${id}` (and id for active rows) -> { el, sig }
let lastLaneBuild = 0;
let laneTimer = null;

/** The next structural render rebuilds the lanes at once (a filter changed, the view was opened, another store). */
export function rebuildSoon() { lastLaneBuild = 0; }

// The snapshot does not say what its pending jobs wait for: the first page of pending jobs from the REST API does.
export async function loadDependencies() {
  const s = page.live;
  try {
    const answer = await rest.listJobs(`status=pending&limit=${LIST_CAP}`);
    for (const job of answer?.jobs || []) {
      const j = s.jobs.get(job.id);
      if (j && j.status === 'pending' && j.waiting_for == null && job.waiting_for?.length) s.setWaitingFor(j, job.waiting_for);
    }
    mark('jobsAll');
  } catch { /* shown from the events from here on */ }
}

export function renderFilterOptions() {
  const s = page.store;
  let changed = false;
  for (const j of [...s.jobs.values(), ...s.completed, ...s.failed]) {
    if (j.job_type && !typeOptions.has(j.job_type)) { typeOptions.add(j.job_type); changed = true; }
  }
  for (const w of s.workers.keys()) if (!workerOptions.has(w)) { workerOptions.add(w); changed = true; }
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

export function render(structural) {
  if (!structural) {
    patchProgress();
    return;
  }
  const since = performance.now() - lastLaneBuild;
  if (since < 150) {
    // Rebuilding lanes is the costly part: at most ~6 times a second, the last change always shown.
    if (!laneTimer) laneTimer = setTimeout(() => { laneTimer = null; mark('jobsAll'); }, 150 - since);
    patchProgress();
    return;
  }
  lastLaneBuild = performance.now();
  buildLanes();
}

function patchProgress() {
  const s = page.store;
  for (const id of s.dirtyJobs) {
    const cached = rowCache.get(id);
    const j = s.jobs.get(id);
    if (cached && j) updateRow(cached, j);
  }
  s.dirtyJobs.clear();
}

// What a row's markup depends on, but its progress and the assigned/running badge, which are patched in place.
function jobSig(j) { return `${isActive(j) ? 'active' : j.status}|${j.worker_id}|${j.attempts}|${j.error}|${j.available_ms}|${j.schedule_id}|${j.waiting_for?.length}|${j.cancel_reason}|${page.historic}`; }
function isActive(j) { return j.status === 'assigned' || j.status === 'running'; }
/** A pending job that may not be handed out yet: a delayed job until its run_at, a failed attempt until its backoff. */
function waitsUntil(j) { return j.status === 'pending' && j.available_ms != null ? j.available_ms : null; }
function jobRow(j) {
  const pct = Math.round((j.progress || 0) * 100);
  const active = isActive(j);
  const cancellable = j.status === 'pending' || active;
  const when = j.completed_ms ?? j.assigned_ms ?? j.created_ms;
  const waits = waitsUntil(j);
  const act = (attr, label) => (page.historic ? '' : `<button type="button" class="small-btn needs-operator live-only" ${attr}="${esc(j.id)}">${label}</button>`);
  return `<div class="jhead"><span class="jtype">${esc(j.job_type)}</span> ${badge(j.status)} <span class="prio" title="priority">p${esc(j.priority)}</span></div>
    <div class="muted small mono jid">${esc(j.id)}</div>
    ${active || j.status === 'completed' ? `<div class="bar" role="progressbar" aria-label="progress of ${esc(j.id)}" aria-valuemin="0" aria-valuemax="100" aria-valuenow="${pct}"><span style="width:${pct}%"></span><em>${pct}%</em></div>` : ''}
    <div class="small">${j.worker_id ? `on <span class="mono">${esc(j.worker_id)}</span> · ` : ''}${timeTag(when, false)}${j.attempts > 1 ? ` · attempt ${j.attempts}` : ''}${j.schedule_id ? ` · schedule <a class="mono" href="#/schedules">${esc(j.schedule_id)}</a>` : ''}</div>
    ${waits != null ? `<div class="small runs-at">${untilTag(waits, j.attempts > 0 ? 'retry at' : 'runs at')}</div>` : ''}
    ${j.status === 'pending' && j.waiting_for?.length ? `<div class="small waits-for" title="${esc(j.waiting_for.join(', '))}">waits for ${j.waiting_for.length} job${j.waiting_for.length > 1 ? 's' : ''}</div>` : ''}
    ${j.cancel_reason === 'dependency_failed' ? '<div class="small errtext">a job it depends on failed</div>' : ''}
    ${j.error ? `<div class="small errtext">${esc(j.error)}</div>` : ''}
    ${cancellable ? act('data-cancel', 'Cancel') : ''}
    ${j.status === 'failed' || j.status === 'cancelled' ? act('data-retry', 'Retry') : ''}
    <button type="button" class="small-btn linkish" data-follow-job="${esc(j.id)}">Follow</button>`;
}
function updateRow(cached, j) {
  const sig = jobSig(j);
  const pct = Math.round((j.progress || 0) * 100);
  if (sig !== cached.sig) {
    cached.el.innerHTML = jobRow(j);
    Object.assign(cached, { sig, pct, status: j.status });
    cached.el.dataset.status = j.status;
    cached.el.dataset.worker = j.worker_id ?? '';
    cached.el.dataset.waiting = String(waitsUntil(j) != null);
    return;
  }
  if (j.status !== cached.status) {
    // assigned <-> running: the badge only.
    cached.status = j.status;
    cached.el.dataset.status = j.status;
    cached.el.querySelector('.jhead .badge')?.replaceWith(badgeElement(j.status));
  }
  if (pct === cached.pct) return; // nothing else to touch: no style or layout work for the row
  cached.pct = pct;
  const bar = cached.el.querySelector('.bar');
  if (bar) {
    bar.firstElementChild.style.width = pct + '%';
    bar.lastElementChild.textContent = pct + '%';
    bar.setAttribute('aria-valuenow', String(pct));
  }
}

function badgeElement(status) {
  const t = document.createElement('template');
  t.innerHTML = badge(status);
  return t.content.firstElementChild;
}

function buildLanes() {
  const s = page.store;
  const keep = jobFilter();
  const pending = [];
  const active = [];
  for (const j of s.jobs.values()) {
    if (!keep(j)) continue;
    (j.status === 'pending' ? pending : active).push(j);
  }
  // A total order (ids break ties): the same jobs come out in the same order from any store, so their rows stay put.
  const byId = (a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
  pending.sort((a, b) => b.priority - a.priority || a.created_ms - b.created_ms || byId(a, b));
  active.sort((a, b) => (b.assigned_ms ?? 0) - (a.assigned_ms ?? 0) || byId(a, b));
  const lanes = { pending, active, completed: s.completed.filter(keep), failed: s.failed.filter(keep) };
  const seen = new Set();
  for (const [name, jobs] of Object.entries(lanes)) {
    const list = $('jobs-' + name);
    const els = [];
    for (const j of jobs.slice(0, LIST_CAP)) {
      const key = name + ':' + j.id;
      seen.add(key);
      let cached = rowCache.get(key);
      if (!cached) {
        const el = document.createElement('li');
        el.className = 'job';
        el.dataset.id = j.id;
        el.dataset.status = j.status;
        el.dataset.worker = j.worker_id ?? '';
        el.dataset.waiting = String(waitsUntil(j) != null);
        el.innerHTML = jobRow(j);
        cached = { el, sig: jobSig(j), pct: Math.round((j.progress || 0) * 100), status: j.status };
        rowCache.set(key, cached);
      } else {
        updateRow(cached, j);
      }
      els.push(cached.el);
    }
    // Unchanged order (the common case under load, and between nearby states of the past): leave the DOM alone.
    const same = list.children.length === els.length && els.every((el, i) => list.children[i] === el);
    if (!same) list.replaceChildren(...els);
    $('c-' + name).textContent = String(jobs.length);
    $('n-' + name).textContent = jobs.length > LIST_CAP ? `Showing ${LIST_CAP} of ${jobs.length}.` : (jobs.length === 0 ? 'None.' : '');
  }
  for (const key of rowCache.keys()) if (!seen.has(key)) rowCache.delete(key);
  for (const j of active.slice(0, LIST_CAP)) rowCache.set(j.id, rowCache.get('active:' + j.id)); // progress patches find rows by id
  s.dirtyJobs.clear();
}

// "Retry all" / "Purge all" of the Failed column: every failed job (status=failed, on the server, not only the ones
// this page holds) of the job type and worker filters; the priority filter has no server-side counterpart.
async function bulkFailed(action, button) {
  const type = $('f-type').value;
  const worker = $('f-worker').value;
  const query = new URLSearchParams({ status: 'failed' });
  if (type) query.set('job_type', type);
  if (worker) query.set('worker', worker);
  const shown = page.live.failed.filter((j) => j.status === 'failed' && (!type || j.job_type === type) && (!worker || j.worker_id === worker)).length;
  const scope = [type && `job type ${type}`, worker && `worker ${worker}`].filter(Boolean).join(', ');
  const priority = $('f-pmin').value !== '' || $('f-pmax').value !== '';
  const text = `${action === 'retry' ? 'Retry' : 'Purge (delete for good)'} every failed job${scope ? ` of ${scope}` : ''}?`
    + ` This page shows ${shown}; the server acts on all that match.${priority ? ' The priority filter does not apply here.' : ''}`;
  if (!window.confirm(text)) return;
  button.disabled = true;
  const result = $('job-action-result');
  try {
    const answer = await rest.bulkJobs(action, query);
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

export function wire() {
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
      await rest.submitJob(body);
      showError(errorEl, null);
    } catch (err) {
      showError(errorEl, err);
    }
    button.disabled = false;
  });
  for (const id of ['f-type', 'f-worker', 'f-pmin', 'f-pmax']) $(id).addEventListener('input', () => { rebuildSoon(); mark('jobsAll'); });
  $('f-clear').addEventListener('click', () => {
    for (const id of ['f-type', 'f-worker', 'f-pmin', 'f-pmax']) $(id).value = '';
    rebuildSoon();
    mark('jobsAll');
  });
  document.querySelector('.lanes').addEventListener('click', async (ev) => {
    const bulk = ev.target.closest('button[data-bulk]');
    if (bulk) {
      if (!page.historic) bulkFailed(bulk.dataset.bulk, bulk);
      return;
    }
    const button = ev.target.closest('button[data-cancel], button[data-retry]');
    if (!button || page.historic) return;
    const [action, id] = button.dataset.cancel !== undefined ? ['cancel', button.dataset.cancel] : ['retry', button.dataset.retry];
    button.disabled = true;
    $('job-action-result').hidden = true;
    try {
      await rest.jobAction(id, action);
      showError($('job-action-error'), null);
    } catch (err) {
      showError($('job-action-error'), new Error(`${action === 'cancel' ? 'Cancel' : 'Retry'} ${id}: ${err.message}`));
      button.disabled = false;
    }
  });
}
