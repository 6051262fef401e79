//! This node's cache of the directory, kept exact across writes by the change log. A count
//! of a filter is kept with the version it is exact at; when the directory has moved on,
//! the changes logged since (one read of the log, shared by every count and page) bring it
//! forward: each adds whether the user matches now less whether they matched before. A page
//! is kept in a window (the page and a few users on each side, with the place of the
//! first), and the same changes are applied to the window: a user leaves it, arrives in it
//! or moves within it, or the window moves along as users arrive or leave before it. A page
//! the window still covers is served from memory; one it no longer covers is read again
//! from a user whose place is known (a seek in the ordering's index, a short offset).

use std::{
    collections::{HashMap, VecDeque},
    sync::{Arc, Mutex},
};

use crate::domain::{
    error::Result,
    model::{DirectoryChange, DirectoryFilter, DirectoryQuery, Ordering, Position, SearchTerm, UserCard},
    ports::DirectoryStore,
};

/// The filters of a directory query.
pub(super) type Filters = (Option<SearchTerm>, Option<SearchTerm>, Option<SearchTerm>);

/// A page of the directory: its filters, order, offset and size.
pub(super) type PageKey = (Filters, Ordering, u64, u32);

/// Entries kept before the cache starts afresh (a few MiB at most).
const CACHE_ENTRIES: usize = 4096;

/// The most versions a count or a window is brought forward by, and so the versions the
/// change log keeps: further behind, reading again is cheaper than reading the changes.
pub(super) const MAX_CATCH_UP: u64 = 10_000;

/// Changes kept in memory for the counts and windows to share (further behind, a count or
/// a window reads its own).
const KEPT_CHANGES: usize = 2_000;

/// Users a window holds on each side of its page when it is read: how many may leave
/// before (or after) the page before it has to be read again.
pub(super) const SLACK: u64 = 10;

#[derive(Default)]
pub(super) struct DirectoryCache {
    entries: Mutex<Entries>,
    /// Held while the log is read, so that requests waiting on the same versions share one
    /// read.
    log: tokio::sync::Mutex<Changes>,
    /// One lock per count or page being read from the store, so that requests arriving
    /// together at a cold cache (a node that just started) wait for one read instead of each
    /// making its own.
    flights: Mutex<HashMap<Flight, Arc<tokio::sync::Mutex<()>>>>,
}

/// What a read from the store fills: a count or a page.
#[derive(Clone, PartialEq, Eq, Hash)]
pub(super) enum Flight {
    Count(Filters),
    Page(PageKey),
}

#[derive(Default)]
struct Entries {
    counts: HashMap<Filters, Counted>,
    windows: HashMap<PageKey, Window>,
}

#[derive(Clone)]
struct Counted {
    /// The version the total is exact at.
    version: u64,
    total: u64,
    filter: Arc<DirectoryFilter>,
}

/// Consecutive users of a query's matches in its ordering, exact at `version`. They hold no
/// viewer's `is_following`, which is read for each request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Window {
    pub version: u64,
    /// The place of the first among the matches.
    pub start: u64,
    pub cards: Vec<UserCard>,
    pub positions: Vec<Position>,
    /// Whether the last is the last match.
    pub to_end: bool,
}

/// What the cache knows of a page.
pub(super) enum CachedPage {
    /// Its users, exactly as the database would list them now.
    Fresh(Vec<UserCard>),
    /// Not covered any more, but this user is at this place now.
    Near { anchor: Position, place: u64, filter: Arc<DirectoryFilter> },
    /// Nothing known (nor the filter, when `None`).
    Unknown(Option<Arc<DirectoryFilter>>),
}

/// The changes of versions `start + 1 ..= start + changes.len()`.
#[derive(Default)]
struct Changes {
    start: u64,
    changes: VecDeque<DirectoryChange>,
}

impl Changes {
    fn end(&self) -> u64 {
        self.start + self.changes.len() as u64
    }

    fn reset(&mut self, at: u64) {
        self.start = at;
        self.changes.clear();
    }
}

