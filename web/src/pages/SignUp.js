import { useState } from '../../vendor/hooks.mjs';
import { html } from '../html.js';
import { Link, navigate } from '../router.js';
import { useSession } from '../context/session.js';
import { Alert } from '../components/feedback.js';
import { Button, Field, bind } from '../components/form.js';
import { PageHeader } from '../components/Page.js';
import { ProviderButtons } from '../components/Providers.js';
import * as api from '../api/endpoints.js';
import { ApiError, fieldError } from '../models/errors.js';

export function SignUp() {
  const { signIn } = useSession();
  const [values, setValues] = useState({ username: '', email: '', first_name: '', last_name: '', password: '', password_confirm: '' });
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const f = bind(values, setValues);

  const submit = async (e) => {
    e.preventDefault();
    if (values.password !== values.password_confirm) {
      setError(new ApiError(400, 'The passwords do not match.', { password_confirm: ['The passwords do not match.'] }));
      return;
    }
    setBusy(true);
    setError(null);
    try {
      // Registration answers tokens for API clients; the browser drops them and signs
      // in through the cookie session instead.
      await api.register({ ...values, username: values.username.trim(), email: values.email.trim() });
      await signIn(values.username.trim(), values.password);
      navigate('/?welcome=1', { replace: true });
    } catch (err) {
      setError(err);
      setBusy(false);
    }
  };

  const anyField = error && Object.keys(error.fields || {}).length > 0;
  return html`<div class="auth">
    <div class="auth-card card">
      <${PageHeader} title="Create your account" subtitle="One account for every service that uses userd." />
      <${Alert}>${error && !anyField ? error.message : null}<//>
      <form onSubmit=${submit} novalidate>
        <${Field} label="Username" ...${f('username')} autocomplete="username" required maxlength="150"
          hint="Letters, digits and @ . + - _ only. Others see it on your profile." error=${fieldError(error, 'username')} />
        <${Field} label="E-mail address" ...${f('email')} type="email" autocomplete="email" required error=${fieldError(error, 'email')} />
        <div class="field-row">
          <${Field} label="First name" ...${f('first_name')} autocomplete="given-name" error=${fieldError(error, 'first_name')} />
          <${Field} label="Last name" ...${f('last_name')} autocomplete="family-name" error=${fieldError(error, 'last_name')} />
        </div>
        <${Field} label="Password" ...${f('password')} type="password" autocomplete="new-password" required minlength="8"
          hint="At least 8 characters, not only digits, not a common password." error=${fieldError(error, 'password')} />
        <${Field} label="Repeat the password" ...${f('password_confirm')} type="password" autocomplete="new-password" required
          error=${fieldError(error, 'password_confirm')} />
        <${Button} type="submit" busy=${busy} block>Create account<//>
      </form>
      <${ProviderButtons} />
      <p class="auth-switch">Already have an account? <${Link} href="/signin">Sign in<//></p>
    </div>
  </div>`;
}
