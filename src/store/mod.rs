//! SQL storage on SQLite or PostgreSQL, chosen by the URL scheme.
//!
//! Queries are written once with `$n` placeholders, which both backends accept, and run on
//! either pool through [`on_pool!`] (or on an open transaction through [`on_tx!`]). Where
//! the SQL truly differs, a store method calls its backend's own function in
//! [`sqlite`] or [`postgres`]; nothing outside this module tree knows which backend runs.

mod api_tokens;
mod billing;
mod cache;
pub mod copy;
mod directory_log;
mod files;
mod follows;
mod identities;
mod import;
mod keys;
mod lifecycle;
mod notify;
mod outbox;
mod postgres;
mod seed;
mod sessions;
mod social;
mod sqlite;
mod throttle;
mod tx;
mod users;

use std::sync::Arc;

use jiff::Timestamp;
use sqlx::{PgPool, SqlitePool};

use crate::domain::{Error, Result, ports::Health};

/// The connection pools. SQLite gets one writer connection (SQLite serialises writes
/// anyway; one connection avoids `SQLITE_BUSY` storms) and several readers under WAL.
#[derive(Clone, Debug)]
pub(crate) enum Db {
    Sqlite { writer: SqlitePool, reader: SqlitePool },
    Postgres(PgPool),
}

/// Runs `$body` with `$pool` bound to the backend's pool (`reader` or `writer` on SQLite).
macro_rules! on_pool {
    ($db:expr, $mode:ident, |$pool:ident| $body:expr) => {
        match $db {
            $crate::store::Db::Sqlite { $mode: $pool, .. } => $body,
            $crate::store::Db::Postgres($pool) => $body,
        }
    };
}
pub(crate) use on_pool;

/// Runs `$body` with `$conn` bound to the open transaction of either backend (a
/// `&mut sqlx::Transaction`, so queries execute on `&mut **$conn`).
macro_rules! on_tx {
    ($tx:expr, |$conn:ident| $body:expr) => {
        match $tx {
            $crate::store::tx::Conn::Sqlite($conn) => $body,
            $crate::store::tx::Conn::Postgres($conn) => $body,
        }
    };
}
pub(crate) use on_tx;

/// Implements every store trait of the domain.
#[derive(Clone)]
pub struct SqlStore {
    pub(crate) db: Db,
    /// Users and API-token owners this node has read, kept exact (see `cache.rs`).
    pub(crate) hot: Arc<cache::HotRows>,
}

impl std::fmt::Debug for SqlStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqlStore").field("db", &self.db).finish_non_exhaustive()
    }
}

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

impl SqlStore {
    /// Connects without migrating, with the default pool size.
    pub async fn connect(url: &str) -> anyhow::Result<Self> {
        Self::connect_with(url, None).await
    }

    /// Connects without migrating; `pool` is how many connections it may hold
    /// (`USERD_DB_POOL`: PostgreSQL connections, or SQLite readers beside its one writer).
    pub async fn connect_with(url: &str, pool: Option<u32>) -> anyhow::Result<Self> {
        let db = if url.starts_with("sqlite:") {
            sqlite::connect(url, pool).await?
        } else {
            postgres::connect(url, pool).await?
        };
        // SQLite is served by this one process, which hears all its own writes; a
        // PostgreSQL node uses the cache only while it listens for the others'.
        let hot = Arc::new(match &db {
            Db::Sqlite { .. } => cache::HotRows::for_sqlite(&sqlite::file(url)?),
            Db::Postgres(_) => cache::HotRows::new(false),
        });
        Ok(SqlStore { db, hot })
    }

    /// Applies the embedded migrations of the backend.
    pub async fn migrate(&self) -> anyhow::Result<()> {
        match &self.db {
            Db::Sqlite { writer, .. } => SQLITE_MIGRATIONS.run(writer).await?,
            Db::Postgres(pool) => {
                // Each migration commits without waiting for its WAL to reach the disk: a
                // crash in the next moment can only lose whole migrations with their record
                // in `_sqlx_migrations` (they run again at the next start), and the first
                // write that does wait flushes them too. A dozen fewer flushes on a first start.
                let mut conn = pool.acquire().await?;
                sqlx::query("SET synchronous_commit = off").execute(&mut *conn).await?;
                let ran = POSTGRES_MIGRATIONS.run(&mut *conn).await;
                let reset = sqlx::query("RESET synchronous_commit").execute(&mut *conn).await;
                // A failed migration is the error to tell, even if the reset failed too.
                ran?;
                reset?;
            }
        }
        Ok(())
    }

