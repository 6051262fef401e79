//! What `userd import` writes (`imported_users`, `legacy_jwt_secrets`, and a user's rows
//! in one transaction), and what legacy tokens are checked against.

use async_trait::async_trait;
use jiff::Timestamp;

use super::{Db, SqlStore, db_err, is_unique_violation, micros, on_pool, on_tx, tx::Conn};
use crate::domain::{Error, Result, imports::ImportRecord, model::UserId, ports::ImportStore};

/// A unique violation at this step is a conflict on `field`; anything else is internal.
fn conflict(field: &'static str) -> impl Fn(sqlx::Error) -> Error {
    move |e| if is_unique_violation(&e) { Error::Conflict { field } } else { db_err(e) }
}

#[async_trait]
impl ImportStore for SqlStore {
    async fn imported_user(&self, source: &str, legacy_id: &str) -> Result<Option<UserId>> {
        let id: Option<i64> = on_pool!(&self.db, reader, |pool| sqlx::query_scalar(
            "SELECT user_id FROM imported_users WHERE source = $1 AND legacy_id = $2"
        )
        .bind(source)
        .bind(legacy_id)
        .fetch_optional(pool)
        .await
        .map_err(db_err)?);
        Ok(id.map(UserId))
    }

    async fn import_user(
        &self,
        r: &ImportRecord,
        seal_token: &(dyn Fn(UserId) -> Result<Vec<u8>> + Send + Sync),
    ) -> Result<UserId> {
        let mut conn = match &self.db {
            Db::Sqlite { writer, .. } => Conn::Sqlite(writer.begin().await.map_err(db_err)?),
            Db::Postgres(pool) => Conn::Postgres(pool.begin().await.map_err(db_err)?),
        };
        let u = &r.user;
        let (email, username): (i64, i64) = on_tx!(&mut conn, |c| sqlx::query_as(
            "SELECT (SELECT COUNT(*) FROM users WHERE email_key = $1), \
             (SELECT COUNT(*) FROM users WHERE username_key = $2)"
        )
        .bind(u.email.key())
        .bind(u.username.key())
        .fetch_one(&mut **c)
        .await
        .map_err(db_err)?);
        if email > 0 {
            return Err(Error::Conflict { field: "email" });
        }
        if username > 0 {
            return Err(Error::Conflict { field: "username" });
        }
        let now = micros(r.now);
        let id: i64 = on_tx!(&mut conn, |c| sqlx::query_scalar(
            "INSERT INTO users (external_id, email, email_key, username, username_key, password_hash, first_name, \
             last_name, company_name, bio, avatar, is_staff, is_active, email_verified, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16) RETURNING id"
        )
        .bind(&u.external_id.0)
        .bind(u.email.as_str())
        .bind(u.email.key())
        .bind(u.username.as_str())
        .bind(u.username.key())
        .bind(&u.password_hash)
        .bind(&u.first_name)
        .bind(&u.last_name)
        .bind(&u.company_name)
        .bind(&u.bio)
        .bind(&u.avatar)
        .bind(u.is_staff)
        .bind(r.is_active)
        .bind(u.email_verified)
        .bind(micros(r.created_at))
        .bind(now)
        .fetch_one(&mut **c)
        .await
        .map_err(conflict("email"))?);
        let user = UserId(id);
        on_tx!(&mut conn, |c| sqlx::query(
            "INSERT INTO imported_users (source, legacy_id, user_id, created_at) VALUES ($1, $2, $3, $4)"
        )
        .bind(r.source)
        .bind(&r.legacy_id)
        .bind(id)
        .bind(now)
        .execute(&mut **c)
        .await
        .map_err(conflict("legacy_id"))
        .map(|_| ())?);
        if let Some(hash) = &r.api_token_hash {
            let sealed = seal_token(user)?;
            on_tx!(&mut conn, |c| sqlx::query(
                "INSERT INTO api_tokens (user_id, token_hash, token_enc, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $4)"
            )
            .bind(id)
            .bind(hash)
            .bind(&sealed)
            .bind(now)
            .execute(&mut **c)
            .await
            .map_err(conflict("api_token"))
            .map(|_| ())?);
        }
        for i in &r.identities {
            on_tx!(&mut conn, |c| sqlx::query(
                "INSERT INTO user_identities (provider, subject, user_id, email, created_at, updated_at, \
                 last_login_at) VALUES ($1, $2, $3, $4, $5, $6, $7)"
            )
            .bind(i.provider.as_str())
            .bind(&i.subject)
            .bind(id)
            .bind(&i.email)
            .bind(micros(i.linked_at))
            .bind(now)
            .bind(micros(i.last_login))
            .execute(&mut **c)
            .await
            .map_err(conflict("identity"))
            .map(|_| ())?);
        }
        for s in &r.sessions {
            on_tx!(&mut conn, |c| sqlx::query(
                "INSERT INTO sessions (id, user_id, kind, secret_hash, created_at, expires_at) \
                 VALUES ($1, $2, $3, NULL, $4, $5) ON CONFLICT (id) DO NOTHING"
            )
            .bind(&s.id.0)
            .bind(id)
            .bind(s.kind.as_str())
            .bind(micros(s.created_at))
            .bind(micros(s.expires_at))
            .execute(&mut **c)
            .await
            .map_err(db_err)
            .map(|_| ())?);
        }
        for (jti, expires_at) in &r.blacklist {
            on_tx!(&mut conn, |c| sqlx::query(
                "INSERT INTO refresh_blacklist (jti, user_id, expires_at, created_at) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (jti) DO NOTHING"
            )
            .bind(jti)
            .bind(id)
            .bind(micros(*expires_at))
            .bind(now)
            .execute(&mut **c)
            .await
            .map_err(db_err)
            .map(|_| ())?);
        }
        match conn {
            Conn::Sqlite(tx) => tx.commit().await.map_err(db_err)?,
            Conn::Postgres(tx) => tx.commit().await.map_err(db_err)?,
        }
        Ok(user)
    }

    async fn set_legacy_jwt_secret(&self, sealed: &[u8], tracks_outstanding: bool, now: Timestamp) -> Result<()> {
        on_pool!(&self.db, writer, |pool| sqlx::query(
            "INSERT INTO legacy_jwt_secrets (id, secret_enc, tracks_outstanding, created_at, updated_at) \
             VALUES (1, $1, $2, $3, $3) ON CONFLICT (id) DO UPDATE SET secret_enc = excluded.secret_enc, \
             tracks_outstanding = excluded.tracks_outstanding, updated_at = excluded.updated_at"
        )
        .bind(sealed)
        .bind(tracks_outstanding)
        .bind(micros(now))
        .execute(pool)
        .await
        .map_err(db_err)
        .map(|_| ())?);
        Ok(())
    }

    async fn legacy_jwt_secret(&self) -> Result<Option<(Vec<u8>, bool)>> {
        Ok(on_pool!(&self.db, reader, |pool| sqlx::query_as(
            "SELECT secret_enc, tracks_outstanding FROM legacy_jwt_secrets WHERE id = 1"
        )
        .fetch_optional(pool)
        .await
        .map_err(db_err)?))
    }
}
