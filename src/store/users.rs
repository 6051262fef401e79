use async_trait::async_trait;
use jiff::Timestamp;

use sqlx::AssertSqlSafe;

use super::{SqlStore, db_err, from_micros, is_unique_violation, micros, notify, on_pool};
use crate::domain::{
    Error, Result,
    ports::{Revocation, UserStore},
    types::{ExternalId, UserId},
    user::{NewUser, ProfileUpdate, User},
};

// Queries built with `format!` only splice in these constant column lists; values are always bound.
pub(crate) const USER_COLUMNS: &str = "id, external_id, email, email_verified, username, first_name, last_name, \
     company_name, bio, avatar, tz, plan, subscription_status, is_staff, is_active, created_at, updated_at";

#[derive(sqlx::FromRow)]
pub(crate) struct UserRow {
    id: i64,
    external_id: String,
    email: String,
    email_verified: bool,
    username: String,
    first_name: String,
    last_name: String,
    company_name: String,
    bio: String,
    avatar: Option<String>,
    tz: Option<String>,
    plan: Option<String>,
    subscription_status: Option<String>,
    is_staff: bool,
    is_active: bool,
    created_at: i64,
    updated_at: i64,
}

impl From<UserRow> for User {
    fn from(r: UserRow) -> Self {
        User {
            id: UserId(r.id),
            external_id: ExternalId(r.external_id),
            email: r.email,
            email_verified: r.email_verified,
            username: r.username,
            first_name: r.first_name,
            last_name: r.last_name,
            company_name: r.company_name,
            bio: r.bio,
            avatar: r.avatar,
            tz: r.tz,
            plan: r.plan,
            subscription_status: r.subscription_status,
            is_staff: r.is_staff,
            is_active: r.is_active,
            created_at: from_micros(r.created_at),
            updated_at: from_micros(r.updated_at),
        }
    }
}

#[derive(sqlx::FromRow)]
struct CredentialRow {
    #[sqlx(flatten)]
    user: UserRow,
    password_hash: Option<String>,
}

impl SqlStore {
    /// Which unique field a failed insert or update collided with.
    async fn conflicting_field(&self, email_key: &str, username_key: Option<&str>) -> Result<Error> {
        if self.credentials_by_email(email_key).await?.is_some() {
            return Ok(Error::Conflict { field: "email", message: "A user with this email already exists.".into() });
        }
        if let Some(key) = username_key
            && self.username_taken(key).await?
        {
            return Ok(Error::Conflict {
                field: "username",
                message: "A user with that username already exists.".into(),
            });
        }
        Ok(Error::Internal(anyhow::anyhow!("unique violation on an unexpected column")))
    }

    async fn credentials_where(&self, column: &str, key: &str) -> Result<Option<(User, Option<String>)>> {
        let sql = format!("SELECT {USER_COLUMNS}, password_hash FROM users WHERE {column} = $1");
        let row: Option<CredentialRow> = on_pool!(&self.db, reader, |pool| sqlx::query_as(AssertSqlSafe(sql.as_str()))
            .bind(key)
            .fetch_optional(pool)
            .await
            .map_err(db_err)?);
        Ok(row.map(|r| (r.user.into(), r.password_hash)))
    }
}

#[async_trait]
impl UserStore for SqlStore {
    async fn create_user(&self, new: &NewUser) -> Result<User> {
        let now = micros(Timestamp::now());
        let sql = format!(
            "INSERT INTO users (external_id, email, email_key, username, username_key, password_hash, first_name, \
             last_name, company_name, bio, avatar, is_staff, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $13) RETURNING {USER_COLUMNS}"
        );
        let result: std::result::Result<UserRow, sqlx::Error> = on_pool!(&self.db, writer, |pool| {
            sqlx::query_as(AssertSqlSafe(sql.as_str()))
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
                .bind(now)
                .fetch_one(pool)
                .await
        });
        match result {
            Ok(row) => Ok(row.into()),
            Err(e) if is_unique_violation(&e) => {
                Err(self.conflicting_field(&new.email.key(), Some(&new.username.key())).await?)
            }
            Err(e) => Err(db_err(e)),
        }
    }

