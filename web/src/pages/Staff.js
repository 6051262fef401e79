// Staff: look users up, see one user's details and recent events, deactivate and
// reactivate (the /api/staff/ endpoints, which answer staff users only).
import { useEffect, useState } from '../../vendor/hooks.mjs';
import { html } from '../html.js';
import { Link, navigate, useLocation } from '../router.js';
import { useSession } from '../context/session.js';
import { useNotify } from '../context/notices.js';
import { Alert, Badge, Empty, Loading } from '../components/feedback.js';
import { Button } from '../components/form.js';
import { ConfirmDialog } from '../components/Dialog.js';
import { PageHeader, Section } from '../components/Page.js';
import { NotFound } from './NotFound.js';
import * as api from '../api/endpoints.js';
import { displayName } from '../models/user.js';
import { formatTime } from '../models/format.js';
import { describeAgent, eventLabel, isWarning } from '../models/events.js';

function StatusBadges({ u }) {
  return html`${u.is_active ? html`<${Badge} tone="success">Active<//>` : html`<${Badge} tone="danger">Deactivated<//>`}
    ${u.is_staff ? html` <${Badge} tone="info">Staff<//>` : null}
    ${u.email_verified ? null : html` <${Badge} tone="neutral">Unverified<//>`}`;
}

export function Staff() {
  const { user } = useSession();
  const { query } = useLocation();
  const search = query.get('search') || '';
  const [term, setTerm] = useState(search);
  const [users, setUsers] = useState(null);
  const [next, setNext] = useState(null);
  const [error, setError] = useState('');
  useEffect(() => {
    setTerm(search);
    setUsers(null);
    setError('');
    api.searchUsers(search).then((d) => { setUsers(d.users); setNext(d.next); }, (err) => setError(err.message));
  }, [search]);
  const more = () => api.searchUsers(search, next).then((d) => { setUsers([...users, ...d.users]); setNext(d.next); }, (err) => setError(err.message));
  const submit = (e) => {
    e.preventDefault();
    navigate(`/staff${term.trim() ? `?search=${encodeURIComponent(term.trim())}` : ''}`);
  };
  return html`<div>
    <${PageHeader} title="Staff" subtitle="Every account, active or not. Actions here are recorded in the user's security events." />
    <form class="card search-card" role="search" onSubmit=${submit}>
      <div class="search-row">
        <div class="field grow">
          <label for="staff-search">Search users</label>
          <input id="staff-search" type="search" value=${term} onInput=${(e) => setTerm(e.currentTarget.value)} placeholder="E-mail, username or name" />
        </div>
        <div class="search-buttons"><${Button} type="submit">Search<//></div>
      </div>
    </form>
    <${Alert}>${error}<//>
    ${!users && !error ? html`<${Loading} />` : null}
    ${users ? html`<section class="card" aria-label="Users">
      ${users.length === 0 ? html`<${Empty} title="No users found" />` : html`<div class="table-wrap"><table class="table">
        <caption class="visually-hidden">Users, newest first</caption>
        <thead><tr><th scope="col">User</th><th scope="col" class="hide-narrow">Joined</th><th scope="col">Status</th></tr></thead>
        <tbody>${users.map((u) => html`<tr key=${u.id}>
          <td><${Link} href=${`/staff/users/${u.id}`} class="person-name">${displayName(u)}<//>
            <div class="muted small">${u.email} · @${u.username}</div></td>
          <td class="hide-narrow nowrap">${formatTime(u.created_at, user.tz)}</td>
          <td><${StatusBadges} u=${u} /></td>
        </tr>`)}</tbody>
      </table></div>`}
      ${next ? html`<p class="center"><${Button} variant="secondary" onClick=${more}>Show more<//></p>` : null}
    </section>` : null}
  </div>`;
}

export function StaffUser({ id }) {
  const { user } = useSession();
  const notify = useNotify();
  const [target, setTarget] = useState(null);
  const [events, setEvents] = useState(null);
  const [missing, setMissing] = useState(false);
  const [error, setError] = useState('');
  const [confirming, setConfirming] = useState(false);
  const [busy, setBusy] = useState(false);
  const load = () => {
    api.getUser(id).then(setTarget, (err) => (err.status === 404 ? setMissing(true) : setError(err.message)));
    api.getUserEvents(id).then((d) => setEvents(d.events), () => setEvents([]));
  };
  useEffect(load, [id]);
  if (missing) return html`<${NotFound} />`;
  if (!target) return html`<div><${PageHeader} title="User" />${error ? html`<${Alert}>${error}<//>` : html`<${Loading} />`}</div>`;
  const self = target.id === user.id;
  const act = async () => {
    setBusy(true);
    setError('');
    try {
      if (target.is_active) await api.deactivateUser(target.id);
      else await api.reactivateUser(target.id);
      notify(target.is_active ? `${target.email} deactivated.` : `${target.email} reactivated.`);
      setConfirming(false);
      load();
    } catch (err) {
      setError(err.message);
      setConfirming(false);
    } finally {
      setBusy(false);
    }
  };
  const rows = [
    ['E-mail', html`${target.email} ${target.email_verified ? html`<${Badge} tone="success">Verified<//>` : html`<${Badge} tone="neutral">Unverified<//>`}`],
    ['Username', `@${target.username}`],
    ['Name', displayName({ ...target, username: '', email: '' }) || '—'],
    ['Company', target.company_name || '—'],
    ['Plan', target.plan || 'Free'],
    ['Joined', formatTime(target.created_at, user.tz)],
    ['Last change', formatTime(target.updated_at, user.tz)],
    ['Public id', html`<code>${target.external_id}</code>`],
  ];
  return html`<div>
    <p class="breadcrumb"><${Link} href="/staff">← All users<//></p>
    <${PageHeader} title=${displayName(target)} subtitle=${html`<${StatusBadges} u=${target} />`}
      actions=${self ? null : html`<${Button} variant=${target.is_active ? 'danger' : 'primary'} onClick=${() => setConfirming(true)}>
        ${target.is_active ? 'Deactivate' : 'Reactivate'}<//>`} />
    <${Alert}>${error}<//>
    <div class="grid grid-2">
      <${Section} id="details" title="Details">
        <dl class="details">${rows.map(([k, v]) => html`<div><dt>${k}</dt><dd>${v}</dd></div>`)}</dl>
      <//>
      <${Section} id="events" title="Recent events">
        ${!events ? html`<${Loading} />` : events.length === 0 ? html`<${Empty} title="No events" />` : html`<ul class="list events">
          ${events.map((e) => html`<li key=${e.id} class="list-row"><div>
            <strong>${eventLabel(e.kind)}</strong> ${isWarning(e.kind) ? html`<${Badge} tone="warning">Check<//>` : null}
            <p class="muted">${[formatTime(e.created_at, user.tz), e.ip, describeAgent(e.user_agent), e.detail].filter(Boolean).join(' · ')}</p>
          </div></li>`)}</ul>`}
      <//>
    </div>
    <${ConfirmDialog} open=${confirming} busy=${busy} onConfirm=${act} onCancel=${() => setConfirming(false)}
      tone=${target.is_active ? 'danger' : 'primary'}
      title=${target.is_active ? `Deactivate ${target.email}?` : `Reactivate ${target.email}?`}
      confirmLabel=${target.is_active ? 'Deactivate' : 'Reactivate'}>
      ${target.is_active
        ? html`<p>Every sign-in, session and token of this account is refused at once, on every server. Their data is kept, and you can reactivate them later.</p>`
        : html`<p>They will be able to sign in again. Sessions ended by the deactivation stay ended.</p>`}
    <//>
  </div>`;
}
