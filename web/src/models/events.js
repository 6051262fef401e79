// Security events as sentences (the `kind`s of GET /api/users/events/).

const KINDS = {
  account_created: 'Account created',
  login_succeeded: 'Signed in',
  login_failed: 'Failed sign-in attempt',
  login_throttled: 'Sign-in attempts paused (too many)',
  logout: 'Signed out',
  password_changed: 'Password changed',
  password_reset_requested: 'Password reset requested',
  password_reset: 'Password reset',
  email_verification_sent: 'Verification e-mail sent',
  email_verified: 'E-mail address verified',
  email_changed: 'E-mail address changed',
  api_token_regenerated: 'API token regenerated',
  provider_linked: 'Sign-in provider linked',
  provider_unlinked: 'Sign-in provider unlinked',
  deactivated: 'Account deactivated',
  reactivated: 'Account reactivated',
};

export function eventLabel(kind) {
  return KINDS[kind] || kind.replace(/_/g, ' ');
}

/** Events worth a second look are marked. */
export function isWarning(kind) {
  return ['login_failed', 'login_throttled', 'deactivated', 'provider_unlinked'].includes(kind);
}

/** "Chrome on Linux" from a User-Agent, enough to recognise one's own devices. */
export function describeAgent(ua) {
  if (!ua) return '';
  const browser = /Edg\//.test(ua) ? 'Edge' : /Firefox\//.test(ua) ? 'Firefox' : /Chrom(e|ium)\//.test(ua) ? 'Chrome'
    : /Safari\//.test(ua) ? 'Safari' : /curl\//.test(ua) ? 'curl' : '';
  const os = /Windows/.test(ua) ? 'Windows' : /Android/.test(ua) ? 'Android' : /iPhone|iPad/.test(ua) ? 'iOS'
    : /Mac OS X/.test(ua) ? 'macOS' : /Linux/.test(ua) ? 'Linux' : '';
  if (browser && os) return `${browser} on ${os}`;
  return browser || os || ua.slice(0, 40);
}
