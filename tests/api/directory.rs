//! Document 003's directory totals across writes: a node keeps each count and brings it
//! forward with the change log instead of counting again, and the total stays exactly what
//! a fresh count gives, whatever the change (names in any script, deactivations, deletions,
//! bulk writes), on SQLite and PostgreSQL, and across nodes.

use std::{
    collections::HashSet,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering as Atomic},
    },
};

use async_trait::async_trait;
use jiff::Timestamp;
use reqwest::StatusCode;
use serde_json::{Value, json};
use userd::{
    domain::{
        Result,
        clock::ManualClock,
        model::{
            CountersUpdate, Counts, DirectoryChange, DirectoryCount, DirectoryFilter, DirectoryQuery, DirectoryRead,
            DirectoryState, Ordering, SearchTerm, Seek, User, UserCard, UserId,
        },
        ports::DirectoryStore,
        social::Social,
    },
    store::SqlStore,
};

use crate::helpers::{Backend, PASSWORD, TestDb};

/// The SQL store, counting how often it is asked to count.
struct Counting {
    store: Arc<SqlStore>,
    counts: AtomicUsize,
    /// Page reads from a user's place rather than from the start.
    seeks: AtomicUsize,
}

#[async_trait]
impl DirectoryStore for Counting {
    async fn search(
        &self,
        q: &DirectoryQuery,
        seek: Option<&Seek>,
        offset: u64,
        limit: u32,
        matching: u64,
        active: u64,
    ) -> Result<DirectoryRead> {
        if seek.is_some() {
            self.seeks.fetch_add(1, Atomic::SeqCst);
        }
        self.store.search(q, seek, offset, limit, matching, active).await
    }
    async fn count(&self, query: &DirectoryQuery) -> Result<DirectoryCount> {
        self.counts.fetch_add(1, Atomic::SeqCst);
        self.store.count(query).await
    }
    async fn filter(&self, query: &DirectoryQuery) -> Result<DirectoryFilter> {
        self.store.filter(query).await
    }
    async fn changes(&self, after: u64, upto: u64) -> Result<Option<Vec<DirectoryChange>>> {
        self.store.changes(after, upto).await
    }
    async fn prune_changes(&self, keep: u64) -> Result<u64> {
        self.store.prune_changes(keep).await
    }
    async fn state(&self) -> Result<DirectoryState> {
        self.store.state().await
    }
    async fn active_by_username(&self, username_key: &str) -> Result<Option<User>> {
        self.store.active_by_username(username_key).await
    }
    async fn counts(&self, user: UserId) -> Result<Counts> {
        DirectoryStore::counts(&*self.store, user).await
    }
    async fn set_counters(&self, user: UserId, update: &CountersUpdate, now: Timestamp) -> Result<Counts> {
        self.store.set_counters(user, update, now).await
    }
}

async fn open(db: &TestDb) -> Arc<SqlStore> {
    let store = SqlStore::connect(&db.url).await.expect("connect");
    store.migrate().await.expect("migrate");
    Arc::new(store)
}

fn query(search: &str, first_name: &str, last_name: &str) -> DirectoryQuery {
    DirectoryQuery {
        search: SearchTerm::parse(search),
        first_name: SearchTerm::parse(first_name),
        last_name: SearchTerm::parse(last_name),
        batch_size: 10,
        ..DirectoryQuery::default()
    }
}

/// Filters with long and short terms, ASCII and not, each field and together.
fn queries() -> Vec<DirectoryQuery> {
    [
        ("developer", "", ""),
        ("DEV", "", ""),
        ("ada", "", ""),
        ("lovelace", "", ""),
        ("straße", "", ""),
        ("STRASSE", "", ""),
        ("ıstan", "", ""),
        ("i̇stan", "", ""),
        ("istanbul", "", ""),
        ("σσε", "", ""),
        ("ΣΣΕΎΣ", "", ""),
        ("kel", "", ""),
        ("\u{212A}el", "", ""),
        ("ǆem", "", ""),
        ("ⴀⴁⴂ", "", ""),
        ("\u{10428}\u{10429}\u{1042A}", "", ""),
        ("áda", "", ""),
        ("é", "", ""),
        ("É", "", ""),
        ("a", "", ""),
        ("zo", "", ""),
        ("", "élo", ""),
        ("", "ÉLO", ""),
        ("", "é", ""),
        ("", "a", ""),
        ("", "", "love"),
        ("", "", "ló"),
        ("dev", "ad", ""),
        ("developer", "", "th"),
    ]
    .into_iter()
    .map(|(s, f, l)| query(s, f, l))
    .collect()
}

