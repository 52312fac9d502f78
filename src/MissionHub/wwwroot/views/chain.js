// Follow one action: every event with the same correlation_id (and, where the events carry one, the same traceparent)
// as one ordered causal chain — the HTTP request's mission change, the job it submitted, its assignment, progress and
// completion — with the time from the first step and from the step before. From GET /api/events/chain.
import * as rest from '../api.js';
import { $, counters } from '../page.js';
import { badge, esc, showError, toMs } from '../ui.js';
import { summary } from './events.js';

const JOBS_FOLLOWED = 20; // jobs of one action whose own events are added to its chain
let request = 0;
let onGoto = () => {};

export function init(options) {
  onGoto = options.goto;
  const dialog = $('chain');
  $('chain-close').addEventListener('click', () => dialog.close());
  dialog.addEventListener('click', (ev) => {
    const go = ev.target.closest('button[data-goto-seq]');
    if (go) {
      dialog.close();
      onGoto(Number(go.dataset.gotoSeq));
    }
  });
  counters.chain = () => [...document.querySelectorAll('#chain-list li[data-seq]')].map((li) => ({ seq: Number(li.dataset.seq), type: li.dataset.type }));
}

/** The envelope of the event at seq (a monitor event is flat and carries no meta). */
async function envelopeAt(seq) {
  const answer = await rest.eventsAfter(seq - 1, 1);
  return answer.events?.find((e) => e.seq === seq) ?? null;
}

/** The first (or last) event of a target: job_<id>, mission_<id>, worker_<id>. */
async function eventOf(target, last) {
  const answer = await rest.api('GET', `/api/events?after_seq=0&target=${encodeURIComponent(target)}&limit=${last ? 1000 : 1}`);
  const events = answer.events || [];
  return (last ? events.at(-1) : events[0]) ?? null;
}

/** Opens the chain of the action that caused one of: { seq } | { job } | { mission } | { worker }. */
export async function follow(what) {
  const mine = ++request;
  const dialog = $('chain');
  $('chain-title').textContent = 'Following an action…';
  $('chain-note').textContent = '';
  $('chain-list').innerHTML = '<li class="muted">Loading…</li>';
  showError($('chain-error'), null);
  if (!dialog.open) dialog.showModal();
  try {
    const start = what.seq != null ? await envelopeAt(what.seq)
      : what.job ? await eventOf(`job_${what.job}`, false)
        : what.mission ? await eventOf(`mission_${what.mission}`, true)
          : await eventOf(`worker_${what.worker}`, true);
    if (!start) throw new Error('that event is no longer in the log');
    const cid = start.meta?.correlation_id;
    const trace = start.meta?.traceparent;
    if (!cid && !trace) throw new Error(`event #${start.seq} carries no correlation_id or traceparent to follow`);
    const answers = await Promise.all([cid ? rest.chain('correlation_id', cid) : null, trace ? rest.chain('traceparent', trace) : null]);
    if (mine !== request) return;
    const bySeq = new Map();
    for (const answer of answers) for (const e of answer?.events || []) bySeq.set(e.seq, e);
    if (!bySeq.has(start.seq)) bySeq.set(start.seq, start);
    // A job submitted in this action goes on in its worker's frames, whose events carry the worker connection's
    // correlation id: the job's own events (its target) are part of the chain all the same.
    const jobs = [...bySeq.values()].filter((e) => e.type === 'job_submitted' && e.payload?.job_id).slice(0, JOBS_FOLLOWED);
    const linked = new Set();
    const jobEvents = await Promise.all(jobs.map((e) => rest.api('GET', `/api/events?after_seq=${e.seq - 1}&target=${encodeURIComponent(`job_${e.payload.job_id}`)}&limit=1000`).catch(() => null)));
    if (mine !== request) return;
    for (const answer of jobEvents) {
      for (const e of answer?.events || []) {
        if (!bySeq.has(e.seq)) linked.add(e.seq);
        bySeq.set(e.seq, bySeq.get(e.seq) ?? e);
      }
    }
    const events = [...bySeq.values()].sort((a, b) => a.seq - b.seq);
    render(events, { cid, trace, start, linked, capped: answers.some((a) => a?.scan_capped), merged: answers.filter(Boolean).length > 1 || linked.size > 0 });
  } catch (err) {
    if (mine !== request) return;
    $('chain-title').textContent = 'Cannot follow this action';
    $('chain-list').innerHTML = '';
    showError($('chain-error'), err.status === 404 ? new Error('This hub cannot follow actions (no GET /api/events/chain).') : err);
  }
}

const ms = (v) => (v < 1000 ? `${Math.round(v)} ms` : `${(v / 1000).toFixed(v < 10000 ? 2 : 1)} s`);

function render(events, { cid, trace, start, linked, capped, merged }) {
  const t0 = toMs(events[0]?.timestamp) ?? 0;
  $('chain-title').innerHTML = cid ? `Action <code>${esc(cid)}</code>` : `Trace <code>${esc(trace)}</code>`;
  const total = events.length ? toMs(events.at(-1).timestamp) - t0 : 0;
  $('chain-note').textContent = `${events.length} event${events.length === 1 ? '' : 's'} over ${ms(total)}${merged ? ' · by correlation id, trace and job' : ''}${capped ? ' · the scan stopped at its cap: older events may be missing' : ''}`;
  let previous = null;
  $('chain-list').innerHTML = events.map((e, i) => {
    // The server gives elapsed_ms and since_previous_ms; a chain merged from two answers is timed here.
    const at = toMs(e.timestamp);
    const elapsed = merged || e.elapsed_ms == null ? at - t0 : e.elapsed_ms;
    const since = merged || e.since_previous_ms == null ? (previous == null ? 0 : at - previous) : e.since_previous_ms;
    previous = at;
    const p = e.payload || {};
    const status = p.new_status ?? p.status;
    return `<li data-seq="${e.seq}" data-type="${esc(e.type)}" class="${e.seq === start.seq ? 'start' : ''}">
      <span class="step" aria-hidden="true">${i + 1}</span>
      <div class="what"><code class="etype">${esc(e.type)}</code> ${status ? badge(status) : ''} <span class="muted small">${esc(e.source)} · ${esc(e.target ?? '')} · #${e.seq}${linked.has(e.seq) ? ' · <span title="another correlation id: linked by its job">via its job</span>' : ''}</span>
        <div class="small sum">${esc(summary(e))}</div></div>
      <div class="when small"><span class="since">${i === 0 ? 'start' : `+${ms(since)}`}</span><span class="muted"> at ${ms(elapsed)}</span></div>
      <button type="button" class="small-btn" data-goto-seq="${e.seq}">Hub at #${e.seq}</button>
    </li>`;
  }).join('') || '<li class="muted">No events.</li>';
}
