// The first-run view (#setup-view): the start URL form, the setup's steps and the button for
// the next one. Everything shown comes from the app's view (`status.setup`, made by core):
// the steps' titles, which is next and its button's text, whether the region is asked for.

import { invoke, errorText } from './api.js';
import { h, $ } from './dom.js';

export function initSetup() {
  const form = $('#setup-form');
  const url = $('#setup-start-url');
  const region = $('#setup-region');
  const submit = $('#setup-submit');
  const error = $('#setup-error');
  let view = null; // the latest SetupView
  let pending = false; // a command started here has not answered yet
  let said = null; // the last command's rejection, until the next view

  function showError(text) {
    error.hidden = !text;
    error.textContent = text ?? '';
  }

  async function call(command, args) {
    if (pending) return;
    pending = true;
    said = null;
    paint();
    try {
      await invoke(command, args);
    } catch (e) {
      said = errorText(e);
    } finally {
      pending = false;
      paint();
    }
  }

  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const regionGiven = view?.region_needed ? region.value : null;
    call('setup_start', { startUrl: url.value, region: regionGiven || null });
  });

  function paint() {
    if (!view) return;
    $('#setup-title').textContent = view.title;
    form.hidden = !view.form;
    if (!url.value && view.start_url) url.value = view.start_url;
    $('#setup-region-field').hidden = !view.region_needed;
    submit.disabled = pending;
    showError(view.error ?? said);
    $('#setup-steps').replaceChildren(...view.steps.map((step) => h(
      'li',
      { dataset: { state: step.state } },
      h('span', { class: 'step-title' }, step.title),
      step.state === 'running' ? h('span', { class: 'working' }, ' ', h('span', { class: 'spinner', 'aria-hidden': 'true' }), 'Working…') : null,
      step.note ? h('span', { class: 'step-note' }, step.note) : null,
    )));
    const offer = view.offer;
    $('#setup-next').replaceChildren(...(offer ? [h('button', {
      type: 'button', class: `primary ${offer.action}`, dataset: { action: offer.action }, disabled: pending,
      onclick: () => call('setup_step', { action: offer.action }),
    }, offer.label)] : []));
    $('#setup-try').hidden = view.next_commands.length === 0;
    $('#setup-commands').replaceChildren(...view.next_commands.map((c) => h('li', {}, h('code', {}, c))));
  }

  return {
    /** A new view from the app (null: no setup to show). */
    update(next) {
      if (next && view && (next.error !== view.error || next.offer?.label !== view.offer?.label)) said = null;
      view = next;
      paint();
    },
  };
}
