// What every part of the page shares: the counters tests and the bench read, the two stores (the live one the monitor
// feeds, and the one the timeline loads from history), which of them is shown, the view shown, and mark(): the parts
// to redraw at the next animation frame.
import { Store } from './store.js';

export const counters = {
  eventsApplied: 0, lastSeq: -1, epoch: null, connection: 'connecting', reconnects: 0, resyncs: 0,
  resyncFailures: 0, snapshots: 0, errors: 0, longTasks: 0, longTaskMs: 0, renders: 0, lastServerHeartbeat: null,
  queueLoads: 0,
  renderMs: 0,       // how long the last drawing took
  seqRenderMs: 0,    // how long the last drawing of a store at another seq took (a scrub's redraw)
  renderedSeq: null, // the seq of the store drawn last (the bench times a scrub until its seq is drawn)
};

export const page = {
  view: 'overview',
  live: new Store(),
  past: null,            // a Store loaded from GET /api/state while the timeline is in the past, else null
  /** The store the views show: the past one while replaying history, else the live one. */
  get store() { return this.past || this.live; },
  get historic() { return this.past !== null; },
};

export const $ = (id) => document.getElementById(id);

const dirty = new Set();
let frameRequested = false;
let renderer = () => {};

/** The function that draws the marked parts (main.js sets it). */
export function setRenderer(render) { renderer = render; }

export function mark(...parts) {
  for (const p of parts) dirty.add(p);
  if (!frameRequested) {
    frameRequested = true;
    requestAnimationFrame(() => {
      frameRequested = false;
      drawNow();
    });
  }
}

/** Draws the marked parts now instead of at the next frame (a state just loaded: the frame that follows shows it). */
export function drawNow() {
  if (dirty.size === 0) return;
  counters.renders += 1;
  const now = new Set(dirty);
  dirty.clear();
  const started = performance.now();
  renderer(now);
  counters.renderMs = performance.now() - started;
  if (counters.renderedSeq !== page.store.seq) counters.seqRenderMs = counters.renderMs;
  counters.renderedSeq = page.store.seq;
}

/** Parts a frame did not draw (their view is hidden) wait, marked, until it is shown. */
export function keep(part) { dirty.add(part); }

export const ALL_PARTS = ['overview', 'missions', 'detail', 'jobsAll', 'queues', 'schedules', 'agents', 'events', 'eventTypes', 'foot', 'typeOptions', 'workerOptions'];
