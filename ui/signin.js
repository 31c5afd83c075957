// The sign-in progress dialog. One <dialog> for the whole window (so #device-code is unique);
// progress of every session is kept, and a sign-in that starts while another is shown (say,
// one started from the tray menu) is shown once the first closes.

import { invoke, errorText, copyText } from './api.js';
import { $, flashLabel } from './dom.js';
import { phaseText, isWebUrl } from './format.js';

/**
 * labelOf(id) gives a session's display name. onFinished(id, note, refocus) runs when a sign-in
 * ends, with a line for its card ({text, tone} or null); refocus is true when its dialog just
 * closed, so the app can put focus back on the card rather than leave it on <body>.
 */
export function initSignIn({ labelOf, onFinished }) {
  const dialog = $('#sign-in-dialog');
  const el = {
    title: $('#sign-in-title'),
    phase: $('#sign-in-phase'),
    urlBox: $('#sign-in-url'),
    urlHint: $('#sign-in-url-hint'),
    url: $('#sign-in-url-link'),
    deviceBox: $('#sign-in-device'),
    code: $('#device-code'),
    verify: $('#verification-uri'),
    error: $('#sign-in-error'),
    copyUrl: $('#copy-url'),
    copyCode: $('#copy-code'),
    openAgain: $('#open-again'),
    retry: $('#sign-in-retry'),
    cancel: $('#sign-in-cancel'),
  };
  const progress = new Map(); // session id -> latest sign-in event, merged over the attempt
  let shown = null; // session id the dialog shows, or null when closed
  const cancelled = new Set(); // ids cancelled here whose last events may still be in flight

  function start(session) {
    cancelled.delete(session);
    progress.set(session, { session, phase: 'starting', active: true });
    show(session);
    // sign_in resolves at once; progress comes as events. A rejection means it never started.
    invoke('sign_in', { session, flow: null }).catch((e) =>
      update({ session, phase: 'failed', active: false, message: errorText(e) }),
    );
  }

  /** A `sign-in` event payload. */
  function update(event) {
    const id = event.session;
    if (cancelled.has(id)) {
      // Late events of a sign-in the user cancelled must not reopen the dialog.
      if (!event.active) cancelled.delete(id);
      return;
    }
    const prev = progress.get(id);
    // Keep url/code from earlier events of this attempt ("waiting" carries neither).
    const merged = { ...(prev?.active ? prev : {}), ...event };
    if (event.phase === 'done' || event.phase === 'cancelled') {
      progress.delete(id);
      const note =
        event.phase === 'done' ? { text: event.message || 'Signed in.', tone: 'ok' } : { text: 'Sign-in cancelled.', tone: 'info' };
      if (shown === id) close(note);
      else onFinished(id, note, false);
      return;
    }
    progress.set(id, merged);
    if (shown === null) show(id);
    else if (shown === id) {
      paint();
      // Entering these phases brings the control the user needs next: Copy code, Try again.
      if (merged.phase !== prev?.phase && (merged.phase === 'device-code' || merged.phase === 'failed')) focusSensibly(true);
    }
  }

  function show(id) {
    shown = id;
    paint();
    if (!dialog.open) {
      if (typeof dialog.showModal === 'function') dialog.showModal();
      else dialog.setAttribute('open', ''); // very old WebViews: still usable, just not modal
    }
    focusSensibly(true); // showModal focuses the first link; the main control is more useful
  }

  function close(note) {
    const id = shown;
    shown = null;
    if (dialog.open) dialog.close();
    else dialog.removeAttribute('open');
    onFinished(id, note, true);
    // Another session's sign-in arrived meanwhile: show it now.
    const next = progress.keys().next();
    if (!next.done) show(next.value);
  }

  /** Cancel button, Escape: stop a running sign-in, or just dismiss a failed one. */
  function cancel() {
    if (shown === null) return;
    const id = shown;
    const p = progress.get(id);
    progress.delete(id);
    if (p?.active) {
      cancelled.add(id);
      // If the sign-in had already ended, no final event will come: forget the id after a while.
      setTimeout(() => cancelled.delete(id), 5000);
      invoke('cancel_sign_in', { session: id }).catch(() => {}); // already over: nothing to cancel
      close({ text: 'Sign-in cancelled.', tone: 'info' });
    } else {
      // Dismissing a failure keeps its reason on the card.
      close(p?.phase === 'failed' ? { text: `Sign-in failed: ${p.message || 'no reason given'}`, tone: 'error' } : null);
    }
  }

  function paint() {
    const p = progress.get(shown);
    if (!p) return;
    const active = Boolean(p.active);
    const showCode = active && Boolean(p.user_code);
    const showUrl = active && !showCode && Boolean(p.url);

    el.title.textContent = `Sign in to ${labelOf(shown)}`;
    el.phase.textContent = phaseText(p);

    el.urlBox.hidden = !showUrl;
    if (showUrl) {
      el.urlHint.textContent = p.opened === false ? 'Sign-in page:' : 'If it did not open, sign in at:';
      setLink(el.url, p.url);
    }

    el.deviceBox.hidden = !showCode;
    if (showCode) {
      el.code.textContent = p.user_code;
      setLink(el.verify, p.verification_uri || p.url || '');
    }

    el.error.hidden = p.phase !== 'failed';
    el.error.textContent = p.phase === 'failed' ? p.message || 'No reason was given.' : '';

    // Nothing to reopen while we only wait for another process's sign-in.
    el.openAgain.hidden = !(showUrl || showCode);
    el.retry.hidden = p.phase !== 'failed';
    el.cancel.textContent = active ? 'Cancel' : 'Close';
    focusSensibly();
  }

  // Keep focus inside the dialog on a visible control when buttons appear and disappear.
  function focusSensibly(force = false) {
    if (!dialog.open) return;
    const current = document.activeElement;
    if (!force && current && dialog.contains(current) && current !== dialog && isVisible(current)) return;
    const p = progress.get(shown);
    const preferred = p?.phase === 'failed' ? el.retry : !el.deviceBox.hidden ? el.copyCode : el.cancel;
    preferred.focus();
  }

  function openAgain() {
    const id = shown;
    invoke('open_browser_again', { session: id }).catch((e) => {
      if (shown !== id) return;
      el.error.hidden = false;
      el.error.textContent = `Could not open the browser: ${errorText(e)}`;
    });
  }

  function copy(button, text) {
    copyText(text).then(
      () => flashLabel(button, 'Copied'),
      () => flashLabel(button, 'Copy failed'),
    );
  }

  // The URL looks and acts like a link, but a click must open the system browser, never
  // navigate this window.
  function setLink(a, url) {
    a.textContent = url;
    if (isWebUrl(url)) a.setAttribute('href', url);
    else a.removeAttribute('href');
  }
  for (const a of [el.url, el.verify]) {
    a.addEventListener('click', (e) => {
      e.preventDefault();
      openAgain();
    });
    a.addEventListener('auxclick', (e) => e.preventDefault());
  }

  el.openAgain.addEventListener('click', openAgain);
  el.copyUrl.addEventListener('click', () => copy(el.copyUrl, el.url.textContent));
  el.copyCode.addEventListener('click', () => copy(el.copyCode, el.code.textContent));
  el.retry.addEventListener('click', () => start(shown));
  el.cancel.addEventListener('click', cancel);
  // Escape: handle it ourselves so it always means Cancel, and so the browser's own close
  // does not leave `shown` pointing at a closed dialog.
  dialog.addEventListener('keydown', (e) => {
    if (e.key === 'Escape') {
      e.preventDefault();
      cancel();
    }
  });
  dialog.addEventListener('cancel', (e) => {
    e.preventDefault();
    cancel();
  });

  return { start, update, isOpen: () => shown !== null };
}

function isVisible(node) {
  return !node.closest('[hidden]');
}
