// A person's public page (document 003): picture, names, bio, counts, follow, and the
// lists of their followers and of those they follow.
import { useEffect, useState } from '../../vendor/hooks.mjs';
import { html } from '../html.js';
import { useSession } from '../context/session.js';
import { Alert, Empty, Loading } from '../components/feedback.js';
import { Avatar } from '../components/Avatar.js';
import { Button } from '../components/form.js';
import { PageHeader } from '../components/Page.js';
import { FollowButton, PersonRow } from '../components/PersonCard.js';
import { NotFound } from './NotFound.js';
import * as api from '../api/endpoints.js';
import { displayName } from '../models/user.js';
import { formatDate } from '../models/format.js';

function PeopleList({ username, which, onLoaded }) {
  const [list, setList] = useState(null);
  const [page, setPage] = useState(0);
  const [error, setError] = useState('');
  useEffect(() => {
    setList(null);
    const get = which === 'followers' ? api.getFollowers : api.getFollowing;
    get(username, page).then((l) => { setList(l); if (onLoaded) onLoaded(l.count); }, (err) => setError(err.message));
  }, [username, which, page]);
  if (error) return html`<${Alert}>${error}<//>`;
  if (!list) return html`<${Loading} />`;
  if (list.count === 0) return html`<${Empty} title=${which === 'followers' ? 'No followers yet' : 'Not following anyone yet'} />`;
  const pages = Math.ceil(list.count / 20);
  return html`<div>
    <ul class="people">${list.results.map((p) => html`<${PersonRow} key=${p.id} person=${p} />`)}</ul>
    ${pages > 1 ? html`<nav class="pager" aria-label="Pages">
      <${Button} variant="secondary" small disabled=${page === 0} onClick=${() => setPage(page - 1)}>Previous<//>
      <span>Page ${page + 1} of ${pages}</span>
      <${Button} variant="secondary" small disabled=${page + 1 >= pages} onClick=${() => setPage(page + 1)}>Next<//>
    </nav>` : null}
  </div>`;
}

export function Person({ username }) {
  const { user } = useSession();
  const [person, setPerson] = useState(null);
  const [isFollowing, setIsFollowing] = useState(null);
  const [missing, setMissing] = useState(false);
  const [error, setError] = useState('');
  const [tab, setTab] = useState('followers');
  const [tick, setTick] = useState(0);

  useEffect(() => {
    setPerson(null);
    setMissing(false);
    api.getPerson(username).then(setPerson, (err) => (err.status === 404 ? setMissing(true) : setError(err.message)));
    // The profile does not say whether the caller follows them; the directory's card does.
    api.listPeople({ search: username, batch_size: 100 }).then(
      (r) => {
        const card = r.users.find((u) => u.username.toLowerCase() === username.toLowerCase());
        setIsFollowing(card ? card.is_following : false);
      },
      () => setIsFollowing(false),
    );
  }, [username, tick]);

  if (missing) return html`<${NotFound} />`;
  if (error) return html`<div><${PageHeader} title=${`@${username}`} /><${Alert}>${error}<//></div>`;
  if (!person || isFollowing === null) return html`<div><${PageHeader} title=${`@${username}`} /><${Loading} /></div>`;
  const self = user && user.username.toLowerCase() === person.username.toLowerCase();
  const tabs = [['followers', 'Followers', person.followers_count], ['following', 'Following', person.following_count]];
  return html`<div>
    <section class="card person-hero" aria-labelledby="person-name">
      <${Avatar} user=${person} size=${96} />
      <div class="person-hero-text">
        <${PageHeader} title=${displayName(person)} subtitle=${`@${person.username} · joined ${formatDate(person.created_at, user && user.tz)}`}
          actions=${self ? null : html`<${FollowButton} key=${`${person.id}-${isFollowing}`} person=${{ ...person, is_following: isFollowing }} small=${false}
            onChange=${() => setTick(tick + 1)} />`} />
        ${person.bio ? html`<p class="bio">${person.bio}</p>` : html`<p class="muted">No bio yet.</p>`}
        <dl class="stats">
          <div><dt>Followers</dt><dd>${person.followers_count}</dd></div>
          <div><dt>Following</dt><dd>${person.following_count}</dd></div>
          <div><dt>Posts</dt><dd>${person.posts_count}</dd></div>
        </dl>
      </div>
    </section>
    <section class="card">
      <div class="tabs" role="tablist" aria-label="Connections">
        ${tabs.map(([id, label, n]) => html`<button type="button" role="tab" id=${`tab-${id}`} aria-controls="tab-panel"
          aria-selected=${tab === id ? 'true' : 'false'} tabindex=${tab === id ? 0 : -1} class=${tab === id ? 'tab active' : 'tab'}
          onClick=${() => setTab(id)}
          onKeyDown=${(e) => { if (e.key === 'ArrowRight' || e.key === 'ArrowLeft') { const next = tab === 'followers' ? 'following' : 'followers'; setTab(next); document.getElementById(`tab-${next}`).focus(); } }}>
          ${label} <span class="count">${n}</span></button>`)}
      </div>
      <div id="tab-panel" role="tabpanel" aria-labelledby=${`tab-${tab}`}>
        <${PeopleList} key=${`${tab}-${tick}`} username=${person.username} which=${tab} />
      </div>
    </section>
  </div>`;
}