impl Window {
    /// Applies one change to the window of `filter`'s matches in `ordering`; false when
    /// the window can no longer be known to be exact.
    fn apply(&mut self, change: &DirectoryChange, filter: &DirectoryFilter, ordering: Ordering) -> bool {
        let field = ordering.field;
        if let Some(row) = change.before.as_ref().filter(|row| filter.matches(row)) {
            if let Some(i) = self.positions.iter().position(|p| p.id == change.user) {
                self.cards.remove(i);
                self.positions.remove(i);
            } else {
                let at = row.position(field, change.user);
                match (self.positions.first(), self.positions.last()) {
                    (Some(first), _) if at.before(first, ordering) => {
                        let Some(start) = self.start.checked_sub(1) else { return false };
                        self.start = start;
                    }
                    // After the window, which holds every match up to its last.
                    (Some(_), Some(last)) if last.before(&at, ordering) && !self.to_end => {}
                    _ => return false,
                }
            }
        }
        if let Some(row) = change.after.as_ref().filter(|row| filter.matches(row)) {
            let at = row.position(field, change.user);
            let i = self.positions.partition_point(|p| p.before(&at, ordering));
            if self.positions.is_empty() && !(self.start == 0 && self.to_end) {
                // Before or after the empty window: which, is not known.
                return false;
            } else if i == 0 && self.start > 0 {
                // Before the window (which starts after the place this user takes).
                self.start += 1;
            } else if i == self.positions.len() && !self.to_end {
                // After the window.
            } else {
                self.cards.insert(i, row.card.clone());
                self.positions.insert(i, at);
            }
        }
        true
    }

    /// The `limit` users from place `start`, if the window holds them all.
    fn page(&self, start: u64, limit: u32) -> Option<Vec<UserCard>> {
        let from = usize::try_from(start.checked_sub(self.start)?).ok()?;
        let to = from.checked_add(usize::try_from(limit).ok()?)?;
        self.cards.get(from..to).map(<[UserCard]>::to_vec)
    }

    /// Forgets users more than `SLACK` places from the page from `start` (a window grows
    /// as users arrive in it).
    fn trim(&mut self, start: u64, limit: u32) {
        let index = |place: u64| usize::try_from(place.saturating_sub(self.start)).unwrap_or(usize::MAX);
        let (keep_from, keep_to) = (index(start.saturating_sub(SLACK)), index(start + u64::from(limit) + SLACK));
        if self.cards.len() > keep_to {
            self.cards.truncate(keep_to);
            self.positions.truncate(keep_to);
            self.to_end = false;
        }
        let head = keep_from.min(self.cards.len());
        self.cards.drain(..head);
        self.positions.drain(..head);
        self.start += head as u64;
    }
}

impl DirectoryCache {
    /// How many active users match `query`'s filters, exact at `version` (the directory's
    /// version when the request began) or later.
    pub(super) async fn total(
        &self,
        store: &dyn DirectoryStore,
        query: &DirectoryQuery,
        filters: &Filters,
        version: u64,
    ) -> Result<u64> {
        let cached = self.entries.lock().ok().and_then(|e| e.counts.get(filters).cloned());
        if let Some(c) = &cached {
            if c.version >= version {
                return Ok(c.total);
            }
            if version - c.version <= MAX_CATCH_UP {
                let mut delta = 0;
                let held = self
                    .each_change(store, c.version, version, |change| {
                        if change.touches(&c.filter) {
                            delta += change.delta(&c.filter);
                        }
                    })
                    .await?;
                if held && let Some(total) = c.total.checked_add_signed(delta) {
                    self.keep_count(filters, Counted { version, total, filter: c.filter.clone() });
                    return Ok(total);
                }
            }
        }
        let _flight = self.flight(Flight::Count(filters.clone())).await;
        // Another request may have counted while this one waited.
        let counted = self.entries.lock().ok().and_then(|e| e.counts.get(filters).cloned());
        if let Some(c) = counted.filter(|c| c.version >= version) {
            return Ok(c.total);
        }
        let filter = match cached {
            Some(c) => c.filter,
            None => Arc::new(store.filter(query).await?),
        };
        let count = store.count(query).await?;
        self.keep_count(filters, Counted { version: count.version, total: count.total, filter });
        Ok(count.total)
    }

