// The IANA time zones the browser knows (Intl's list is the IANA database's canonical
// zones); userd checks the chosen one against its own copy of the database.

let cached;

export function timeZones() {
  if (!cached) {
    let zones = [];
    try {
      zones = Intl.supportedValuesOf('timeZone');
    } catch {
      zones = [];
    }
    cached = Array.from(new Set(['UTC', ...zones])).sort((a, b) => a.localeCompare(b));
  }
  return cached;
}

export function browserTimeZone() {
  try {
    return Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';
  } catch {
    return 'UTC';
  }
}

/** Matches "new york", "new_york", "America/New" alike. */
export function filterZones(zones, term) {
  const t = term.trim().toLowerCase().replace(/[\s_]+/g, ' ');
  if (!t) return zones;
  return zones.filter((z) => z.toLowerCase().replace(/_/g, ' ').includes(t));
}

/** `(UTC+02:00)` for a zone now. */
export function offsetOf(zone) {
  try {
    const part = new Intl.DateTimeFormat('en-US', { timeZone: zone, timeZoneName: 'longOffset' })
      .formatToParts(new Date())
      .find((p) => p.type === 'timeZoneName');
    return part ? part.value.replace('GMT', 'UTC') : '';
  } catch {
    return '';
  }
}
