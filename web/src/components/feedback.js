// Loading, empty and error states, the same everywhere.
import { html } from '../html.js';

export function Spinner() {
  return html`<span class="spinner" aria-hidden="true"></span>`;
}

export function Loading({ label = 'Loading…' }) {
  return html`<div class="loading" role="status" aria-live="polite"><${Spinner} /><span>${label}</span></div>`;
}

export function Empty({ title, children }) {
  return html`<div class="empty"><p class="empty-title">${title}</p>${children ? html`<p class="muted">${children}</p>` : null}</div>`;
}

/** A message about the whole form or page; `tone` is error, success or info. */
export function Alert({ tone = 'error', children, id }) {
  if (!children) return null;
  return html`<div id=${id} class=${`alert alert-${tone}`} role=${tone === 'error' ? 'alert' : 'status'}>${children}</div>`;
}

export function Badge({ tone = 'neutral', children }) {
  return html`<span class=${`badge badge-${tone}`}>${children}</span>`;
}
