// End-to-end tests of userd's web app in Debian's Chromium, driven by playwright-core
// (no browser is ever downloaded: the browser is /usr/bin/chromium).
//
// Run by tests/api/web.rs, which starts userd, makes a staff user and sets:
//   USERD_URL        the server, e.g. http://127.0.0.1:40123
//   USERD_DATA_DIR   its data dir (mailed links are read from outbox/*.eml there)
//   STAFF_EMAIL, STAFF_PASSWORD   the staff user made with `userd create-admin`
//   SCREENSHOT_DIR   where every page is saved at 1280×800 and 390×844
//   CHROMIUM         the browser (default /usr/bin/chromium)
// It prints one line per check and closes with "N passed, N failed".
import { chromium } from 'playwright-core';
import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';

const BASE = need('USERD_URL');
const DATA_DIR = need('USERD_DATA_DIR');
const STAFF_EMAIL = need('STAFF_EMAIL');
const STAFF_PASSWORD = need('STAFF_PASSWORD');
const SHOTS = process.env.SCREENSHOT_DIR || 'target/web-screenshots';
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const PASSWORD = 'correct-horse-battery-1';
// Set when userd has Google, GitHub (a local fake) and Stripe (a local fake) configured.
const CONFIGURED = process.env.E2E_PROVIDERS === '1';
const SIZES = [{ width: 1280, height: 800, tag: 'desktop' }, { width: 390, height: 844, tag: 'phone' }];

function need(name) {
  const v = process.env[name];
  if (!v) {
    console.error(`${name} must be set`);
    process.exit(2);
  }
  return v;
}

let passed = 0;
let failed = 0;
const failures = [];
async function check(name, fn) {
  const t0 = Date.now();
  try {
    await fn();
    passed++;
    console.log(`ok   ${name} (${Date.now() - t0} ms)`);
  } catch (e) {
    failed++;
    failures.push(name);
    console.log(`FAIL ${name}: ${e && e.stack ? e.stack : e}`);
  }
}
function assert(cond, message) {
  if (!cond) throw new Error(`assertion failed: ${message}`);
}
function assertEq(actual, expected, message) {
  if (actual !== expected) throw new Error(`${message}: expected ${JSON.stringify(expected)}, got ${JSON.stringify(actual)}`);
}

fs.mkdirSync(SHOTS, { recursive: true });
/** The page as it is now, at both sizes (full height), then back to the desktop size. */
async function shot(page, name) {
  for (const s of SIZES) {
    await page.setViewportSize({ width: s.width, height: s.height });
    await page.evaluate(() => window.scrollTo(0, 0));
    await page.waitForTimeout(150);
    await page.screenshot({ path: path.join(SHOTS, `${name}-${s.tag}.png`), fullPage: true, animations: 'disabled' });
  }
  await page.setViewportSize({ width: 1280, height: 800 });
}

/** The newest mailed link of `kind` (verify-email or reset-password) sent to `to`. */
async function mailedLink(to, kind) {
  const dir = path.join(DATA_DIR, 'outbox');
  for (let i = 0; i < 50; i++) {
    const files = fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => f.endsWith('.eml')) : [];
    const found = files
      .map((f) => ({ f, t: fs.statSync(path.join(dir, f)).mtimeMs, text: fs.readFileSync(path.join(dir, f), 'utf8') }))
      .map((m) => ({ ...m, text: m.text.replace(/=\r?\n/g, '').replace(/=3D/gi, '=') }))
      .filter((m) => m.text.toLowerCase().includes(to.toLowerCase()) && m.text.includes(`/${kind}?token=`))
      .sort((a, b) => b.t - a.t);
    if (found.length) {
      const m = found[0].text.match(new RegExp(`/${kind}\\?token=([A-Za-z0-9_\\-.~]+)`));
      if (m) return `/${kind}?token=${m[1]}`;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`no ${kind} mail to ${to} in ${dir}`);
}

async function api(method, p, { token, json } = {}) {
  const headers = {};
  if (token) headers.Authorization = `Bearer ${token}`;
  if (json) headers['Content-Type'] = 'application/json';
  const res = await fetch(BASE + p, { method, headers, body: json ? JSON.stringify(json) : undefined });
  const text = await res.text();
  let body = null;
  try {
    body = JSON.parse(text);
  } catch {
    body = text;
  }
  return { status: res.status, body, headers: res.headers };
}

