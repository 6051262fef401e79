//! This node's cache of the directory. A count of a filter is kept with the version it is
//! exact at; when the directory has moved on, the changes logged since (one read of the
//! change log, shared by every count) bring it forward: each adds whether the user matches
//! now less whether they matched before. A page is kept with the version it was read at and
//! served while no change since has touched its filter's matches.

use std::{
    collections::{HashMap, VecDeque},
    sync::{Arc, Mutex},
};

use crate::domain::{
    error::Result,
    model::{DirectoryChange, DirectoryFilter, DirectoryQuery, Ordering, SearchTerm, UserCard},
    ports::DirectoryStore,
};

/// The filters of a directory query.
pub(super) type Filters = (Option<SearchTerm>, Option<SearchTerm>, Option<SearchTerm>);

/// A page of the directory: its filters, order, offset and size.
pub(super) type PageKey = (Filters, Ordering, u64, u32);

/// Entries kept before the cache starts afresh (a few MiB at most).
const CACHE_ENTRIES: usize = 4096;

/// The most versions a count is brought forward by, and so the versions the change log
/// keeps: further behind, counting again is cheaper than reading the changes.
pub(super) const MAX_CATCH_UP: u64 = 10_000;

/// Changes kept in memory for the counts to share (a count further behind reads its own).
const KEPT_CHANGES: usize = 2_000;

#[derive(Default)]
pub(super) struct DirectoryCache {
    entries: Mutex<Entries>,
    /// Held while the log is read, so that requests waiting on the same versions share one
    /// read.
    log: tokio::sync::Mutex<Changes>,
}

#[derive(Default)]
struct Entries {
    counts: HashMap<Filters, Counted>,
    /// Pages hold no viewer's `is_following`, which is read for each request.
    pages: HashMap<PageKey, (u64, Vec<UserCard>)>,
}

#[derive(Clone)]
struct Counted {
    /// The version the total is exact at.
    version: u64,
    total: u64,
    /// The last version whose change touched these filters' matches; for a fresh count, the
    /// version counted at (nothing is known of the changes before it).
    touched: u64,
    filter: Arc<DirectoryFilter>,
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

/// What a run of changes does to a filter's count.
struct Applied {
    delta: i64,
    /// The last of them that touched the filter's matches.
    touched: Option<u64>,
}

impl Applied {
    fn of<'a>(changes: impl IntoIterator<Item = &'a DirectoryChange>, filter: &DirectoryFilter) -> Applied {
        let mut applied = Applied { delta: 0, touched: None };
        for change in changes {
            if change.touches(filter) {
                applied.delta += change.delta(filter);
                applied.touched = Some(change.version);
            }
        }
        applied
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
            if version - c.version <= MAX_CATCH_UP
                && let Some(applied) = self.apply(store, &c.filter, c.version, version).await?
                && let Some(total) = c.total.checked_add_signed(applied.delta)
            {
                let touched = applied.touched.unwrap_or(c.touched);
                self.keep_count(filters, Counted { version, total, touched, filter: c.filter.clone() });
                return Ok(total);
            }
        }
        let filter = match cached {
            Some(c) => c.filter,
            None => Arc::new(store.filter(query).await?),
        };
        let count = store.count(query).await?;
        self.keep_count(
            filters,
            Counted { version: count.version, total: count.total, touched: count.version, filter },
        );
        Ok(count.total)
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

    /// What the changes after `after` up to `upto` do to `filter`'s count; `None` when the
    /// log does not hold them all.
    async fn apply(
        &self,
        store: &dyn DirectoryStore,
        filter: &DirectoryFilter,
        after: u64,
        upto: u64,
    ) -> Result<Option<Applied>> {
        let mut log = self.log.lock().await;
        if log.changes.is_empty() || upto.saturating_sub(log.end()) > MAX_CATCH_UP {
            log.reset(after);
        }
        if after < log.start {
            // Older than what is kept: read for this count alone.
            drop(log);
            return Ok(store.changes(after, upto).await?.map(|changes| Applied::of(&changes, filter)));
        }
        if upto > log.end() {
            match store.changes(log.end(), upto).await? {
                Some(changes) => log.changes.extend(changes),
                None => {
                    log.reset(upto);
                    return Ok(None);
                }
            }
        }
        let from = usize::try_from(after - log.start).unwrap_or(usize::MAX);
        let to = usize::try_from(upto - log.start).unwrap_or(usize::MAX);
        let applied = Applied::of(log.changes.range(from..to), filter);
        let excess = log.changes.len().saturating_sub(KEPT_CHANGES);
        log.changes.drain(..excess);
        log.start += excess as u64;
        Ok(Some(applied))
    }

    /// A page read earlier, if it is still what the database would answer at `version`:
    /// read at that version, or no change since it was read has touched its filters'
    /// matches (known from their count, brought to `version` just before).
    pub(super) fn page(&self, key: &PageKey, version: u64) -> Option<Vec<UserCard>> {
        let e = self.entries.lock().ok()?;
        let (read_at, cards) = e.pages.get(key)?;
        let untouched = || e.counts.get(&key.0).is_some_and(|c| c.version >= version && c.touched <= *read_at);
        (*read_at == version || untouched()).then(|| cards.clone())
    }

    pub(super) fn keep_page(&self, key: PageKey, version: u64, cards: Vec<UserCard>) {
        let Ok(mut e) = self.entries.lock() else { return };
        if e.pages.len() >= CACHE_ENTRIES {
            e.pages.clear();
        }
        e.pages.insert(key, (version, cards));
    }
}
