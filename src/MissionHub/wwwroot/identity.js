// Who is signed in. The server decides (and refuses what a role may not do); the page only hides what would be refused.
import * as rest from './api.js';
import { $, counters } from './page.js';
import { showError } from './ui.js';

export async function whoAmI() {
  try {
    return await rest.me();
  } catch {
    return { authenticated: false, protected_mode: false, roles: [], via: 'none' };
  }
}

export function showSignIn() {
  document.body.classList.add('signed-out');
  $('signin').hidden = false;
  $('signin-form').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const form = ev.currentTarget;
    const button = form.querySelector('button[type=submit]');
    button.disabled = true;
    try {
      await rest.signIn(form.key.value.trim());
      form.reset();
      location.reload();
    } catch (err) {
      showError($('signin-error'), err);
      button.disabled = false;
    }
  });
  $('signin-form').key.focus();
}

// A socket closed because the session's key was revoked or expired: back to the sign-in page.
let identityCheck = null;
export function recheckIdentity() {
  if (identityCheck || counters.identity?.via !== 'cookie') return;
  identityCheck = whoAmI().then((now) => {
    identityCheck = null;
    if (!now.authenticated) location.reload();
  });
}

export function applyIdentity(me) {
  const roles = new Set(me.roles || []);
  document.body.classList.toggle('can-operate', roles.has('operator') || roles.has('admin'));
  document.body.dataset.roles = [...roles].join(' ');
  $('who').hidden = false;
  $('who-name').textContent = me.via === 'protected_mode' ? 'local (protected mode)' : `${me.actor ?? 'signed in'} · ${[...roles].join(', ')}`;
  $('signout').hidden = me.via !== 'cookie';
  $('signout').addEventListener('click', async () => {
    try { await rest.signOut(); } finally { location.reload(); }
  });
}