async fn add(db: &TestDb, username: &str, first: &str, last: &str, bio: &str) {
    let esc = |s: &str| s.replace('\'', "''");
    let key = username.to_lowercase();
    db.execute(&format!(
        "INSERT INTO users (external_id, email, email_key, username, username_key, first_name, last_name, bio, \
         created_at, updated_at) VALUES ('x-{key}', '{key}@example.com', '{key}@example.com', '{}', '{}', '{}', '{}', \
         '{}', 1, 1)",
        esc(username),
        esc(&key),
        esc(first),
        esc(last),
        esc(bio)
    ))
    .await;
}

/// Pages of every ordering, with and without filters.
fn pages(batch_size: u32, batches: std::ops::Range<u64>) -> Vec<DirectoryQuery> {
    let mut pages = Vec::new();
    for ordering in ["username", "-username", "created_at", "-created_at", "first_name", "-first_name", "-last_name"] {
        for (search, first_name) in [("", ""), ("developer", ""), ("", "e")] {
            for batch_number in batches.clone() {
                pages.push(DirectoryQuery {
                    ordering: Ordering::parse(ordering).expect("ordering"),
                    batch_size,
                    batch_number,
                    ..query(search, first_name, "")
                });
            }
        }
    }
    pages
}

/// Every query's total and every page through `social` (cached, brought forward) against
/// what a node that has cached nothing reads.
async fn assert_exact(social: &Social, store: &Arc<SqlStore>, after: &str) {
    for q in queries() {
        let page = social.directory(None, &q).await.expect("directory");
        let fresh = store.count(&q).await.expect("count").total;
        assert_eq!(page.total, fresh, "after {after}: {:?} {:?} {:?}", q.search, q.first_name, q.last_name);
    }
    assert_pages(social, store, &pages(2, 0..4), after).await;
}

async fn assert_pages(social: &Social, store: &Arc<SqlStore>, pages: &[DirectoryQuery], after: &str) {
    let fresh = Social::new(store.clone(), store.clone(), store.clone(), ManualClock::new());
    for q in pages {
        let kept = social.directory(None, q).await.expect("directory");
        let read = fresh.directory(None, q).await.expect("directory");
        let names = |users: &[UserCard]| users.iter().map(|u| u.username.clone()).collect::<Vec<_>>();
        assert_eq!(
            (kept.total, names(&kept.users)),
            (read.total, names(&read.users)),
            "after {after}: {:?} {:?} {:?} batch {}",
            q.ordering,
            q.search,
            q.first_name,
            q.batch_number
        );
        assert_eq!(kept.users, read.users, "after {after}: the cards too");
    }
}

