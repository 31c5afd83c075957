// Pure functions: no DOM and no Tauri, so `node ui/format.test.mjs` can check them.

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/** Milliseconds to add to the browser clock to get the app clock (StatusView.now). */
export function clockOffset(appNowIso, browserNowMs) {
  const app = Date.parse(appNowIso);
  return Number.isFinite(app) ? app - browserNowMs : 0;
}

/**
 * "1d 3h", "2h 13m", "12m 5s", "45s": the two largest units, floored, so a countdown never
 * promises more time than is left. Seconds only below an hour, where they matter.
 */
export function formatDuration(ms, { seconds = true } = {}) {
  const total = Math.floor(Math.max(0, ms) / SECOND);
  const d = Math.floor(total / 86400);
  const h = Math.floor((total % 86400) / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  if (d > 0) return `${d}d ${h}h`;
  if (h > 0) return `${h}h ${m}m`;
  if (!seconds) return `${m}m`;
  if (m > 0) return `${m}m ${s}s`;
  return `${s}s`;
}

/** "2h 13m left" before expiry, "expired 5m ago" after it. */
export function countdownText(expiresMs, nowMs) {
  const left = expiresMs - nowMs;
  if (left > 0) return `${formatDuration(left)} left`;
  if (-left < MINUTE) return 'expired just now';
  return `expired ${formatDuration(-left, { seconds: false })} ago`;
}

/**
 * Local wall-clock time: "14:02" today, "Tue 14:02" within the week, "25 Nov 14:02" beyond.
 * locale and timeZone are left undefined in the app (the user's own) and fixed in tests.
 */
export function formatClock(whenMs, nowMs, { locale, timeZone } = {}) {
  const time = new Intl.DateTimeFormat(locale, { hour: '2-digit', minute: '2-digit', timeZone }).format(whenMs);
  const day = (ms) =>
    new Intl.DateTimeFormat('en-CA', { year: 'numeric', month: '2-digit', day: '2-digit', timeZone }).format(ms);
  if (day(whenMs) === day(nowMs)) return time;
  const near = Math.abs(whenMs - nowMs) < 6 * DAY;
  const date = new Intl.DateTimeFormat(locale, near ? { weekday: 'short', timeZone } : { day: 'numeric', month: 'short', timeZone });
  return `${date.format(whenMs)} ${time}`;
}

/** The expiry line of a card: "expires 14:02 · 2h 13m left" or "expired 5m ago · at 14:02". */
export function expiryText(expiresMs, nowMs, clockOpts) {
  const at = formatClock(expiresMs, nowMs, clockOpts);
  const countdown = countdownText(expiresMs, nowMs);
  return expiresMs > nowMs ? `expires ${at} · ${countdown}` : `${countdown} · at ${at}`;
}

/** Friendlier words shown beside the raw state word (which stays as the test hook). */
export function stateNote(state) {
  return { missing: 'not signed in', invalid: 'unusable, sign in again' }[state] ?? '';
}

// How each action the app offers is drawn: its class (the test hook), its text, and the
// command it runs (sign-in opens the dialog instead).
const BUTTONS = {
  'sign-in': { text: 'Sign in', primary: true },
  refresh: { text: 'Refresh now', command: 'refresh', done: 'Renewed.' },
  'sign-out': { text: 'Sign out', command: 'sign_out', done: 'Signed out.' },
};

/**
 * The buttons of a session card: exactly the actions the app decided (SessionView.actions),
 * in its order. An action this page does not know is left out rather than guessed at.
 */
export function actionButtons(session) {
  return (session.actions ?? []).filter((action) => Object.hasOwn(BUTTONS, action)).map((action) => ({ action, ...BUTTONS[action] }));
}

/** The account cell: its name when the portal gave one, else the id. */
export function accountText(profile) {
  return profile.account_name || profile.account_id || '';
}

/** Short words for profile kinds worth pointing out; plain SSO profiles get none. */
export function kindText(kind) {
  return { 'sso-legacy': 'legacy', 'role-chain': 'role chain', 'credential-process': 'credential_process' }[kind] ?? '';
}

/** The one-line status at the top of the sign-in dialog. */
export function phaseText(progress) {
  switch (progress.phase) {
    case 'starting':
      return 'Starting sign-in…';
    case 'waiting-for-other':
      return 'Another sign-in to this session is already running (perhaps in a terminal). Waiting for it to finish…';
    case 'open-url':
      return progress.opened === false ? 'Open the sign-in page below in a browser.' : 'Waiting for the browser…';
    case 'device-code':
    case 'waiting':
      return 'Waiting for the browser…';
    case 'failed':
      return 'Sign-in did not finish.';
    case 'cancelled':
      return 'Sign-in cancelled.';
    case 'done':
      return 'Signed in.';
    default:
      return '';
  }
}

/** The host of a start URL, for the muted line under a card's title. */
export function hostOf(url) {
  try {
    return new URL(url).host;
  } catch {
    return url ?? '';
  }
}

/** Only http(s) URLs become links; anything else stays plain text. */
export function isWebUrl(url) {
  return typeof url === 'string' && /^https?:\/\//i.test(url);
}
