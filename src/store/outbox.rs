use async_trait::async_trait;
use jiff::Timestamp;

use super::{Db, SqlStore, db_err, micros, on_pool, postgres, sqlite};
use crate::domain::{
    Result,
    model::{Effect, OutboxItem},
    ports::OutboxStore,
};

#[derive(sqlx::FromRow)]
pub(super) struct OutboxRow {
    id: i64,
    kind: String,
    payload: String,
    attempts: i32,
}

#[async_trait]
impl OutboxStore for SqlStore {
    async fn claim_due(&self, now: Timestamp, until: Timestamp, limit: u32) -> Result<Vec<OutboxItem>> {
        let (now, until) = (micros(now), micros(until));
        let rows = match &self.db {
            Db::Sqlite { writer, .. } => sqlite::claim_outbox(writer, now, until, limit).await?,
            Db::Postgres(pool) => postgres::claim_outbox(pool, now, until, limit).await?,
        };
        Ok(rows
            .into_iter()
            .map(|r| OutboxItem { id: r.id, effect: Effect::decode(&r.kind, &r.payload), attempts: r.attempts })
            .collect())
    }

    async fn complete(&self, id: i64) -> Result<()> {
        on_pool!(&self.db, writer, |pool| sqlx::query("DELETE FROM outbox WHERE id = $1")
            .bind(id)
            .execute(pool)
            .await
            .map_err(db_err)
            .map(|_| ())?);
        Ok(())
    }
}