    /// Waits for any read of the same count or page from the store to finish; the guard
    /// holds this one's read.
    pub(super) async fn flight(&self, flight: Flight) -> tokio::sync::OwnedMutexGuard<()> {
        let lock = {
            let mut flights = match self.flights.lock() {
                Ok(f) => f,
                Err(poisoned) => poisoned.into_inner(),
            };
            if flights.len() >= CACHE_ENTRIES {
                // Locks no request holds or waits for.
                flights.retain(|_, lock| Arc::strong_count(lock) > 1);
            }
            flights.entry(flight).or_default().clone()
        };
        lock.lock_owned().await
    }

    fn keep_count(&self, filters: &Filters, counted: Counted) {
        let Ok(mut e) = self.entries.lock() else { return };
        if e.counts.get(filters).is_some_and(|c| c.version >= counted.version) {
            return;
        }
        if e.counts.len() >= CACHE_ENTRIES {
            e.counts.clear();
        }
        e.counts.insert(filters.clone(), counted);
    }

    /// Calls `f` with each change after `after` up to `upto`, in order; false when the log
    /// does not hold them all.
    async fn each_change(
        &self,
        store: &dyn DirectoryStore,
        after: u64,
        upto: u64,
        f: impl FnMut(&DirectoryChange),
    ) -> Result<bool> {
        let mut log = self.log.lock().await;
        if log.changes.is_empty() || upto.saturating_sub(log.end()) > MAX_CATCH_UP {
            log.reset(after);
        }
        if after < log.start {
            // Older than what is kept: read for this caller alone.
            drop(log);
            let Some(changes) = store.changes(after, upto).await? else { return Ok(false) };
            changes.iter().for_each(f);
            return Ok(true);
        }
        if upto > log.end() {
            match store.changes(log.end(), upto).await? {
                Some(changes) => log.changes.extend(changes),
                None => {
                    log.reset(upto);
                    return Ok(false);
                }
            }
        }
        let from = usize::try_from(after - log.start).unwrap_or(usize::MAX);
        let to = usize::try_from(upto - log.start).unwrap_or(usize::MAX);
        log.changes.range(from..to).for_each(f);
        let excess = log.changes.len().saturating_sub(KEPT_CHANGES);
        log.changes.drain(..excess);
        log.start += excess as u64;
        Ok(true)
    }

    /// The page `key` of `total` matches at `version`: from its window, brought forward
    /// with the changes since it was read, or where to read it from.
    pub(super) async fn page(
        &self,
        store: &dyn DirectoryStore,
        key: &PageKey,
        version: u64,
        total: u64,
    ) -> Result<CachedPage> {
        let (filters, ordering, start, limit) = key;
        let (window, filter) = {
            let Ok(e) = self.entries.lock() else { return Ok(CachedPage::Unknown(None)) };
            let filter = match e.counts.get(filters) {
                Some(c) => Some(c.filter.clone()),
                None if *filters == (None, None, None) => Some(Arc::new(DirectoryFilter::default())),
                None => None,
            };
            (e.windows.get(key).cloned(), filter)
        };
        let (Some(mut window), Some(filter)) = (window, filter.clone()) else {
            return Ok(CachedPage::Unknown(filter));
        };
        if window.version < version {
            if version - window.version > MAX_CATCH_UP {
                return Ok(CachedPage::Unknown(Some(filter)));
            }
            let mut exact = true;
            let held = self
                .each_change(store, window.version, version, |change| {
                    exact = exact && window.apply(change, &filter, *ordering);
                })
                .await?;
            if !(held && exact) {
                return Ok(CachedPage::Unknown(Some(filter)));
            }
            window.version = version;
            window.trim(*start, *limit);
            self.keep_window(key.clone(), window.clone());
        }
        // A window of a later version serves as well: the database gave that answer after
        // the request began.
        let consistent =
            window.version > version || !window.to_end || window.start + window.cards.len() as u64 == total;
        if consistent && let Some(cards) = window.page(*start, *limit) {
            return Ok(CachedPage::Fresh(cards));
        }
        Ok(match window.positions.first() {
            Some(anchor) if consistent && window.version == version => {
                CachedPage::Near { anchor: anchor.clone(), place: window.start, filter }
            }
            _ => CachedPage::Unknown(Some(filter)),
        })
    }

