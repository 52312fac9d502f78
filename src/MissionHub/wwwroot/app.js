// MissionHub dashboard, main wiring: the monitor client feeds the live store (store.js), each event goes on to the
// views that keep something of their own (a mission's log, the event log, a robot's charts, the schedules), and the
// marked parts are drawn once per animation frame by the view shown. REST is used for user actions, the lists that
// are not in the monitor snapshot (missions, queues, schedules, robots), history (the timeline, a chain), and health.
import { MonitorClient } from './monitor.js';
import { $, ALL_PARTS, counters, keep, mark, page, setRenderer } from './page.js';
import { startRouter, wireKeyboard } from './router.js';
import { onState, updateReconnectBanner } from './connection.js';
import { applyIdentity, showSignIn, whoAmI } from './identity.js';
import { ago, clock, until } from './ui.js';
import * as overview from './views/overview.js';
import * as missions from './views/missions.js';
import * as jobs from './views/jobs.js';
import * as queues from './views/queues.js';
import { SchedulesView } from './views/schedules.js';
import * as agents from './views/agents.js';
import * as eventLog from './views/events.js';
import * as timeline from './timeline.js';
import * as chain from './views/chain.js';
import * as liveCharts from './views/livecharts.js';

window.missionHub = counters;
// While replaying history, "x s ago" is counted from the moment shown.
clock.now = () => (page.historic && page.past.timestamp ? page.past.timestamp : Date.now());
try {
  new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      counters.longTasks += 1;
      counters.longTaskMs += entry.duration;
    }
  }).observe({ type: 'longtask', buffered: true });
} catch { /* longtask not supported */ }

const schedules = new SchedulesView({ onChange: () => mark('schedules'), counters });

// ---------- the live stream ----------
function onSnapshot(data, epoch, seq) {
  page.live.loadSnapshot(data, epoch, seq);
  jobs.loadDependencies();
  schedules.invalidate();
  eventLog.redrawAll();
  // Missions are not in the hub snapshot: (re)load them so that the stream then keeps them current.
  missions.loadMissions();
  missions.loadMissionStats();
  queues.changed();
  mark('overview', 'jobsAll', 'agents', 'missions', 'foot', 'typeOptions', 'workerOptions');
}

function onEvents(events) {
  let queuesChanged = false;
  const parts = new Set(['events', 'foot']);
  for (const e of events) {
    for (const p of page.live.apply(e)) parts.add(p);
    liveCharts.onEvent(e);
    missions.onEvent(e);
    overview.onEvent(e);
    agents.onEvent(e);
    queues.onEvent(e);
    schedules.apply(e);
    eventLog.record(e);
    if (queues.QUEUE_EVENTS.has(e.type)) queuesChanged = true;
  }
  if (queuesChanged) queues.changed();
  // While the past is shown, live changes wait: the views redraw in full on the way back to live.
  if (page.historic) mark('events', 'foot');
  else mark(...parts);
}

// ---------- drawing ----------
function render(parts) {
  const view = page.view;
  if (parts.has('foot')) renderFoot();
  if (parts.has('typeOptions') || parts.has('workerOptions') || parts.has('jobsAll')) jobs.renderFilterOptions();
  const drawn = new Set(['foot', 'typeOptions', 'workerOptions', 'eventsNow']);
  const draw = (names, fn) => {
    if (!names.some((n) => parts.has(n))) return;
    fn();
    for (const n of names) drawn.add(n);
  };
  if (view === 'overview') draw(['overview'], overview.render);
  if (view === 'missions') draw(['missions', 'detail'], () => missions.render(parts));
  if (view === 'jobs') draw(['jobs', 'jobsAll'], () => jobs.render(parts.has('jobsAll')));
  if (view === 'queues') draw(['queues'], queues.render);
  if (view === 'schedules') draw(['schedules'], () => schedules.render());
  if (view === 'agents') draw(['agents'], agents.render);
  if (view === 'events' && (parts.has('events') || parts.has('eventTypes'))) {
    if (eventLog.render(parts)) drawn.add('events').add('eventTypes');
    else if (parts.has('eventTypes')) keep('eventTypes');
  }
  // Parts for views not shown stay marked until the view is opened.
  for (const p of parts) if (!drawn.has(p) && p !== 'events') keep(p);
}
setRenderer(render);

function renderFoot() {
  timeline.onLiveSeq();
  const s = page.store;
  $('foot-seq').textContent = page.historic
    ? `history · epoch ${s.epoch ?? '—'} · seq ${s.seq} · live at seq ${counters.lastSeq}`
    : `epoch ${counters.epoch ?? '—'} · seq ${counters.lastSeq} · ${counters.eventsApplied} events applied`;
}

/** Everything is drawn again from the store shown (the view was opened, or the timeline moved). */
export function redrawAll() {
  jobs.rebuildSoon();
  mark(...ALL_PARTS);
}

function onShow(view, arg, query) {
  if (view === 'missions') {
    const status = query.get('status');
    if (status !== null) $('mission-filter').value = status;
    if (arg) missions.openMission(arg);
  }
  if (view === 'agents') agents.shown(arg);
  if (view === 'jobs') jobs.rebuildSoon();
  if (view === 'queues') queues.shown();
  schedules.show(view === 'schedules');
  mark(...ALL_PARTS);
}

function wire() {
  missions.wire();
  jobs.wire();
  queues.wire();
  schedules.wire();
  eventLog.wire();
  timeline.init({ redrawAll });
  chain.init({ goto: timeline.openAt });
  // Any event, job, mission or worker can be followed to the whole action that caused it.
  document.addEventListener('click', (ev) => {
    const b = ev.target.closest('[data-follow-seq], [data-follow-job], [data-follow-mission], [data-follow-worker], main [data-goto-seq]');
    if (!b) return;
    const d = b.dataset;
    if (d.gotoSeq) timeline.openAt(Number(d.gotoSeq));
    else if (d.followSeq) chain.follow({ seq: Number(d.followSeq) });
    else if (d.followJob) chain.follow({ job: d.followJob });
    else if (d.followMission) chain.follow({ mission: d.followMission });
    else chain.follow({ worker: d.followWorker });
  });
  wireKeyboard();
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
// For tests and the bench: the seqs of the events this page has applied (the newest kept), queues, job counts.
counters.seqs = eventLog.seqs;
counters.queues = queues.rows;
counters.queuesSettled = queues.settled;
counters.jobCounts = () => {
  const s = page.live;
  let pending = 0;
  for (const j of s.jobs.values()) if (j.status === 'pending') pending += 1;
  return { pending, active: s.jobs.size - pending, completed: s.completed.length, failed: s.failed.length };
};

const me = await whoAmI();
counters.identity = me;
if (!me.authenticated) {
  showSignIn();
} else {
  applyIdentity(me);
  wire();
  startRouter(onShow);
  overview.loadHealth();
  client.start();
  liveCharts.start();
}
