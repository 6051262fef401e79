//! Document 003's directory (its follow graph is in `follows.rs`). The directory's SQL is
//! assembled from fixed fragments chosen by a closed set of orderings and filters; what a
//! client sends is only ever bound, never written into the SQL. The substring search is the
//! one place the backends differ: SQLite's FTS5 trigram index, PostgreSQL's `pg_trgm`.

use async_trait::async_trait;
use jiff::Timestamp;

use super::{Db, SqlStore, db_err, micros, on_pool, users::UserRow, users::user_columns};
use crate::domain::{
    Error, Result,
    model::{
        CountersUpdate, Counts, DirectoryChange, DirectoryCount, DirectoryFilter, DirectoryQuery, DirectoryRead,
        DirectoryState, OrderField, Ordering, Position, SearchTerm, Seek, SortKey, User, UserCard, UserId,
    },
    ports::DirectoryStore,
};

#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Backend {
    Sqlite,
    Postgres,
}

pub(super) enum Arg {
    Text(String),
    Int(i64),
}

/// SQL text with `$n` placeholders and the values they stand for.
pub(super) struct Sql {
    backend: Backend,
    pub(super) text: String,
    pub(super) args: Vec<Arg>,
    /// Test each row against the substring index instead of collecting the matches first:
    /// cheaper when many users match and the ordering's index is walked for one page.
    probe: bool,
}

/// A page walks its ordering and tests each user (SQLite) when at least one user in this
/// many matches. Each test reads the term's postings again, so it pays only when few
/// users are read per user returned; otherwise collecting the matches and sorting them
/// is cheaper (measured at 1M: 20k matches collect in 26 ms, but take seconds to probe).
const PROBE_WHEN_ONE_IN: u64 = 12;

impl Sql {
    pub(super) fn new(backend: Backend) -> Self {
        Sql { backend, text: String::with_capacity(512), args: Vec::new(), probe: false }
    }

    pub(super) fn push(&mut self, fragment: &str) -> &mut Self {
        self.text.push_str(fragment);
        self
    }

    pub(super) fn bind(&mut self, arg: Arg) -> &mut Self {
        self.args.push(arg);
        let n = self.args.len();
        self.text.push('$');
        self.text.push_str(&n.to_string());
        self
    }

