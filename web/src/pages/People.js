// Document 003's directory: search, filters, ordering and batches, kept in the address
// so a search can be shared and the back button works.
import { useEffect, useState } from '../../vendor/hooks.mjs';
import { html } from '../html.js';
import { navigate, useLocation } from '../router.js';
import { Alert, Empty, Loading } from '../components/feedback.js';
import { Button } from '../components/form.js';
import { PageHeader } from '../components/Page.js';
import { PersonRow } from '../components/PersonCard.js';
import * as api from '../api/endpoints.js';
import { formatCount } from '../models/format.js';

const ORDERINGS = [
  ['username', 'Username (A–Z)'],
  ['-username', 'Username (Z–A)'],
  ['first_name', 'First name'],
  ['last_name', 'Last name'],
  ['-created_at', 'Newest members'],
  ['created_at', 'Oldest members'],
];
const SIZE = 12;

export function People() {
  const { query } = useLocation();
  const filters = {
    search: query.get('search') || '',
    first_name: query.get('first_name') || '',
    last_name: query.get('last_name') || '',
    ordering: query.get('ordering') || 'username',
    page: Math.max(0, parseInt(query.get('page') || '0', 10) || 0),
  };
  const key = JSON.stringify(filters);
  const [form, setForm] = useState(filters);
  const [showFilters, setShowFilters] = useState(Boolean(filters.first_name || filters.last_name));
  const [result, setResult] = useState(null);
  const [error, setError] = useState('');

  useEffect(() => {
    setForm(filters);
    setResult(null);
    setError('');
    api.listPeople({ ...filters, batch_size: SIZE, batch_number: filters.page }).then(setResult, (err) => setError(err.message));
  }, [key]);

  const go = (next) => {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(next)) if (v && !(k === 'ordering' && v === 'username') && !(k === 'page' && v === 0)) q.set(k, v);
    const s = q.toString();
    navigate(`/people${s ? `?${s}` : ''}`);
  };
  const submit = (e) => {
    e.preventDefault();
    go({ ...form, page: 0 });
  };
  const set = (name) => (e) => setForm({ ...form, [name]: e.currentTarget.value });
  const info = result && result.batch_info;

  return html`<div>
    <${PageHeader} title="People" subtitle="Find people and follow them." />
    <form class="card search-card" role="search" onSubmit=${submit}>
      <div class="search-row">
        <div class="field grow">
          <label for="people-search">Search</label>
          <input id="people-search" type="search" name="search" value=${form.search} onInput=${set('search')}
            placeholder="Name, username or bio" />
        </div>
        <div class="field">
          <label for="people-ordering">Order by</label>
          <select id="people-ordering" name="ordering" value=${form.ordering}
            onChange=${(e) => { const ordering = e.currentTarget.value; setForm({ ...form, ordering }); go({ ...form, ordering, page: 0 }); }}>
            ${ORDERINGS.map(([v, label]) => html`<option value=${v}>${label}</option>`)}
          </select>
        </div>
        <div class="search-buttons">
          <${Button} type="submit">Search<//>
          <${Button} variant="ghost" aria-expanded=${showFilters ? 'true' : 'false'} aria-controls="people-filters"
            onClick=${() => setShowFilters(!showFilters)}>Filters<//>
        </div>
      </div>
      <div id="people-filters" class="search-row" hidden=${!showFilters}>
        <div class="field grow">
          <label for="people-first">First name contains</label>
          <input id="people-first" name="first_name" value=${form.first_name} onInput=${set('first_name')} />
        </div>
        <div class="field grow">
          <label for="people-last">Last name contains</label>
          <input id="people-last" name="last_name" value=${form.last_name} onInput=${set('last_name')} />
        </div>
      </div>
    </form>
    <${Alert}>${error}<//>
    ${!result && !error ? html`<${Loading} label="Looking for people…" />` : null}
    ${result ? html`<section class="card" aria-labelledby="people-results">
      <h2 id="people-results" class="results-title" aria-live="polite">${formatCount(info.total_users, 'person', 'people')}${filters.search ? ` matching “${filters.search}”` : ''}</h2>
      ${result.users.length === 0
        ? html`<${Empty} title="No one found">Try a shorter search, or clear the filters.<//>`
        : html`<ul class="people">${result.users.map((p) => html`<${PersonRow} key=${p.id} person=${p} />`)}</ul>`}
      ${info.total_batches > 1 ? html`<nav class="pager" aria-label="Pages">
        <${Button} variant="secondary" small disabled=${filters.page === 0} onClick=${() => go({ ...filters, page: filters.page - 1 })}>Previous<//>
        <span>Page ${info.current_batch + 1} of ${info.total_batches}</span>
        <${Button} variant="secondary" small disabled=${filters.page + 1 >= info.total_batches} onClick=${() => go({ ...filters, page: filters.page + 1 })}>Next<//>
      </nav>` : null}
    </section>` : null}
  </div>`;
}
