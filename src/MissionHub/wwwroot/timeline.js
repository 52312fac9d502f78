// Time travel: a scrubber over the retained log. Moving it loads the whole hub as it was at that seq (GET /api/state?at_seq)
// into a second store that the views then show; stepping forward and playing apply the events after it
// (GET /api/events?after_seq pages) to that store, exactly as the live store applies the stream. Reaching the live seq,
// or "Back to live", shows the live store again, which the monitor kept current all along.
import * as rest from './api.js';
import { $, counters, drawNow, mark, page } from './page.js';
import { Store } from './store.js';
import { esc, localTime } from './ui.js';

const TICK_MS = 50;
const MAX_WAIT_MS = 1500; // a quiet stretch of the log is skipped when waiting for it would take longer than this
const tl = { open: false, first: null, request: 0, buffer: [], fetching: null, playing: false, speed: 10, clock: 0, timer: null, debounce: null };
let redrawAll = () => {};

export function init(options) {
  redrawAll = options.redrawAll;
  $('tl-toggle').addEventListener('click', () => (tl.open ? close() : open()));
  $('tl-range').addEventListener('input', (ev) => {
    clearTimeout(tl.debounce);
    const seq = Number(ev.target.value);
    $('tl-seq').value = String(seq);
    tl.debounce = setTimeout(() => goTo(seq), 200);
  });
  $('tl-range').addEventListener('change', (ev) => { clearTimeout(tl.debounce); goTo(Number(ev.target.value)); });
  $('tl-seq-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    const seq = Number($('tl-seq').value);
    if (Number.isFinite(seq)) goTo(seq);
  });
  $('tl-time-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    const ms = Date.parse($('tl-time').value);
    if (Number.isFinite(ms)) goToTime(ms / 1000);
  });
  $('tl-back').addEventListener('click', stepBack);
  $('tl-fwd').addEventListener('click', () => { stop(); stepForward(); });
  $('tl-play').addEventListener('click', () => (tl.playing ? stop() : play()));
  $('tl-speed').addEventListener('change', (ev) => { tl.speed = Number(ev.target.value); });
  for (const id of ['tl-live', 'history-live']) $(id).addEventListener('click', goLive);
  // While replaying, nothing that would change the hub can be used (the views also leave such buttons out).
  document.addEventListener('click', (ev) => {
    if (page.historic && ev.target.closest('.live-only, [data-schedule], [data-bulk], [data-queue], [data-cancel], [data-retry], [data-to], form.needs-operator button')) {
      ev.preventDefault();
      ev.stopImmediatePropagation();
    }
  }, true);
  counters.timeline = () => ({ historic: page.historic, seq: page.store.seq, playing: tl.playing, first: tl.first });
}

/** Opens the timeline at seq (from a chain step or an event's detail). */
export async function openAt(seq) {
  if (!tl.open) await open();
  goTo(seq);
}

async function open() {
  tl.open = true;
  $('timeline').hidden = false;
  $('tl-toggle').setAttribute('aria-expanded', 'true');
  try {
    const first = await rest.eventsAfter(0, 1);
    tl.first = first.first_seq ?? first.events?.[0]?.seq ?? 1;
    showError(null);
  } catch (err) {
    showError(err);
  }
  update();
  $('tl-range').focus();
}

function close() {
  goLive();
  tl.open = false;
  $('timeline').hidden = true;
  $('tl-toggle').setAttribute('aria-expanded', 'false');
}

/** Called with each live frame: the scrubber's right end is the live seq. */
export function onLiveSeq() {
  if (tl.open) update();
}

async function load(fetchState, what) {
  const request = ++tl.request;
  $('tl-note').textContent = `Loading the hub at ${what}…`;
  try {
    const state = await fetchState();
    if (request !== tl.request) return false;
    if (typeof state.first_seq === 'number') tl.first = state.first_seq;
    if (typeof state.last_seq === 'number' && state.seq >= Math.max(state.last_seq, counters.lastSeq)) {
      goLive();
      return false;
    }
    const store = new Store();
    store.loadState(state);
    page.past = store;
    tl.buffer = [];
    tl.fetching = null;
    showError(null);
    update();
    redrawAll();
    drawNow();
    return true;
  } catch (err) {
    if (request === tl.request) showError(err);
    return false;
  }
}

export function goTo(seq) {
  const target = Math.max(tl.first ?? 0, Math.round(seq));
  if (target >= counters.lastSeq) {
    goLive();
    return Promise.resolve(false);
  }
  return load(() => rest.stateAt(target), `seq ${target}`);
}

function goToTime(unixSeconds) {
  return load(() => rest.stateAtTime(unixSeconds), localTime(unixSeconds * 1000));
}

