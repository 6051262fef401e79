// The overview after signing in: who you are, your counts and storage, and what may
// need doing (an unverified address).
import { useEffect, useState } from '../../vendor/hooks.mjs';
import { html } from '../html.js';
import { Link } from '../router.js';
import { useSession } from '../context/session.js';
import { useNotify } from '../context/notices.js';
import { Alert, Loading } from '../components/feedback.js';
import { Avatar } from '../components/Avatar.js';
import { Button } from '../components/form.js';
import { PageHeader } from '../components/Page.js';
import * as api from '../api/endpoints.js';
import { displayName } from '../models/user.js';
import { formatBytes, formatCount } from '../models/format.js';

export function VerifyBanner() {
  const { user } = useSession();
  const notify = useNotify();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState('');
  if (!user || user.email_verified) return null;
  const resend = async () => {
    setBusy(true);
    setError('');
    try {
      const a = await api.resendVerification();
      notify((a && a.message) || 'Verification e-mail sent.');
    } catch (err) {
      setError(err.message);
    } finally {
      setBusy(false);
    }
  };
  return html`<div class="alert alert-info verify-banner" role="status">
    <div><strong>Please verify ${user.email}.</strong> We sent you a link when you signed up or changed it.${error ? html` <span class="field-error">${error}</span>` : null}</div>
    <${Button} variant="secondary" small busy=${busy} onClick=${resend}>Send the link again<//>
  </div>`;
}

export function Home() {
  const { user } = useSession();
  const welcome = new URLSearchParams(location.search).get('welcome');
  const [data, setData] = useState(null);
  const [error, setError] = useState('');
  useEffect(() => {
    Promise.all([api.getMyProfile(), api.getStorage()]).then(
      ([profile, storage]) => setData({ profile, storage }),
      (err) => setError(err.message),
    );
  }, []);
  return html`<div>
    <${PageHeader} title=${welcome ? `Welcome, ${user.first_name || user.username}` : 'Overview'}
      subtitle=${welcome ? 'Your account is ready. Here is everything in one place.' : 'Your account at a glance.'} />
    <${VerifyBanner} />
    <${Alert}>${error}<//>
    <div class="grid grid-3">
      <section class="card profile-summary" aria-labelledby="summary-title">
        <div class="summary-head">
          <${Avatar} user=${user} size=${64} />
          <div>
            <h2 id="summary-title">${displayName(user)}</h2>
            <p class="muted">@${user.username} · ${user.email}</p>
          </div>
        </div>
        ${data ? html`<dl class="stats">
          <div><dt>Followers</dt><dd>${data.profile.followers_count}</dd></div>
          <div><dt>Following</dt><dd>${data.profile.following_count}</dd></div>
          <div><dt>Posts</dt><dd>${data.profile.posts_count}</dd></div>
        </dl>` : html`<${Loading} />`}
        <div class="summary-actions"><${Link} href="/profile" class="btn btn-secondary btn-small">Edit profile<//>
          <${Link} href=${`/people/${encodeURIComponent(user.username)}`} class="btn btn-ghost btn-small">See your public page<//></div>
      </section>
      <section class="card" aria-labelledby="storage-title">
        <h2 id="storage-title">Storage</h2>
        ${data ? html`<p class="big-number">${formatBytes(data.storage.total_bytes)}</p>
          <p class="muted">${formatCount(data.storage.file_count, 'file', 'files')}</p>` : html`<${Loading} />`}
        <p><${Link} href="/files" class="btn btn-secondary btn-small">Manage files<//></p>
      </section>
      <section class="card" aria-labelledby="plan-title">
        <h2 id="plan-title">Plan</h2>
        <p class="big-number">${user.plan ? user.plan[0].toUpperCase() + user.plan.slice(1) : 'Free'}</p>
        <p class="muted">${user.subscription_status ? `Subscription ${user.subscription_status.replace(/_/g, ' ')}` : 'No subscription'}</p>
        <p><${Link} href="/settings#plan" class="btn btn-secondary btn-small">Plan and billing<//></p>
      </section>
      <section class="card" aria-labelledby="security-title">
        <h2 id="security-title">Security</h2>
        <p class="muted">Your API token, password, sign-in providers and recent sign-ins.</p>
        <p><${Link} href="/settings#security" class="btn btn-secondary btn-small">Security settings<//></p>
      </section>
    </div>
  </div>`;
}