    /// The key an ordering sorts on.
    fn order_key(&self, field: OrderField) -> &'static str {
        match (self.backend, field) {
            (_, OrderField::CreatedAt) => "u.created_at",
            (Backend::Sqlite, OrderField::Username) => "u.username_key",
            (Backend::Sqlite, OrderField::FirstName) => "lower(u.first_name)",
            (Backend::Sqlite, OrderField::LastName) => "lower(u.last_name)",
            (Backend::Postgres, OrderField::Username) => "(u.username_key COLLATE \"C\")",
            (Backend::Postgres, OrderField::FirstName) => "(lower(u.first_name) COLLATE \"C\")",
            (Backend::Postgres, OrderField::LastName) => "(lower(u.last_name) COLLATE \"C\")",
        }
    }

    /// `AND <term matches the column set>`: a substring for three characters or more,
    /// the start of the username or a name for shorter terms.
    fn filter(&mut self, columns: Columns, term: &SearchTerm) {
        if term.is_substring() {
            match self.backend {
                Backend::Sqlite if self.probe => {
                    self.push(" AND EXISTS (SELECT 1 FROM users_search WHERE users_search MATCH ");
                    self.bind(Arg::Text(fts_phrase(columns, term))).push(" AND rowid = u.id)");
                }
                Backend::Sqlite => {
                    self.push(" AND u.id IN (SELECT rowid FROM users_search WHERE users_search MATCH ");
                    self.bind(Arg::Text(fts_phrase(columns, term))).push(")");
                }
                Backend::Postgres => {
                    let escaped = term.as_str().replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
                    self.push(" AND ").push(columns.trgm()).push(" ILIKE ");
                    self.bind(Arg::Text(format!("%{escaped}%")));
                }
            }
            return;
        }
        // Under three characters: a prefix range on each indexed key of the column set, one
        // index range scan each (a UNION, which both planners run as separate scans).
        let (low, high) = term.prefix_bounds();
        let keys: &[OrderField] = match columns {
            Columns::All => &[OrderField::Username, OrderField::FirstName, OrderField::LastName],
            Columns::FirstName => &[OrderField::FirstName],
            Columns::LastName => &[OrderField::LastName],
        };
        self.push(" AND u.id IN (");
        for (i, field) in keys.iter().enumerate() {
            if i > 0 {
                self.push(" UNION ");
            }
            let key = self.order_key(*field).replace("u.", "s.");
            self.push("SELECT s.id FROM users s WHERE s.is_active AND ").push(&key).push(" >= ");
            self.bind(Arg::Text(low.clone())).push(" AND ").push(&key).push(" < ");
            self.bind(Arg::Text(high.clone()));
        }
        self.push(")");
    }

    fn filters(&mut self, q: &DirectoryQuery) {
        for (columns, term) in terms(q) {
            self.filter(columns, term);
        }
    }

    /// `AND` the rows after (or from) `seek`'s position in `ordering`: a range of the
    /// ordering's index, read from there.
    fn seek(&mut self, ordering: Ordering, seek: &Seek) {
        let op = match (ordering.descending, seek.inclusive) {
            (false, false) => " > (",
            (false, true) => " >= (",
            (true, false) => " < (",
            (true, true) => " <= (",
        };
        let key = self.order_key(ordering.field);
        self.push(" AND (").push(key).push(", u.id)").push(op);
        match &seek.from.key {
            SortKey::Text(text) => self.bind(Arg::Text(text.clone())),
            SortKey::Time(time) => self.bind(Arg::Int(*time)),
        };
        self.push(", ").bind(Arg::Int(seek.from.id.0)).push(")");
    }

    fn order_by(&mut self, ordering: Ordering) {
        let dir = if ordering.descending { " DESC" } else { " ASC" };
        let key = self.order_key(ordering.field);
        self.push(" ORDER BY ").push(key).push(dir).push(", u.id").push(dir);
    }

    /// `is_following` of each card, for `viewer`.
    pub(super) fn is_following(&mut self, viewer: Option<UserId>) {
        match viewer {
            Some(v) => {
                self.push("EXISTS (SELECT 1 FROM follows f2 WHERE f2.follower_id = ");
                self.bind(Arg::Int(v.0)).push(" AND f2.following_id = u.id) AS is_following");
            }
            None => {
                self.push("FALSE AS is_following");
            }
        }
    }
}

/// The query's terms, each with the fields it is matched against.
fn terms(q: &DirectoryQuery) -> impl Iterator<Item = (Columns, &SearchTerm)> {
    [(Columns::All, &q.search), (Columns::FirstName, &q.first_name), (Columns::LastName, &q.last_name)]
        .into_iter()
        .filter_map(|(columns, term)| term.as_ref().map(|t| (columns, t)))
}

/// An FTS5 query for `term` as one phrase within `columns`; a `"` in the term is doubled,
/// so nothing in it is FTS5 syntax.
fn fts_phrase(columns: Columns, term: &SearchTerm) -> String {
    format!("{}: \"{}\"", columns.fts(), term.as_str().replace('"', "\"\""))
}

/// Which fields a term is matched against.
#[derive(Clone, Copy)]
enum Columns {
    All,
    FirstName,
    LastName,
}

impl Columns {
    fn fts(self) -> &'static str {
        match self {
            Columns::All => "{username first_name last_name bio}",
            Columns::FirstName => "{first_name}",
            Columns::LastName => "{last_name}",
        }
    }

    /// The indexed expression (exactly as `migrations/postgres/0004` writes it).
    fn trgm(self) -> &'static str {
        match self {
            Columns::All => "(u.username || chr(31) || u.first_name || chr(31) || u.last_name || chr(31) || u.bio)",
            Columns::FirstName => "u.first_name",
            Columns::LastName => "u.last_name",
        }
    }
}

