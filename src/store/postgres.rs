//! What only PostgreSQL does: its connection set-up, and the queries whose SQL differs.
//! (Announcements between nodes, `LISTEN`/`NOTIFY`, are in `notify.rs`.)

use std::time::Duration;

use sqlx::{PgPool, postgres::PgPoolOptions};

use super::{Db, db_err, outbox::OutboxRow};
use crate::domain::Result;

pub(super) async fn connect(url: &str) -> anyhow::Result<Db> {
    let pool = PgPoolOptions::new().max_connections(16).acquire_timeout(Duration::from_secs(10)).connect(url).await?;
    Ok(Db::Postgres(pool))
}

/// Several nodes claim at once: `FOR UPDATE SKIP LOCKED` gives each row to one of them
/// without making the others wait.
pub(super) async fn claim_outbox(pool: &PgPool, now: i64, until: i64, limit: u32) -> Result<Vec<OutboxRow>> {
    sqlx::query_as(
        "UPDATE outbox SET due_at = $2, attempts = attempts + 1 \
         WHERE id IN (SELECT id FROM outbox WHERE due_at <= $1 ORDER BY id LIMIT $3 FOR UPDATE SKIP LOCKED) \
         RETURNING id, kind, payload, attempts",
    )
    .bind(now)
    .bind(until)
    .bind(i64::from(limit))
    .fetch_all(pool)
    .await
    .map_err(db_err)
}
