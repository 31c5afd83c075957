// The ssobar window: session cards with live countdowns, other profiles, config warnings, and
// the switch to the settings view. Everything is re-rendered from the latest StatusView; the
// only per-second work is rewriting the expiry lines.

import { invoke, listen, errorText, inApp } from './api.js';
import { h, $ } from './dom.js';
import { actionButtons, accountText, clockOffset, expiryText, hostOf, kindText, stateNote } from './format.js';
import { initSignIn } from './signin.js';
import { initSettings } from './settings.js';
import { initActivity } from './activity.js';
import { initAccounts } from './accounts.js';
import { initSetup } from './setup.js';

let status = null; // the latest StatusView
let offset = 0; // app clock minus browser clock (ms): countdowns follow the app's clock
const pending = new Map(); // session id -> command running from this window (blocks double clicks)
const notes = new Map(); // session id -> { text, tone }: the last result, shown in its card
const copies = new Map(); // "session\nprofile" -> 'copying' | 'copied'

const appNow = () => Date.now() + offset;
const sessionById = (id) => status?.sessions.find((s) => s.id === id);

const signIn = initSignIn({
  labelOf: (id) => sessionById(id)?.label ?? id,
  onFinished(id, note, refocus) {
    if (note) setNote(id, note.text, note.tone);
    if (refocus) cardFor(id)?.focus();
  },
});
const settings = initSettings();
const activity = initActivity();
const accounts = initAccounts();
const setup = initSetup();


function applyStatus(view) {
  status = view;
  offset = clockOffset(view.now, Date.now());
  render();
}

function render() {
  if (!status) return;
  const focus = rememberFocus();
  $('#loading').hidden = true;
  $('#load-error').hidden = true;
  $('#demo').hidden = !status.demo;
  // The first run, when the app's view carries one, takes the sessions' place.
  const onSessions = $('#show-sessions').getAttribute('aria-current') === 'true';
  setup.update(status.setup);
  $('#setup-view').hidden = !status.setup || !onSessions;
  $('#sessions-view').hidden = Boolean(status.setup) || !onSessions;
  $('#sessions').replaceChildren(...status.sessions.map(card));
  fillList('#warnings', '#warning-list', status.warnings ?? [], (w) => h('li', {}, w));
  fillList('#others', '#other-list', status.other_profiles ?? [], otherProfile);
  restoreFocus(focus);
}

function fillList(sectionSel, listSel, items, item) {
  $(sectionSel).hidden = items.length === 0;
  $(listSel).replaceChildren(...items.map(item));
}

function card(s, index) {
  const titleId = `session-${index}`;
  const locked = s.busy || pending.has(s.id);
  const note = notes.get(s.id);
  const host = hostOf(s.start_url);
  const expires = Date.parse(s.expires_at ?? '');

  // aria-describedby names the session, so "Sign in" in a list of buttons is not ambiguous.
  const button = (hook, text, onclick, extra = '') =>
    h('button', { type: 'button', class: `${hook} ${extra}`.trim(), dataset: { key: hook }, 'aria-describedby': titleId, disabled: locked, onclick }, text);

  return h(
    'article',
    { class: 'card', dataset: { session: s.id }, 'aria-labelledby': titleId, tabindex: '-1' },
    h(
      'div',
      { class: 'card-head' },
      h('h3', { id: titleId }, s.label),
      h('span', { class: 'badge', dataset: { state: s.state } }, h('span', { class: 'state' }, s.state)),
      stateNote(s.state) ? h('span', { class: 'state-note' }, stateNote(s.state)) : null,
    ),
    h('p', { class: 'meta muted' }, [host !== s.label ? host : null, s.region].filter(Boolean).join(' · ')),
    Number.isFinite(expires) ? h('p', { class: 'expiry', dataset: { expires: String(expires) } }, expiryText(expires, appNow())) : null,
    s.refresh_failed ? h('p', { class: 'alert' }, h('strong', {}, 'Sign-in needed. '), s.refresh_failed) : null,
    s.detail ? h('p', { class: 'detail' }, s.detail) : null,
    s.waiting_line ? waitingCallers(s, titleId) : null,
    h(
      'div',
      { class: 'actions' },
      actionButtons(s).map((b) =>
        button(b.action, b.text, b.command ? () => run(s.id, b.command, b.done) : () => signIn.start(s.id), b.primary ? 'primary' : ''),
      ),
      locked ? h('span', { class: 'working' }, h('span', { class: 'spinner', 'aria-hidden': 'true' }), 'Working…') : null,
    ),
    note ? h('p', { class: `note ${note.tone}` }, note.text) : null,
    profileTable(s),
  );
}

