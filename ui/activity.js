// The Activity view: the access log's last day, as the app renders it (core's activity_rows).
// Nothing is decided here: rows come formatted, the view only puts them in a table.

import { invoke, errorText } from './api.js';
import { $, h } from './dom.js';

export function initActivity() {
  return {
    async open() {
      const status = $('#activity-status');
      const table = $('#activity-table');
      status.textContent = 'Loading…';
      try {
        const rows = await invoke('activity');
        const body = table.querySelector('tbody');
        body.replaceChildren(
          ...rows.map((r) =>
            h('tr', {},
              h('td', {}, r.when),
              h('td', {}, r.profile),
              h('td', {}, `${r.role} (${r.account})`),
              h('td', {}, r.program),
              h('td', {}, r.folder),
              h('td', {}, r.by),
              h('td', { class: `outcome ${r.outcome.split(':')[0].replace(' ', '-')}` }, r.outcome))),
        );
        table.hidden = rows.length === 0;
        status.textContent = rows.length === 0 ? 'No credentials were asked for in the last day.' : '';
      } catch (e) {
        table.hidden = true;
        status.textContent = `Could not read the activity: ${errorText(e)}`;
      }
    },
  };
}
