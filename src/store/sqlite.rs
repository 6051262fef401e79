//! What only SQLite does: its connection set-up, and the queries whose SQL differs.

use std::{str::FromStr, time::Duration};

use sqlx::{
    SqlitePool,
    sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous},
};

use super::{Db, db_err, outbox::OutboxRow};
use crate::domain::Result;

/// One writer connection (SQLite serialises writes anyway; one connection avoids
/// `SQLITE_BUSY` storms) and several readers under WAL. A failure is one line naming the
/// directory or the file and the cause.
/// The database file a SQLite URL names.
pub(super) fn file(url: &str) -> anyhow::Result<std::path::PathBuf> {
    let opts = SqliteConnectOptions::from_str(url)
        .map_err(|e| anyhow::anyhow!("the database URL is not a SQLite URL: {e}"))?;
    Ok(opts.get_filename().to_owned())
}

pub(super) async fn connect(url: &str, pool: Option<u32>) -> anyhow::Result<Db> {
    let opts = SqliteConnectOptions::from_str(url)
        .map_err(|e| anyhow::anyhow!("the database URL is not a SQLite URL: {e}"))?
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal)
        .foreign_keys(true)
        .busy_timeout(Duration::from_secs(5));
    let file = opts.get_filename().to_owned();
    if let Some(dir) = file.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| {
            anyhow::anyhow!("cannot create the directory {} for the SQLite database: {e}", dir.display())
        })?;
    }
    let cannot_open = |e: sqlx::Error| {
        // sqlx's wrapping repeats SQLite's message and prefixes its result code.
        let cause = match &e {
            // SQLITE_CANTOPEN: most often a directory this user cannot write to.
            sqlx::Error::Database(d) if d.code().as_deref() == Some("14") => {
                format!("{} (can this user write there?)", d.message())
            }
            sqlx::Error::Database(d) => d.message().to_string(),
            other => other.to_string(),
        };
        anyhow::anyhow!("cannot open the SQLite database {}: {cause}", file.display())
    };
    let writer = SqlitePoolOptions::new().max_connections(1).connect_with(opts.clone()).await.map_err(cannot_open)?;
    let readers = pool.unwrap_or_else(|| std::thread::available_parallelism().map_or(4, |n| n.get() * 2).max(4) as u32);
    let reader = SqlitePoolOptions::new().max_connections(readers).connect_with(opts).await.map_err(cannot_open)?;
    Ok(Db::Sqlite { writer, reader })
}

/// One writer serialises claimers, so a plain `UPDATE … RETURNING` cannot hand a row to two.
pub(super) async fn claim_outbox(writer: &SqlitePool, now: i64, until: i64, limit: u32) -> Result<Vec<OutboxRow>> {
    sqlx::query_as(
        "UPDATE outbox SET due_at = $2, attempts = attempts + 1 \
         WHERE id IN (SELECT id FROM outbox WHERE due_at <= $1 ORDER BY id LIMIT $3) \
         RETURNING id, kind, payload, attempts",
    )
    .bind(now)
    .bind(until)
    .bind(i64::from(limit))
    .fetch_all(writer)
    .await
    .map_err(db_err)
}