    pub(super) fn keep_window(&self, key: PageKey, window: Window) {
        let Ok(mut e) = self.entries.lock() else { return };
        if e.windows.get(&key).is_some_and(|w| w.version > window.version) {
            return;
        }
        if e.windows.len() >= CACHE_ENTRIES {
            e.windows.clear();
        }
        e.windows.insert(key, window);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::model::{DirectoryRow, OrderField, SortKey, UserId};

    fn row(id: i64, username: &str) -> DirectoryRow {
        DirectoryRow {
            username_key: username.into(),
            first_key: String::new(),
            last_key: String::new(),
            text: username.into(),
            first_text: String::new(),
            last_text: String::new(),
            created_at: 0,
            card: UserCard {
                id: UserId(id),
                username: username.into(),
                first_name: String::new(),
                last_name: String::new(),
                avatar: None,
                is_following: false,
            },
        }
    }

    fn window(start: u64, users: &[(i64, &str)], to_end: bool) -> Window {
        Window {
            version: 1,
            start,
            cards: users.iter().map(|(id, name)| row(*id, name).card).collect(),
            positions: users
                .iter()
                .map(|(id, name)| Position { key: SortKey::Text((*name).into()), id: UserId(*id) })
                .collect(),
            to_end,
        }
    }

    fn change(id: i64, before: Option<&str>, after: Option<&str>) -> DirectoryChange {
        DirectoryChange {
            version: 2,
            user: UserId(id),
            before: before.map(|name| row(id, name)),
            after: after.map(|name| row(id, name)),
        }
    }

    #[test]
    fn a_window_follows_users_arriving_leaving_and_moving() {
        let by_name = Ordering { field: OrderField::Username, descending: false };
        let all = DirectoryFilter::default();
        let cases = [
            (
                change(9, None, Some("aaa")),
                Some(window(11, &[(2, "c"), (3, "e"), (4, "g")], false)),
                "arrives before it",
            ),
            (change(9, Some("aaa"), None), Some(window(9, &[(2, "c"), (3, "e"), (4, "g")], false)), "leaves before it"),
            (
                change(9, None, Some("d")),
                Some(window(10, &[(2, "c"), (9, "d"), (3, "e"), (4, "g")], false)),
                "arrives in it",
            ),
            (change(3, Some("e"), None), Some(window(10, &[(2, "c"), (4, "g")], false)), "leaves it"),
            (change(3, Some("e"), Some("a")), Some(window(11, &[(2, "c"), (4, "g")], false)), "moves out before it"),
            (change(3, Some("e"), Some("f")), Some(window(10, &[(2, "c"), (3, "f"), (4, "g")], false)), "moves within"),
            (change(9, None, Some("z")), Some(window(10, &[(2, "c"), (3, "e"), (4, "g")], false)), "arrives after it"),
            (change(9, Some("d"), None), None, "left from inside without being in it: not exact"),
        ];
        for (change, expected, why) in cases {
            let mut w = window(10, &[(2, "c"), (3, "e"), (4, "g")], false);
            let exact = w.apply(&change, &all, by_name);
            assert_eq!(exact.then_some(w), expected, "{why}");
        }
        let mut first = window(0, &[(2, "c")], true);
        assert!(first.apply(&change(9, None, Some("a")), &all, by_name));
        assert!(first.apply(&change(8, None, Some("z")), &all, by_name));
        assert_eq!(first, window(0, &[(9, "a"), (2, "c"), (8, "z")], true), "at either end of all the matches");
        assert!(!window(0, &[(2, "c")], false).apply(&change(9, Some("a"), None), &all, by_name), "nothing was before");
    }
}
