// One person in a list, with a follow / unfollow button for others than oneself.
import { useState } from '../../vendor/hooks.mjs';
import { html } from '../html.js';
import { Link } from '../router.js';
import { useSession } from '../context/session.js';
import { Avatar } from './Avatar.js';
import { Button } from './form.js';
import * as api from '../api/endpoints.js';
import { displayName } from '../models/user.js';

export function FollowButton({ person, onChange, small = true }) {
  const { user } = useSession();
  const [following, setFollowing] = useState(person.is_following);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState('');
  if (!user || user.username.toLowerCase() === person.username.toLowerCase()) return null;
  const toggle = async () => {
    setBusy(true);
    setError('');
    try {
      if (following) await api.unfollow(person.username);
      else await api.follow(person.id);
      setFollowing(!following);
      if (onChange) onChange(!following);
    } catch (err) {
      setError(err.message);
    } finally {
      setBusy(false);
    }
  };
  const name = displayName(person);
  return html`<span class="follow">
    <${Button} variant=${following ? 'secondary' : 'primary'} small=${small} busy=${busy} onClick=${toggle}
      aria-pressed=${following ? 'true' : 'false'} aria-label=${`${following ? 'Following' : 'Follow'} ${name}`}
      title=${following ? `Stop following ${name}` : undefined}>
      ${following ? 'Following' : 'Follow'}
    <//>
    ${error ? html`<span class="field-error" role="alert">${error}</span>` : null}
  </span>`;
}

export function PersonRow({ person }) {
  const href = `/people/${encodeURIComponent(person.username)}`;
  return html`<li class="person-row">
    <${Avatar} user=${person} size=${44} />
    <div class="person-text">
      <${Link} href=${href} class="person-name">${displayName(person)}<//>
      <span class="muted">@${person.username}</span>
    </div>
    <${FollowButton} person=${person} />
  </li>`;
}
