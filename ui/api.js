// The bridge to the Rust side (Tauri 2, withGlobalTauri). Read lazily: opened in a plain browser
// there is no bridge, and the UI then says so instead of throwing at import time.

const bridge = () => window.__TAURI__;

export function inApp() {
  return Boolean(bridge()?.core?.invoke);
}

/** Call a Rust command. Arguments are camelCase keys, as Tauri expects. */
export function invoke(command, args) {
  if (!inApp()) return Promise.reject('This page works only inside the ssobar app.');
  return bridge().core.invoke(command, args);
}

/** Subscribe to an app event; the handler gets the payload only. */
export function listen(event, handler) {
  if (!inApp()) return Promise.resolve(() => {});
  return bridge().event.listen(event, (e) => handler(e.payload));
}

/** Commands reject with a one-line string; be tolerant of Error objects and anything else. */
export function errorText(err) {
  const text = typeof err === 'string' ? err : (err?.message ?? JSON.stringify(err));
  return String(text).replace(/\s+/g, ' ').trim() || 'Something went wrong.';
}

export function copyText(text) {
  return navigator.clipboard.writeText(text);
}
