//! Provider identities linked to users (`user_identities`).

use async_trait::async_trait;

use super::{SqlStore, db_err, from_micros, on_pool};
use crate::domain::{
    Error, Result,
    model::{LinkedIdentity, Provider, SignInMethods, Unlinked, UserId},
    ports::IdentityStore,
};

#[derive(sqlx::FromRow)]
struct IdentityRow {
    provider: String,
    subject: String,
    user_id: i64,
    email: String,
    created_at: i64,
    last_login_at: i64,
}

impl TryFrom<IdentityRow> for LinkedIdentity {
    type Error = Error;

    fn try_from(r: IdentityRow) -> Result<Self> {
        let provider = Provider::parse(&r.provider)
            .ok_or_else(|| Error::internal(anyhow::anyhow!("unknown provider {:?} stored", r.provider)))?;
        Ok(LinkedIdentity {
            provider,
            subject: r.subject,
            user_id: UserId(r.user_id),
            email: r.email,
            created_at: from_micros(r.created_at),
            last_login_at: from_micros(r.last_login_at),
        })
    }
}

#[async_trait]
impl IdentityStore for SqlStore {
    async fn identity(&self, provider: Provider, subject: &str) -> Result<Option<LinkedIdentity>> {
        const SQL: &str = "SELECT provider, subject, user_id, email, created_at, last_login_at \
                           FROM user_identities WHERE provider = $1 AND subject = $2";
        let row: Option<IdentityRow> = on_pool!(&self.db, reader, |pool| sqlx::query_as(SQL)
            .bind(provider.as_str())
            .bind(subject)
            .fetch_optional(pool)
            .await
            .map_err(db_err)?);
        row.map(TryInto::try_into).transpose()
    }

    async fn sign_in_methods(&self, user: UserId) -> Result<SignInMethods> {
        const SQL: &str = "SELECT provider, subject, user_id, email, created_at, last_login_at \
                           FROM user_identities WHERE user_id = $1 ORDER BY created_at, provider";
        let (has_password, rows): (Option<bool>, Vec<IdentityRow>) = on_pool!(&self.db, reader, |pool| {
            let has_password = sqlx::query_scalar("SELECT password_hash IS NOT NULL FROM users WHERE id = $1")
                .bind(user.0)
                .fetch_optional(pool)
                .await
                .map_err(db_err)?;
            let rows = sqlx::query_as(SQL).bind(user.0).fetch_all(pool).await.map_err(db_err)?;
            (has_password, rows)
        });
        Ok(SignInMethods {
            has_password: has_password.unwrap_or(false),
            identities: rows.into_iter().map(TryInto::try_into).collect::<Result<_>>()?,
        })
    }

    async fn unlink_identity(&self, user: UserId, provider: Provider) -> Result<Unlinked> {
        let outcome = on_pool!(&self.db, writer, |pool| {
            let mut tx = pool.begin().await.map_err(db_err)?;
            // Writing the user's row first holds it (PostgreSQL's row lock, SQLite's write
            // lock) until the commit, so concurrent unlinks of one user decide one at a time.
            let has_password: Option<bool> = sqlx::query_scalar(
                "UPDATE users SET updated_at = updated_at WHERE id = $1 RETURNING password_hash IS NOT NULL",
            )
            .bind(user.0)
            .fetch_optional(&mut *tx)
            .await
            .map_err(db_err)?;
            let (this, others): (i64, i64) = sqlx::query_as(
                "SELECT (SELECT COUNT(*) FROM user_identities WHERE user_id = $1 AND provider = $2), \
                        (SELECT COUNT(*) FROM user_identities WHERE user_id = $1 AND provider <> $2)",
            )
            .bind(user.0)
            .bind(provider.as_str())
            .fetch_one(&mut *tx)
            .await
            .map_err(db_err)?;
            let outcome = if this == 0 {
                Unlinked::NotLinked
            } else if !has_password.unwrap_or(false) && others == 0 {
                Unlinked::LastSignInMethod
            } else {
                sqlx::query("DELETE FROM user_identities WHERE user_id = $1 AND provider = $2")
                    .bind(user.0)
                    .bind(provider.as_str())
                    .execute(&mut *tx)
                    .await
                    .map_err(db_err)?;
                Unlinked::Removed
            };
            tx.commit().await.map_err(db_err)?;
            outcome
        });
        Ok(outcome)
    }
}