/// Binds `sql`'s values onto a query of either backend.
macro_rules! bound {
    ($query:expr, $args:expr) => {{
        let mut q = $query;
        for arg in $args {
            q = match arg {
                Arg::Text(t) => q.bind(t.as_str()),
                Arg::Int(n) => q.bind(*n),
            };
        }
        q
    }};
}
pub(super) use bound;

#[derive(sqlx::FromRow)]
struct CardRow {
    id: i64,
    username: String,
    first_name: String,
    last_name: String,
    avatar: Option<String>,
    is_following: bool,
}

impl From<CardRow> for UserCard {
    fn from(r: CardRow) -> Self {
        UserCard {
            id: UserId(r.id),
            username: r.username,
            first_name: r.first_name,
            last_name: r.last_name,
            avatar: r.avatar,
            is_following: r.is_following,
        }
    }
}

/// A card of a directory page with its sort key (text or time, by the ordering) and the
/// directory's version it was read at.
#[derive(sqlx::FromRow)]
struct PageRow {
    #[sqlx(flatten)]
    card: CardRow,
    sort_text: Option<String>,
    sort_time: Option<i64>,
    version: i64,
}

#[derive(sqlx::FromRow)]
struct CountsRow {
    followers: i64,
    following: i64,
    posts_count: i64,
    likes_received: i64,
    comments_received: i64,
}

impl From<CountsRow> for Counts {
    fn from(r: CountsRow) -> Self {
        Counts {
            followers: r.followers,
            following: r.following,
            posts: r.posts_count,
            likes_received: r.likes_received,
            comments_received: r.comments_received,
        }
    }
}

const COUNTS: &str = "SELECT \
    (SELECT COUNT(*) FROM follows f JOIN users a ON a.id = f.follower_id WHERE f.following_id = u.id AND a.is_active) AS followers, \
    (SELECT COUNT(*) FROM follows f JOIN users b ON b.id = f.following_id WHERE f.follower_id = u.id AND b.is_active) AS following, \
    u.posts_count, u.likes_received, u.comments_received FROM users u WHERE u.id = $1";

impl SqlStore {
    pub(super) fn backend(&self) -> Backend {
        match self.db {
            Db::Sqlite { .. } => Backend::Sqlite,
            Db::Postgres(_) => Backend::Postgres,
        }
    }

    pub(super) async fn cards(&self, sql: Sql) -> Result<Vec<UserCard>> {
        let rows: Vec<CardRow> = on_pool!(&self.db, reader, |pool| {
            bound!(sqlx::query_as(sqlx::AssertSqlSafe(sql.text.as_str())), &sql.args)
                .fetch_all(pool)
                .await
                .map_err(db_err)?
        });
        Ok(rows.into_iter().map(Into::into).collect())
    }

    pub(super) async fn scalar(&self, sql: Sql) -> Result<i64> {
        Ok(on_pool!(&self.db, reader, |pool| {
            bound!(sqlx::query_scalar(sqlx::AssertSqlSafe(sql.text.as_str())), &sql.args)
                .fetch_one(pool)
                .await
                .map_err(db_err)?
        }))
    }
}

