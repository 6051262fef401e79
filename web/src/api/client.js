// The only place that talks HTTP. Every request carries the session cookie
// (same-origin), and every unsafe one the CSRF token read from the `csrftoken` cookie
// (or the one the sign-in answer gave). No token is ever kept in localStorage or
// sessionStorage: the session lives in an HttpOnly cookie the page cannot read.
import { ApiError, problemOf } from '../models/errors.js';

const SAFE = new Set(['GET', 'HEAD', 'OPTIONS']);
let csrfFromSignIn = '';

/** The sign-in answer's CSRF token, used while the cookie is not readable yet. */
export function rememberCsrf(token) {
  csrfFromSignIn = token || '';
}

export function csrfToken() {
  const match = document.cookie.split('; ').find((c) => c.startsWith('csrftoken='));
  return match ? decodeURIComponent(match.slice('csrftoken='.length)) : csrfFromSignIn;
}

/** Called when a request answers 401: the session ended (signed out elsewhere, expired). */
let onUnauthenticated = () => {};
export function whenUnauthenticated(handler) {
  onUnauthenticated = handler;
}

/**
 * fetch() with the session cookie and, on unsafe methods, `X-CSRFToken`. `json` is sent
 * as a JSON body; `form` (a FormData) as multipart. Answers the parsed JSON (or null),
 * and throws an ApiError carrying the message and each field's errors otherwise.
 */
export async function csrfFetch(path, { method = 'GET', json, form, quiet401 = false } = {}) {
  const headers = { Accept: 'application/json' };
  let body;
  if (json !== undefined) {
    headers['Content-Type'] = 'application/json';
    body = JSON.stringify(json);
  } else if (form) {
    body = form;
  }
  if (!SAFE.has(method)) headers['X-CSRFToken'] = csrfToken();
  let res;
  try {
    res = await fetch(path, { method, headers, body, credentials: 'same-origin', cache: 'no-store' });
  } catch {
    throw new ApiError(0, 'The server could not be reached. Check your connection and try again.');
  }
  return readAnswer(res.status, await res.text(), res.headers.get('Retry-After'), quiet401);
}

function readAnswer(status, text, retryAfter, quiet401) {
  let data = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = null;
    }
  }
  if (status >= 200 && status < 300) return data;
  if (status === 401 && !quiet401) onUnauthenticated();
  const { message, fields } = problemOf(status, data, retryAfter);
  throw new ApiError(status, message, fields);
}

/**
 * A multipart upload through XMLHttpRequest, whose upload events report progress
 * (fetch has none): `onProgress(sent, total)` as the bytes leave.
 */
export function uploadWithProgress(path, form, onProgress) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open('POST', path);
    xhr.withCredentials = true;
    xhr.setRequestHeader('Accept', 'application/json');
    xhr.setRequestHeader('X-CSRFToken', csrfToken());
    xhr.upload.addEventListener('progress', (e) => {
      if (e.lengthComputable) onProgress(e.loaded, e.total);
    });
    xhr.addEventListener('load', () => {
      try {
        resolve(readAnswer(xhr.status, xhr.responseText, xhr.getResponseHeader('Retry-After'), false));
      } catch (e) {
        reject(e);
      }
    });
    xhr.addEventListener('error', () => reject(new ApiError(0, 'The upload failed: the server could not be reached.')));
    xhr.addEventListener('abort', () => reject(new ApiError(0, 'The upload was cancelled.')));
    xhr.send(form);
  });
}

/** `?a=1&b=x` from an object, leaving out empty values. */
export function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
  }
  const s = q.toString();
  return s ? `?${s}` : '';
}