async fn counts_stay_exact_across_writes(backend: Backend) {
    let Some(db) = TestDb::new(backend).await else { return };
    let store = open(&db).await;
    let counting = Arc::new(Counting { store: store.clone(), counts: AtomicUsize::new(0), seeks: AtomicUsize::new(0) });
    let social = Social::new(counting.clone(), store.clone(), store.clone(), ManualClock::new());
    add(&db, "ada", "Ada", "Lovelace", "Mathematician").await;
    add(&db, "ken", "Ken", "Thompson", "Go developer").await;
    add(&db, "dem", "ǅemal", "Łódź", "").await;
    assert_exact(&social, &store, "the first counts").await;
    let counted = counting.counts.load(Atomic::SeqCst);
    let distinct: HashSet<_> = queries()
        .into_iter()
        .chain(pages(2, 0..4))
        .filter(DirectoryQuery::is_filtered)
        .map(|q| (q.search, q.first_name, q.last_name))
        .collect();
    assert_eq!(counted, distinct.len(), "one count for each filter (terms are lower-cased first)");

    let changes = [
        ("INSERT", "a registration that matches"),
        ("INSERT2", "one that does not"),
        ("UPDATE users SET first_name = 'Élodie' WHERE username_key = 'ken'", "a non-ASCII first name"),
        (
            "UPDATE users SET bio = 'İSTANBUL, ΟΔΥΣΣΕΥΣ, \u{212A}elvin, STRAẞE, ⴀⴁⴂ Ⴀ\u{10400}\u{10401}\u{10402}' \
             WHERE username_key = 'ada'",
            "a bio in other scripts",
        ),
        ("UPDATE users SET bio = 'Istanbul developer' WHERE username_key = 'dem'", "a bio that starts matching"),
        ("UPDATE users SET is_active = FALSE WHERE username_key = 'ken'", "a deactivation"),
        (
            "UPDATE users SET is_active = TRUE, last_name = 'Lóránt' WHERE username_key = 'ken'",
            "a reactivation, renamed",
        ),
        ("UPDATE users SET username = 'Zoë', username_key = 'zoë' WHERE username_key = 'dem'", "a new username"),
        ("UPDATE users SET avatar = 'https://example.com/a.png' WHERE username_key = 'ada'", "a new picture"),
        ("UPDATE users SET email = 'other@example.com' WHERE username_key = 'ada'", "what the directory does not show"),
        ("UPDATE users SET bio = bio || ' developer' WHERE username_key IN ('ada', 'zoë', 'grace')", "several rows"),
        ("DELETE FROM users WHERE username_key = 'ken'", "a deletion"),
        ("UPDATE users SET is_active = FALSE WHERE username_key = 'zoë'", "another deactivation"),
        ("UPDATE users SET bio = 'developer' WHERE username_key = 'zoë'", "an inactive user's change"),
    ];
    for (sql, why) in changes {
        match sql {
            "INSERT" => add(&db, "grace", "Grace", "Hopper", "Compiler developer").await,
            "INSERT2" => add(&db, "bob", "Bob", "Builder", "Carpenter").await,
            sql => db.execute(sql).await,
        }
        assert_exact(&social, &store, why).await;
    }
    assert_eq!(counting.counts.load(Atomic::SeqCst), counted, "every total after a change came from the change log");

    // A bulk insert logs no rows (nodes count again), and still every total is exact.
    let seeded = userd::seed::users(1000, 1500, Timestamp::now(), "bulk");
    store.insert_seed_users(&seeded, "$argon2id$not-a-real-hash").await.expect("seed");
    assert_exact(&social, &store, "a bulk insert").await;
    assert_eq!(counting.counts.load(Atomic::SeqCst), 2 * counted, "counted again");
    db.execute("UPDATE users SET bio = 'Rust developer' WHERE username_key = 'grace'").await;
    assert_exact(&social, &store, "a change after the bulk insert").await;
    assert_eq!(counting.counts.load(Atomic::SeqCst), 2 * counted, "and brought forward again after it");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn counts_stay_exact_across_writes_sqlite() {
    counts_stay_exact_across_writes(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn counts_stay_exact_across_writes_postgres() {
    counts_stay_exact_across_writes(Backend::Postgres).await;
}

async fn pages_stay_exact_as_users_arrive_and_leave_before_them(backend: Backend) {
    let Some(db) = TestDb::new(backend).await else { return };
    let store = open(&db).await;
    let counting = Arc::new(Counting { store: store.clone(), counts: AtomicUsize::new(0), seeks: AtomicUsize::new(0) });
    let social = Social::new(counting.clone(), store.clone(), store.clone(), ManualClock::new());
    let firsts = ["Elena", "Ada", "Émile", "Zoë", "Ken"];
    for i in 0..60 {
        let bio = if i % 3 == 0 { "developer" } else { "gardener" };
        add(&db, &format!("u{i:02}"), firsts[i % firsts.len()], "Doe", bio).await;
    }
    let pages = pages(3, 0..20);
    assert_pages(&social, &store, &pages, "the first reads").await;
    // More arrive and leave before the middle pages than their windows hold.
    for i in 0..24 {
        db.execute(&format!("DELETE FROM users WHERE username_key = 'u{i:02}'")).await;
        if i % 2 == 0 {
            add(&db, &format!("a{i:02}"), firsts[(i / 2) % firsts.len()], "Roe", "developer").await;
        }
        if i % 4 == 0 {
            assert_pages(&social, &store, &pages, &format!("change {i}")).await;
        }
    }
    assert_pages(&social, &store, &pages, "the last change").await;
    assert!(counting.seeks.load(Atomic::SeqCst) > 0, "pages were read again from a user whose place was known");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_stay_exact_as_users_arrive_and_leave_before_them_sqlite() {
    pages_stay_exact_as_users_arrive_and_leave_before_them(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_stay_exact_as_users_arrive_and_leave_before_them_postgres() {
    pages_stay_exact_as_users_arrive_and_leave_before_them(Backend::Postgres).await;
}

async fn the_change_log_holds_each_version_once_until_pruned(backend: Backend) {
    let Some(db) = TestDb::new(backend).await else { return };
    let store = open(&db).await;
    let start = store.state().await.expect("state").version;
    add(&db, "ada", "Ada", "Lovelace", "").await;
    add(&db, "ken", "Ken", "Thompson", "").await;
    db.execute("UPDATE users SET first_name = 'Kenneth', last_name = 'T' WHERE username_key = 'ken'").await;
    db.execute("UPDATE users SET updated_at = 2").await;
    let end = store.state().await.expect("state").version;
    assert_eq!(end, start + 3, "a version for each change the directory shows, none for the rest");
    let changes = store.changes(start, end).await.expect("read").expect("all logged");
    assert_eq!(changes.iter().map(|c| c.version).collect::<Vec<_>>(), [start + 1, start + 2, start + 3]);
    let renamed = &changes[2];
    assert!(renamed.before.as_ref().is_some_and(|r| r.first_text == "ken"));
    assert!(renamed.after.as_ref().is_some_and(|r| r.first_text == "kenneth" && r.last_key == "t"));
    assert!(changes[0].before.is_none(), "a registration has no before");
    assert_eq!(store.changes(start + 1, end).await.expect("read").map(|c| c.len()), Some(2));

    assert_eq!(store.prune_changes(1).await.expect("prune"), 2);
    assert_eq!(store.changes(start, end).await.expect("read"), None, "pruned versions are not held");
    assert_eq!(store.changes(end - 1, end).await.expect("read").map(|c| c.len()), Some(1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_change_log_holds_each_version_once_until_pruned_sqlite() {
    the_change_log_holds_each_version_once_until_pruned(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_change_log_holds_each_version_once_until_pruned_postgres() {
    the_change_log_holds_each_version_once_until_pruned(Backend::Postgres).await;
}

/// Three nodes on one PostgreSQL database: each keeps its counts, and each count stays
/// what a fresh count gives while the others register users and change profiles.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_node_keeps_its_counts_exact_while_others_write() {
    let Some(db) = TestDb::new(Backend::Postgres).await else { return };
    let nodes = crate::cli::Nodes::start(&db.url, 3, &[("USERD_RATE_LIMIT", "off")]);
    let store = open(&db).await;
    let client = reqwest::Client::new();
    let searches = ["developer", "éló", "ada", "de", "σσ"];
    let check = async |why: &str| {
        for url in &nodes.urls {
            for search in searches {
                let page: Value = client
                    .get(format!("{url}/careers/users/?search={search}"))
                    .send()
                    .await
                    .expect("send")
                    .json()
                    .await
                    .expect("json");
                let fresh = store.count(&query(search, "", "")).await.expect("count").total;
                assert_eq!(page["batch_info"]["total_users"], fresh, "{url} after {why}: {search}");
            }
        }
    };
    let register = async |node: usize, name: &str, bio: &str| {
        let body = json!({"username": name, "email": format!("{name}@example.com"), "password": PASSWORD,
            "password_confirm": PASSWORD, "first_name": "Élodie", "bio": bio});
        let res = client.post(format!("{}/careers/users/register/", nodes.urls[node])).json(&body).send().await;
        let res = res.expect("send");
        assert_eq!(res.status(), StatusCode::CREATED);
        let body: Value = res.json().await.expect("json");
        body["access"].as_str().expect("access").to_string()
    };
    let ada = register(0, "ada", "A developer").await;
    check("a registration").await;
    let odysseus = register(1, "odysseus", "ΟΔΥΣΣΕΥΣ").await;
    check("a registration on another node").await;
    for (node, token, update) in [
        (2, &ada, json!({"bio": "Gardener"})),
        (0, &odysseus, json!({"first_name": "Ada", "bio": "developer"})),
        (1, &ada, json!({"last_name": "Δεσσε"})),
    ] {
        let res = client
            .patch(format!("{}/careers/users/me/update/", nodes.urls[node]))
            .bearer_auth(token)
            .json(&update)
            .send()
            .await
            .expect("send");
        assert_eq!(res.status(), StatusCode::OK);
        check(&update.to_string()).await;
    }
}
