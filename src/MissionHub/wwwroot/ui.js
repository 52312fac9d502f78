// Helpers shared by the dashboard's views: escaping, times, badges, errors.
export { toMs } from './store.js';

export function esc(value) {
  return String(value ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]));
}
/** What "now" is for "x s ago": the live clock, or the moment shown while replaying history (app.js sets it). */
export const clock = { now: () => Date.now() };

export function ago(ms) {
  if (ms == null) return '—';
  const s = Math.round((clock.now() - ms) / 1000);
  if (s < 2) return 'just now';
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ago`;
  return `${Math.floor(s / 86400)} d ago`;
}
export function localTime(ms) {
  if (ms == null) return '';
  const d = new Date(ms);
  const today = new Date().toDateString() === d.toDateString();
  return today ? d.toLocaleTimeString() : d.toLocaleString();
}
/** A <time> that the ticker keeps saying "x s ago", with the local time beside it or as its title. */
export function timeTag(ms, withClock = true) {
  if (ms == null) return '<span class="muted">—</span>';
  const iso = new Date(ms).toISOString();
  return `<time datetime="${iso}" data-ts="${ms}" title="${esc(new Date(ms).toLocaleString())}">${withClock ? esc(localTime(ms)) + ' · ' : ''}<span class="ago">${ago(ms)}</span></time>`;
}
export function badge(status) {
  const s = String(status ?? 'unknown');
  return `<span class="badge b-${esc(s.toLowerCase())}">${esc(s.toLowerCase().replace(/_/g, ' '))}</span>`;
}
export function showError(el, err) {
  if (!err) {
    el.hidden = true;
    el.textContent = '';
    return;
  }
  el.hidden = false;
  el.textContent = err.message || String(err);
}

/** "in 12 s" until a time to come; "due" once it has passed. */
export function until(ms) {
  if (ms == null) return '—';
  const s = Math.ceil((ms - Date.now()) / 1000);
  if (s <= 0) return 'due';
  if (s < 60) return `in ${s} s`;
  if (s < 3600) return `in ${Math.floor(s / 60)} min`;
  if (s < 86400) return `in ${Math.floor(s / 3600)} h`;
  return `in ${Math.floor(s / 86400)} d`;
}
/** A <time> of something to come that the ticker keeps saying "in x s", with the local time beside it. */
export function untilTag(ms, label = '') {
  if (ms == null) return '<span class="muted">—</span>';
  const iso = new Date(ms).toISOString();
  return `<time datetime="${iso}" data-until="${ms}" title="${esc(new Date(ms).toLocaleString())}">${label ? esc(label) + ' ' : ''}${esc(localTime(ms))} · <span class="in">${until(ms)}</span></time>`;
}
