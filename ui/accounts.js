// The accounts view (#accounts-view): every role of every signed-in session's accounts, with
// what each offers, and a search box that narrows the list as you type. Rows are built once per
// list the app sends; a keystroke only hides and shows them, so a thousand rows keep up.

import { invoke, listen, errorText } from './api.js';
import { h, $ } from './dom.js';

const BUTTON_TEXT = {
  'copy-exports': 'Copy exports',
  'open-console': 'Console',
  'add-profile': 'Add profile',
};

export function initAccounts() {
  const search = $('#account-search');
  const list = $('#role-list');
  const count = $('#account-count');
  const result = $('#account-result');
  let rows = []; // [{ el, text }]: text is what the search looks in, lower-cased
  let loaded = false;

  function say(text, isError = false) {
    result.textContent = text;
    result.classList.toggle('error', isError);
  }

  async function runAction(role, action, button) {
    button.disabled = true;
    try {
      say(await invoke('role_action', { role: role.key, action }));
    } catch (e) {
      say(errorText(e), true);
    } finally {
      button.disabled = false;
    }
  }

  function row(role) {
    const account = role.account_name ?? role.account_id;
    const title = `${account} · ${role.role_name}`;
    const el = h(
      'li',
      { class: 'role-row', dataset: { key: role.key } },
      h('span', { class: 'role-name' }, h('strong', {}, account), ' ',
        role.account_name ? h('span', { class: 'muted id' }, role.account_id) : null, ' · ', role.role_name),
      h('span', { class: 'muted small' }, role.session_label, role.profile ? ` · profile ${role.profile}` : ''),
      h('span', { class: 'role-actions' }, role.actions.map((action) =>
        h('button', { type: 'button', class: `small ${action}`, 'aria-label': `${BUTTON_TEXT[action] ?? action}: ${title}`,
          onclick: (e) => runAction(role, action, e.currentTarget) }, BUTTON_TEXT[action] ?? action))),
    );
    const text = [role.account_name, role.account_id, role.email_address, role.role_name, role.session_label, role.profile]
      .filter(Boolean).join(' ').toLowerCase();
    return { el, text };
  }

  function filter() {
    const words = search.value.toLowerCase().split(/\s+/).filter(Boolean);
    let shown = 0;
    for (const r of rows) {
      const match = words.every((w) => r.text.includes(w));
      r.el.hidden = !match;
      if (match) shown += 1;
    }
    const total = rows.length;
    count.textContent = total === 0
      ? 'No accounts yet: sign in to a session, and its accounts appear here.'
      : words.length ? `${shown} of ${total} roles` : `${total} roles`;
  }

  async function load() {
    try {
      const roles = await invoke('accounts');
      rows = roles.map(row);
      list.replaceChildren(...rows.map((r) => r.el));
      filter();
    } catch (e) {
      say(`Could not read the accounts: ${errorText(e)}`, true);
    }
  }

  search.addEventListener('input', filter);
  listen('accounts-changed', () => loaded && load());

  return {
    /** Called when the view opens: the list as the app has it now. */
    async open() {
      loaded = true;
      await load();
      search.focus();
    },
  };
}
