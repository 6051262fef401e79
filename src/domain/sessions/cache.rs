//! Which login sessions are still valid, cached per node.
//!
//! Only live sessions are cached, each for at most [`MAX_AGE`]; a revocation on this node
//! evicts at once, and on PostgreSQL every other node is told through the store's
//! revocation feed (LISTEN/NOTIFY), so a logout or password change holds everywhere on
//! the next request. `MAX_AGE` bounds staleness should a notification ever be lost.

use std::{
    collections::HashMap,
    sync::Mutex,
    time::{Duration, Instant},
};

use jiff::Timestamp;

use crate::domain::model::{Revocation, SessionId, UserId};

const MAX_AGE: Duration = Duration::from_secs(30);
const CAPACITY: usize = 100_000;

struct Entry {
    user: UserId,
    expires_at: Timestamp,
    cached_at: Instant,
}

#[derive(Default)]
pub struct SessionCache {
    entries: Mutex<HashMap<SessionId, Entry>>,
}

impl SessionCache {
    fn with<T>(&self, f: impl FnOnce(&mut HashMap<SessionId, Entry>) -> T) -> T {
        let mut guard = match self.entries.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        f(&mut guard)
    }

    /// The owner of a live session, if this node has seen it recently.
    pub fn get(&self, id: &SessionId, now: Timestamp) -> Option<UserId> {
        self.with(|m| match m.get(id) {
            Some(e) if e.cached_at.elapsed() < MAX_AGE && e.expires_at > now => Some(e.user),
            Some(_) => {
                m.remove(id);
                None
            }
            None => None,
        })
    }

    pub fn insert(&self, id: SessionId, user: UserId, expires_at: Timestamp) {
        self.with(|m| {
            if m.len() >= CAPACITY {
                m.clear();
            }
            m.insert(id, Entry { user, expires_at, cached_at: Instant::now() });
        })
    }

    pub fn apply(&self, revocation: &Revocation) {
        self.with(|m| match revocation {
            Revocation::Session(id) => {
                m.remove(id);
            }
            Revocation::User(user) => m.retain(|_, e| e.user != *user),
            Revocation::All => m.clear(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn revocations_evict() {
        let cache = SessionCache::default();
        let later = Timestamp::now() + jiff::SignedDuration::from_hours(1);
        cache.insert(SessionId("a".into()), UserId(1), later);
        cache.insert(SessionId("b".into()), UserId(1), later);
        cache.insert(SessionId("c".into()), UserId(2), later);
        assert_eq!(cache.get(&SessionId("a".into()), Timestamp::now()), Some(UserId(1)));
        cache.apply(&Revocation::Session(SessionId("a".into())));
        assert_eq!(cache.get(&SessionId("a".into()), Timestamp::now()), None);
        cache.apply(&Revocation::User(UserId(1)));
        assert_eq!(cache.get(&SessionId("b".into()), Timestamp::now()), None);
        assert_eq!(cache.get(&SessionId("c".into()), Timestamp::now()), Some(UserId(2)));
        cache.apply(&Revocation::All);
        assert_eq!(cache.get(&SessionId("c".into()), Timestamp::now()), None);
    }

    #[test]
    fn expired_sessions_are_not_served() {
        let cache = SessionCache::default();
        let past = Timestamp::now() - jiff::SignedDuration::from_secs(1);
        cache.insert(SessionId("a".into()), UserId(1), past);
        assert_eq!(cache.get(&SessionId("a".into()), Timestamp::now()), None);
    }
}
