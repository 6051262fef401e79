import { useState } from '../../vendor/hooks.mjs';
import { html } from '../html.js';
import { initials, pictureOf } from '../models/user.js';

/** The person's picture, or their initials on a colour derived from their name. */
export function Avatar({ user, size = 40, src }) {
  const [broken, setBroken] = useState(false);
  const url = src || pictureOf(user);
  const style = { width: `${size}px`, height: `${size}px`, fontSize: `${Math.round(size * 0.4)}px` };
  if (url && !broken) {
    return html`<img class="avatar" src=${url} alt="" style=${style} onError=${() => setBroken(true)} />`;
  }
  const seed = (user && (user.username || user.email)) || '?';
  let hash = 0;
  for (const ch of seed) hash = (hash * 31 + ch.charCodeAt(0)) >>> 0;
  return html`<span class=${`avatar avatar-initials hue-${hash % 6}`} style=${style} aria-hidden="true">${initials(user) || '?'}</span>`;
}
