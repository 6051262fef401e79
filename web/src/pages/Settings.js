// Settings: time zone, the personal API token, storage, plan, password, linked sign-in
// providers and recent security events.
import { useEffect, useMemo, useState } from '../../vendor/hooks.mjs';
import { html } from '../html.js';
import { Link } from '../router.js';
import { useSession } from '../context/session.js';
import { useNotify } from '../context/notices.js';
import { Alert, Badge, Empty, Loading } from '../components/feedback.js';
import { Button, Field } from '../components/form.js';
import { ConfirmDialog } from '../components/Dialog.js';
import { PageHeader, Section } from '../components/Page.js';
import * as api from '../api/endpoints.js';
import { ApiError, fieldError } from '../models/errors.js';
import { formatBytes, formatCount, formatTime } from '../models/format.js';
import { browserTimeZone, filterZones, offsetOf, timeZones } from '../models/timezones.js';
import { describeAgent, eventLabel, isWarning } from '../models/events.js';

function TimeZoneSection() {
  const { user, patchUser } = useSession();
  const notify = useNotify();
  const zones = timeZones();
  const [term, setTerm] = useState('');
  const [chosen, setChosen] = useState(user.tz || '');
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);
  const { found, shown } = useMemo(() => {
    const found = filterZones(zones, term);
    // The chosen zone stays in the list, so the list always shows what is selected.
    return { found, shown: chosen && !found.includes(chosen) ? [chosen, ...found] : found };
  }, [term, chosen]);
  const save = async (e) => {
    e.preventDefault();
    setBusy(true);
    setError('');
    try {
      await api.setTimeZone(chosen || null);
      patchUser({ tz: chosen || null });
      notify(chosen ? `Time zone set to ${chosen}.` : 'Time zone cleared.');
    } catch (err) {
      setError(fieldError(err, 'tz') || err.message);
    } finally {
      setBusy(false);
    }
  };
  const guess = browserTimeZone();
  return html`<${Section} id="timezone" title="Time zone" description="Dates and times are shown in this zone.">
    <form onSubmit=${save} novalidate>
      <p class="current">Current: <strong>${user.tz || 'not set (your browser’s zone is used)'}</strong></p>
      <div class="field">
        <label for="tz-search">Search time zones</label>
        <input id="tz-search" type="search" value=${term} placeholder="City or region, e.g. Paris"
          onInput=${(e) => setTerm(e.currentTarget.value)} aria-controls="tz-list" autocomplete="off" />
      </div>
      <div class=${`field${error ? ' has-error' : ''}`}>
        <label for="tz-list">Time zone <span class="muted">(${term.trim() ? formatCount(found.length, 'match', 'matches') : formatCount(found.length, 'zone', 'zones')})</span></label>
        <select id="tz-list" name="tz" size="8" value=${chosen} onChange=${(e) => setChosen(e.currentTarget.value)}
          aria-invalid=${error ? 'true' : undefined} aria-describedby=${error ? 'tz-error' : undefined}>
          ${shown.slice(0, 400).map((z) => html`<option key=${z} value=${z}>${z.replace(/_/g, ' ')}${z === chosen || shown.length < 60 ? `  (${offsetOf(z)})` : ''}</option>`)}
        </select>
        ${error ? html`<p id="tz-error" class="field-error">${error}</p>` : null}
      </div>
      <div class="form-actions">
        <${Button} type="submit" busy=${busy} disabled=${(chosen || '') === (user.tz || '')}>Save time zone<//>
        ${guess && guess !== chosen ? html`<${Button} variant="ghost" onClick=${() => { setChosen(guess); setTerm(''); }}>Use this device’s zone (${guess})<//>` : null}
      </div>
    </form>
  <//>`;
}