    pub async fn close(&self) {
        match &self.db {
            Db::Sqlite { writer, reader } => {
                reader.close().await;
                writer.close().await;
            }
            Db::Postgres(pool) => pool.close().await,
        }
    }
}

#[async_trait::async_trait]
impl Health for SqlStore {
    async fn ping(&self) -> Result<()> {
        on_pool!(&self.db, reader, |pool| sqlx::query("SELECT 1").execute(pool).await.map_err(db_err).map(|_| ())?);
        Ok(())
    }
}

/// The one place where a storage failure gets its kind. A database that cannot be reached
/// is [`Error::Unavailable`] (503 with `Retry-After`: worth retrying); anything else is an
/// internal error. Either way the cause is logged with the request, never shown to clients.
pub(crate) fn db_err(e: sqlx::Error) -> Error {
    if unreachable(&e) {
        tracing::warn!(error = %e, "database unreachable");
        return Error::Unavailable;
    }
    Error::Internal(anyhow::Error::new(e).context("database"))
}

/// Whether `e` says the database cannot be reached now, rather than that a statement failed:
/// no connection within the pool's bounded wait, a closed pool, a socket or TLS failure, or
/// one of PostgreSQL's "cannot serve" SQLSTATEs.
fn unreachable(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) | sqlx::Error::Tls(_) => true,
        // Only PostgreSQL's codes are SQLSTATEs; SQLite's are its own numbers.
        sqlx::Error::Database(d) => {
            d.try_downcast_ref::<sqlx::postgres::PgDatabaseError>().is_some_and(|pg| unreachable_sqlstate(pg.code()))
        }
        _ => false,
    }
}

/// Class 08 (connection exceptions), 57P01–57P05 (administrator or crash shutdown, cannot
/// connect now, idle-session timeout), 53300 (too many connections), and 3D000 (the database
/// does not exist: dropped under a running node, and the answer a new connection gets until it
/// is back).
fn unreachable_sqlstate(code: &str) -> bool {
    code.starts_with("08") || code.starts_with("57P0") || code == "53300" || code == "3D000"
}

pub(crate) fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d) if d.is_unique_violation())
}

pub(crate) fn micros(t: Timestamp) -> i64 {
    t.as_microsecond()
}

pub(crate) fn from_micros(v: i64) -> Timestamp {
    Timestamp::from_microsecond(v).unwrap_or(Timestamp::UNIX_EPOCH)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_database_out_of_reach_is_unavailable_and_a_failed_statement_is_internal() {
        let cases: [(sqlx::Error, bool, &str); 7] = [
            (sqlx::Error::PoolTimedOut, true, "no connection within the acquire timeout"),
            (sqlx::Error::PoolClosed, true, "shutting down"),
            (std::io::Error::from(std::io::ErrorKind::ConnectionRefused).into(), true, "refused"),
            (std::io::Error::from(std::io::ErrorKind::UnexpectedEof).into(), true, "cut off"),
            (sqlx::Error::RowNotFound, false, "a query's own outcome"),
            (sqlx::Error::Protocol("unexpected message".into()), false, "a driver bug is not an outage"),
            (sqlx::Error::ColumnNotFound("x".into()), false, "a wrong query"),
        ];
        for (e, unavailable, why) in cases {
            assert_eq!(matches!(db_err(e), Error::Unavailable), unavailable, "{why}");
        }
    }

    #[test]
    fn postgres_sqlstates_of_a_server_that_cannot_serve_are_unavailable() {
        let cases = [
            ("08006", true, "connection_failure"),
            ("08001", true, "sqlclient_unable_to_establish_sqlconnection"),
            ("57P01", true, "admin_shutdown"),
            ("57P03", true, "cannot_connect_now"),
            ("53300", true, "too_many_connections"),
            ("3D000", true, "the database was dropped"),
            ("23505", false, "unique_violation"),
            ("42601", false, "syntax_error"),
            ("57014", false, "query_canceled (a statement timeout) is the statement's"),
            ("53100", false, "disk_full is not an outage a retry fixes soon"),
        ];
        for (code, unavailable, why) in cases {
            assert_eq!(unreachable_sqlstate(code), unavailable, "{code}: {why}");
        }
    }
}
