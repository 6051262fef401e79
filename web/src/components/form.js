// Form fields with their label, hint and the API's error for that field right below,
// tied together with aria-describedby so a screen reader reads the error with the field.
import { html } from '../html.js';
import { Spinner } from './feedback.js';

function idFor(props) {
  return props.id || `field-${props.name}`;
}

export function Field(props) {
  const { label, name, type = 'text', value, onInput, error, hint, multiline, rows = 4, children, ...rest } = props;
  const id = idFor(props);
  const described = [hint ? `${id}-hint` : '', error ? `${id}-error` : ''].filter(Boolean).join(' ') || undefined;
  const control = multiline
    ? html`<textarea id=${id} name=${name} rows=${rows} value=${value} onInput=${onInput}
        aria-invalid=${error ? 'true' : undefined} aria-describedby=${described} ...${rest}></textarea>`
    : html`<input id=${id} name=${name} type=${type} value=${value} onInput=${onInput}
        aria-invalid=${error ? 'true' : undefined} aria-describedby=${described} ...${rest} />`;
  return html`<div class=${`field${error ? ' has-error' : ''}`}>
    <label for=${id}>${label}</label>
    ${control}
    ${children}
    ${hint ? html`<p id=${`${id}-hint`} class="hint">${hint}</p>` : null}
    ${error ? html`<p id=${`${id}-error`} class="field-error">${error}</p>` : null}
  </div>`;
}

export function Button({ busy, children, variant = 'primary', type = 'button', block, small, disabled, ...rest }) {
  const cls = ['btn', `btn-${variant}`, block && 'btn-block', small && 'btn-small'].filter(Boolean).join(' ');
  return html`<button type=${type} class=${cls} disabled=${busy || disabled} aria-busy=${busy ? 'true' : undefined} ...${rest}>
    ${busy ? html`<${Spinner} />` : null}<span>${children}</span>
  </button>`;
}

/** Form state in one hook: values, the last error, and a busy flag while submitting. */
export function bind(values, setValues) {
  return (name) => ({
    name,
    value: values[name] ?? '',
    onInput: (e) => setValues({ ...values, [name]: e.currentTarget.value }),
  });
}