// Commands blocked on this session's sign-in (kubectl through `ssobar eks-token`, say), and a
// Cancel that fails them at once; it stays usable while the sign-in runs.
function waitingCallers(s, titleId) {
  return h(
    'div',
    { class: 'waiting alert', role: 'status' },
    h('p', {}, h('strong', {}, s.waiting_line)),
    h('ul', { class: 'callers' }, ...s.waiting.map((caller) => h('li', {}, caller))),
    h('button', {
      type: 'button', class: 'cancel-requests', dataset: { key: 'cancel-requests' },
      'aria-describedby': titleId, onclick: () => run(s.id, 'cancel_sign_in', 'Cancelled; the waiting commands were told.'),
    }, 'Cancel'),
  );
}

function profileTable(s) {
  if (!s.profiles.length) return h('p', { class: 'muted small' }, 'No profile uses this session.');
  return h(
    'table',
    { class: 'profiles' },
    h('caption', { class: 'visually-hidden' }, `Profiles signed in through ${s.label}`),
    h(
      'thead',
      {},
      h('tr', {}, h('th', { scope: 'col' }, 'Profile'), h('th', { scope: 'col' }, 'Account'), h('th', { scope: 'col' }, 'Role'),
        h('th', { scope: 'col' }, h('span', { class: 'visually-hidden' }, 'Export'))),
    ),
    h('tbody', {}, s.profiles.map((p) => profileRow(s, p))),
  );
}

function profileRow(s, p) {
  const copy = copies.get(`${s.id}\n${p.name}`);
  const [text, label] = {
    copying: ['Copying…', `Copying export lines for ${p.name}`],
    copied: ['Copied', `Copied export lines for ${p.name}`],
  }[copy] ?? ['Copy export lines', `Copy export lines for ${p.name}`];
  const kind = kindText(p.kind);
  return h(
    'tr',
    {},
    h('th', { scope: 'row' }, p.name, kind ? [' ', h('span', { class: 'kind' }, kind)] : null),
    h('td', {}, p.account_name ? p.account_name : h('span', { class: 'id' }, accountText(p)),
      p.account_name && p.account_id ? [' ', h('span', { class: 'muted id' }, p.account_id)] : null),
    h('td', { class: 'role' }, p.role_name ?? ''),
    h(
      'td',
      { class: 'export' },
      h('button', { type: 'button', class: 'copy-export small', dataset: { key: `copy\n${p.name}` },
        'aria-label': label,
        onclick: () => copyExport(s.id, p.name) }, text),
    ),
  );
}

function otherProfile(p) {
  return h(
    'li',
    {},
    h('span', { class: 'name' }, p.name),
    ' ',
    h('span', { class: 'kind' }, p.kind),
    p.state === 'misconfigured' ? [' ', h('span', { class: 'misconfigured' }, 'misconfigured')] : null,
    p.detail ? [': ', p.detail] : null,
  );
}


/** refresh / sign_out: both resolve with nothing or reject with a one-line reason. */
async function run(id, command, doneText) {
  if (pending.has(id)) return;
  pending.set(id, command);
  render();
  try {
    await invoke(command, { session: id });
    setNote(id, doneText);
  } catch (e) {
    setNote(id, errorText(e), 'error');
  } finally {
    pending.delete(id);
    render();
  }
}

