// The accounts view (#accounts-view): every role of every signed-in session's accounts and
// every EKS cluster found in them, with what each offers, and a search box that narrows the
// list as you type. Rows are built once per list the app sends; a keystroke only hides and
// shows them, so a thousand rows keep up.

import { invoke, listen, errorText } from './api.js';
import { h, $ } from './dom.js';

const BUTTON_TEXT = {
  'copy-exports': 'Copy exports',
  'open-console': 'Console',
  'add-profile': 'Add profile',
  'add-to-kubeconfig': 'Add to kubeconfig',
};

export function initAccounts() {
  const search = $('#account-search');
  const list = $('#role-list');
  const count = $('#account-count');
  const result = $('#account-result');
  const finders = $('#find-clusters');
  let rows = []; // [{ el, text }]: text is what the search looks in, lower-cased
  let roleCount = 0;
  let loaded = false;

  function say(text, isError = false) {
    result.textContent = text;
    result.classList.toggle('error', isError);
  }

  async function run(button, command, args) {
    button.disabled = true;
    try {
      say(await invoke(command, args));
    } catch (e) {
      say(errorText(e), true);
    } finally {
      button.disabled = false;
    }
  }

  function actionButtons(item, command, argName, title) {
    return h('span', { class: 'role-actions' }, item.actions.map((action) =>
      h('button', { type: 'button', class: `small ${action}`, 'aria-label': `${BUTTON_TEXT[action] ?? action}: ${title}`,
        onclick: (e) => run(e.currentTarget, command, { [argName]: item.key, action }) }, BUTTON_TEXT[action] ?? action)));
  }

  const searchText = (...parts) => parts.filter(Boolean).join(' ').toLowerCase();

  function roleRow(role) {
    const account = role.account_name ?? role.account_id;
    const el = h(
      'li',
      { class: 'role-row', dataset: { key: role.key } },
      h('span', { class: 'role-name' }, h('strong', {}, account), ' ',
        role.account_name ? h('span', { class: 'muted id' }, role.account_id) : null, ' · ', role.role_name),
      h('span', { class: 'muted small' }, role.session_label, role.profile ? ` · profile ${role.profile}` : ''),
      actionButtons(role, 'role_action', 'role', `${account} · ${role.role_name}`),
    );
    const text = searchText(role.account_name, role.account_id, role.email_address, role.role_name, role.session_label, role.profile);
    return { el, text };
  }

  function clusterRow(c) {
    const account = c.account_name ?? c.account_id;
    const el = h(
      'li',
      { class: 'role-row cluster-row', dataset: { key: c.key } },
      h('span', { class: 'role-name' }, h('span', { class: 'kind' }, 'EKS'), ' ', h('strong', {}, c.cluster), ' · ', c.region),
      h('span', { class: 'muted small' }, `${account} · ${c.role_name}`, c.profile ? ` · context ${c.context}` : ' · no profile for this role yet'),
      actionButtons(c, 'cluster_action', 'cluster', `cluster ${c.cluster} in ${account}`),
    );
    const text = searchText('eks cluster', c.cluster, c.region, c.account_name, c.account_id, c.role_name, c.session_label, c.profile, c.context);
    return { el, text };
  }

  function finderButtons(sessions) {
    finders.replaceChildren(...sessions.map((s) => h('button', {
      type: 'button', class: 'small find-clusters', dataset: { session: s.key }, disabled: s.searching,
      onclick: (e) => run(e.currentTarget, 'find_clusters', { session: s.key }),
    }, s.searching ? `Searching ${s.label}…` : `${s.searched ? 'Search again for' : 'Find'} EKS clusters in ${s.label}`)));
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
    const clusters = total - roleCount;
    const what = clusters ? `${roleCount} roles and ${clusters} clusters` : `${roleCount} roles`;
    count.textContent = total === 0
      ? 'No accounts yet: sign in to a session, and its accounts appear here.'
      : words.length ? `${shown} of ${clusters ? `${total} roles and clusters` : what}` : what;
  }

  async function load() {
    try {
      const view = await invoke('accounts');
      roleCount = view.roles.length;
      rows = [...view.roles.map(roleRow), ...view.clusters.map(clusterRow)];
      list.replaceChildren(...rows.map((r) => r.el));
      finderButtons(view.sessions);
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
