// The settings form (#settings). Loaded fresh each time the view opens, so it never shows
// stale values if the Rust side changed them (e.g. "start at login" from the tray menu).

import { invoke, errorText } from './api.js';
import { $, h } from './dom.js';

export function initSettings() {
  const form = $('#settings');
  const result = $('#settings-result');
  const f = form.elements;
  // The whole Settings object as loaded: fields this form does not show (refresh_minutes,
  // credential_margin_minutes) are sent back unchanged instead of being dropped.
  let loaded = null;
  let saving = false;

  function say(text, isError = false) {
    result.textContent = text;
    result.classList.toggle('error', isError);
  }

  function fill(s) {
    loaded = s;
    f.warning_minutes.value = String(s.warning_minutes);
    f.silent_refresh.checked = Boolean(s.silent_refresh);
    f.token_store.value = s.token_store;
    f.sign_in_flow.value = s.sign_in_flow;
    f.on_sign_in_request.value = s.on_sign_in_request;
    f.remote_requests.value = s.remote_requests;
    f.start_at_login.checked = Boolean(s.start_at_login);
  }

  // A value the app reports and where it comes from, or what holds without it.
  function show(id, inEffect, without) {
    $(id).textContent = inEffect ? `${inEffect.value} (from ${inEffect.from})` : without;
  }

  async function loadNetwork() {
    try {
      const network = await invoke('network');
      const noProxy = network.no_proxy ? `; not for ${network.no_proxy.value}` : '';
      show('#network-proxy', network.proxy, 'none: AWS is reached directly');
      if (network.proxy) $('#network-proxy').textContent += noProxy;
      show('#network-ca-bundle', network.ca_bundle, 'none: the system\'s certificates only');
    } catch (e) {
      $('#network-proxy').textContent = `Could not read it: ${errorText(e)}`;
      $('#network-ca-bundle').textContent = '';
    }
  }

  // The choices are the app's (core's approval_settings); this only lays them out.
  const APPROVE = [['never', 'Never'], ['hour', 'Once an hour'], ['each', 'Each time']];

  async function loadApprovals() {
    const rows = $('#approval-rows');
    try {
      const settings = await invoke('approval_settings');
      rows.replaceChildren(
        ...settings.map(({ profile, approve }) =>
          h('label', { class: 'field approval' },
            h('span', {}, profile),
            h('select', { 'data-profile': profile, 'aria-label': `Ask for ${profile}` },
              ...APPROVE.map(([value, text]) =>
                h('option', { value, selected: value === approve }, text))))),
      );
      if (settings.length === 0) rows.textContent = 'No profile signs in with SSO yet.';
    } catch (e) {
      rows.textContent = `Could not read them: ${errorText(e)}`;
    }
  }

  function approvals() {
    const profiles = {};
    for (const select of document.querySelectorAll('#approval-rows select')) {
      profiles[select.dataset.profile] = { approve: select.value };
    }
    return profiles;
  }

  async function load() {
    say('');
    loadApprovals();
    loadNetwork();
    // The version is no setting: a failure to read it leaves the line empty, the form usable.
    invoke('version').then((line) => { $('#version').textContent = line; }, () => {});
    try {
      fill(await invoke('get_settings'));
    } catch (e) {
      loaded = null;
      say(`Could not load the settings: ${errorText(e)}`, true);
    }
  }

  form.addEventListener('submit', async (e) => {
    e.preventDefault(); // the browser has already checked min/max/required by now
    if (saving) return;
    if (!loaded) {
      say('The settings were not loaded, so they cannot be saved.', true);
      return;
    }
    const settings = {
      ...loaded,
      warning_minutes: Number(f.warning_minutes.value),
      silent_refresh: f.silent_refresh.checked,
      token_store: f.token_store.value,
      sign_in_flow: f.sign_in_flow.value,
      on_sign_in_request: f.on_sign_in_request.value,
      remote_requests: f.remote_requests.value,
      start_at_login: f.start_at_login.checked,
      profiles: { ...loaded.profiles, ...approvals() },
    };
    saving = true;
    say('Saving…');
    try {
      fill(await invoke('save_settings', { settings }));
      say('Saved');
      loadNetwork();
      loadApprovals();
    } catch (err) {
      say(errorText(err), true);
    } finally {
      saving = false;
    }
  });

  // A "Saved" left over from the last save would be wrong once something is edited again.
  form.addEventListener('input', () => say(''));

  return { load };
}
