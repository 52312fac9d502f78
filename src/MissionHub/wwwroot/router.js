// The router: #/<view>[/<arg>][?query] shows one view, marks the nav link current and tells the view it is shown.
import { page } from './page.js';

export const VIEWS = ['overview', 'missions', 'jobs', 'queues', 'schedules', 'agents', 'events'];

/** Parses location.hash; onShow(view, arg, query) is called after the view is shown. */
export function startRouter(onShow) {
  const route = () => {
    const hash = location.hash || '#/overview';
    const [path, query] = hash.slice(2).split('?');
    const [name, arg] = path.split('/').map(decodeURIComponent);
    const view = VIEWS.includes(name) ? name : 'overview';
    page.view = view;
    document.querySelectorAll('.view').forEach((v) => { v.hidden = v.dataset.view !== view; });
    document.querySelectorAll('nav a').forEach((a) => {
      if (a.dataset.view === view) a.setAttribute('aria-current', 'page');
      else a.removeAttribute('aria-current');
    });
    document.title = `MissionHub · ${view[0].toUpperCase()}${view.slice(1)}`;
    onShow(view, arg, new URLSearchParams(query || ''));
  };
  window.addEventListener('hashchange', route);
  route();
}

/** Keyboard: Alt+1…7 open the views, and arrow keys move along the nav links (roving focus). */
export function wireKeyboard() {
  document.addEventListener('keydown', (ev) => {
    if (!ev.altKey || ev.ctrlKey || ev.metaKey) return;
    const n = Number(ev.key);
    if (n >= 1 && n <= VIEWS.length) {
      location.hash = `#/${VIEWS[n - 1]}`;
      ev.preventDefault();
    }
  });
  const nav = document.querySelector('nav');
  nav.addEventListener('keydown', (ev) => {
    if (!['ArrowRight', 'ArrowLeft', 'Home', 'End'].includes(ev.key)) return;
    const links = [...nav.querySelectorAll('a')];
    const i = links.indexOf(document.activeElement);
    const next = ev.key === 'Home' ? 0 : ev.key === 'End' ? links.length - 1 : (i + (ev.key === 'ArrowRight' ? 1 : -1) + links.length) % links.length;
    links[next].focus();
    ev.preventDefault();
  });
}
