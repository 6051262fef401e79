//! The rows every authenticated request reads, kept by this node: users by id, which user
//! an API token's hash belongs to, and each user's API token as stored (sealed: the
//! plain token is never kept). A warm JWT or API-token request then reads nothing.
//!
//! The cache is exact, not merely short-lived:
//! - every write of this store to `users` or `api_tokens` forgets the rows it touched once
//!   it has committed (a transaction collects them and forgets at its commit);
//! - on PostgreSQL, triggers on both tables `NOTIFY` the ids of changed rows, in the
//!   changing transaction, so every node forgets them whichever process wrote them; the
//!   cache is only used while this node is listening, and starts empty each time it
//!   (re)starts listening, because notifications may have been missed in between;
//! - a read fills the cache only if nothing was forgotten while it ran (the `epoch`), so a
//!   row read just before a change committed is never kept after the change;
//! - on SQLite, any other process may write the file (`userd create-admin` while serving,
//!   an operator's `sqlite3` shell): the cache watches the database's files with inotify
//!   and, before every lookup, drains the watch without waiting; any write since the last
//!   lookup (the kernel queues it during the writer's commit) empties the cache, so the
//!   first request after a foreign commit reads the database. Where no watch can be made
//!   (not Linux, no inotify instance left), the SQLite cache stays off;
//! - [`MAX_AGE`] bounds what anything unforeseen could leave.

