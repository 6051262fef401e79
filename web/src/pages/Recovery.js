// The account-recovery pages: asking for a reset link, the page the link opens
// (/reset-password?token=…), and the page of the verification link (/verify-email?token=…).
import { useEffect, useState } from '../../vendor/hooks.mjs';
import { html } from '../html.js';
import { Link, navigate } from '../router.js';
import { useSession } from '../context/session.js';
import { Alert, Loading } from '../components/feedback.js';
import { Button, Field } from '../components/form.js';
import { PageHeader } from '../components/Page.js';
import * as api from '../api/endpoints.js';
import { ApiError, fieldError } from '../models/errors.js';

export function ForgotPassword() {
  const [email, setEmail] = useState('');
  const [error, setError] = useState(null);
  const [sent, setSent] = useState(false);
  const [busy, setBusy] = useState(false);
  const submit = async (e) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await api.requestPasswordReset(email.trim());
      setSent(true);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return html`<div class="auth"><div class="auth-card card">
    <${PageHeader} title="Reset your password" subtitle="Enter the e-mail address of your account and we will send you a link to choose a new password." />
    ${sent
      ? html`<${Alert} tone="success">If an account uses <strong>${email.trim()}</strong>, a link is on its way. It works for one hour.<//>
          <p class="auth-switch"><${Link} href="/signin">Back to sign in<//></p>`
      : html`<${Alert}>${error && !fieldError(error, 'email') ? error.message : null}<//>
        <form onSubmit=${submit} novalidate>
          <${Field} label="E-mail address" name="email" type="email" autocomplete="email" required autofocus
            value=${email} onInput=${(e) => setEmail(e.currentTarget.value)} error=${fieldError(error, 'email')} />
          <${Button} type="submit" busy=${busy} block>Send the link<//>
        </form>
        <p class="auth-switch"><${Link} href="/signin">Back to sign in<//></p>`}
  </div></div>`;
}

export function ResetPassword() {
  const token = new URLSearchParams(location.search).get('token') || '';
  const [password, setPassword] = useState('');
  const [confirm, setConfirm] = useState('');
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const submit = async (e) => {
    e.preventDefault();
    if (password !== confirm) {
      setError(new ApiError(400, 'The passwords do not match.', { confirm_password: ['The passwords do not match.'] }));
      return;
    }
    setBusy(true);
    setError(null);
    try {
      await api.confirmPasswordReset(token, password, confirm);
      navigate('/signin?reset=1', { replace: true });
    } catch (err) {
      setError(err);
      setBusy(false);
    }
  };
  const tokenError = fieldError(error, 'token');
  return html`<div class="auth"><div class="auth-card card">
    <${PageHeader} title="Choose a new password" subtitle="Every device signed in to your account will be signed out." />
    ${!token ? html`<${Alert}>This link is incomplete. Ask for a new one on the <${Link} href="/forgot-password">password reset page<//>.<//>` : html`
      <${Alert}>${error && (tokenError || !Object.keys(error.fields).length) ? html`${tokenError || error.message} <${Link} href="/forgot-password">Ask for a new link<//>.` : null}<//>
      <form onSubmit=${submit} novalidate>
        <${Field} label="New password" name="password" type="password" autocomplete="new-password" required minlength="8" autofocus
          hint="At least 8 characters, not only digits, not a common password."
          value=${password} onInput=${(e) => setPassword(e.currentTarget.value)} error=${fieldError(error, 'password')} />
        <${Field} label="Repeat the new password" name="confirm_password" type="password" autocomplete="new-password" required
          value=${confirm} onInput=${(e) => setConfirm(e.currentTarget.value)} error=${fieldError(error, 'confirm_password')} />
        <${Button} type="submit" busy=${busy} block>Set the new password<//>
      </form>`}
  </div></div>`;
}

export function VerifyEmail() {
  const { user, refresh } = useSession();
  const token = new URLSearchParams(location.search).get('token') || '';
  const [state, setState] = useState(token ? 'working' : 'missing');
  const [message, setMessage] = useState('');
  useEffect(() => {
    if (!token) return;
    api.verifyEmail(token).then(
      () => {
        setState('done');
        refresh();
      },
      (err) => {
        setState('failed');
        setMessage(fieldError(err, 'token') || err.message);
      },
    );
  }, [token]);
  return html`<div class="auth"><div class="auth-card card">
    <${PageHeader} title="Verify your e-mail address" />
    ${state === 'working' ? html`<${Loading} label="Checking the link…" />` : null}
    ${state === 'done' ? html`<${Alert} tone="success">Thank you: your e-mail address is verified.<//>` : null}
    ${state === 'failed' ? html`<${Alert}>${message} ${user ? 'You can ask for a new link from your profile.' : 'Sign in to ask for a new link.'}<//>` : null}
    ${state === 'missing' ? html`<${Alert}>This link is incomplete. Open the link from the e-mail again.<//>` : null}
    ${state !== 'working' ? html`<p class="auth-switch">${user ? html`<${Link} href="/profile">Go to your profile<//>` : html`<${Link} href="/signin">Sign in<//>`}</p>` : null}
  </div></div>`;
}
