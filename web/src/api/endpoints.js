// Every endpoint the app calls, in one place, each a small function over csrfFetch.
// Paths and bodies are those of userd's OpenAPI document (/api/openapi.json).
import { csrfFetch, query, rememberCsrf, uploadWithProgress } from './client.js';

// --- the deployment and the browser session (documents 000/001) ----------------------
export const getConfig = () => csrfFetch('/api/users/config/');
export const getSession = () => csrfFetch('/api/users/session/', { quiet401: true });

export async function signIn(login, password) {
  const json = login.includes('@') ? { email: login, password } : { username: login, password };
  const answer = await csrfFetch('/api/users/session/', { method: 'POST', json, quiet401: true });
  rememberCsrf(answer && answer.csrftoken);
  return answer;
}
export const signOut = () => csrfFetch('/api/users/session/', { method: 'DELETE', quiet401: true });

// --- sign-up and the account lifecycle (documents 002, 003) --------------------------
/** Document 003's registration: the user picks a username. */
export const register = (fields) => csrfFetch('/careers/users/register/', { method: 'POST', json: fields, quiet401: true });
export const requestPasswordReset = (email) => csrfFetch('/api/users/password/reset/', { method: 'POST', json: { email } });
export const confirmPasswordReset = (token, password, confirm_password) =>
  csrfFetch('/api/users/password/reset/confirm/', { method: 'POST', json: { token, password, confirm_password } });
export const verifyEmail = (token) => csrfFetch('/api/users/email/verify/', { method: 'POST', json: { token } });
export const resendVerification = () => csrfFetch('/api/users/email/resend/', { method: 'POST' });
export const changePassword = (current_password, password, confirm_password) =>
  csrfFetch('/api/users/password/change/', { method: 'POST', json: { current_password, password, confirm_password } });
export const signInWithProvider = (provider, credential) =>
  csrfFetch(`/api/users/session/${provider}/`, {
    method: 'POST',
    json: provider === 'google' ? { token: credential } : { code: credential },
    quiet401: true,
  }).then((answer) => {
    rememberCsrf(answer && answer.csrftoken);
    return answer;
  });

// --- profile (documents 002, 003, 004) ------------------------------------------------
export const getMyProfile = () => csrfFetch('/careers/users/me/');
export const getMyCompany = () => csrfFetch('/api/users/profile/').then((a) => a.data.company_name);
export const updateProfile = (fields) => csrfFetch('/careers/users/me/update/', { method: 'PATCH', json: fields });
/** Document 004's update: the picture as a multipart file part. */
export function uploadPicture(file) {
  const form = new FormData();
  form.append('profile_pic', file);
  return csrfFetch('/api/user/update/', { method: 'PUT', form });
}
export const removePicture = () => csrfFetch('/api/user/update/', { method: 'PUT', json: { profile_pic: null } });

// --- settings, the API token, storage, billing (documents 000/001) --------------------
export const setTimeZone = (tz) => csrfFetch('/api/users/settings/', { method: 'PATCH', json: { tz } });
export const getApiToken = () => csrfFetch('/api/users/me/token/').then((a) => a.access_token);
export const regenerateApiToken = () => csrfFetch('/api/users/me/token/regenerate/', { method: 'POST' }).then((a) => a.access_token);
export const getStorage = () => csrfFetch('/api/users/storage/');
export const startCheckout = (plan) => csrfFetch('/api/users/stripe/checkout/', { method: 'POST', json: { plan } });
export const getIdentities = () => csrfFetch('/api/users/identities/').then((a) => a.data);
export const unlinkIdentity = (provider) => csrfFetch(`/api/users/identities/${encodeURIComponent(provider)}/`, { method: 'DELETE' });
export const getMyEvents = (limit = 10) => csrfFetch(`/api/users/events/${query({ limit })}`).then((a) => a.data);
export const exportUrl = '/api/users/me/export/';

// --- people (document 003) -------------------------------------------------------------
export const listPeople = ({ search, first_name, last_name, ordering, batch_size, batch_number }) =>
  csrfFetch(`/careers/users/${query({ search, first_name, last_name, ordering, batch_size, batch_number })}`);
export const getPerson = (username) => csrfFetch(`/careers/users/${encodeURIComponent(username)}/`);
export const getFollowers = (username, batch_number = 0, batch_size = 20) =>
  csrfFetch(`/careers/users/${encodeURIComponent(username)}/followers/${query({ batch_number, batch_size })}`);
export const getFollowing = (username, batch_number = 0, batch_size = 20) =>
  csrfFetch(`/careers/users/${encodeURIComponent(username)}/following/${query({ batch_number, batch_size })}`);
export const follow = (id) => csrfFetch('/careers/users/follow/', { method: 'POST', json: { following: id } });
export const unfollow = (username) => csrfFetch(`/careers/users/${encodeURIComponent(username)}/unfollow/`, { method: 'DELETE' });

// --- files (/api/files/) -----------------------------------------------------------------
export const listFiles = (cursorUrl) => csrfFetch(cursorUrl || '/api/files/?limit=20');
export function uploadFile(file, onProgress) {
  const form = new FormData();
  form.append('file', file);
  return uploadWithProgress('/api/files/', form, onProgress);
}
export const deleteFile = (id) => csrfFetch(`/api/files/${encodeURIComponent(id)}/`, { method: 'DELETE' });
export const fileContentUrl = (id) => `/api/files/${encodeURIComponent(id)}/content/`;

// --- staff (/api/staff/) -----------------------------------------------------------------
export const searchUsers = (search, cursor) => csrfFetch(`/api/staff/users/${query({ search, cursor, limit: 25 })}`).then((a) => a.data);
export const getUser = (id) => csrfFetch(`/api/staff/users/${encodeURIComponent(id)}/`).then((a) => a.data);
export const getUserEvents = (id) => csrfFetch(`/api/staff/users/${encodeURIComponent(id)}/events/?limit=20`).then((a) => a.data);
export const deactivateUser = (id) => csrfFetch(`/api/staff/users/${encodeURIComponent(id)}/deactivate/`, { method: 'POST' });
export const reactivateUser = (id) => csrfFetch(`/api/staff/users/${encodeURIComponent(id)}/reactivate/`, { method: 'POST' });
