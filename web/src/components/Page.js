// A page's heading, which takes focus after each navigation so screen readers announce
// the new page, and the document title.
import { useEffect, useRef } from '../../vendor/hooks.mjs';
import { html } from '../html.js';

export function PageHeader({ title, subtitle, actions }) {
  const ref = useRef(null);
  useEffect(() => {
    document.title = `${title} · userd`;
    // A form that asks for one thing first (sign-in) focuses its field; other pages their heading.
    const first = document.querySelector('main [autofocus]');
    if (first) first.focus();
    else if (ref.current && document.activeElement === document.body) ref.current.focus({ preventScroll: true });
  }, [title]);
  return html`<header class="page-header">
    <div>
      <h1 tabindex="-1" ref=${ref}>${title}</h1>
      ${subtitle ? html`<p class="muted">${subtitle}</p>` : null}
    </div>
    ${actions ? html`<div class="page-actions">${actions}</div>` : null}
  </header>`;
}

export function Section({ title, description, children, id, actions }) {
  const hid = id ? `${id}-title` : undefined;
  return html`<section class="card" id=${id} aria-labelledby=${hid}>
    <div class="card-head">
      <div>
        <h2 id=${hid}>${title}</h2>
        ${description ? html`<p class="muted">${description}</p>` : null}
      </div>
      ${actions || null}
    </div>
    ${children}
  </section>`;
}