#[async_trait]
impl DirectoryStore for SqlStore {
    async fn search(
        &self,
        query: &DirectoryQuery,
        seek: Option<&Seek>,
        offset: u64,
        limit: u32,
        matching: u64,
        active: u64,
    ) -> Result<DirectoryRead> {
        let mut sql = Sql::new(self.backend());
        // Walk the ordering's index and test each user when many match, or collect the
        // matches and sort them. SQLite is told by the form of the query; PostgreSQL's
        // planner, which estimates a substring's matches far too low (and walks an index
        // past clustered matches when it estimates well), by a materialised collection or
        // by plans that do not collect.
        let walk = query.is_filtered() && matching >= 1000 && matching.saturating_mul(PROBE_WHEN_ONE_IN) >= active;
        let collect = sql.backend == Backend::Postgres && query.is_filtered() && !walk;
        sql.probe = sql.backend == Backend::Sqlite && walk;
        let key = sql.order_key(query.ordering.field);
        let (text_key, time_key) = match query.ordering.field {
            OrderField::CreatedAt => ("CAST(NULL AS TEXT)", key),
            _ => (key, "CAST(NULL AS BIGINT)"),
        };
        if collect {
            sql.push("WITH m AS MATERIALIZED (");
        }
        sql.push("SELECT u.id, u.username, u.first_name, u.last_name, u.avatar, ");
        sql.is_following(None);
        sql.push(", ").push(text_key).push(" AS sort_text, ").push(time_key).push(" AS sort_time, ");
        // In the same statement, so the version of the snapshot the rows come from.
        sql.push("(SELECT version FROM directory_totals WHERE id = 1) AS version FROM users u WHERE u.is_active");
        sql.filters(query);
        if let Some(seek) = seek {
            sql.seek(query.ordering, seek);
        }
        if collect {
            let dir = if query.ordering.descending { " DESC" } else { " ASC" };
            let sorted =
                if query.ordering.field == OrderField::CreatedAt { "sort_time" } else { "sort_text COLLATE \"C\"" };
            sql.push(") SELECT * FROM m ORDER BY ").push(sorted).push(dir).push(", id").push(dir);
        } else {
            sql.order_by(query.ordering);
        }
        sql.push(" LIMIT ").bind(Arg::Int(i64::from(limit)));
        sql.push(" OFFSET ").bind(Arg::Int(i64::try_from(offset).unwrap_or(i64::MAX)));
        let rows: Vec<PageRow> = match &self.db {
            Db::Postgres(pool) if walk => {
                // Settings of this transaction only; the statement is only ever planned
                // under them (a collecting one has other text), so a cached plan fits too.
                const WALK: &str = "SET LOCAL enable_bitmapscan = off; SET LOCAL enable_seqscan = off; \
                    SET LOCAL max_parallel_workers_per_gather = 0";
                let mut tx = pool.begin().await.map_err(db_err)?;
                sqlx::raw_sql(WALK).execute(&mut *tx).await.map_err(db_err)?;
                let rows = bound!(sqlx::query_as(sqlx::AssertSqlSafe(sql.text.as_str())), &sql.args)
                    .fetch_all(&mut *tx)
                    .await
                    .map_err(db_err)?;
                tx.commit().await.map_err(db_err)?;
                rows
            }
            db => on_pool!(db, reader, |pool| {
                bound!(sqlx::query_as(sqlx::AssertSqlSafe(sql.text.as_str())), &sql.args)
                    .fetch_all(pool)
                    .await
                    .map_err(db_err)?
            }),
        };
        let mut read = DirectoryRead {
            cards: Vec::with_capacity(rows.len()),
            positions: Vec::with_capacity(rows.len()),
            version: rows.first().and_then(|r| u64::try_from(r.version).ok()),
        };
        for row in rows {
            let key = match (row.sort_text, row.sort_time) {
                (Some(text), _) => SortKey::Text(text),
                (None, time) => SortKey::Time(time.unwrap_or(0)),
            };
            read.positions.push(Position { key, id: UserId(row.card.id) });
            read.cards.push(row.card.into());
        }
        Ok(read)
    }

