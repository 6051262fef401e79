use async_trait::async_trait;
use jiff::Timestamp;

use super::{SqlStore, db_err, from_micros, micros, on_pool};
use crate::domain::{
    Result,
    model::{SessionId, SessionKind, SessionRecord, UserId},
    ports::SessionStore,
};

#[derive(sqlx::FromRow)]
struct SessionRow {
    id: String,
    user_id: i64,
    kind: String,
    secret_hash: Option<Vec<u8>>,
    created_at: i64,
    expires_at: i64,
    revoked_at: Option<i64>,
}

#[async_trait]
impl SessionStore for SqlStore {
    async fn session(&self, id: &SessionId) -> Result<Option<SessionRecord>> {
        let row: Option<SessionRow> = on_pool!(&self.db, reader, |pool| {
            sqlx::query_as(
                "SELECT id, user_id, kind, secret_hash, created_at, expires_at, revoked_at FROM sessions WHERE id = $1",
            )
            .bind(&id.0)
            .fetch_optional(pool)
            .await
            .map_err(db_err)?
        });
        Ok(row.map(|r| SessionRecord {
            id: SessionId(r.id),
            user_id: UserId(r.user_id),
            kind: if r.kind == "web" { SessionKind::Web } else { SessionKind::Jwt },
            secret_hash: r.secret_hash,
            created_at: from_micros(r.created_at),
            expires_at: from_micros(r.expires_at),
            revoked: r.revoked_at.is_some(),
        }))
    }

    async fn is_refresh_blacklisted(&self, jti: &str) -> Result<bool> {
        let n: i64 = on_pool!(&self.db, reader, |pool| sqlx::query_scalar(
            "SELECT COUNT(*) FROM refresh_blacklist WHERE jti = $1"
        )
        .bind(jti)
        .fetch_one(pool)
        .await
        .map_err(db_err)?);
        Ok(n > 0)
    }

    async fn purge_expired(&self, now: Timestamp) -> Result<u64> {
        let now = micros(now);
        let n = on_pool!(&self.db, writer, |pool| {
            let a = sqlx::query("DELETE FROM sessions WHERE expires_at < $1")
                .bind(now)
                .execute(pool)
                .await
                .map_err(db_err)?;
            let b = sqlx::query("DELETE FROM refresh_blacklist WHERE expires_at < $1")
                .bind(now)
                .execute(pool)
                .await
                .map_err(db_err)?;
            a.rows_affected() + b.rows_affected()
        });
        Ok(n)
    }
}
