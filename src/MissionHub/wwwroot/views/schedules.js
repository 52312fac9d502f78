// The Schedules view: recurring schedules from GET /api/schedules, kept current by the monitor's `schedules` topic.
// The list is read when the view is first shown (and again after a new snapshot); after that each schedule_* event
// re-reads the one schedule it names (GET /api/schedules/{id}), one request per schedule at a time, and
// schedule_deleted drops it. The status of each schedule's last job follows the job events the page already hears.
import { api } from '../api.js';
import { badge, esc, showError, timeTag, toMs, untilTag } from '../ui.js';

const $ = (id) => document.getElementById(id);

// Job events and the status they leave the job in (job_status_changed says it itself).
const JOB_STATUS_OF = { job_assigned: 'assigned', job_progress: 'running', job_completed: 'completed', job_failed: 'failed' };

/** The fields of an event whether it comes flat (hub events) or as a Charter envelope. */
const fieldsOf = (e) => (e && typeof e.payload === 'object' && e.payload !== null && 'source' in e ? e.payload : e);

export class SchedulesView {
  /**
   * @param {{ onChange: () => void, counters: object }} options  onChange asks for a render; counters are the page's
   *   test counters (scheduleLoads, scheduleReads).
   */
  constructor({ onChange, counters }) {
    this.onChange = onChange;
    this.counters = counters;
    counters.scheduleLoads = 0;
    counters.scheduleReads = 0;
    this.schedules = null;      // id -> schedule, once loaded
    this.state = 'unknown';     // 'unknown' | 'loading' | 'available' | 'missing' | 'error'
    this.error = null;
    this.stale = true;          // the list must be read (again) when the view is shown
    this.visible = false;
    this.listing = false;       // GET /api/schedules in flight
    this.namedDuringList = new Set(); // ids events named while the list was read: re-read after it
    this.reads = new Map();     // id -> { again } for a GET /api/schedules/{id} in flight
    this.busy = new Set();      // `${id}:${action}` of buttons waiting for their answer
    this.liveTopic = true;      // false when the hub has no `schedules` monitor topic
    this.actionError = null;
  }

  /** The view is shown (or hidden): a stale list is read on showing. */
  show(visible) {
    this.visible = visible;
    if (visible && (this.stale || this.state === 'error')) this.load();
  }

  /** A new snapshot: whatever happened while the page was not following is unknown, so the list is read again. */
  invalidate() {
    this.stale = true;
    if (this.visible) this.load();
  }

  /** The monitor could not subscribe to the `schedules` topic: this hub does not publish schedule events. */
  topicUnavailable() {
    this.liveTopic = false;
    this.onChange();
  }

