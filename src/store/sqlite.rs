//! What only SQLite does: its connection set-up, and the queries whose SQL differs.

use std::{str::FromStr, time::Duration};

use sqlx::{
    SqlitePool,
    sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous},
};

use super::{Db, db_err, outbox::OutboxRow};
use crate::domain::Result;

/// One writer connection (SQLite serialises writes anyway; one connection avoids
/// `SQLITE_BUSY` storms) and several readers under WAL.
pub(super) async fn connect(url: &str) -> anyhow::Result<Db> {
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
