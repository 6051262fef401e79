// Numbers and dates as people read them.

const UNITS = ['bytes', 'KB', 'MB', 'GB', 'TB'];

export function formatBytes(n) {
  if (!Number.isFinite(n) || n < 0) return '—';
  if (n < 1024) return n === 1 ? '1 byte' : `${n} bytes`;
  let v = n;
  let i = 0;
  while (v >= 1024 && i < UNITS.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(v < 10 ? 1 : 0)} ${UNITS[i]}`;
}

export function formatCount(n, one, many) {
  const num = Number(n) || 0;
  return `${num.toLocaleString()} ${num === 1 ? one : many}`;
}

/** A timestamp in the user's own time zone when they chose one. */
export function formatTime(value, tz) {
  if (!value) return '';
  const d = new Date(value);
  if (Number.isNaN(d.getTime())) return String(value);
  try {
    return new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short', timeZone: tz || undefined }).format(d);
  } catch {
    return d.toLocaleString();
  }
}

export function formatDate(value, tz) {
  if (!value) return '';
  const d = new Date(value);
  if (Number.isNaN(d.getTime())) return String(value);
  try {
    return new Intl.DateTimeFormat(undefined, { dateStyle: 'long', timeZone: tz || undefined }).format(d);
  } catch {
    return d.toLocaleDateString();
  }
}
