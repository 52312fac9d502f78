// The Event log: the newest events the page has applied (live), filterable by type, pausable; one event's envelope,
// from which its whole action can be followed.
import { $, mark, page } from '../page.js';
import { isEnvelope } from '../store.js';
import { esc, localTime, toMs } from '../ui.js';

const EVENTS_SHOWN = 200;    // rows shown
const EVENTS_KEPT = 1000;    // events remembered
const log = { events: [], types: new Set(), paused: false, newWhilePaused: 0, selected: null, drawnUpTo: null, drawnFilter: null, lastRender: 0, timer: null };

export const seqs = () => log.events.map((e) => e.seq);
export const eventMs = (e) => (isEnvelope(e) ? toMs(e.timestamp) : e.timestamp);
export const find = (seq) => log.events.find((x) => x.seq === seq);

/** A new snapshot may start another epoch: the log is redrawn in full. */
export function redrawAll() { log.drawnUpTo = null; }

export function record(e) {
  log.events.push(e);
  if (log.events.length > EVENTS_KEPT) log.events.splice(0, log.events.length - EVENTS_KEPT);
  if (!log.types.has(e.type)) {
    log.types.add(e.type);
    mark('eventTypes');
  }
  if (log.paused) log.newWhilePaused += 1;
}

function matcher() {
  const f = $('ev-filter').value.trim();
  if (!f) return () => true;
  const patterns = f.split(',').map((p) => p.trim()).filter(Boolean);
  return (e) => patterns.some((p) => (p.endsWith('*') ? e.type.startsWith(p.slice(0, -1)) : e.type === p || e.type.includes(p)));
}

export function summary(e) {
  const p = isEnvelope(e) ? e.payload : e;
  const bits = [];
  for (const k of ['mission_id', 'job_id', 'worker_id', 'robot_id', 'new_status', 'status', 'progress', 'message', 'error']) {
    if (p[k] !== undefined && p[k] !== null && typeof p[k] !== 'object') bits.push(`${k}=${k === 'progress' ? Math.round(p[k] * 100) + '%' : p[k]}`);
  }
  return bits.join(' ');
}

/** Draws the log at most 5 times a second: readable, and cheap at hundreds of events a second. Returns false when put off. */
export function render(parts) {
  const since = performance.now() - log.lastRender;
  if (since < 200 && !parts.has('eventsNow')) {
    if (!log.timer) log.timer = setTimeout(() => { log.timer = null; mark('events', 'eventsNow'); }, 200 - since);
    return false;
  }
  log.lastRender = performance.now();
  draw(parts);
  return true;
}

function draw(parts) {
  if (parts.has('eventTypes')) $('ev-types').innerHTML = [...log.types].sort().map((t) => `<option value="${esc(t)}">`).join('');
  if (log.paused) {
    $('ev-note').textContent = `Paused · ${log.newWhilePaused} new events not shown`;
    return;
  }
  const filter = $('ev-filter').value.trim();
  const match = matcher();
  const list = $('events');
  const events = log.events;
  const newest = events.length ? events[events.length - 1].seq : 0;
  const row = (e) => `<li><button type="button" class="ev ${log.selected === e.seq ? 'selected' : ''}" data-seq="${e.seq}">
      <span class="seq mono">#${e.seq}</span> <span class="etype">${esc(e.type)}</span>
      <span class="muted small">${esc(localTime(eventMs(e)))}</span>
      <span class="sum small">${esc(summary(e))}</span></button></li>`;
  if (log.drawnFilter === filter && log.drawnUpTo != null && events.length && events[0].seq <= log.drawnUpTo + 1) {
    // Only what is new goes in at the top; the oldest rows fall off the bottom.
    const fresh = [];
    for (let i = events.length - 1; i >= 0 && events[i].seq > log.drawnUpTo && fresh.length < EVENTS_SHOWN; i--) if (match(events[i])) fresh.push(events[i]);
    if (fresh.length) {
      if (list.firstElementChild && !list.firstElementChild.querySelector('button')) list.replaceChildren();
      list.insertAdjacentHTML('afterbegin', fresh.map(row).join(''));
      while (list.children.length > EVENTS_SHOWN) list.lastElementChild.remove();
    }
  } else {
    const shown = [];
    for (let i = events.length - 1; i >= 0 && shown.length < EVENTS_SHOWN; i--) if (match(events[i])) shown.push(events[i]);
    list.innerHTML = shown.map(row).join('') || '<li class="muted">No events yet.</li>';
  }
  log.drawnFilter = filter;
  log.drawnUpTo = newest;
  $('ev-note').textContent = `${list.querySelectorAll('button').length} shown (newest ${EVENTS_SHOWN} on screen, ${events.length} in memory)${page.historic ? ' · the log stays live while you look at the past' : ''}`;
}

function show(seq) {
  const e = find(seq);
  log.selected = seq;
  $('event-detail').innerHTML = e
    ? `<h2><span class="mono">#${e.seq}</span> ${esc(e.type)}</h2><p class="muted small">${esc(new Date(eventMs(e)).toLocaleString())} · ${isEnvelope(e) ? 'Charter envelope' : 'hub event (flat, spec 003 §1)'}</p>
       <p class="actions"><button type="button" data-follow-seq="${e.seq}">Follow this action</button> <button type="button" data-goto-seq="${e.seq}">See the hub at #${e.seq}</button></p>
       <pre class="json" tabindex="0">${esc(JSON.stringify(e, null, 2))}</pre>`
    : '<p class="muted">That event is no longer in memory.</p>';
  document.querySelectorAll('#events .ev.selected').forEach((b) => b.classList.remove('selected'));
  document.querySelector(`#events .ev[data-seq="${seq}"]`)?.classList.add('selected');
}

export function wire() {
  $('ev-filter').addEventListener('input', () => mark('events', 'eventsNow'));
  $('ev-pause').addEventListener('click', (ev) => {
    log.paused = !log.paused;
    log.newWhilePaused = 0;
    ev.currentTarget.setAttribute('aria-pressed', String(log.paused));
    ev.currentTarget.textContent = log.paused ? 'Resume' : 'Pause';
    mark('events', 'eventsNow');
  });
  $('ev-clear').addEventListener('click', () => {
    log.events = [];
    log.newWhilePaused = 0;
    log.drawnUpTo = null;
    mark('events', 'eventsNow');
  });
  $('events').addEventListener('click', (ev) => {
    const button = ev.target.closest('button[data-seq]');
    if (button) show(Number(button.dataset.seq));
  });
  // Arrow keys move through the log's rows.
  $('events').addEventListener('keydown', (ev) => {
    if (ev.key !== 'ArrowDown' && ev.key !== 'ArrowUp') return;
    const li = ev.target.closest('li');
    const next = ev.key === 'ArrowDown' ? li?.nextElementSibling : li?.previousElementSibling;
    next?.querySelector('button')?.focus();
    ev.preventDefault();
  });
}