/** A PNG drawn by the browser itself (a gradient with a circle), as bytes. */
async function makePicture(page) {
  const b64 = await page.evaluate(() => {
    const c = document.createElement('canvas');
    c.width = 256;
    c.height = 256;
    const g = c.getContext('2d');
    const grad = g.createLinearGradient(0, 0, 256, 256);
    grad.addColorStop(0, '#0ea5e9');
    grad.addColorStop(1, '#7c3aed');
    g.fillStyle = grad;
    g.fillRect(0, 0, 256, 256);
    g.fillStyle = '#fde68a';
    g.beginPath();
    g.arc(128, 110, 52, 0, Math.PI * 2);
    g.fill();
    g.fillRect(48, 180, 160, 76);
    return c.toDataURL('image/png').split(',')[1];
  });
  return Buffer.from(b64, 'base64');
}

// --- people to find and follow, made through the API (document 003's registration) ------
const PEOPLE = [
  ['grace', 'Grace', 'Hopper', 'Compilers, COBOL and nanoseconds.'],
  ['linus', 'Linus', 'Torvalds', 'Kernels and version control.'],
  ['margaret', 'Margaret', 'Hamilton', 'Flight software for Apollo.'],
  ['alan', 'Alan', 'Turing', 'Computable numbers.'],
  ['barbara', 'Barbara', 'Liskov', 'Abstraction and substitution.'],
  ['dennis', 'Dennis', 'Ritchie', 'C and Unix.'],
  ['donald', 'Donald', 'Knuth', 'The art of programming.'],
  ['edsger', 'Edsger', 'Dijkstra', 'Shortest paths.'],
  ['frances', 'Frances', 'Allen', 'Optimising compilers.'],
  ['hedy', 'Hedy', 'Lamarr', 'Frequency hopping.'],
  ['john', 'John', 'McCarthy', 'Lisp.'],
  ['katherine', 'Katherine', 'Johnson', 'Orbital mechanics.'],
  ['ken', 'Ken', 'Thompson', 'Unix and Go.'],
  ['radia', 'Radia', 'Perlman', 'Spanning trees.'],
];

const browser = await chromium.launch({
  executablePath: CHROMIUM,
  headless: true,
  chromiumSandbox: false,
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync'],
});

const problems = [];
function watch(page, who) {
  page.on('pageerror', (e) => problems.push(`${who}: page error: ${e.message}`));
  page.on('console', (m) => {
    const text = m.text();
    // A refused request is logged by Chromium as "Failed to load resource"; those are
    // expected (401 before sign-in, 400s of checks). Anything else is a defect, a CSP
    // violation ("Refused to …") above all.
    if ((m.type() === 'error' || m.type() === 'warning') && !text.startsWith('Failed to load resource')) {
      problems.push(`${who}: console ${m.type()}: ${text}`);
    }
  });
}

let adaToken = '';
const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 }, acceptDownloads: true });
const page = await ctx.newPage();
watch(page, 'ada');

