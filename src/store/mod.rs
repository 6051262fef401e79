//! SQL storage on SQLite or PostgreSQL, chosen by the URL scheme.
//!
//! Queries are written once with `$n` placeholders, which both backends accept, and run on
//! either pool through [`on_pool!`] (or on an open transaction through [`on_tx!`]). Where
//! the SQL truly differs, a store method calls its backend's own function in
//! [`sqlite`] or [`postgres`]; nothing outside this module tree knows which backend runs.

mod api_tokens;
mod billing;
pub mod copy;
mod files;
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
#[derive(Clone, Debug)]
pub struct SqlStore {
    pub(crate) db: Db,
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
        Ok(SqlStore { db })
    }

    /// Applies the embedded migrations of the backend.
    pub async fn migrate(&self) -> anyhow::Result<()> {
        match &self.db {
            Db::Sqlite { writer, .. } => SQLITE_MIGRATIONS.run(writer).await?,
            Db::Postgres(pool) => POSTGRES_MIGRATIONS.run(pool).await?,
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

/// Storage failures are internal errors: logged with the request, never shown to clients.
pub(crate) fn db_err(e: sqlx::Error) -> Error {
    Error::Internal(anyhow::Error::new(e).context("database"))
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
