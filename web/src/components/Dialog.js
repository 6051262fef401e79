// A confirmation in a native <dialog>: focus moves into it, Escape cancels, and focus
// returns to the button that opened it.
import { useEffect, useRef } from '../../vendor/hooks.mjs';
import { html } from '../html.js';
import { Button } from './form.js';

export function ConfirmDialog({ open, title, children, confirmLabel, tone = 'danger', busy, onConfirm, onCancel }) {
  const ref = useRef(null);
  useEffect(() => {
    const d = ref.current;
    if (!d) return;
    if (open && !d.open) d.showModal();
    if (!open && d.open) d.close();
  }, [open]);
  return html`<dialog ref=${ref} class="dialog" aria-labelledby="dialog-title" onCancel=${(e) => { e.preventDefault(); onCancel(); }}>
    <h2 id="dialog-title">${title}</h2>
    <div class="dialog-body">${children}</div>
    <div class="dialog-actions">
      <${Button} variant="secondary" onClick=${onCancel} disabled=${busy}>Cancel<//>
      <${Button} variant=${tone} onClick=${onConfirm} busy=${busy}>${confirmLabel}<//>
    </div>
  </dialog>`;
}