function TokenSection() {
  const notify = useNotify();
  const [token, setToken] = useState(null);
  const [busy, setBusy] = useState('');
  const [error, setError] = useState('');
  const [confirming, setConfirming] = useState(false);
  const reveal = async () => {
    setBusy('reveal');
    setError('');
    try {
      setToken(await api.getApiToken());
    } catch (err) {
      setError(err.message);
    } finally {
      setBusy('');
    }
  };
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(token);
      notify('Token copied to the clipboard.');
    } catch {
      const field = document.getElementById('api-token');
      if (field) field.select();
      notify('Press Ctrl+C (⌘C) to copy the selected token.', 'info');
    }
  };
  const regenerate = async () => {
    setBusy('regenerate');
    setError('');
    try {
      setToken(await api.regenerateApiToken());
      setConfirming(false);
      notify('A new token was issued. The old one no longer works.');
    } catch (err) {
      setError(err.message);
      setConfirming(false);
    } finally {
      setBusy('');
    }
  };
  return html`<${Section} id="token" title="API access token"
      description=${html`Send it as <code>Authorization: Bearer …</code> to call the API as yourself. Treat it like a password.`}>
    <${Alert}>${error}<//>
    <div class="token-row">
      <label for="api-token" class="visually-hidden">API access token</label>
      <input id="api-token" class="token" readonly value=${token || '••••••••••••••••••••••••••••••••'}
        aria-describedby="token-state" spellcheck=${false} autocomplete="off" />
      <span id="token-state" class="visually-hidden">${token ? 'Shown' : 'Hidden'}</span>
      ${token
        ? html`<${Button} variant="secondary" onClick=${() => setToken(null)}>Hide<//>
               <${Button} variant="secondary" onClick=${copy}>Copy<//>`
        : html`<${Button} variant="secondary" onClick=${reveal} busy=${busy === 'reveal'}>Reveal<//>`}
    </div>
    <div class="form-actions">
      <${Button} variant="danger-outline" onClick=${() => setConfirming(true)}>Regenerate token<//>
    </div>
    <${ConfirmDialog} open=${confirming} title="Regenerate the API token?" confirmLabel="Regenerate"
      busy=${busy === 'regenerate'} onConfirm=${regenerate} onCancel=${() => setConfirming(false)}>
      <p>The current token <strong>stops working at once</strong>, everywhere it is used. Scripts and services using it
        will be refused until you give them the new one.</p>
    <//>
  <//>`;
}

