// Where Google and GitHub send the browser back: the state is checked against the one
// this browser set before leaving, then the code (GitHub) or ID token (Google) is
// exchanged for a browser session.
import { useEffect, useState } from '../../vendor/hooks.mjs';
import { html } from '../html.js';
import { Link, navigate } from '../router.js';
import { useSession } from '../context/session.js';
import { Alert, Loading } from '../components/feedback.js';
import { PageHeader } from '../components/Page.js';
import * as api from '../api/endpoints.js';

function takeState() {
  const match = document.cookie.split('; ').find((c) => c.startsWith('oauth_state='));
  document.cookie = 'oauth_state=; Path=/auth; Max-Age=0';
  return match ? match.slice('oauth_state='.length) : '';
}

export function OAuthCallback({ provider }) {
  const { refresh } = useSession();
  const [error, setError] = useState('');
  const name = provider === 'google' ? 'Google' : 'GitHub';
  useEffect(() => {
    const params = new URLSearchParams(provider === 'google' ? location.hash.slice(1) : location.search);
    const expected = takeState();
    const credential = params.get(provider === 'google' ? 'id_token' : 'code');
    if (params.get('error')) {
      setError(`${name} did not sign you in (${params.get('error')}).`);
      return;
    }
    if (!credential || !expected || params.get('state') !== expected) {
      setError(`This sign-in did not start here, or took too long. Please try again.`);
      return;
    }
    history.replaceState(null, '', location.pathname);
    api.signInWithProvider(provider, credential).then(
      async () => {
        await refresh();
        navigate('/', { replace: true });
      },
      (err) => setError(err.message),
    );
  }, [provider]);
  return html`<div class="auth"><div class="auth-card card">
    <${PageHeader} title=${`Signing in with ${name}`} />
    ${error ? html`<${Alert}>${error}<//><p class="auth-switch"><${Link} href="/signin">Back to sign in<//></p>` : html`<${Loading} label=${`Finishing the sign-in with ${name}…`} />`}
  </div></div>`;
}

export const GitHubCallback = () => html`<${OAuthCallback} provider="github" />`;
export const GoogleCallback = () => html`<${OAuthCallback} provider="google" />`;
