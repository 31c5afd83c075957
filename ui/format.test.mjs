// Checks the pure functions of format.js. Run: node ui/format.test.mjs (no dependencies).
import assert from 'node:assert/strict';
import * as f from './format.js';

const t = (iso) => Date.parse(iso);
const now = t('2026-11-28T10:00:00Z');
const utc = { locale: 'en-GB', timeZone: 'UTC' };
const tests = {
  'clock offset follows the app clock'() {
    assert.equal(f.clockOffset('2026-11-28T10:00:05Z', now), 5000);
    assert.equal(f.clockOffset('not a date', now), 0);
  },
  'durations keep the two largest units, floored'() {
    assert.equal(f.formatDuration(2 * 3600e3 + 13 * 60e3 + 59e3), '2h 13m');
    assert.equal(f.formatDuration(26 * 3600e3), '1d 2h');
    assert.equal(f.formatDuration(12 * 60e3 + 5e3), '12m 5s');
    assert.equal(f.formatDuration(45_999), '45s');
    assert.equal(f.formatDuration(-5), '0s');
    assert.equal(f.formatDuration(5 * 60e3 + 30e3, { seconds: false }), '5m');
  },
  'countdown before and after expiry'() {
    assert.equal(f.countdownText(now + 2 * 3600e3 + 13 * 60e3, now), '2h 13m left');
    assert.equal(f.countdownText(now - 30e3, now), 'expired just now');
    assert.equal(f.countdownText(now - 5 * 60e3 - 20e3, now), 'expired 5m ago');
    assert.equal(f.countdownText(now - 3 * 86400e3, now), 'expired 3d 0h ago');
  },
  'clock shows the day only when it is not today'() {
    assert.equal(f.formatClock(t('2026-11-28T14:02:00Z'), now, utc), '14:02');
    assert.equal(f.formatClock(t('2026-11-29T09:00:00Z'), now, utc), 'Sun 09:00');
    assert.equal(f.formatClock(t('2026-11-20T09:00:00Z'), now, utc), '20 Nov 09:00');
  },
  'expiry line'() {
    assert.equal(f.expiryText(t('2026-11-28T12:13:00Z'), now, utc), 'expires 12:13 · 2h 13m left');
    assert.equal(f.expiryText(t('2026-11-28T09:55:00Z'), now, utc), 'expired 5m ago · at 09:55');
  },
  'buttons are the actions the app decided, in its order'() {
    const b = (actions) => f.actionButtons({ state: 'expiring', refreshable: true, actions }).map((x) => x.action);
    assert.deepEqual(b(['sign-in', 'sign-out']), ['sign-in', 'sign-out'], 'no refresh the app did not offer');
    assert.deepEqual(b(['refresh', 'sign-out']), ['refresh', 'sign-out'], 'no sign-in the app did not offer');
    assert.deepEqual(b([]), []);
    assert.deepEqual(b(['sign-in', 'teleport']), ['sign-in'], 'unknown actions are left out');
    assert.deepEqual(f.actionButtons({}), []);
    const [signIn, refresh, signOut] = f.actionButtons({ actions: ['sign-in', 'refresh', 'sign-out'] });
    assert.equal(signIn.text, 'Sign in');
    assert.ok(signIn.primary && !signIn.command, 'sign-in opens the dialog');
    assert.deepEqual([refresh.command, signOut.command], ['refresh', 'sign_out']);
  },
  'small labels'() {
    assert.equal(f.accountText({ account_name: 'acme-dev', account_id: '111122223333' }), 'acme-dev');
    assert.equal(f.accountText({ account_name: null, account_id: '111122223333' }), '111122223333');
    assert.equal(f.stateNote('missing'), 'not signed in');
    assert.equal(f.stateNote('valid'), '');
    assert.equal(f.kindText('role-chain'), 'role chain');
    assert.equal(f.kindText('sso-session'), '');
    assert.equal(f.hostOf('https://corp.awsapps.com/start'), 'corp.awsapps.com');
    assert.equal(f.isWebUrl('javascript:alert(1)'), false);
  },
  'sign-in phase text'() {
    assert.equal(f.phaseText({ phase: 'open-url', opened: true }), 'Waiting for the browser…');
    assert.equal(f.phaseText({ phase: 'open-url', opened: false }), 'Open the sign-in page below in a browser.');
    assert.equal(f.phaseText({ phase: 'waiting' }), 'Waiting for the browser…');
  },
};

let failed = 0;
for (const [name, test] of Object.entries(tests)) {
  try {
    test();
    console.log(`ok   ${name}`);
  } catch (e) {
    failed++;
    console.log(`FAIL ${name}\n${e.message}`);
  }
}
process.exitCode = failed ? 1 : 0;
