// Route guards: a page that needs a signed-in user (or a staff user) draws only once
// the session is known, and sends everyone else where they belong.
import { useEffect } from '../../vendor/hooks.mjs';
import { html } from '../html.js';
import { navigate } from '../router.js';
import { useSession } from '../context/session.js';
import { Loading } from '../components/feedback.js';
import { NotFound } from '../pages/NotFound.js';

function here() {
  return location.pathname + location.search;
}

export function RequireSignedIn({ children }) {
  const { loading, user } = useSession();
  useEffect(() => {
    if (!loading && !user) navigate(`/signin?next=${encodeURIComponent(here())}`, { replace: true });
  }, [loading, user]);
  if (loading || !user) return html`<${Loading} label="Checking your session…" />`;
  return children;
}

/** Staff pages: others see "not found", as the staff API answers them 403. */
export function RequireStaff({ children }) {
  const { user } = useSession();
  return html`<${RequireSignedIn}>${user && user.is_staff ? children : html`<${NotFound} />`}<//>`;
}

/** Sign-in and sign-up: a signed-in user goes on to where they were headed. */
export function RequireSignedOut({ children }) {
  const { loading, user } = useSession();
  useEffect(() => {
    if (!loading && user) navigate(safeNext(), { replace: true });
  }, [loading, user]);
  if (loading || user) return html`<${Loading} label="Checking your session…" />`;
  return children;
}

/** The `next` parameter, only when it is a path of this app (never another site). */
export function safeNext() {
  const next = new URLSearchParams(location.search).get('next') || '/';
  return next.startsWith('/') && !next.startsWith('//') && !next.startsWith('/\\') ? next : '/';
}
