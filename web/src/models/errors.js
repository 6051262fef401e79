// userd's surfaces answer errors in their documents' own shapes: `{status, message,
// errors}` (document 002 and staff), `{message, errors}` (000/001, files), and Django
// REST framework's `{field: [messages]}` or `{detail}` (003, 004). The app reads them all
// into one: a sentence to show, and each field's messages to show beside that field.

export class ApiError extends Error {
  constructor(status, message, fields = {}) {
    super(message);
    this.status = status;
    this.fields = fields;
  }
}

const GENERIC = {
  400: 'Please check the form and try again.',
  401: 'Your session has ended. Please sign in again.',
  403: 'You are not allowed to do that.',
  404: 'Not found.',
  413: 'That is larger than this server accepts.',
  429: 'Too many attempts. Please wait a moment and try again.',
  503: 'The service is busy. Please try again in a moment.',
};

export function problemOf(status, data, retryAfter) {
  let fields = {};
  let message = '';
  if (data && typeof data === 'object' && !Array.isArray(data)) {
    if (data.errors && typeof data.errors === 'object') fields = toFields(data.errors);
    else fields = toFields(data, ['detail', 'code', 'message', 'status', 'non_field_errors']);
    message = data.message || data.detail || firstOf(data.non_field_errors) || '';
  }
  if (!message || message === 'Unexpected error') {
    const first = Object.values(fields)[0];
    message = (first && first[0]) || GENERIC[status] || (status >= 500 ? 'Something went wrong on our side. Please try again.' : 'The request failed.');
  }
  if (status === 429 && retryAfter) message = `${message.replace(/\.$/, '')}. Try again in ${retryAfter} s.`;
  return { message, fields };
}

function toFields(obj, skip = []) {
  const out = {};
  for (const [k, v] of Object.entries(obj)) {
    if (skip.includes(k)) continue;
    if (Array.isArray(v) && v.every((m) => typeof m === 'string')) out[k] = v;
    else if (typeof v === 'string' && !skip.length) out[k] = [v];
  }
  return out;
}

function firstOf(v) {
  return Array.isArray(v) ? v[0] : v;
}

/** The messages of the first of `names` that has any. */
export function fieldError(error, ...names) {
  if (!error || !error.fields) return '';
  for (const n of names) {
    const m = error.fields[n];
    if (m && m.length) return m.join(' ');
  }
  return '';
}
