// The app's entry: providers for the session and notices, the layout, and the page the
// address names behind its guard.
import { render } from '../vendor/preact.mjs';
import { html } from './html.js';
import { match, useLocation } from './router.js';
import { ROUTES } from './routes.js';
import { SessionProvider, useSession } from './context/session.js';
import { NoticeProvider } from './context/notices.js';
import { RequireSignedIn, RequireSignedOut, RequireStaff } from './wrappers/guards.js';
import { Layout } from './components/Layout.js';
import { Loading } from './components/feedback.js';
import { NotFound } from './pages/NotFound.js';

const GUARDS = { in: RequireSignedIn, out: RequireSignedOut, staff: RequireStaff };

function App() {
  const { path } = useLocation();
  const { loading } = useSession();
  let found = null;
  for (const route of ROUTES) {
    const params = match(route.path, path);
    if (params) {
      found = { route, params };
      break;
    }
  }
  if (loading) return html`<${Layout} bare><${Loading} label="Loading…" /><//>`;
  if (!found) return html`<${Layout}><${NotFound} /><//>`;
  const { route, params } = found;
  const Page = route.page;
  const Guard = GUARDS[route.guard];
  const page = html`<${Page} key=${path} ...${params} />`;
  return html`<${Layout} bare=${route.bare}>${Guard ? html`<${Guard}>${page}<//>` : page}<//>`;
}

const root = document.getElementById('app');
root.textContent = '';
render(html`<${SessionProvider}><${NoticeProvider}><${App} /><//><//>`, root);
