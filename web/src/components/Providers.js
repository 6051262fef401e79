// "Continue with Google / GitHub", drawn only for the providers this deployment has.
// Each sends the browser to the provider, which returns it to /auth/<provider>.
import { html } from '../html.js';
import { useSession } from '../context/session.js';

function randomState() {
  const bytes = new Uint8Array(16);
  crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

/** The state (and Google's nonce) live in a cookie for ten minutes, never in storage. */
function remember(name, value) {
  document.cookie = `${name}=${value}; Path=/auth; Max-Age=600; SameSite=Lax${location.protocol === 'https:' ? '; Secure' : ''}`;
}

function goGitHub(github) {
  const state = randomState();
  remember('oauth_state', state);
  const url = new URL(github.authorize_url);
  url.searchParams.set('client_id', github.client_id);
  url.searchParams.set('redirect_uri', `${location.origin}/auth/github`);
  url.searchParams.set('scope', 'read:user user:email');
  url.searchParams.set('state', state);
  location.assign(url.toString());
}

function goGoogle(google) {
  const state = randomState();
  remember('oauth_state', state);
  const url = new URL('https://accounts.google.com/o/oauth2/v2/auth');
  url.searchParams.set('client_id', google.client_id);
  url.searchParams.set('redirect_uri', `${location.origin}/auth/google`);
  url.searchParams.set('response_type', 'id_token');
  url.searchParams.set('scope', 'openid email profile');
  url.searchParams.set('nonce', randomState());
  url.searchParams.set('state', state);
  location.assign(url.toString());
}

export function ProviderButtons() {
  const { config } = useSession();
  const providers = (config && config.providers) || {};
  if (!providers.google && !providers.github) return null;
  return html`<div class="providers">
    <div class="divider"><span>or</span></div>
    ${providers.google ? html`<button type="button" class="btn btn-secondary btn-block provider provider-google" onClick=${() => goGoogle(providers.google)}>
      <span class="provider-icon provider-icon-google" aria-hidden="true">G</span><span>Continue with Google</span></button>` : null}
    ${providers.github ? html`<button type="button" class="btn btn-secondary btn-block provider provider-github" onClick=${() => goGitHub(providers.github)}>
      <span class="provider-icon provider-icon-github" aria-hidden="true"></span><span>Continue with GitHub</span></button>` : null}
  </div>`;
}
