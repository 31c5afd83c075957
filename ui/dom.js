// A tiny element builder. Text always goes in as text nodes (never innerHTML), so labels,
// URLs and error messages from the app cannot inject markup.

/**
 * h('button', { class: 'sign-in', onclick: fn, disabled: true }, 'Sign in')
 * Props: class, dataset (object), on<event> (listener), anything else as an attribute;
 * null, undefined and false props are skipped, true sets an empty attribute.
 */
export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value == null || value === false) continue;
    if (key === 'class') el.className = value;
    else if (key === 'dataset') Object.assign(el.dataset, value);
    else if (key.startsWith('on')) el.addEventListener(key.slice(2), value);
    else el.setAttribute(key, value === true ? '' : String(value));
  }
  el.append(...children.flat().filter((c) => c != null && c !== false));
  return el;
}

export const $ = (selector, root = document) => root.querySelector(selector);

/** Show a short-lived confirmation ("Copied") in a button, then restore its text. */
export function flashLabel(button, text, ms = 1500) {
  const original = button.dataset.label ?? button.textContent;
  button.dataset.label = original;
  button.textContent = text;
  clearTimeout(Number(button.dataset.timer));
  button.dataset.timer = String(setTimeout(() => (button.textContent = original), ms));
}
