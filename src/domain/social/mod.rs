//! Document 003's user directory and follow graph. Inactive users appear nowhere: not in
//! the directory, not as a profile, not in a list or a count.

mod cache;

use std::{sync::Arc, time::Duration};

use tracing::instrument;

use self::cache::{CachedPage, DirectoryCache, Filters, Flight, MAX_CATCH_UP, PageKey, SLACK, Window};
use super::{
    clock::Clock,
    error::{Error, Invalid, Result},
    model::{
        CountersUpdate, Counts, DirectoryQuery, DirectoryRead, DirectoryState, Follow, ListPage, Position, Principal,
        Seek, User, UserCard, UserId, Username,
    },
    ports::{DirectoryStore, FollowStore, UserStore},
};

/// Places to read: the first and how many, of how many matching users.
#[derive(Clone, Copy)]
struct Place {
    start: u64,
    limit: u32,
    total: u64,
}

/// A page of the directory and how many users match in all.
#[derive(Debug, Clone)]
pub struct DirectoryPage {
    pub users: Vec<UserCard>,
    pub total: u64,
}

#[derive(Clone)]
pub struct Social {
    directory: Arc<dyn DirectoryStore>,
    follows: Arc<dyn FollowStore>,
    users: Arc<dyn UserStore>,
    clock: Arc<dyn Clock>,
    /// Counts and pages of the directory this node has read (see [`cache`]): every request
    /// reads the directory's version (one row), which triggers move in the same transaction
    /// as any change to what the directory shows or matches, on whichever node makes it, so
    /// an answer is always exactly what the database would give.
    cache: Arc<DirectoryCache>,
}

impl Social {
    pub fn new(
        directory: Arc<dyn DirectoryStore>,
        follows: Arc<dyn FollowStore>,
        users: Arc<dyn UserStore>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Social { directory, follows, users, clock, cache: Arc::default() }
    }

    /// One batch of the directory. A batch in the far half is read from the other end of
    /// the ordering's index (and put back in order), so the last batch of a million users
    /// costs what the first does; a batch past the end is empty. Counts and pages read
    /// before are brought up to the directory's current version with the changes logged
    /// since (see [`cache`]).
    #[instrument(skip_all)]
    pub async fn directory(&self, viewer: Option<UserId>, query: &DirectoryQuery) -> Result<DirectoryPage> {
        let state = self.directory.state().await?;
        let version = state.version;
        let filters: Filters = (query.search.clone(), query.first_name.clone(), query.last_name.clone());
        let total = if query.is_filtered() {
            self.cache.total(&*self.directory, query, &filters, version).await?
        } else {
            state.active_users
        };
        let size = u64::from(query.batch_size.max(1));
        let start = query.batch_number.saturating_mul(size);
        if start >= total {
            return Ok(DirectoryPage { users: Vec::new(), total });
        }
        let end = start.saturating_add(size).min(total);
        let limit = u32::try_from(end - start).unwrap_or(u32::MAX);
        let key = (filters, query.ordering, start, limit);
        let mut users = match self.cache.page(&*self.directory, &key, version, total).await? {
            CachedPage::Fresh(users) => users,
            _ => self.read_page(query, key, &state, total).await?,
        };
        if let Some(viewer) = viewer {
            let ids: Vec<UserId> = users.iter().map(|u| u.id).collect();
            let followed = self.follows.followed_among(viewer, &ids).await?;
            for user in &mut users {
                user.is_following = followed.contains(&user.id);
            }
        }
        Ok(DirectoryPage { users, total })
    }

    /// A page the cache does not hold fresh: read once however many requests want it at
    /// once, then kept in a window (see [`cache`]).
    async fn read_page(
        &self,
        query: &DirectoryQuery,
        key: PageKey,
        state: &DirectoryState,
        total: u64,
    ) -> Result<Vec<UserCard>> {
        let _flight = self.cache.flight(Flight::Page(key.clone())).await;
        let version = state.version;
        let cached = self.cache.page(&*self.directory, &key, version, total).await?;
        if let CachedPage::Fresh(users) = cached {
            // Read by the request this one waited for.
            return Ok(users);
        }
        let (start, limit) = (key.2, key.3);
        let end = start.saturating_add(u64::from(limit));
        // The page and up to SLACK users on each side, so that a few may arrive or
        // leave before it is read again.
        let (from, to) = (start.saturating_sub(SLACK), end.saturating_add(SLACK).min(total));
        let want = Place { start: from, limit: u32::try_from(to - from).unwrap_or(u32::MAX), total };
        let active = state.active_users;
        let near = match &cached {
            CachedPage::Near { anchor, place, .. } => {
                self.read_near(query, anchor, *place, want, active, version).await?
            }
            _ => None,
        };
        let read = match near {
            Some(read) => read,
            None => self.read(query, want, active).await?,
        };
        let filter = match cached {
            CachedPage::Near { filter, .. } | CachedPage::Unknown(Some(filter)) => Some(filter),
            _ => None,
        };
        let skip = usize::try_from(start - from).unwrap_or(usize::MAX);
        let users: Vec<UserCard> = read.cards.iter().skip(skip).take(limit as usize).cloned().collect();
        // Kept if exact: of the request's version, or of a later one when read from
        // the start (places counted from the end would be of the request's total).
        let (wanted, got) = (to - from, read.cards.len() as u64);
        let window = match read.version {
            Some(v) if v == version && got == wanted => Some((v, to == total)),
            Some(v) if v > version && from <= total / 2 && got <= wanted => Some((v, got < wanted)),
            _ => None,
        };
        if let (Some((version, to_end)), Some(_)) = (window, filter) {
            let DirectoryRead { cards, positions, .. } = read;
            self.cache.keep_window(key, Window { version, start: from, cards, positions, to_end });
        }
        Ok(users)
    }

