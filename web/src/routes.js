// Every page of the app, with who may see it. userd serves index.html for the same list
// (src/http/web.rs `PAGES`, which a test compares with this file); other paths get the
// "not found" page with status 404.
import { Home } from './pages/Home.js';
import { SignIn } from './pages/SignIn.js';
import { SignUp } from './pages/SignUp.js';
import { ForgotPassword, ResetPassword, VerifyEmail } from './pages/Recovery.js';
import { GitHubCallback, GoogleCallback } from './pages/OAuthCallback.js';
import { Profile } from './pages/Profile.js';
import { Settings } from './pages/Settings.js';
import { People } from './pages/People.js';
import { Person } from './pages/Person.js';
import { Files } from './pages/Files.js';
import { Staff, StaffUser } from './pages/Staff.js';

// guard: 'in' (signed in), 'out' (signed out), 'staff', or none (anyone).
export const ROUTES = [
  { path: '/', page: Home, guard: 'in' },
  { path: '/signin', page: SignIn, guard: 'out', bare: true },
  { path: '/signup', page: SignUp, guard: 'out', bare: true },
  { path: '/forgot-password', page: ForgotPassword, bare: true },
  { path: '/reset-password', page: ResetPassword, bare: true },
  { path: '/verify-email', page: VerifyEmail, bare: true },
  { path: '/auth/github', page: GitHubCallback, bare: true },
  { path: '/auth/google', page: GoogleCallback, bare: true },
  { path: '/profile', page: Profile, guard: 'in' },
  { path: '/settings', page: Settings, guard: 'in' },
  { path: '/people', page: People, guard: 'in' },
  { path: '/people/:username', page: Person },
  { path: '/files', page: Files, guard: 'in' },
  { path: '/staff', page: Staff, guard: 'staff' },
  { path: '/staff/users/:id', page: StaffUser, guard: 'staff' },
];
