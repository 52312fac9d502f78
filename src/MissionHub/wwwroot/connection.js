// The connection pill and banner: live, connecting, catching up, or lost (with the next retry and the seq shown).
import { $, counters } from './page.js';
import { recheckIdentity } from './identity.js';

let detail = {};

export function onState(state, d) {
  detail = d;
  const conn = $('conn');
  conn.dataset.state = state;
  conn.className = `conn conn-${state}`;
  const banner = $('banner');
  if (state === 'live') {
    $('conn-text').textContent = 'Live';
    banner.hidden = true;
  } else if (state === 'connecting') {
    $('conn-text').textContent = 'Connecting…';
  } else if (state === 'resyncing') {
    $('conn-text').textContent = 'Catching up…';
    banner.hidden = false;
    banner.className = 'banner warn';
    banner.textContent = `Catching up on missed events (${d.why || 'resync'})…`;
  } else if (state === 'reconnecting') {
    recheckIdentity();
    $('conn-text').textContent = 'Reconnecting…';
    banner.hidden = false;
    banner.className = 'banner bad';
    updateReconnectBanner();
  } else {
    $('conn-text').textContent = state;
  }
}

export function updateReconnectBanner() {
  if (counters.connection !== 'reconnecting') return;
  const wait = detail.retryAt ? Math.max(0, Math.ceil((detail.retryAt - Date.now()) / 1000)) : 0;
  $('banner').textContent = `Connection to the hub lost — reconnecting${detail.attempt ? ` (attempt ${detail.attempt}${wait ? `, next try in ${wait} s` : ''})` : ''}. What you see is as of seq ${counters.lastSeq}; missed events will be caught up.`;
}