function StorageAndPlan() {
  const { user, config } = useSession();
  const [storage, setStorage] = useState(null);
  const [error, setError] = useState('');
  const [busy, setBusy] = useState('');
  useEffect(() => {
    api.getStorage().then(setStorage, (err) => setError(err.message));
  }, []);
  const stripe = (config && config.stripe) || { enabled: false, plans: [] };
  const upgrade = async (plan) => {
    setBusy(plan);
    setError('');
    try {
      const answer = await api.startCheckout(plan);
      if (answer.url) {
        location.assign(answer.url);
        return;
      }
      setError('The checkout was opened, but the payment page could not be reached. Please try again later.');
    } catch (err) {
      setError(fieldError(err, 'plan') || err.message);
    }
    setBusy('');
  };
  const planName = (p) => p[0].toUpperCase() + p.slice(1);
  return html`<div class="grid grid-2">
    <${Section} id="storage" title="Storage">
      ${storage ? html`<p class="big-number">${formatBytes(storage.total_bytes)}</p>
        <p class="muted">used by ${formatCount(storage.file_count, 'file', 'files')}</p>
        <p><${Link} href="/files">Manage files<//></p>` : error ? null : html`<${Loading} />`}
    <//>
    <${Section} id="plan" title="Plan">
      <p class="big-number">${user.plan ? planName(user.plan) : 'Free'}</p>
      <p class="muted">${user.subscription_status ? `Subscription ${user.subscription_status.replace(/_/g, ' ')}.` : 'No paid subscription.'}</p>
      <${Alert}>${error}<//>
      ${stripe.enabled
        ? html`<div class="form-actions">${stripe.plans.filter((p) => p !== user.plan).map((p) => html`
            <${Button} key=${p} onClick=${() => upgrade(p)} busy=${busy === p}>Upgrade to ${planName(p)}<//>`)}</div>
            <p class="hint">You will pay on Stripe’s secure checkout page, then come back here.</p>`
        : html`<p class="hint">Paid plans are not offered on this server.</p>`}
    <//>
  </div>`;
}

function PasswordSection({ hasPassword }) {
  const notify = useNotify();
  const blank = { current_password: '', password: '', confirm_password: '' };
  const [values, setValues] = useState(blank);
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const set = (name) => (e) => setValues({ ...values, [name]: e.currentTarget.value });
  const submit = async (e) => {
    e.preventDefault();
    if (values.password !== values.confirm_password) {
      setError(new ApiError(400, '', { confirm_password: ['The passwords do not match.'] }));
      return;
    }
    setBusy(true);
    setError(null);
    try {
      await api.changePassword(values.current_password, values.password, values.confirm_password);
      setValues(blank);
      notify('Password changed. Your other devices have been signed out.');
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  if (hasPassword === false) {
    return html`<${Section} id="password" title="Password">
      <p>Your account signs in through a provider and has no password yet.
        To set one, use <${Link} href="/forgot-password">the password reset page<//>.</p>
    <//>`;
  }
  const anyField = error && Object.keys(error.fields || {}).length > 0;
  return html`<${Section} id="password" title="Password" description="Changing it signs out every other device.">
    <${Alert}>${error && !anyField ? error.message : null}<//>
    <form onSubmit=${submit} novalidate>
      <${Field} label="Current password" name="current_password" id="current-password" type="password" autocomplete="current-password"
        value=${values.current_password} onInput=${set('current_password')} error=${fieldError(error, 'current_password')} />
      <div class="field-row">
        <${Field} label="New password" name="password" id="new-password" type="password" autocomplete="new-password" minlength="8"
          value=${values.password} onInput=${set('password')} error=${fieldError(error, 'password')} />
        <${Field} label="Repeat the new password" name="confirm_password" id="confirm-password" type="password" autocomplete="new-password"
          value=${values.confirm_password} onInput=${set('confirm_password')} error=${fieldError(error, 'confirm_password')} />
      </div>
      <div class="form-actions"><${Button} type="submit" busy=${busy}>Change password<//></div>
    </form>
  <//>`;
}

function ProvidersSection({ identities, reload }) {
  const { user, config } = useSession();
  const notify = useNotify();
  const [error, setError] = useState('');
  const [busy, setBusy] = useState('');
  const providers = (config && config.providers) || {};
  const unlink = async (provider) => {
    setBusy(provider);
    setError('');
    try {
      await api.unlinkIdentity(provider);
      notify(`${provider === 'google' ? 'Google' : 'GitHub'} unlinked.`);
      reload();
    } catch (err) {
      setError(err.message);
    } finally {
      setBusy('');
    }
  };
  const linked = identities ? identities.identities : [];
  return html`<${Section} id="providers" title="Sign-in providers"
      description="Google or GitHub accounts that can sign you in. A provider is linked when you first sign in with it using this account's verified address.">
    <${Alert}>${error}<//>
    ${!identities ? html`<${Loading} />` : linked.length === 0
      ? html`<${Empty} title="No provider linked">${providers.google || providers.github ? 'Sign out, then choose "Continue with Google" or "Continue with GitHub" with the same e-mail address.' : 'This server offers password sign-in only.'}<//>`
      : html`<ul class="list">${linked.map((i) => html`<li key=${i.provider} class="list-row">
          <div><strong>${i.provider === 'google' ? 'Google' : 'GitHub'}</strong>
            <p class="muted">${i.email} · linked ${formatTime(i.linked_at, user.tz)} · last used ${formatTime(i.last_login_at, user.tz)}</p></div>
          <${Button} variant="secondary" small busy=${busy === i.provider} onClick=${() => unlink(i.provider)}
            disabled=${!identities.has_password && linked.length === 1} title=${!identities.has_password && linked.length === 1 ? 'Set a password first: this is your only way to sign in.' : undefined}>Unlink<//>
        </li>`)}</ul>`}
  <//>`;
}

function EventsSection() {
  const { user } = useSession();
  const [events, setEvents] = useState(null);
  const [error, setError] = useState('');
  useEffect(() => {
    api.getMyEvents(10).then((d) => setEvents(d.events), (err) => setError(err.message));
  }, []);
  return html`<${Section} id="events" title="Recent security events" description="Sign-ins and changes to your account, newest first.">
    <${Alert}>${error}<//>
    ${!events && !error ? html`<${Loading} />` : null}
    ${events && events.length === 0 ? html`<${Empty} title="Nothing yet" />` : null}
    ${events && events.length ? html`<ul class="list events">${events.map((e) => html`<li key=${e.id} class="list-row">
        <div>
          <strong>${eventLabel(e.kind)}</strong> ${isWarning(e.kind) ? html`<${Badge} tone="warning">Check<//>` : null}
          <p class="muted">${[formatTime(e.created_at, user.tz), e.ip, describeAgent(e.user_agent), e.detail].filter(Boolean).join(' · ')}</p>
        </div>
      </li>`)}</ul>` : null}
    <p class="hint">Something you do not recognise? <a href="#password">Change your password</a> and regenerate your API token.
      You can also <a href=${api.exportUrl} download>download everything we hold about you</a>.</p>
  <//>`;
}

export function Settings() {
  const [identities, setIdentities] = useState(null);
  const load = () => api.getIdentities().then(setIdentities, () => setIdentities({ has_password: true, identities: [] }));
  useEffect(() => {
    load();
  }, []);
  useEffect(() => {
    if (location.hash) {
      const el = document.getElementById(location.hash.slice(1));
      if (el) el.scrollIntoView();
    }
  }, []);
  return html`<div>
    <${PageHeader} title="Settings" subtitle="Your time zone, API access, plan and account security." />
    <nav class="subnav" aria-label="Settings sections">
      <a href="#timezone">Time zone</a><a href="#token">API token</a><a href="#plan">Plan</a>
      <a href="#password">Password</a><a href="#providers">Providers</a><a href="#events">Security events</a>
    </nav>
    <div class="stack">
      <${TimeZoneSection} />
      <${TokenSection} />
      <${StorageAndPlan} />
      <div id="security" class="stack">
        <${PasswordSection} hasPassword=${identities ? identities.has_password : undefined} />
        <${ProvidersSection} identities=${identities} reload=${load} />
        <${EventsSection} />
      </div>
    </div>
  </div>`;
}