export function goLive() {
  stop();
  tl.request += 1;
  if (!page.historic) {
    update();
    return;
  }
  page.past = null;
  tl.buffer = [];
  update();
  redrawAll();
}

function stepBack() {
  stop();
  const from = page.historic ? page.past.seq : counters.lastSeq;
  if (tl.first != null && from - 1 < tl.first) return;
  goTo(from - 1);
}

/** The next event after the past store's seq, from a buffered page of GET /api/events; null at the live end. */
async function nextEvent() {
  const past = page.past;
  if (!past) return null;
  if (tl.buffer.length === 0) {
    tl.fetching ??= rest.eventsAfter(past.seq, 500).then((answer) => (answer.events || []).filter((e) => e.seq > past.seq));
    const events = await tl.fetching;
    tl.fetching = null;
    if (page.past !== past) return null;
    if (tl.buffer.length === 0) tl.buffer = events;
  }
  return tl.buffer[0] ?? null;
}

function applyNext() {
  const e = tl.buffer.shift();
  const parts = page.past.apply(e);
  mark(...parts, 'foot');
  return e;
}

async function stepForward() {
  if (!page.historic) return;
  const next = await nextEvent();
  if (!next || next.seq >= counters.lastSeq) {
    goLive();
    return;
  }
  applyNext();
  update();
}

function play() {
  if (!page.historic) return;
  tl.playing = true;
  tl.clock = page.past.timestamp ?? 0;
  $('tl-play').setAttribute('aria-pressed', 'true');
  $('tl-play').textContent = '‖ Pause';
  const tick = async () => {
    if (!tl.playing || !page.historic) return;
    tl.clock += TICK_MS * tl.speed;
    let applied = 0;
    for (;;) {
      const next = await nextEvent();
      if (!tl.playing) return;
      if (!next || next.seq >= counters.lastSeq) {
        goLive();
        return;
      }
      const at = next.timestamp * 1000;
      if (at > tl.clock) {
        if ((at - tl.clock) / tl.speed > MAX_WAIT_MS) tl.clock = at; // skip the quiet stretch
        else break;
      }
      applyNext();
      if (++applied >= 200) break; // at most 200 events a tick: the page stays responsive at 100×
    }
    if (applied) update();
    tl.timer = setTimeout(tick, TICK_MS);
  };
  tl.timer = setTimeout(tick, TICK_MS);
}

function stop() {
  tl.playing = false;
  clearTimeout(tl.timer);
  $('tl-play').setAttribute('aria-pressed', 'false');
  $('tl-play').textContent = '▶ Play';
}

function showError(err) {
  const el = $('tl-error');
  el.hidden = !err;
  el.textContent = err ? (err.status === 404 ? 'This hub cannot show its past (no GET /api/state).' : `Could not load history: ${err.message}`) : '';
}

/** yyyy-mm-ddThh:mm:ss in local time, as a datetime-local input takes it. */
function localInput(ms) {
  const d = new Date(ms);
  const two = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${two(d.getMonth() + 1)}-${two(d.getDate())}T${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}`;
}

function update() {
  const live = counters.lastSeq;
  const historic = page.historic;
  const seq = historic ? page.past.seq : live;
  const range = $('tl-range');
  range.min = String(tl.first ?? Math.max(0, live));
  range.max = String(Math.max(live, 0));
  range.value = String(seq);
  range.setAttribute('aria-valuetext', `seq ${seq}${historic ? '' : ' (live)'}`);
  if (document.activeElement !== $('tl-seq')) $('tl-seq').value = String(seq);
  const when = historic ? page.past.timestamp : Date.now();
  if (historic && when && document.activeElement !== $('tl-time')) $('tl-time').value = localInput(when);
  $('tl-note').textContent = historic
    ? `Seq ${seq} of ${tl.first ?? '?'}–${live} · ${localTime(when)}${tl.playing ? ` · playing at ${tl.speed}×` : ''}`
    : `Live at seq ${live}. Drag the scrubber, type a seq or a time, or step back to see the hub as it was.`;
  $('tl-fwd').disabled = !historic;
  $('tl-play').disabled = !historic;
  $('tl-live').disabled = !historic;
  document.body.classList.toggle('historic', historic);
  if (historic) document.body.dataset.historySeq = String(seq);
  else delete document.body.dataset.historySeq;
  const banner = $('history-banner');
  banner.hidden = !historic;
  if (historic) $('history-text').innerHTML = `<span aria-hidden="true">↺</span> Viewing history at <strong>seq ${esc(seq)}</strong> · ${esc(new Date(when).toLocaleString())}${tl.playing ? ` · playing ${esc(tl.speed)}×` : ''} — controls that would change the hub are off.`;
  for (const el of document.querySelectorAll('form.needs-operator input, form.needs-operator textarea, form.needs-operator button, button[data-bulk]')) el.disabled = historic;
}
