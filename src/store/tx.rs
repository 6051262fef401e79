//! Transactions: the [`UnitOfWork`] of the domain on either backend. Every write of a use
//! case that writes several rows, and the outbox rows of its effects, go through one.

use std::sync::Arc;

use async_trait::async_trait;
use jiff::Timestamp;
use sqlx::{Postgres, Sqlite, Transaction};

use super::{
    Db, SqlStore, cache::HotRows, db_err, is_unique_violation, micros, on_tx, users::UserRow, users::user_columns,
};
use crate::domain::{
    Error, Result,
    model::{
        Effect, MailPurpose, MailToken, NewUser, ProfileUpdate, Provider, ProviderIdentity, RedeemedToken,
        SecurityEvent, SessionId, SessionRecord, User, UserId,
    },
    ports::{Tx, UnitOfWork},
};

pub(crate) enum Conn {
    Sqlite(Transaction<'static, Sqlite>),
    Postgres(Transaction<'static, Postgres>),
}

pub(crate) struct SqlTx {
    conn: Conn,
    /// Users whose row or API token this transaction changed: the node's cache forgets
    /// them once it has committed.
    changed: Vec<i64>,
    hot: Arc<HotRows>,
}

#[async_trait]
impl UnitOfWork for SqlStore {
    async fn begin(&self) -> Result<Box<dyn Tx>> {
        let conn = match &self.db {
            Db::Sqlite { writer, .. } => Conn::Sqlite(writer.begin().await.map_err(db_err)?),
            Db::Postgres(pool) => Conn::Postgres(pool.begin().await.map_err(db_err)?),
        };
        Ok(Box::new(SqlTx { conn, changed: Vec::new(), hot: Arc::clone(&self.hot) }))
    }
}

impl SqlTx {
    /// Which unique field an insert collided with, read inside the transaction.
    async fn conflicting_field(&mut self, email_key: &str, username_key: &str) -> Result<Error> {
        let (email, username): (i64, i64) = on_tx!(&mut self.conn, |c| {
            sqlx::query_as(
            "SELECT (SELECT COUNT(*) FROM users WHERE email_key = $1), (SELECT COUNT(*) FROM users WHERE username_key = $2)"
        )
        .bind(email_key)
        .bind(username_key)
        .fetch_one(&mut **c)
        .await
        .map_err(db_err)?
        });
        Ok(match (email, username) {
            (e, _) if e > 0 => Error::Conflict { field: "email" },
            (_, u) if u > 0 => Error::Conflict { field: "username" },
            _ => Error::internal(anyhow::anyhow!("unique violation on an unexpected column")),
        })
    }
}

#[async_trait]
impl Tx for SqlTx {
    async fn insert_user(&mut self, new: &NewUser, now: Timestamp) -> Result<User> {
        const SQL: &str = concat!(
            "INSERT INTO users (external_id, email, email_key, username, username_key, password_hash, first_name, \
             last_name, company_name, bio, avatar, is_staff, created_at, updated_at, email_verified) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $13, $14) RETURNING ",
            user_columns!()
        );
        // In a savepoint, so a unique violation leaves the transaction usable (PostgreSQL
        // refuses every statement of a transaction after an error otherwise).
        let result: std::result::Result<UserRow, sqlx::Error> = on_tx!(&mut self.conn, |c| {
            let mut savepoint = sqlx::Connection::begin(&mut **c).await.map_err(db_err)?;
            let inserted = sqlx::query_as(SQL)
                .bind(&new.external_id.0)
                .bind(new.email.as_str())
                .bind(new.email.key())
                .bind(new.username.as_str())
                .bind(new.username.key())
                .bind(&new.password_hash)
                .bind(&new.first_name)
                .bind(&new.last_name)
                .bind(&new.company_name)
                .bind(&new.bio)
                .bind(&new.avatar)
                .bind(new.is_staff)
                .bind(micros(now))
                .bind(new.email_verified)
                .fetch_one(&mut *savepoint)
                .await;
            match inserted {
                Ok(row) => {
                    savepoint.commit().await.map_err(db_err)?;
                    Ok(row)
                }
                Err(e) => {
                    savepoint.rollback().await.map_err(db_err)?;
                    Err(e)
                }
            }
        });
        match result {
            Ok(row) => Ok(row.into()),
            Err(e) if is_unique_violation(&e) => {
                Err(self.conflicting_field(&new.email.key(), &new.username.key()).await?)
            }
            Err(e) => Err(db_err(e)),
        }
    }

    async fn insert_session(&mut self, s: &SessionRecord) -> Result<()> {
        on_tx!(&mut self.conn, |c| {
            sqlx::query(
            "INSERT INTO sessions (id, user_id, kind, secret_hash, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6)"
        )
        .bind(&s.id.0)
        .bind(s.user_id.0)
        .bind(s.kind.as_str())
        .bind(&s.secret_hash)
        .bind(micros(s.created_at))
        .bind(micros(s.expires_at))
        .execute(&mut **c)
        .await
        .map_err(db_err)
        .map(|_| ())?
        });
        Ok(())
    }

    async fn set_password_hash(&mut self, user: UserId, hash: &str, now: Timestamp) -> Result<()> {
        self.changed.push(user.0);
        on_tx!(&mut self.conn, |c| sqlx::query("UPDATE users SET password_hash = $1, updated_at = $2 WHERE id = $3")
            .bind(hash)
            .bind(micros(now))
            .bind(user.0)
            .execute(&mut **c)
            .await
            .map_err(db_err)
            .map(|_| ())?);
        Ok(())
    }

    async fn update_profile(&mut self, user: UserId, u: &ProfileUpdate, now: Timestamp) -> Result<User> {
        self.changed.push(user.0);
        const SQL: &str = concat!(
            "UPDATE users SET \
               email = COALESCE($2, email), email_key = COALESCE($3, email_key), \
               email_verified = CASE WHEN $3 IS NOT NULL AND $3 <> email_key THEN FALSE ELSE email_verified END, \
               first_name = COALESCE($4, first_name), last_name = COALESCE($5, last_name), \
               company_name = COALESCE($6, company_name), bio = COALESCE($7, bio), \
               avatar = CASE WHEN $8 THEN $9 ELSE avatar END, tz = CASE WHEN $10 THEN $11 ELSE tz END, \
               updated_at = $12 \
             WHERE id = $1 RETURNING ",
            user_columns!()
        );
        let result: std::result::Result<Option<UserRow>, sqlx::Error> = on_tx!(&mut self.conn, |c| {
            sqlx::query_as(SQL)
                .bind(user.0)
                .bind(u.email.as_ref().map(|e| e.as_str().to_string()))
                .bind(u.email.as_ref().map(|e| e.key()))
                .bind(&u.first_name)
                .bind(&u.last_name)
                .bind(&u.company_name)
                .bind(&u.bio)
                .bind(u.avatar.is_some())
                .bind(u.avatar.clone().flatten())
                .bind(u.tz.is_some())
                .bind(u.tz.clone().flatten())
                .bind(micros(now))
                .fetch_optional(&mut **c)
                .await
        });
        match result {
            Ok(Some(row)) => Ok(row.into()),
            Ok(None) => Err(Error::NotFound),
            // E-mail is the only unique column an update can change.
            Err(e) if is_unique_violation(&e) && u.email.is_some() => Err(Error::Conflict { field: "email" }),
            Err(e) => Err(db_err(e)),
        }
    }

    async fn set_staff(&mut self, user: UserId, is_staff: bool, now: Timestamp) -> Result<()> {
        self.changed.push(user.0);
        on_tx!(&mut self.conn, |c| sqlx::query("UPDATE users SET is_staff = $1, updated_at = $2 WHERE id = $3")
            .bind(is_staff)
            .bind(micros(now))
            .bind(user.0)
            .execute(&mut **c)
            .await
            .map_err(db_err)
            .map(|_| ())?);
        Ok(())
    }

    async fn revoke_session(&mut self, id: &SessionId, now: Timestamp) -> Result<()> {
        on_tx!(&mut self.conn, |c| sqlx::query(
            "UPDATE sessions SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL"
        )
        .bind(micros(now))
        .bind(&id.0)
        .execute(&mut **c)
        .await
        .map_err(db_err)
        .map(|_| ())?);
        Ok(())
    }

    async fn revoke_user_sessions(&mut self, user: UserId, except: Option<&SessionId>, now: Timestamp) -> Result<()> {
        on_tx!(&mut self.conn, |c| sqlx::query(
            "UPDATE sessions SET revoked_at = $1 WHERE user_id = $2 AND revoked_at IS NULL \
             AND ($3 IS NULL OR id <> $3)"
        )
        .bind(micros(now))
        .bind(user.0)
        .bind(except.map(|s| s.0.as_str()))
        .execute(&mut **c)
        .await
        .map_err(db_err)
        .map(|_| ())?);
        Ok(())
    }

    async fn blacklist_refresh(
        &mut self,
        jti: &str,
        user: UserId,
        expires_at: Timestamp,
        now: Timestamp,
    ) -> Result<()> {
        on_tx!(&mut self.conn, |c| sqlx::query(
            "INSERT INTO refresh_blacklist (jti, user_id, expires_at, created_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (jti) DO NOTHING",
        )
        .bind(jti)
        .bind(user.0)
        .bind(micros(expires_at))
        .bind(micros(now))
        .execute(&mut **c)
        .await
        .map_err(db_err)
        .map(|_| ())?);
        Ok(())
    }

    async fn insert_identity(&mut self, identity: &ProviderIdentity, user: UserId, now: Timestamp) -> Result<()> {
        let email = identity.verified_email.as_ref().map_or("", |e| e.as_str());
        // In a savepoint, as `insert_user`: a unique violation leaves the transaction usable.
        let result: std::result::Result<(), sqlx::Error> = on_tx!(&mut self.conn, |c| {
            let mut savepoint = sqlx::Connection::begin(&mut **c).await.map_err(db_err)?;
            let inserted = sqlx::query(
                "INSERT INTO user_identities (provider, subject, user_id, email, created_at, updated_at, last_login_at) \
                 VALUES ($1, $2, $3, $4, $5, $5, $5)",
            )
            .bind(identity.provider.as_str())
            .bind(&identity.subject)
            .bind(user.0)
            .bind(email)
            .bind(micros(now))
            .execute(&mut *savepoint)
            .await;
            match inserted {
                Ok(_) => {
                    savepoint.commit().await.map_err(db_err)?;
                    Ok(())
                }
                Err(e) => {
                    savepoint.rollback().await.map_err(db_err)?;
                    Err(e)
                }
            }
        });
        match result {
            Ok(()) => Ok(()),
            Err(e) if is_unique_violation(&e) => {
                let linked: i64 = on_tx!(&mut self.conn, |c| sqlx::query_scalar(
                    "SELECT COUNT(*) FROM user_identities WHERE provider = $1 AND subject = $2"
                )
                .bind(identity.provider.as_str())
                .bind(&identity.subject)
                .fetch_one(&mut **c)
                .await
                .map_err(db_err)?);
                // Either this identity is linked already, or the user has another of this provider.
                Err(Error::Conflict { field: if linked > 0 { "identity" } else { "provider" } })
            }
            Err(e) => Err(db_err(e)),
        }
    }

    async fn touch_identity(&mut self, provider: Provider, subject: &str, email: &str, now: Timestamp) -> Result<()> {
        on_tx!(&mut self.conn, |c| sqlx::query(
            "UPDATE user_identities SET email = $3, last_login_at = $4, updated_at = $4 \
             WHERE provider = $1 AND subject = $2"
        )
        .bind(provider.as_str())
        .bind(subject)
        .bind(email)
        .bind(micros(now))
        .execute(&mut **c)
        .await
        .map_err(db_err)
        .map(|_| ())?);
        Ok(())
    }

    async fn mark_email_verified(&mut self, user: UserId, now: Timestamp) -> Result<()> {
        self.changed.push(user.0);
        on_tx!(&mut self.conn, |c| sqlx::query(
            "UPDATE users SET email_verified = TRUE, updated_at = $2 WHERE id = $1"
        )
        .bind(user.0)
        .bind(micros(now))
        .execute(&mut **c)
        .await
        .map_err(db_err)
        .map(|_| ())?);
        Ok(())
    }

    async fn clear_password(&mut self, user: UserId, now: Timestamp) -> Result<()> {
        self.changed.push(user.0);
        on_tx!(&mut self.conn, |c| sqlx::query("UPDATE users SET password_hash = NULL, updated_at = $1 WHERE id = $2")
            .bind(micros(now))
            .bind(user.0)
            .execute(&mut **c)
            .await
            .map_err(db_err)
            .map(|_| ())?);
        Ok(())
    }

    async fn insert_mail_token(&mut self, t: &MailToken) -> Result<()> {
        on_tx!(&mut self.conn, |c| sqlx::query(
            "INSERT INTO mail_tokens (token_hash, user_id, purpose, email_key, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6)"
        )
        .bind(&t.hash)
        .bind(t.user.0)
        .bind(t.purpose.as_str())
        .bind(&t.email_key)
        .bind(micros(t.created_at))
        .bind(micros(t.expires_at))
        .execute(&mut **c)
        .await
        .map_err(db_err)
        .map(|_| ())?);
        Ok(())
    }

    async fn redeem_mail_token(
        &mut self,
        hash: &[u8],
        purpose: MailPurpose,
        now: Timestamp,
    ) -> Result<Option<RedeemedToken>> {
        // One statement: of two concurrent redemptions, one updates the row, the other finds it used.
        let row: Option<(i64, String)> = on_tx!(&mut self.conn, |c| sqlx::query_as(
            "UPDATE mail_tokens SET used_at = $3 \
             WHERE token_hash = $1 AND purpose = $2 AND used_at IS NULL AND expires_at > $3 \
             RETURNING user_id, email_key"
        )
        .bind(hash)
        .bind(purpose.as_str())
        .bind(micros(now))
        .fetch_optional(&mut **c)
        .await
        .map_err(db_err)?);
        Ok(row.map(|(user, email_key)| RedeemedToken { user: UserId(user), email_key }))
    }

    async fn void_mail_tokens(&mut self, user: UserId, purpose: MailPurpose, now: Timestamp) -> Result<()> {
        on_tx!(&mut self.conn, |c| sqlx::query(
            "UPDATE mail_tokens SET used_at = $3 WHERE user_id = $1 AND purpose = $2 AND used_at IS NULL"
        )
        .bind(user.0)
        .bind(purpose.as_str())
        .bind(micros(now))
        .execute(&mut **c)
        .await
        .map_err(db_err)
        .map(|_| ())?);
        Ok(())
    }

    async fn insert_event(&mut self, e: &SecurityEvent) -> Result<()> {
        on_tx!(&mut self.conn, |c| sqlx::query(
            "INSERT INTO security_events (user_id, kind, ip, user_agent, detail, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6)"
        )
        .bind(e.user.0)
        .bind(&e.kind)
        .bind(&e.ip)
        .bind(&e.user_agent)
        .bind(&e.detail)
        .bind(micros(e.created_at))
        .execute(&mut **c)
        .await
        .map_err(db_err)
        .map(|_| ())?);
        Ok(())
    }

    async fn set_active(&mut self, user: UserId, active: bool, now: Timestamp) -> Result<()> {
        self.changed.push(user.0);
        let n =
            on_tx!(&mut self.conn, |c| sqlx::query("UPDATE users SET is_active = $1, updated_at = $2 WHERE id = $3")
                .bind(active)
                .bind(micros(now))
                .bind(user.0)
                .execute(&mut **c)
                .await
                .map_err(db_err)?
                .rows_affected());
        if n == 0 { Err(Error::NotFound) } else { Ok(()) }
    }

    async fn delete_api_token(&mut self, user: UserId) -> Result<()> {
        self.changed.push(user.0);
        on_tx!(&mut self.conn, |c| sqlx::query("DELETE FROM api_tokens WHERE user_id = $1")
            .bind(user.0)
            .execute(&mut **c)
            .await
            .map_err(db_err)
            .map(|_| ())?);
        Ok(())
    }

    async fn delete_user(&mut self, user: UserId) -> Result<Vec<String>> {
        self.changed.push(user.0);
        let keys: Vec<String> =
            on_tx!(&mut self.conn, |c| sqlx::query_scalar("SELECT storage_key FROM files WHERE user_id = $1")
                .bind(user.0)
                .fetch_all(&mut **c)
                .await
                .map_err(db_err)?);
        // Sessions, the blacklist, API token, files, follows, identities, tokens and
        // events go with the row (ON DELETE CASCADE).
        let n = on_tx!(&mut self.conn, |c| sqlx::query("DELETE FROM users WHERE id = $1")
            .bind(user.0)
            .execute(&mut **c)
            .await
            .map_err(db_err)?
            .rows_affected());
        if n == 0 { Err(Error::NotFound) } else { Ok(keys) }
    }

    async fn enqueue(&mut self, effect: &Effect, now: Timestamp, due: Timestamp) -> Result<i64> {
        let (kind, payload) = effect.encode();
        let id: i64 = on_tx!(&mut self.conn, |c| {
            sqlx::query_scalar(
            "INSERT INTO outbox (kind, payload, attempts, due_at, created_at) VALUES ($1, $2, 0, $3, $4) RETURNING id"
        )
        .bind(kind)
        .bind(&payload)
        .bind(micros(due))
        .bind(micros(now))
        .fetch_one(&mut **c)
        .await
        .map_err(db_err)?
        });
        Ok(id)
    }

    async fn commit(self: Box<Self>) -> Result<()> {
        let SqlTx { conn, changed, hot } = *self;
        let result = match conn {
            Conn::Sqlite(tx) => tx.commit().await.map_err(db_err),
            Conn::Postgres(tx) => tx.commit().await.map_err(db_err),
        };
        // Also after a failed commit, which may have committed before the failure.
        hot.forget(&changed);
        result
    }
}
