//! SQL storage on SQLite or PostgreSQL, chosen by the URL scheme.
//!
//! Queries are written once with `$n` placeholders, which both backends accept, and run on
//! either pool through [`on_pool!`]; SQL that truly differs stays in this module tree.

mod api_tokens;
mod billing;
mod files;
mod keys;
mod notify;
mod sessions;
mod users;

use std::{str::FromStr, time::Duration};

use jiff::Timestamp;
use sqlx::{
    PgPool, SqlitePool,
    postgres::PgPoolOptions,
    sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous},
};

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

/// Implements every store trait of the domain.
#[derive(Clone, Debug)]
pub struct SqlStore {
    pub(crate) db: Db,
}

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

impl SqlStore {
    /// Connects without migrating.
    pub async fn connect(url: &str) -> anyhow::Result<Self> {
        let db = if url.starts_with("sqlite:") {
            let opts = SqliteConnectOptions::from_str(url)?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .foreign_keys(true)
                .busy_timeout(Duration::from_secs(5));
            if let Some(dir) = opts.get_filename().parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir)?;
            }
            let writer = SqlitePoolOptions::new().max_connections(1).connect_with(opts.clone()).await?;
            let readers = std::thread::available_parallelism().map_or(4, |n| n.get() * 2).max(4) as u32;
            let reader = SqlitePoolOptions::new().max_connections(readers).connect_with(opts).await?;
            Db::Sqlite { writer, reader }
        } else {
            let pool =
                PgPoolOptions::new().max_connections(16).acquire_timeout(Duration::from_secs(10)).connect(url).await?;
            Db::Postgres(pool)
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