use std::{
    collections::HashMap,
    hash::Hash,
    sync::{
        Mutex,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use crate::domain::model::User;

const MAX_AGE: Duration = Duration::from_secs(30);
/// Entries of each map before it starts afresh (users: ~1 KiB each at most).
const CAPACITY: usize = 50_000;

/// SHA-256 of an API token, as stored.
pub(crate) type TokenHash = [u8; 32];

struct Entry<T> {
    value: T,
    at: Instant,
}

impl<T: Clone> Entry<T> {
    fn fresh(&self) -> Option<T> {
        (self.at.elapsed() < MAX_AGE).then(|| self.value.clone())
    }
}

#[derive(Default)]
struct Rows {
    /// Moves whenever anything is forgotten; a fill must have started at the current one.
    epoch: u64,
    users: HashMap<i64, Entry<User>>,
    tokens: HashMap<TokenHash, Entry<i64>>,
    /// Users' API tokens as stored: sealed with the master secret.
    sealed: HashMap<i64, Entry<Vec<u8>>>,
    /// The SQLite file's writes, by any process.
    watch: Option<watch::FileWatch>,
}

impl Rows {
    fn forget_all(&mut self) {
        self.epoch = self.epoch.wrapping_add(1);
        self.users.clear();
        self.tokens.clear();
        self.sealed.clear();
    }
}

/// A read's permission to fill the cache: the epoch when it started.
#[derive(Clone, Copy)]
pub(crate) struct Ticket(u64);

pub(crate) struct HotRows {
    rows: Mutex<Rows>,
    /// Whether the cache may be used: always on SQLite (one process serves the file), and
    /// on PostgreSQL only while this node listens for other nodes' changes.
    live: AtomicBool,
}

impl HotRows {
    pub(crate) fn new(live: bool) -> Self {
        HotRows { rows: Mutex::default(), live: AtomicBool::new(live) }
    }

    /// For a SQLite database in `file`: on while its writes can be watched, else off.
    pub(crate) fn for_sqlite(file: &std::path::Path) -> Self {
        match watch::FileWatch::new(file) {
            Ok(w) => {
                let hot = HotRows::new(true);
                hot.with(|r| r.watch = Some(w));
                hot
            }
            Err(e) => {
                tracing::info!(error = %e, "cannot watch the SQLite file; every request reads its user");
                HotRows::new(false)
            }
        }
    }

    /// Runs `f` on the rows, once any write to the SQLite file since the last call has
    /// emptied them.
    fn with<T>(&self, f: impl FnOnce(&mut Rows) -> T) -> T {
        let mut guard = match self.rows.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        let rows = &mut *guard;
        if let Some(w) = &mut rows.watch {
            match w.written() {
                Ok(false) => {}
                Ok(true) => rows.forget_all(),
                Err(e) => {
                    tracing::warn!(error = %e, "lost the watch on the SQLite file; the cache is off");
                    rows.watch = None;
                    rows.forget_all();
                    self.live.store(false, Ordering::Release);
                }
            }
        }
        f(rows)
    }

    fn live(&self) -> bool {
        self.live.load(Ordering::Acquire)
    }

    /// Taken before a read whose result may fill the cache; `None` while the cache is off.
    pub(crate) fn ticket(&self) -> Option<Ticket> {
        if !self.live() {
            return None;
        }
        Some(Ticket(self.with(|r| r.epoch)))
    }

    /// A fresh entry of the map `pick` chooses, while the cache is on.
    fn lookup<K: Eq + Hash, T: Clone>(&self, pick: fn(&mut Rows) -> &mut HashMap<K, Entry<T>>, key: &K) -> Option<T> {
        if !self.live() {
            return None;
        }
        self.with(|r| pick(r).get(key).and_then(Entry::fresh))
    }

    /// Keeps `value` in the map `pick` chooses, if nothing was forgotten since `ticket`.
    fn fill<K: Eq + Hash, T>(
        &self,
        ticket: Option<Ticket>,
        pick: fn(&mut Rows) -> &mut HashMap<K, Entry<T>>,
        key: K,
        value: T,
    ) {
        let Some(Ticket(epoch)) = ticket else { return };
        self.with(|r| {
            if r.epoch != epoch {
                return;
            }
            let map = pick(r);
            if map.len() >= CAPACITY {
                map.clear();
            }
            map.insert(key, Entry { value, at: Instant::now() });
        });
    }

    pub(crate) fn user(&self, id: i64) -> Option<User> {
        self.lookup(|r| &mut r.users, &id)
    }

    pub(crate) fn token_owner(&self, hash: &TokenHash) -> Option<i64> {
        self.lookup(|r| &mut r.tokens, hash)
    }

    pub(crate) fn sealed_token(&self, user: i64) -> Option<Vec<u8>> {
        self.lookup(|r| &mut r.sealed, &user)
    }

    /// Keeps `user` if nothing was forgotten since `ticket` was taken.
    pub(crate) fn keep_user(&self, ticket: Option<Ticket>, user: &User) {
        self.fill(ticket, |r| &mut r.users, user.id.0, user.clone());
    }

    /// Keeps that the token with `hash` is `user`'s, if nothing was forgotten since `ticket`.
    pub(crate) fn keep_token(&self, ticket: Option<Ticket>, hash: TokenHash, user: i64) {
        self.fill(ticket, |r| &mut r.tokens, hash, user);
    }

    /// Keeps `user`'s sealed API token if nothing was forgotten since `ticket` was taken.
    pub(crate) fn keep_sealed_token(&self, ticket: Option<Ticket>, user: i64, sealed: &[u8]) {
        self.fill(ticket, |r| &mut r.sealed, user, sealed.to_vec());
    }

    /// Forgets these users' rows and their API tokens.
    pub(crate) fn forget(&self, users: &[i64]) {
        if users.is_empty() {
            return;
        }
        self.with(|r| {
            r.epoch = r.epoch.wrapping_add(1);
            for id in users {
                r.users.remove(id);
                r.sealed.remove(id);
            }
            r.tokens.retain(|_, e| !users.contains(&e.value));
        });
    }

    /// Forgets everything.
    pub(crate) fn forget_all(&self) {
        self.with(Rows::forget_all);
    }

    /// Turns the cache on (empty) or off; off while other nodes' changes cannot be heard.
    /// Forgetting after the switch also refuses fills by reads that began before it.
    pub(crate) fn set_live(&self, live: bool) {
        self.live.store(live, Ordering::Release);
        self.forget_all();
    }
}

#[cfg(target_os = "linux")]
mod watch {
    use std::{ffi::OsString, io, path::Path};

    use inotify::{Inotify, WatchMask};

    /// Writes to a SQLite database's files (the database, its WAL and journal), queued by
    /// the kernel as they happen and read without blocking.
    pub(super) struct FileWatch {
        inotify: Inotify,
        name: OsString,
        buffer: Vec<u8>,
    }

    impl FileWatch {
        pub(super) fn new(file: &Path) -> io::Result<Self> {
            let name = file.file_name().ok_or_else(|| io::Error::other("no file name"))?.to_owned();
            let dir = match file.parent() {
                Some(d) if !d.as_os_str().is_empty() => d,
                _ => Path::new("."),
            };
            if !file.exists() {
                return Err(io::Error::other("the database is not a file"));
            }
            let inotify = Inotify::init()?;
            inotify
                .watches()
                .add(dir, WatchMask::MODIFY | WatchMask::CREATE | WatchMask::DELETE | WatchMask::MOVED_TO)?;
            Ok(FileWatch { inotify, name, buffer: vec![0; 4096] })
        }

        /// Whether any of the database's files was written since the last call.
        pub(super) fn written(&mut self) -> io::Result<bool> {
            let mut written = false;
            loop {
                match self.inotify.read_events(&mut self.buffer) {
                    Ok(events) => {
                        let mut any = false;
                        for event in events {
                            any = true;
                            // An overflowed queue has no name: anything may have been written.
                            written |= event
                                .name
                                .is_none_or(|n| n.as_encoded_bytes().starts_with(self.name.as_encoded_bytes()));
                        }
                        if !any {
                            return Ok(written);
                        }
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(written),
                    Err(e) => return Err(e),
                }
            }
        }
    }
}

#[cfg(not(target_os = "linux"))]
mod watch {
    use std::{io, path::Path};

    pub(super) struct FileWatch;

    impl FileWatch {
        pub(super) fn new(_file: &Path) -> io::Result<Self> {
            Err(io::Error::other("watching files needs Linux's inotify"))
        }

        pub(super) fn written(&mut self) -> io::Result<bool> {
            Ok(true)
        }
    }
}

#[cfg(test)]
mod tests {
    use jiff::Timestamp;

    use super::*;
    use crate::domain::model::{ExternalId, UserId};

    fn user(id: i64, name: &str) -> User {
        User {
            id: UserId(id),
            external_id: ExternalId(format!("x{id}")),
            email: format!("{name}@example.com"),
            email_verified: false,
            username: name.into(),
            first_name: String::new(),
            last_name: String::new(),
            company_name: String::new(),
            bio: String::new(),
            avatar: None,
            tz: None,
            plan: None,
            subscription_status: None,
            is_staff: false,
            is_active: true,
            created_at: Timestamp::UNIX_EPOCH,
            updated_at: Timestamp::UNIX_EPOCH,
        }
    }

    #[test]
    fn a_read_that_raced_a_change_is_not_kept() {
        let hot = HotRows::new(true);
        let ticket = hot.ticket();
        // The change commits and is forgotten while the read is in flight.
        hot.forget(&[1]);
        hot.keep_user(ticket, &user(1, "old"));
        assert!(hot.user(1).is_none());
        let ticket = hot.ticket();
        hot.keep_user(ticket, &user(1, "new"));
        assert_eq!(hot.user(1).map(|u| u.username), Some("new".into()));
    }

    #[test]
    fn forgetting_a_user_forgets_its_tokens() {
        let hot = HotRows::new(true);
        let ticket = hot.ticket();
        hot.keep_token(ticket, [1; 32], 7);
        hot.keep_token(ticket, [2; 32], 8);
        hot.forget(&[7]);
        assert_eq!(hot.token_owner(&[1; 32]), None);
        assert_eq!(hot.token_owner(&[2; 32]), Some(8));
    }

    #[test]
    fn another_process_writing_the_sqlite_file_empties_the_cache() {
        let dir = std::env::temp_dir().join(format!("userd-hot-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let file = dir.join("test.db");
        std::fs::write(&file, b"").expect("file");
        let hot = HotRows::for_sqlite(&file);
        let ticket = hot.ticket();
        hot.keep_user(ticket, &user(1, "a"));
        std::fs::write(dir.join("other.txt"), b"x").expect("other");
        assert!(hot.user(1).is_some(), "another file of the directory changes nothing");
        std::fs::write(dir.join("test.db-wal"), b"x").expect("wal");
        assert!(hot.user(1).is_none());
        std::fs::remove_dir_all(&dir).expect("clean");
    }

    #[test]
    fn nothing_is_served_or_kept_while_off() {
        let hot = HotRows::new(true);
        let ticket = hot.ticket();
        hot.keep_user(ticket, &user(1, "a"));
        hot.set_live(false);
        assert!(hot.user(1).is_none());
        assert!(hot.ticket().is_none());
        hot.keep_user(ticket, &user(1, "a"));
        hot.set_live(true);
        assert!(hot.user(1).is_none());
    }
}
