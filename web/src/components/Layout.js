// The frame of every page: a skip link, the header with the navigation (a menu button
// at phone width) and the signed-in user, the main region and a footer.
import { useEffect, useState } from '../../vendor/hooks.mjs';
import { html } from '../html.js';
import { Link, navigate, useLocation } from '../router.js';
import { useSession } from '../context/session.js';
import { Avatar } from './Avatar.js';
import { displayName } from '../models/user.js';

const NAV = [
  { href: '/', label: 'Overview' },
  { href: '/profile', label: 'Profile' },
  { href: '/people', label: 'People' },
  { href: '/files', label: 'Files' },
  { href: '/settings', label: 'Settings' },
];

function NavLink({ href, label, path }) {
  const current = href === '/' ? path === '/' : path === href || path.startsWith(`${href}/`);
  return html`<li><${Link} href=${href} class=${current ? 'nav-link active' : 'nav-link'} aria-current=${current ? 'page' : undefined}>${label}<//></li>`;
}

export function Layout({ children, bare }) {
  const { user, signOut, expired } = useSession();
  const { path } = useLocation();
  const [menuOpen, setMenuOpen] = useState(false);
  useEffect(() => setMenuOpen(false), [path]);

  const onSignOut = async () => {
    await signOut();
    navigate('/signin?signed_out=1');
  };

  const nav = user
    ? [...NAV, ...(user.is_staff ? [{ href: '/staff', label: 'Staff' }] : [])]
    : [];

  return html`
    <a class="skip-link" href="#main">Skip to content</a>
    <header class="topbar">
      <div class="topbar-inner">
        <${Link} href="/" class="brand" aria-label="userd home">
          <span class="brand-mark" aria-hidden="true"></span><span>userd</span>
        <//>
        ${user ? html`
          <button type="button" class="menu-button" aria-expanded=${menuOpen ? 'true' : 'false'} aria-controls="main-nav"
            onClick=${() => setMenuOpen(!menuOpen)}>
            <span class="menu-icon" aria-hidden="true"></span><span>Menu</span>
          </button>
          <nav id="main-nav" class=${menuOpen ? 'mainnav open' : 'mainnav'} aria-label="Main">
            <ul>${nav.map((n) => html`<${NavLink} key=${n.href} ...${n} path=${path} />`)}</ul>
            <div class="usermenu">
              <${Link} href="/profile" class="user-chip" aria-label=${`Your profile: ${displayName(user)}`}>
                <${Avatar} user=${user} size=${28} />
                <span class="user-chip-name">${displayName(user)}</span>
              <//>
              <button type="button" class="btn btn-ghost" onClick=${onSignOut}>Sign out</button>
            </div>
          </nav>` : bare ? null : html`
          <nav class="guestnav" aria-label="Account">
            <${Link} href="/signin" class="nav-link">Sign in<//>
            <${Link} href="/signup" class="btn btn-primary btn-small">Create account<//>
          </nav>`}
      </div>
    </header>
    ${expired ? html`<div class="banner" role="alert">Your session has ended. <${Link} href=${`/signin?next=${encodeURIComponent(location.pathname)}`}>Sign in again<//></div>` : null}
    <main id="main" tabindex="-1" class=${bare ? 'main main-narrow' : 'main'}>${children}</main>
    <footer class="footer">
      <span>userd</span>
      <a href="/api/docs">API documentation</a>
    </footer>
  `;
}
