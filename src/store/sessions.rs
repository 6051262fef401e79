use async_trait::async_trait;
use jiff::Timestamp;

use super::{SqlStore, db_err, from_micros, micros, notify, on_pool};
use crate::domain::{
    Result,
    ports::{Revocation, SessionKind, SessionRecord, SessionStore},
    types::{SessionId, UserId},
};

#[derive(sqlx::FromRow)]
struct SessionRow {
    id: String,
    user_id: i64,
    kind: String,
    secret_hash: Option<Vec<u8>>,
    expires_at: i64,
    revoked_at: Option<i64>,
}

#[async_trait]
impl SessionStore for SqlStore {
    async fn create_session(&self, s: &SessionRecord) -> Result<()> {
        on_pool!(&self.db, writer, |pool| {
            sqlx::query(
            "INSERT INTO sessions (id, user_id, kind, secret_hash, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6)"
        )
        .bind(&s.id.0)
        .bind(s.user_id.0)
        .bind(s.kind.as_str())
        .bind(&s.secret_hash)
        .bind(micros(Timestamp::now()))
        .bind(micros(s.expires_at))
        .execute(pool)
        .await
        .map_err(db_err)
        .map(|_| ())?
        });
        Ok(())
    }

    async fn session(&self, id: &SessionId) -> Result<Option<SessionRecord>> {
        let row: Option<SessionRow> = on_pool!(&self.db, reader, |pool| {
            sqlx::query_as("SELECT id, user_id, kind, secret_hash, expires_at, revoked_at FROM sessions WHERE id = $1")
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
            expires_at: from_micros(r.expires_at),
            revoked: r.revoked_at.is_some(),
        }))
    }

    async fn revoke_session(&self, id: &SessionId) -> Result<()> {
        on_pool!(&self.db, writer, |pool| sqlx::query(
            "UPDATE sessions SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL"
        )
        .bind(micros(Timestamp::now()))
        .bind(&id.0)
        .execute(pool)
        .await
        .map_err(db_err)
        .map(|_| ())?);
        notify::announce(&self.db, &Revocation::Session(id.clone())).await;
        Ok(())
    }

    async fn blacklist_refresh(
        &self,
        jti: &str,
        user: UserId,
        expires_at: Timestamp,
        session: &SessionId,
    ) -> Result<()> {
        let now = micros(Timestamp::now());
        on_pool!(&self.db, writer, |pool| {
            let mut tx = pool.begin().await.map_err(db_err)?;
            sqlx::query(
                "INSERT INTO refresh_blacklist (jti, user_id, expires_at, created_at) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (jti) DO NOTHING",
            )
            .bind(jti)
            .bind(user.0)
            .bind(micros(expires_at))
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
            sqlx::query("UPDATE sessions SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
                .bind(now)
                .bind(&session.0)
                .execute(&mut *tx)
                .await
                .map_err(db_err)?;
            tx.commit().await.map_err(db_err)?;
        });
        notify::announce(&self.db, &Revocation::Session(session.clone())).await;
        Ok(())
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

    async fn revocation_feed(&self) -> Option<tokio::sync::mpsc::Receiver<Revocation>> {
        notify::feed(&self.db).await
    }
}