    async fn count(&self, query: &DirectoryQuery) -> Result<DirectoryCount> {
        // The version is read by the same statement, so in the same snapshot as the count:
        // the count is exact at that version, which the change log's deltas start from.
        let mut sql = Sql::new(self.backend());
        sql.push("SELECT (SELECT version FROM directory_totals WHERE id = 1), ");
        let terms: Vec<_> = terms(query).collect();
        if let (Backend::Sqlite, [(columns, term)]) = (sql.backend, terms.as_slice())
            && term.is_substring()
        {
            // One substring term: the index's own count of matches, less the few inactive
            // users among them (found from the inactive side), rather than a join per match.
            let (columns, term) = (*columns, *term);
            sql.push("(SELECT COUNT(*) FROM users_search WHERE users_search MATCH ");
            sql.bind(Arg::Text(fts_phrase(columns, term)));
            sql.push(
                ") - (SELECT COUNT(*) FROM users s WHERE NOT s.is_active AND EXISTS \
                (SELECT 1 FROM users_search WHERE users_search MATCH $1 AND rowid = s.id))",
            );
        } else if query.is_filtered() {
            sql.push("COUNT(*) FROM users u WHERE u.is_active");
            sql.filters(query);
        } else {
            let state = DirectoryStore::state(self).await?;
            return Ok(DirectoryCount { total: state.active_users, version: state.version });
        }
        let (version, total): (i64, i64) = on_pool!(&self.db, reader, |pool| {
            bound!(sqlx::query_as(sqlx::AssertSqlSafe(sql.text.as_str())), &sql.args)
                .fetch_one(pool)
                .await
                .map_err(db_err)?
        });
        Ok(DirectoryCount { total: u64::try_from(total).unwrap_or(0), version: u64::try_from(version).unwrap_or(0) })
    }

    async fn filter(&self, query: &DirectoryQuery) -> Result<DirectoryFilter> {
        self.fold_filter(query).await
    }

    async fn changes(&self, after: u64, upto: u64) -> Result<Option<Vec<DirectoryChange>>> {
        self.directory_changes(after, upto).await
    }

    async fn prune_changes(&self, keep: u64) -> Result<u64> {
        self.prune_directory_changes(keep).await
    }

    async fn state(&self) -> Result<DirectoryState> {
        const SQL: &str = "SELECT active_users, version FROM directory_totals WHERE id = 1";
        let (active, version): (i64, i64) =
            on_pool!(&self.db, reader, |pool| sqlx::query_as(SQL).fetch_one(pool).await.map_err(db_err)?);
        Ok(DirectoryState {
            active_users: u64::try_from(active).unwrap_or(0),
            version: u64::try_from(version).unwrap_or(0),
        })
    }

    async fn active_by_username(&self, username_key: &str) -> Result<Option<User>> {
        const SQL: &str = concat!("SELECT ", user_columns!(), " FROM users WHERE username_key = $1 AND is_active");
        let row: Option<UserRow> = on_pool!(&self.db, reader, |pool| sqlx::query_as(SQL)
            .bind(username_key)
            .fetch_optional(pool)
            .await
            .map_err(db_err)?);
        Ok(row.map(Into::into))
    }

    async fn counts(&self, user: UserId) -> Result<Counts> {
        let row: Option<CountsRow> = on_pool!(&self.db, reader, |pool| sqlx::query_as(COUNTS)
            .bind(user.0)
            .fetch_optional(pool)
            .await
            .map_err(db_err)?);
        row.map(Into::into).ok_or(Error::NotFound)
    }

    async fn set_counters(&self, user: UserId, u: &CountersUpdate, now: Timestamp) -> Result<Counts> {
        const SQL: &str = "UPDATE users SET posts_count = COALESCE($2, posts_count), \
            likes_received = COALESCE($3, likes_received), comments_received = COALESCE($4, comments_received), \
            updated_at = $5 WHERE id = $1";
        on_pool!(&self.db, writer, |pool| sqlx::query(SQL)
            .bind(user.0)
            .bind(u.posts)
            .bind(u.likes_received)
            .bind(u.comments_received)
            .bind(micros(now))
            .execute(pool)
            .await
            .map(|r| r.rows_affected())
            .map_err(db_err)?);
        self.hot.forget(&[user.0]);
        self.counts(user).await
    }
}