    /// The users at `at`, counted from the nearer end of the ordering (a batch in the far
    /// half is read from the other end of its index and put back in order).
    async fn read(&self, query: &DirectoryQuery, at: Place, active: u64) -> Result<DirectoryRead> {
        let end = at.start + u64::from(at.limit);
        if at.start > at.total / 2 {
            let reversed = DirectoryQuery { ordering: query.ordering.reversed(), ..query.clone() };
            let offset = at.total.saturating_sub(end);
            let mut read = self.directory.search(&reversed, None, offset, at.limit, at.total, active).await?;
            read.cards.reverse();
            read.positions.reverse();
            Ok(read)
        } else {
            self.directory.search(query, None, at.start, at.limit, at.total, active).await
        }
    }

    /// The users at `at`, at `version`, read from `anchor`, a user known to be at `place`
    /// then: a seek in the ordering's index and a short offset, on one side of it or both,
    /// instead of counting places from an end. `None` when what comes back is not exactly
    /// that (a write came in between).
    async fn read_near(
        &self,
        query: &DirectoryQuery,
        anchor: &Position,
        place: u64,
        at: Place,
        active: u64,
        version: u64,
    ) -> Result<Option<DirectoryRead>> {
        let store = &*self.directory;
        let from = |inclusive| Seek { from: anchor.clone(), inclusive };
        let end = at.start + u64::from(at.limit);
        let total = at.total;
        let mut read = if at.start >= place {
            store.search(query, Some(&from(true)), at.start - place, at.limit, total, active).await?
        } else {
            // Those before the anchor, read backwards from it.
            let before = u32::try_from(place.min(end) - at.start).unwrap_or(u32::MAX);
            let reversed = DirectoryQuery { ordering: query.ordering.reversed(), ..query.clone() };
            let skip = place.saturating_sub(end);
            let mut read = store.search(&reversed, Some(&from(false)), skip, before, total, active).await?;
            read.cards.reverse();
            read.positions.reverse();
            if end > place {
                let rest = store.search(query, Some(&from(true)), 0, at.limit - before, total, active).await?;
                if rest.version != read.version {
                    return Ok(None);
                }
                read.cards.extend(rest.cards);
                read.positions.extend(rest.positions);
            }
            read
        };
        let whole = read.version == Some(version) && read.cards.len() == at.limit as usize;
        read.version = read.version.filter(|_| whole);
        Ok(whole.then_some(read))
    }

    /// Prunes the directory's change log every minute to the versions a count may still
    /// be brought forward by (every node does; the deletes are the same).
    pub fn spawn_background(&self) {
        let directory = self.directory.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(60));
            loop {
                tick.tick().await;
                if let Err(e) = directory.prune_changes(MAX_CATCH_UP).await {
                    tracing::warn!(error = %e, "pruning the directory's change log failed");
                }
            }
        });
    }

    /// An active user by username (case-insensitive) with their counts.
    pub async fn profile(&self, username: &str) -> Result<(User, Counts)> {
        let user = self.active(username).await?;
        let counts = self.directory.counts(user.id).await?;
        Ok((user, counts))
    }

    pub async fn counts(&self, user: UserId) -> Result<Counts> {
        self.directory.counts(user).await
    }

    async fn active(&self, username: &str) -> Result<User> {
        self.directory.active_by_username(&Username::lookup_key(username)).await?.ok_or(Error::NotFound)
    }

    /// Follows the active user `target`; following oneself, an unknown or inactive user, or
    /// someone already followed is refused on the `following` field.
    #[instrument(skip_all)]
    pub async fn follow(&self, principal: &Principal, target: UserId) -> Result<Follow> {
        if target == principal.user_id() {
            return Err(Error::invalid("following", Invalid::FollowSelf));
        }
        let exists = self.users.user_by_id(target).await?.is_some_and(|u| u.is_active);
        if !exists {
            return Err(Error::invalid("following", Invalid::NoSuchUser { given: target.to_string() }));
        }
        match self.follows.follow(principal.user_id(), target, self.clock.now()).await {
            Err(Error::Conflict { .. }) => Err(Error::invalid("following", Invalid::AlreadyFollowing)),
            other => other,
        }
    }

    /// Stops following `username`; returns their username as stored.
    #[instrument(skip_all)]
    pub async fn unfollow(&self, principal: &Principal, username: &str) -> Result<String> {
        let target = self.active(username).await?;
        if !self.follows.unfollow(principal.user_id(), target.id).await? {
            return Err(Error::invalid("following", Invalid::NotFollowing));
        }
        Ok(target.username)
    }

    /// The follows the caller made.
    pub async fn my_follows(&self, principal: &Principal, page: ListPage) -> Result<(Vec<Follow>, u64)> {
        self.follows.follows_of(principal.user_id(), page).await
    }

    /// Who follows `username` (`followers`), or whom they follow.
    pub async fn connections(
        &self,
        username: &str,
        followers: bool,
        viewer: Option<UserId>,
        page: ListPage,
    ) -> Result<(Vec<UserCard>, u64)> {
        let user = self.active(username).await?;
        self.follows.connections(user.id, followers, viewer, page).await
    }

    /// Sets the counters a posts service keeps (staff only).
    #[instrument(skip_all)]
    pub async fn set_counters(&self, principal: &Principal, user: UserId, update: &CountersUpdate) -> Result<Counts> {
        if !principal.user().is_staff {
            return Err(Error::Forbidden);
        }
        if self.users.user_by_id(user).await?.is_none() {
            return Err(Error::NotFound);
        }
        self.directory.set_counters(user, update, self.clock.now()).await
    }
}
