// How a person is named and pictured across the app.

export function displayName(u) {
  if (!u) return '';
  const full = [u.first_name, u.last_name].filter(Boolean).join(' ').trim();
  return full || u.username || u.email || '';
}

export function initials(u) {
  const name = displayName(u);
  const parts = name.split(/[\s@._-]+/).filter(Boolean);
  const letters = parts.length > 1 ? parts[0][0] + parts[1][0] : name.slice(0, 2);
  return letters.toUpperCase();
}

/** A picture the page may show: userd's own (the CSP allows no other origin). */
export function pictureOf(u) {
  const url = u && (u.picture || u.avatar || u.profile_pic);
  if (!url) return null;
  try {
    const parsed = new URL(url, location.origin);
    return parsed.origin === location.origin ? parsed.pathname + parsed.search : null;
  } catch {
    return null;
  }
}