async function copyExport(id, profile) {
  const key = `${id}\n${profile}`;
  if (copies.get(key) === 'copying') return;
  copies.set(key, 'copying');
  render();
  try {
    await invoke('copy_export_lines', { profile });
    copies.set(key, 'copied');
    announce(`Copied export lines for ${profile}`);
    setTimeout(() => copies.get(key) === 'copied' && (copies.delete(key), render()), 2000);
  } catch (e) {
    copies.delete(key);
    setNote(id, `Could not copy export lines for ${profile}: ${errorText(e)}`, 'error');
  }
  render();
}

/**
 * A result line in a card, tone 'ok' | 'info' | 'error'. Errors stay until the next result;
 * the others fade after a while.
 */
function setNote(id, text, tone = 'ok') {
  const note = { text, tone };
  notes.set(id, note);
  announce(text);
  if (tone !== 'error') setTimeout(() => notes.get(id) === note && (notes.delete(id), render()), 10_000);
  render();
}

function announce(text) {
  $('#announce').textContent = text;
}


function cardFor(id) {
  return [...document.querySelectorAll('#sessions [data-session]')].find((c) => c.dataset.session === id);
}

// A button that gets disabled (busy) or vanishes hands focus to its card, not to <body>; the
// card then remembers the button, so focus goes back to it once it is enabled again.
let parked = null; // { session, key } while focus waits on a card

function rememberFocus() {
  const el = document.activeElement;
  const owner = el?.closest?.('#sessions [data-session]');
  if (!owner) return null;
  if (el === owner && parked?.session === owner.dataset.session) return parked;
  return { session: owner.dataset.session, key: el.dataset.key };
}

function restoreFocus(focus) {
  parked = null;
  const owner = focus && cardFor(focus.session);
  if (!owner) return;
  const target = focus.key && [...owner.querySelectorAll('[data-key]')].find((e) => e.dataset.key === focus.key);
  if (target && !target.disabled) return target.focus();
  if (focus.key && target) parked = focus; // disabled for now: come back when it is enabled
  owner.focus();
}


function tick() {
  const now = appNow();
  for (const el of document.querySelectorAll('.expiry[data-expires]')) {
    el.textContent = expiryText(Number(el.dataset.expires), now);
  }
}


const VIEWS = ['sessions', 'accounts', 'activity', 'settings'];

function showView(name) {
  for (const view of VIEWS) {
    $(`#${view}-view`).hidden = view !== name;
    $(`#show-${view}`).setAttribute('aria-current', String(view === name));
  }
  $('#setup-view').hidden = true;
  if (name === 'sessions') render();
  if (name === 'settings') settings.load();
  if (name === 'accounts') accounts.open();
  if (name === 'activity') activity.open();
}

for (const view of VIEWS) $(`#show-${view}`).addEventListener('click', () => showView(view));
// Escape goes back to the sessions (the sign-in dialog handles its own Escape first).
document.addEventListener('keydown', (e) => {
  const onSessions = $('#show-sessions').getAttribute('aria-current') === 'true';
  if (e.key !== 'Escape' || e.defaultPrevented || signIn.isOpen() || onSessions) return;
  const from = VIEWS.find((view) => !$(`#${view}-view`).hidden);
  showView('sessions');
  $(`#show-${from}`).focus();
});


function showLoadError(text) {
  $('#loading').hidden = true;
  $('#load-error').hidden = false;
  $('#load-error').textContent = text;
}

async function main() {
  if (!inApp()) return showLoadError('This page works only inside the ssobar app.');
  try {
    // Listen first so no change between the first status() and the listener is lost.
    await listen('status-changed', applyStatus);
    await listen('sign-in', signIn.update);
    const view = await invoke('status');
    if (!status) applyStatus(view); // an event may already have brought a newer one
  } catch (e) {
    showLoadError(`Could not read the sessions: ${errorText(e)}`);
  }
  setInterval(tick, 1000);
}

main();