try {
  await check('the people to find are registered through document 003', async () => {
    for (const [username, first_name, last_name, bio] of PEOPLE) {
      const r = await api('POST', '/careers/users/register/', {
        json: { username, email: `${username}@example.com`, password: PASSWORD, password_confirm: PASSWORD, first_name, last_name, bio },
      });
      assertEq(r.status, 201, `register ${username}`);
    }
  });

  await check('the app is served with its security headers, and deep links serve it too', async () => {
    for (const p of ['/', '/settings', '/people/grace']) {
      const r = await fetch(BASE + p);
      assertEq(r.status, 200, p);
      const csp = r.headers.get('content-security-policy') || '';
      assert(csp.includes("frame-ancestors 'none'"), `CSP of ${p}: ${csp}`);
      assert(csp.includes("script-src 'self'") && !csp.includes('unsafe-inline'), `no inline code: ${csp}`);
      assertEq(r.headers.get('x-content-type-options'), 'nosniff', 'nosniff');
      assert(r.headers.get('referrer-policy'), 'Referrer-Policy');
      assertEq(r.headers.get('cache-control'), 'no-cache', 'index.html is revalidated');
      const html = await r.text();
      assert(!/<script(?![^>]*\bsrc=)[^>]*>/.test(html), 'no inline script');
      assert(!/<style/.test(html) && !/ style=/.test(html), 'no inline style');
      const asset = html.match(/\/assets\/[0-9a-f]+\/src\/main\.js/);
      assert(asset, 'versioned asset URL');
      const a = await fetch(BASE + asset[0]);
      assertEq(a.status, 200, 'asset');
      assert((a.headers.get('cache-control') || '').includes('immutable'), 'assets are cached for long');
    }
    const missing = await fetch(`${BASE}/no/such/page`);
    assertEq(missing.status, 404, 'an unknown page answers 404 (with the app)');
    const api404 = await fetch(`${BASE}/api/users/nothing-here/`);
    assertEq(api404.status, 404, 'API 404');
    assertEq((await api404.json()).status, 'failed', "the API's 404 keeps its surface's shape");
  });

  await check('sign up: a new user registers and lands on the overview, signed in', async () => {
    await page.goto(`${BASE}/signup`);
    await page.getByRole('heading', { name: 'Create your account' }).waitFor();
    await shot(page, 'signup');
    await page.getByLabel('Username').fill('ada');
    await page.getByLabel('E-mail address').fill('ada@example.com');
    await page.getByLabel('First name').fill('Ada');
    await page.getByLabel('Last name').fill('Lovelace');
    await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
    await page.getByLabel('Repeat the password').fill('not the same');
    await page.getByRole('button', { name: 'Create account' }).click();
    await page.getByText('The passwords do not match.').waitFor();
    await page.getByLabel('Repeat the password').fill(PASSWORD);
    await page.getByLabel('Username').fill('grace');
    await page.getByRole('button', { name: 'Create account' }).click();
    // The API's error for the username is shown next to that field.
    const err = page.locator('#field-username-error');
    await err.waitFor();
    assert(/already|exists|taken/i.test(await err.textContent()), `username error: ${await err.textContent()}`);
    await shot(page, 'signup-errors');
    await page.getByLabel('Username').fill('ada');
    await page.getByRole('button', { name: 'Create account' }).click();
    await page.getByRole('heading', { name: 'Welcome, Ada' }).waitFor();
    assertEq(new URL(page.url()).pathname, '/', 'on the overview');
    const stored = await page.evaluate(() => [localStorage.length, sessionStorage.length]);
    assertEq(JSON.stringify(stored), '[0,0]', 'nothing kept in web storage');
    const cookies = await ctx.cookies();
    const sid = cookies.find((c) => c.name === 'sessionid');
    assert(sid && sid.httpOnly, 'the session cookie is HttpOnly');
    await shot(page, 'overview');
  });

  await check('sign out, then sign in with the username', async () => {
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
    await page.getByText('You have signed out.').waitFor();
    const r = await page.evaluate(() => fetch('/api/users/session/').then((x) => x.status));
    assertEq(r, 401, 'no session after signing out');
    await page.getByLabel('E-mail or username').fill('ada');
    await page.getByLabel('Password').fill('wrong password');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('alert').filter({ hasText: /invalid/i }).waitFor();
    await shot(page, 'signin-error');
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Overview', exact: true }).waitFor();
  });

  await check('a guarded deep link asks for sign-in and returns there afterwards', async () => {
    const other = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const p = await other.newPage();
    watch(p, 'guest');
    await p.goto(`${BASE}/settings`);
    await p.getByRole('heading', { name: 'Sign in' }).waitFor();
    assert(p.url().includes('next=%2Fsettings'), p.url());
    await shot(p, 'signin');
    await p.getByLabel('E-mail or username').fill('ada@example.com');
    await p.getByLabel('Password').fill(PASSWORD);
    await p.getByRole('button', { name: 'Sign in' }).click();
    await p.getByRole('heading', { name: 'Settings', exact: true }).waitFor();
    await p.goto(`${BASE}/no/such/page`);
    await p.getByRole('heading', { name: 'Page not found' }).waitFor();
    await shot(p, 'not-found');
    await other.close();
  });

  await check('the verification link from the mail verifies the address', async () => {
    await page.goto(`${BASE}/profile`);
    await page.getByText('Please verify ada@example.com.').waitFor();
    const link = await mailedLink('ada@example.com', 'verify-email');
    await page.goto(BASE + link);
    await page.getByText('your e-mail address is verified').waitFor();
    await shot(page, 'verify-email');
    await page.goto(`${BASE}/profile`);
    await page.getByRole('heading', { name: 'Profile', exact: true }).waitFor();
    assertEq(await page.getByText('Please verify').count(), 0, 'the banner is gone');
  });

  await check('edit the profile: names, company, bio, e-mail errors, and a picture with a preview', async () => {
    await page.goto(`${BASE}/profile`);
    await page.getByLabel('Company').waitFor();
    const png = await makePicture(page);
    await page.locator('input[name="profile_pic"]').setInputFiles({ name: 'ada.png', mimeType: 'image/png', buffer: png });
    await page.getByText('Preview').waitFor();
    const previewSrc = await page.locator('.picture-preview img').getAttribute('src');
    assert(previewSrc.startsWith('blob:'), `preview from the chosen file: ${previewSrc}`);
    await shot(page, 'profile-preview');
    await page.getByRole('button', { name: 'Save picture' }).click();
    await page.getByText('Profile picture saved.').waitFor();
    const saved = await page.locator('.picture-preview img').getAttribute('src');
    assert(saved.startsWith('/api/user/media/'), `the stored picture (document 004's): ${saved}`);
    const pic = await page.request.get(BASE + saved);
    assertEq(pic.status(), 200, 'picture served');

    await page.getByLabel('E-mail address').fill('not-an-address');
    await page.getByRole('button', { name: 'Save changes' }).click();
    const emailError = page.locator('#field-email-error');
    await emailError.waitFor();
    await shot(page, 'profile-errors');
    await page.getByLabel('E-mail address').fill('ada@example.com');
    await page.getByLabel('First name').fill('Augusta Ada');
    await page.getByLabel('Last name').fill('King');
    await page.getByLabel('Company').fill('Analytical Engines Ltd');
    await page.getByLabel('Bio').fill('First programmer. Notes on the Analytical Engine.');
    await page.getByRole('button', { name: 'Save changes' }).click();
    await page.getByText('Profile saved.').waitFor();
    const me = await page.evaluate(() => Promise.all([
      fetch('/careers/users/me/').then((r) => r.json()),
      fetch('/api/users/profile/').then((r) => r.json()),
    ]));
    assertEq(me[0].first_name, 'Augusta Ada', 'first name stored');
    assertEq(me[0].bio, 'First programmer. Notes on the Analytical Engine.', 'bio stored');
    assertEq(me[1].data.company_name, 'Analytical Engines Ltd', 'company stored');
    await page.reload();
    await page.getByLabel('Company').waitFor();
    assertEq(await page.getByLabel('Company').inputValue(), 'Analytical Engines Ltd', 'company shown after a reload');
    await shot(page, 'profile');
  });

  await check('change the time zone from the searchable IANA list', async () => {
    await page.goto(`${BASE}/settings`);
    await page.getByLabel('Search time zones').fill('tokyo');
    const list = page.getByRole('listbox', { name: /^Time zone/ });
    await page.locator('#tz-list option[value="Asia/Tokyo"]').waitFor({ state: 'attached' });
    await list.selectOption('Asia/Tokyo');
    await page.getByRole('button', { name: 'Save time zone' }).click();
    await page.getByText('Time zone set to Asia/Tokyo.').waitFor();
    await page.reload();
    await page.getByText('Current:').waitFor();
    assert((await page.locator('.current').textContent()).includes('Asia/Tokyo'), 'kept after a reload');
    await page.getByLabel('Search time zones').fill('new york');
    await page.locator('#tz-list option[value="America/New_York"]').waitFor({ state: 'attached' });
    await shot(page, 'settings');
  });

  await check('reveal, copy and regenerate the API token; the old one is refused at once', async () => {
    await page.goto(`${BASE}/settings#token`);
    const field = page.getByRole('textbox', { name: 'API access token' });
    await field.waitFor();
    assert(!(await field.inputValue()).startsWith('userd_'), 'hidden until revealed');
    await page.getByRole('button', { name: 'Reveal' }).click();
    await page.getByRole('button', { name: 'Copy' }).waitFor();
    const old = await field.inputValue();
    assert(old.startsWith('userd_'), `revealed: ${old.slice(0, 8)}`);
    assertEq((await api('GET', '/api/users/me/', { token: old })).status, 200, 'the old token works before');
    await page.getByRole('button', { name: 'Regenerate token' }).click();
    const dialog = page.getByRole('dialog');
    await dialog.waitFor();
    assert((await dialog.textContent()).includes('stops working at once'), 'the dialog warns');
    await shot(page, 'settings-regenerate');
    await dialog.getByRole('button', { name: 'Regenerate' }).click();
    await page.getByText('A new token was issued.').waitFor();
    const fresh = await field.inputValue();
    assert(fresh.startsWith('userd_') && fresh !== old, 'a new token is shown');
    adaToken = fresh;
    assertEq((await api('GET', '/api/users/me/', { token: old })).status, 401, 'the old token is refused');
    const now = await api('GET', '/api/users/me/', { token: fresh });
    assertEq(now.status, 200, 'the new token works');
    assertEq(now.body.username, 'ada', 'as ada');
  });

  await check('settings show storage, plan, password change, providers and recent events', async () => {
    await page.goto(`${BASE}/settings`);
    await page.getByRole('heading', { name: 'Recent security events' }).waitFor();
    await page.getByText('API token regenerated').waitFor();
    await page.getByText(CONFIGURED ? 'Upgrade to Pro' : 'Paid plans are not offered on this server.').waitFor();
    await page.getByText('No provider linked').waitFor();
    await page.getByLabel('Current password').fill('wrong password');
    await page.getByLabel('New password', { exact: true }).fill('another-long-passphrase');
    await page.getByLabel('Repeat the new password').fill('another-long-passphrase');
    await page.getByRole('button', { name: 'Change password' }).click();
    await page.locator('#current-password-error').waitFor();
  });

  if (CONFIGURED) {
    await check('the upgrade button opens Stripe Checkout for the plan', async () => {
      // Stripe's page is outside this machine's network: the browser is answered here.
      await page.route('https://checkout.stripe.com/**', (route) =>
        route.fulfill({ status: 200, contentType: 'text/html', body: '<!doctype html><title>Stripe Checkout</title><h1>Stripe Checkout (test)</h1>' }));
      await page.goto(`${BASE}/settings#plan`);
      await page.getByRole('button', { name: 'Upgrade to Pro' }).click();
      await page.waitForURL(/^https:\/\/checkout\.stripe\.com\/c\/pay\/cs_test_/);
      await page.getByRole('heading', { name: 'Stripe Checkout (test)' }).waitFor();
      await page.unroute('https://checkout.stripe.com/**');
    });
  }

  await check('people: search, order, page and follow someone', async () => {
    await page.goto(`${BASE}/people`);
    await page.getByRole('heading', { name: /people$/ }).waitFor();
    await page.getByRole('button', { name: 'Next' }).waitFor();
    await shot(page, 'people');
    await page.getByRole('button', { name: 'Next' }).click();
    await page.getByText('Page 2 of 2').waitFor();
    await page.getByLabel('Search').fill('grace');
    await page.getByRole('button', { name: 'Search', exact: true }).click();
    await page.getByRole('heading', { name: '1 person matching “grace”' }).waitFor();
    const follow = page.getByRole('button', { name: 'Follow Grace Hopper' });
    await follow.click();
    await page.getByRole('button', { name: 'Following Grace Hopper', pressed: true }).waitFor();
    const profile = await api('GET', '/careers/users/grace/');
    assertEq(profile.body.followers_count, 1, 'grace has a follower');
    await page.getByLabel('Order by').selectOption('-created_at');
    await page.waitForURL(/ordering=-created_at/);
  });

  await check("a person's page shows counts, followers and following", async () => {
    await page.getByRole('link', { name: 'Grace Hopper' }).click();
    await page.getByRole('heading', { name: 'Grace Hopper' }).waitFor();
    await page.getByRole('tab', { name: /Followers/ }).waitFor();
    await page.getByRole('tabpanel').getByText('@ada').waitFor();
    await page.getByRole('button', { name: 'Following Grace Hopper', pressed: true }).waitFor();
    await shot(page, 'person');
    await page.goto(`${BASE}/people/ada`);
    await page.getByRole('tab', { name: /Following/ }).click();
    await page.getByRole('tabpanel').getByText('@grace').waitFor();
  });

  await check('files: upload with a progress bar, download and delete', async () => {
    await page.goto(`${BASE}/files`);
    await page.getByText('No files yet').waitFor();
    await shot(page, 'files-empty');
    const cdp = await ctx.newCDPSession(page);
    await cdp.send('Network.enable');
    // A slow upload (2 MB/s), so the progress bar is seen moving.
    await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 20, downloadThroughput: -1, uploadThroughput: 2 * 1024 * 1024 });
    const bytes = Buffer.alloc(3 * 1024 * 1024, 7);
    await page.locator('input[name="file"]').setInputFiles({ name: 'engine-notes.bin', mimeType: 'application/octet-stream', buffer: bytes });
    await page.evaluate(() => {
      window.__progress = [];
      new MutationObserver(() => {
        const p = document.querySelector('progress');
        if (p) window.__progress.push(Number(p.value));
      }).observe(document.body, { subtree: true, childList: true, attributes: true });
    });
    await page.getByRole('button', { name: 'Upload' }).click();
    await page.locator('progress').waitFor();
    await page.waitForFunction(() => window.__progress.some((v) => v > 0 && v < 100), null, { timeout: 20000 });
    await shot(page, 'files-uploading');
    await page.getByText('engine-notes.bin uploaded.').waitFor({ timeout: 30000 });
    await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: -1 });
    const seen = await page.evaluate(() => window.__progress);
    assert(seen.some((v) => v > 0 && v < 100), `progress moved: ${seen.join(',')}`);
    const row = page.getByRole('listitem').filter({ hasText: 'engine-notes.bin' });
    await row.waitFor();
    await page.getByText('3.0 MB').first().waitFor();
    const href = await row.getByRole('link', { name: 'Download engine-notes.bin' }).getAttribute('href');
    const got = await page.request.get(BASE + href);
    assertEq(got.status(), 200, 'download');
    assertEq((await got.body()).length, bytes.length, 'the same bytes');
    await shot(page, 'files');
    await row.getByRole('button', { name: 'Delete engine-notes.bin' }).click();
    const dialog = page.getByRole('dialog');
    await dialog.getByRole('button', { name: 'Delete' }).click();
    await page.getByText('engine-notes.bin deleted.').waitFor();
    await page.getByText('No files yet').waitFor();
    const storage = await page.evaluate(() => fetch('/api/users/storage/').then((r) => r.json()));
    assertEq(storage.file_count, 0, 'nothing stored');
  });

  await check('a page on another origin cannot act with the session cookie', async () => {
    const before = await page.evaluate(() => fetch('/api/users/me/token/').then((r) => r.json()));
    const linusId = (await api('GET', '/careers/users/linus/')).body.id;
    const port = await new Promise((resolve) => {
      const server = http.createServer((req, res) => {
        res.writeHead(200, { 'Content-Type': 'text/html' });
        // Classic forged forms (URL-encoded, which the API reads): each carries the
        // session cookie (same site, another origin), neither carries the CSRF token.
        const second = req.url.includes('step=2');
        const form = second
          ? `<form id="f" method="POST" action="${BASE}/api/users/me/token/regenerate/"></form>`
          : `<form id="f" method="POST" action="${BASE}/careers/users/follow/"><input type="hidden" name="following" value="${linusId}"></form>`;
        res.end(`<!doctype html><title>Win a prize</title><h1>Win a prize</h1>${form}
          <script>document.getElementById('f').submit();</script>`);
      });
      server.listen(0, '127.0.0.1', () => resolve(server.address().port));
      ctx.on('close', () => server.close());
    });
    const statuses = [];
    page.on('response', (r) => {
      if (r.url().startsWith(BASE + '/api/') || r.url().startsWith(BASE + '/careers/')) statuses.push([r.request().method(), new URL(r.url()).pathname, r.status()]);
    });
    await page.goto(`http://127.0.0.1:${port}/`);
    await page.waitForURL(`${BASE}/careers/users/follow/`);
    await page.goto(`http://127.0.0.1:${port}/?step=2`);
    await page.waitForURL(`${BASE}/api/users/me/token/regenerate/`);
    const body = await page.textContent('body');
    assert(/CSRF|Origin/i.test(body), `refused: ${body}`);
    assert(statuses.some(([m, p, s]) => m === 'POST' && p === '/api/users/me/token/regenerate/' && s === 403), JSON.stringify(statuses));
    assert(statuses.some(([m, p, s]) => m === 'POST' && p === '/careers/users/follow/' && s === 403), JSON.stringify(statuses));
    await page.goto(`${BASE}/settings`);
    const after = await page.evaluate(() => fetch('/api/users/me/token/').then((r) => r.json()));
    assertEq(after.access_token, before.access_token, 'the token did not change');
    const linus = await api('GET', '/careers/users/linus/');
    assertEq(linus.body.followers_count, 0, 'no follow was made');
  });

  await check('forgotten password: the mailed link sets a new password', async () => {
    const guest = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const p = await guest.newPage();
    watch(p, 'guest');
    await p.goto(`${BASE}/signin`);
    await p.getByRole('link', { name: 'Forgot your password?' }).click();
    await p.getByRole('heading', { name: 'Reset your password' }).waitFor();
    await shot(p, 'forgot-password');
    await p.getByLabel('E-mail address').fill('grace@example.com');
    await p.getByRole('button', { name: 'Send the link' }).click();
    await p.getByText('a link is on its way').waitFor();
    await shot(p, 'forgot-password-sent');
    const link = await mailedLink('grace@example.com', 'reset-password');
    await p.goto(BASE + link);
    await p.getByRole('heading', { name: 'Choose a new password' }).waitFor();
    await p.getByLabel('New password', { exact: true }).fill('12345678');
    await p.getByLabel('Repeat the new password').fill('12345678');
    await p.getByRole('button', { name: 'Set the new password' }).click();
    await p.locator('#field-password-error').waitFor();
    await shot(p, 'reset-password');
    await p.getByLabel('New password', { exact: true }).fill('a-brand-new-passphrase');
    await p.getByLabel('Repeat the new password').fill('a-brand-new-passphrase');
    await p.getByRole('button', { name: 'Set the new password' }).click();
    await p.getByText('Your password has been changed.').waitFor();
    await p.getByLabel('E-mail or username').fill('grace@example.com');
    await p.getByLabel('Password').fill('a-brand-new-passphrase');
    await p.getByRole('button', { name: 'Sign in' }).click();
    await p.getByRole('heading', { name: 'Overview', exact: true }).waitFor();
    await guest.close();
  });

  await check('staff pages are not shown to other users', async () => {
    assertEq(await page.getByRole('link', { name: 'Staff', exact: true }).count(), 0, 'no staff link');
    await page.goto(`${BASE}/staff`);
    await page.getByRole('heading', { name: 'Page not found' }).waitFor();
  });

  await check('a staff user finds a user, sees their events and deactivates them', async () => {
    const staff = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const p = await staff.newPage();
    watch(p, 'staff');
    await p.goto(`${BASE}/signin`);
    await p.getByLabel('E-mail or username').fill(STAFF_EMAIL);
    await p.getByLabel('Password').fill(STAFF_PASSWORD);
    await p.getByRole('button', { name: 'Sign in' }).click();
    await p.getByRole('heading', { name: 'Overview', exact: true }).waitFor();
    await p.getByRole('link', { name: 'Staff', exact: true }).click();
    await p.getByRole('heading', { name: 'Staff', exact: true }).waitFor();
    await p.getByRole('link', { name: 'Augusta Ada King' }).waitFor();
    await shot(p, 'staff');
    await p.getByLabel('Search users').fill('linus');
    await p.getByRole('button', { name: 'Search' }).click();
    await p.getByRole('link', { name: 'Linus Torvalds' }).click();
    await p.getByRole('heading', { name: 'Linus Torvalds' }).waitFor();
    await p.getByText('Account created').waitFor();
    assertEq((await api('POST', '/api/users/login/', { json: { email: 'linus@example.com', password: PASSWORD } })).status, 200, 'linus signs in before');
    await p.getByRole('button', { name: 'Deactivate' }).click();
    const dialog = p.getByRole('dialog');
    await dialog.waitFor();
    await shot(p, 'staff-user-deactivate');
    await dialog.getByRole('button', { name: 'Deactivate' }).click();
    await p.getByText('linus@example.com deactivated.').waitFor();
    await p.locator('.page-header .badge-danger', { hasText: 'Deactivated' }).waitFor();
    await p.getByText('Account deactivated').waitFor();
    await shot(p, 'staff-user');
    const login = await api('POST', '/api/users/login/', { json: { email: 'linus@example.com', password: PASSWORD } });
    assertEq(login.status, 401, 'linus is refused');
    await p.getByRole('button', { name: 'Reactivate' }).click();
    await p.getByRole('dialog').getByRole('button', { name: 'Reactivate' }).click();
    await p.getByText('linus@example.com reactivated.').waitFor();
    assertEq((await api('POST', '/api/users/login/', { json: { email: 'linus@example.com', password: PASSWORD } })).status, 200, 'linus signs in again');
    // The phone layout's menu.
    await p.setViewportSize({ width: 390, height: 844 });
    await p.getByRole('button', { name: 'Menu' }).click();
    await p.getByRole('link', { name: 'People' }).waitFor();
    await p.screenshot({ path: path.join(SHOTS, 'menu-phone.png'), fullPage: false });
    await staff.close();
  });

  if (CONFIGURED) {
    await check('sign in with GitHub: the provider sends the browser back, and a session starts', async () => {
      const guest = await browser.newContext({ viewport: { width: 1280, height: 800 } });
      const p = await guest.newPage();
      watch(p, 'github');
      await p.goto(`${BASE}/signin`);
      await p.getByRole('button', { name: 'Continue with Google' }).waitFor();
      await p.getByRole('button', { name: 'Continue with GitHub' }).click();
      await p.getByRole('heading', { name: 'Overview', exact: true }).waitFor();
      assertEq(new URL(p.url()).pathname, '/', 'back on the overview');
      await p.getByText('@octo').first().waitFor();
      const stored = await p.evaluate(() => [localStorage.length, sessionStorage.length]);
      assertEq(JSON.stringify(stored), '[0,0]', 'nothing kept in web storage');
      await p.goto(`${BASE}/settings#providers`);
      await p.getByText('octo@example.com · linked').waitFor();
      await p.getByText('Your account signs in through a provider and has no password yet.').waitFor();
      await shot(p, 'settings-github');
      // A callback whose state this browser did not set is refused.
      await p.goto(`${BASE}/auth/github?code=forged&state=forged`);
      await p.getByText('This sign-in did not start here').waitFor();
      await shot(p, 'auth-callback-refused');
      await guest.close();
    });
  }

  await check('keyboard: the skip link and the sign-in form work without a mouse', async () => {
    const guest = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const p = await guest.newPage();
    await p.goto(`${BASE}/signin`);
    await p.getByRole('heading', { name: 'Sign in' }).waitFor();
    assertEq(await p.evaluate(() => document.activeElement.id), 'field-login', 'the first field has focus');
    await p.getByRole('link', { name: 'userd home' }).focus();
    await p.keyboard.press('Shift+Tab');
    assertEq(await p.evaluate(() => document.activeElement.textContent), 'Skip to content', 'the skip link comes first');
    await p.keyboard.press('Enter');
    assertEq(await p.evaluate(() => document.activeElement.id), 'main', 'the skip link moves focus to the page');
    await p.locator('#field-login').focus();
    await p.keyboard.type('ada');
    await p.keyboard.press('Tab');
    await p.keyboard.type(PASSWORD);
    await p.keyboard.press('Enter');
    await p.getByRole('heading', { name: 'Overview', exact: true }).waitFor();
    await guest.close();
  });

  await check('no script error or policy violation was logged in any page', async () => {
    assert(problems.length === 0, problems.join('\n'));
  });
} finally {
  await browser.close();
}

console.log(`\n${passed} passed, ${failed} failed`);
if (failed) {
  console.log(`failed: ${failures.join('; ')}`);
  process.exit(1);
}