    async fn user_by_id(&self, id: UserId) -> Result<Option<User>> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1");
        let row: Option<UserRow> = on_pool!(&self.db, reader, |pool| sqlx::query_as(AssertSqlSafe(sql.as_str()))
            .bind(id.0)
            .fetch_optional(pool)
            .await
            .map_err(db_err)?);
        Ok(row.map(Into::into))
    }

    async fn credentials_by_email(&self, email_key: &str) -> Result<Option<(User, Option<String>)>> {
        self.credentials_where("email_key", email_key).await
    }

    async fn credentials_by_username(&self, username_key: &str) -> Result<Option<(User, Option<String>)>> {
        self.credentials_where("username_key", username_key).await
    }

    async fn username_taken(&self, username_key: &str) -> Result<bool> {
        let n: i64 =
            on_pool!(&self.db, reader, |pool| sqlx::query_scalar("SELECT COUNT(*) FROM users WHERE username_key = $1")
                .bind(username_key)
                .fetch_one(pool)
                .await
                .map_err(db_err)?);
        Ok(n > 0)
    }

    async fn update_profile(&self, id: UserId, u: &ProfileUpdate) -> Result<User> {
        let sql = format!(
            "UPDATE users SET \
               email = COALESCE($2, email), email_key = COALESCE($3, email_key), \
               email_verified = CASE WHEN $3 IS NOT NULL AND $3 <> email_key THEN FALSE ELSE email_verified END, \
               first_name = COALESCE($4, first_name), last_name = COALESCE($5, last_name), \
               company_name = COALESCE($6, company_name), bio = COALESCE($7, bio), \
               avatar = CASE WHEN $8 THEN $9 ELSE avatar END, tz = CASE WHEN $10 THEN $11 ELSE tz END, \
               updated_at = $12 \
             WHERE id = $1 RETURNING {USER_COLUMNS}"
        );
        let result: std::result::Result<Option<UserRow>, sqlx::Error> = on_pool!(&self.db, writer, |pool| {
            sqlx::query_as(AssertSqlSafe(sql.as_str()))
                .bind(id.0)
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
                .bind(micros(Timestamp::now()))
                .fetch_optional(pool)
                .await
        });
        match result {
            Ok(Some(row)) => Ok(row.into()),
            Ok(None) => Err(Error::NotFound),
            Err(e) if is_unique_violation(&e) => match &u.email {
                Some(email) => Err(self.conflicting_field(&email.key(), None).await?),
                None => Err(db_err(e)),
            },
            Err(e) => Err(db_err(e)),
        }
    }

    async fn set_password(&self, id: UserId, hash: &str) -> Result<()> {
        let now = micros(Timestamp::now());
        on_pool!(&self.db, writer, |pool| {
            let mut tx = pool.begin().await.map_err(db_err)?;
            sqlx::query("UPDATE users SET password_hash = $1, updated_at = $2 WHERE id = $3")
                .bind(hash)
                .bind(now)
                .bind(id.0)
                .execute(&mut *tx)
                .await
                .map_err(db_err)?;
            sqlx::query("UPDATE sessions SET revoked_at = $1 WHERE user_id = $2 AND revoked_at IS NULL")
                .bind(now)
                .bind(id.0)
                .execute(&mut *tx)
                .await
                .map_err(db_err)?;
            tx.commit().await.map_err(db_err)?;
        });
        notify::announce(&self.db, &Revocation::User(id)).await;
        Ok(())
    }

    async fn set_staff(&self, id: UserId, is_staff: bool) -> Result<()> {
        on_pool!(&self.db, writer, |pool| sqlx::query("UPDATE users SET is_staff = $1, updated_at = $2 WHERE id = $3")
            .bind(is_staff)
            .bind(micros(Timestamp::now()))
            .bind(id.0)
            .execute(pool)
            .await
            .map_err(db_err)
            .map(|_| ())?);
        Ok(())
    }
}
