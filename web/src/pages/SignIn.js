import { useState } from '../../vendor/hooks.mjs';
import { html } from '../html.js';
import { Link, navigate } from '../router.js';
import { useSession } from '../context/session.js';
import { Alert } from '../components/feedback.js';
import { Button, Field } from '../components/form.js';
import { PageHeader } from '../components/Page.js';
import { ProviderButtons } from '../components/Providers.js';
import { fieldError } from '../models/errors.js';
import { safeNext } from '../wrappers/guards.js';

export function SignIn() {
  const { signIn } = useSession();
  const params = new URLSearchParams(location.search);
  const [login, setLogin] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);

  const submit = async (e) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await signIn(login.trim(), password);
      navigate(safeNext(), { replace: true });
    } catch (err) {
      setError(err);
      setBusy(false);
    }
  };

  const loginError = fieldError(error, 'email', 'username');
  return html`<div class="auth">
    <div class="auth-card card">
      <${PageHeader} title="Sign in" subtitle="Welcome back. Sign in with your e-mail address or username." />
      ${params.get('signed_out') ? html`<${Alert} tone="info">You have signed out.<//>` : null}
      ${params.get('reset') ? html`<${Alert} tone="success">Your password has been changed. Sign in with the new one.<//>` : null}
      <${Alert}>${error && !loginError && !fieldError(error, 'password') ? error.message : null}<//>
      <form onSubmit=${submit} novalidate>
        <${Field} label="E-mail or username" name="login" autocomplete="username" required
          value=${login} onInput=${(e) => setLogin(e.currentTarget.value)} error=${loginError} autofocus />
        <${Field} label="Password" name="password" type="password" autocomplete="current-password" required
          value=${password} onInput=${(e) => setPassword(e.currentTarget.value)} error=${fieldError(error, 'password')}>
        <//>
        <p class="form-aside"><${Link} href="/forgot-password">Forgot your password?<//></p>
        <${Button} type="submit" busy=${busy} block>Sign in<//>
      </form>
      <${ProviderButtons} />
      <p class="auth-switch">New here? <${Link} href="/signup">Create an account<//></p>
    </div>
  </div>`;
}
