import { html } from '../html.js';
import { Link } from '../router.js';
import { PageHeader } from '../components/Page.js';

export function NotFound() {
  return html`<div class="narrow">
    <${PageHeader} title="Page not found" subtitle="There is nothing at this address. It may have moved, or the link may be mistyped." />
    <p><${Link} href="/" class="btn btn-primary">Go to the overview<//></p>
  </div>`;
}