  async load() {
    if (this.listing) {
      this.stale = true;
      return;
    }
    this.listing = true;
    this.stale = false;
    this.namedDuringList.clear();
    if (this.state === 'unknown') this.state = 'loading';
    this.counters.scheduleLoads += 1;
    try {
      const all = new Map();
      let cursor = null;
      do {
        const page = await api('GET', `/api/schedules?limit=1000${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
        for (const s of page?.schedules || []) all.set(s.id, s);
        cursor = page?.next_cursor;
      } while (cursor);
      this.schedules = all;
      this.state = 'available';
      this.error = null;
    } catch (err) {
      this.state = err.status === 404 ? 'missing' : 'error';
      this.error = err;
    }
    this.listing = false;
    if (this.state === 'available') {
      // An event that crossed the list's request may or may not be in its answer: read those schedules once more.
      for (const id of this.namedDuringList) this.refresh(id);
    }
    this.namedDuringList.clear();
    if (this.stale && this.visible) this.load();
    this.onChange();
  }

  /** Re-reads one schedule; a change during the read reads it once more after. */
  async refresh(id) {
    const inFlight = this.reads.get(id);
    if (inFlight) {
      inFlight.again = true;
      return;
    }
    const read = { again: false };
    this.reads.set(id, read);
    this.counters.scheduleReads += 1;
    try {
      const schedule = await api('GET', `/api/schedules/${encodeURIComponent(id)}`);
      if (this.schedules) this.schedules.set(schedule.id, schedule);
    } catch (err) {
      if (err.status === 404) this.schedules?.delete(id);
      else this.error = err;
    }
    this.reads.delete(id);
    if (read.again) this.refresh(id);
    this.onChange();
  }

  /** Every event the page applies comes here; the view keeps what concerns it. */
  apply(e) {
    if (e.type?.startsWith('schedule_')) {
      this.applyScheduleEvent(e.type, fieldsOf(e));
      return;
    }
    if (this.schedules && e.type?.startsWith('job')) this.applyJobEvent(e.type, fieldsOf(e));
  }

  applyScheduleEvent(type, p) {
    const id = p.schedule_id;
    if (!id) return;
    if (this.listing) {
      this.namedDuringList.add(id);
      return;
    }
    if (!this.schedules || !this.visible) {
      // Not followed while hidden: the list is read again when the view is next shown.
      this.stale = true;
      return;
    }
    if (type === 'schedule_deleted') {
      this.schedules.delete(id);
      this.onChange();
      return;
    }
    if (type === 'schedule_created' && p.schedule?.id === id && !this.reads.has(id)) {
      this.schedules.set(id, p.schedule);
      this.onChange();
      return;
    }
    this.refresh(id);
  }

  // The last run's job status, from the job events: no schedule event says a fired job finished.
  applyJobEvent(type, p) {
    const status = type === 'job_status_changed' ? p.new_status : JOB_STATUS_OF[type];
    if (type === 'jobs_purged') {
      const ids = new Set(p.job_ids || []);
      this.eachLastRun((run) => ids.has(run.job_id), (run) => ({ ...run, job_status: null }));
      return;
    }
    if (!status || !p.job_id) return;
    // Progress of a job already running (or finished, when events cross) changes nothing.
    const applies = (run) => run.job_id === p.job_id && (type !== 'job_progress' || run.job_status === 'assigned' || run.job_status === 'pending');
    this.eachLastRun(applies, (run) => ({ ...run, job_status: status }));
  }

  eachLastRun(matches, change) {
    let changed = false;
    for (const [id, s] of this.schedules) {
      if (s.last_run && matches(s.last_run)) {
        this.schedules.set(id, { ...s, last_run: change(s.last_run) });
        changed = true;
      }
    }
    if (changed) this.onChange();
  }

  async act(id, action, button) {
    const key = `${id}:${action}`;
    this.busy.add(key);
    button.disabled = true;
    try {
      const answer = await api('POST', `/api/schedules/${encodeURIComponent(id)}/${action}`);
      this.actionError = null;
      // Pause and resume answer with the schedule; a trigger with its job, and the schedule_fired event re-reads it.
      if (action !== 'trigger' && answer?.id === id && this.schedules && !this.reads.has(id)) this.schedules.set(id, this.withKnownJobStatus(answer));
      else if (action === 'trigger' && !this.liveTopic) this.refresh(id);
    } catch (err) {
      this.actionError = new Error(`${action[0].toUpperCase()}${action.slice(1)} ${id}: ${err.message}`);
    }
    this.busy.delete(key);
    this.onChange();
  }

  // The pause and resume answers carry the last run without its job's status (GET has it): keep the one known.
  withKnownJobStatus(answer) {
    const known = this.schedules?.get(answer.id)?.last_run;
    const run = answer.last_run;
    if (!run || run.job_status != null || known?.job_id !== run.job_id) return answer;
    return { ...answer, last_run: { ...run, job_status: known.job_status } };
  }

  wire() {
    $('schedules-body').addEventListener('click', (ev) => {
      const button = ev.target.closest('button[data-schedule]');
      if (button) this.act(button.dataset.schedule, button.dataset.action, button);
    });
  }

  render() {
    showError($('schedules-error'), this.state === 'error' ? new Error(`Could not load schedules: ${this.error?.message}`) : null);
    showError($('schedule-action-error'), this.actionError);
    $('schedules-live').hidden = this.liveTopic;
    const focused = document.activeElement?.dataset?.schedule ? `${document.activeElement.dataset.schedule}:${document.activeElement.dataset.action}` : null;
    const body = $('schedules-body');
    if (this.state === 'missing') {
      body.innerHTML = '<tr><td colspan="9" class="muted">Schedules are not available on this server (no <code>/api/schedules</code>).</td></tr>';
      return;
    }
    const list = this.schedules ? [...this.schedules.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)) : [];
    body.innerHTML = list.length
      ? list.map((s) => this.row(s)).join('')
      : `<tr><td colspan="9" class="muted">${this.schedules ? 'No schedules yet: create one with <code>POST /api/schedules</code>.' : (this.state === 'error' ? 'Not loaded.' : 'Loading…')}</td></tr>`;
    if (focused) {
      const [id, action] = focused.split(':');
      body.querySelector(`button[data-schedule="${CSS.escape(id)}"][data-action="${action}"]`)?.focus();
    }
  }

  row(s) {
    const run = s.last_run;
    const skip = s.last_skip;
    const button = (action, label) => `<button type="button" class="small-btn needs-operator" data-schedule="${esc(s.id)}" data-action="${action}" ${this.busy.has(`${s.id}:${action}`) ? 'disabled' : ''}>${label}</button>`;
    return `<tr data-id="${esc(s.id)}" data-paused="${Boolean(s.paused)}">
      <td class="mono">${esc(s.id)}</td>
      <td><code>${esc(s.cron)}</code><div class="muted small">${esc(s.time_zone)}</div></td>
      <td class="mono">${esc(s.job?.job_type)}</td>
      <td data-field="state">${s.paused ? badge('paused') : badge('active')}</td>
      <td data-field="next">${s.paused ? '<span class="muted">paused</span>' : untilTag(toMs(s.next_run_at))}</td>
      <td data-field="last-run">${run
        ? `${timeTag(toMs(run.fired_at), false)} ${run.job_status ? badge(run.job_status) : '<span class="muted small">job gone</span>'}
           <div class="muted small"><span class="mono" data-field="last-job">${esc(run.job_id)}</span> · ${esc(run.trigger)}</div>`
        : '<span class="muted">never</span>'}</td>
      <td class="num" data-count="fired">${esc(s.fired ?? 0)}</td>
      <td class="num" data-count="skipped" ${skip ? `title="last: ${esc(skip.reason)}${skip.missed > 1 ? ` (${esc(skip.missed)} ticks)` : ''}"` : ''}>${esc(s.skipped ?? 0)}${skip ? `<div class="muted small">${esc(skip.reason)}</div>` : ''}</td>
      <td class="needs-operator actions-cell">${s.paused ? button('resume', 'Resume') : button('pause', 'Pause')} ${button('trigger', 'Trigger')}</td>
    </tr>`;
  }
}
