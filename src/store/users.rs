use async_trait::async_trait;

use jiff::Timestamp;

use super::{SqlStore, db_err, from_micros, is_unique_violation, micros, on_pool};
use crate::domain::{
    Result,
    model::{ExternalId, StoredIdentity, User, UserId},
    ports::UserStore,
};

/// The columns of a `UserRow`, as a literal so queries are built with `concat!` at
/// compile time: no per-request formatting, and every query stays a `&'static str`.
macro_rules! user_columns {
    () => {
        "id, external_id, email, email_verified, username, first_name, last_name, company_name, bio, avatar, tz, \
         plan, subscription_status, is_staff, is_active, created_at, updated_at"
    };
}
pub(super) use user_columns;

#[derive(sqlx::FromRow)]
pub(super) struct UserRow {
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
    /// `sql` selects the user columns and `password_hash` by one bound key.
    async fn credentials_where(&self, sql: &'static str, key: &str) -> Result<Option<(User, Option<String>)>> {
        let row: Option<CredentialRow> = on_pool!(&self.db, reader, |pool| sqlx::query_as(sql)
            .bind(key)
            .fetch_optional(pool)
            .await
            .map_err(db_err)?);
        Ok(row.map(|r| (r.user.into(), r.password_hash)))
    }
}

#[async_trait]
impl UserStore for SqlStore {
    async fn user_by_id(&self, id: UserId) -> Result<Option<User>> {
        const SQL: &str = concat!("SELECT ", user_columns!(), " FROM users WHERE id = $1");
        if let Some(user) = self.hot.user(id.0) {
            return Ok(Some(user));
        }
        let ticket = self.hot.ticket();
        let row: Option<UserRow> = on_pool!(&self.db, reader, |pool| sqlx::query_as(SQL)
            .bind(id.0)
            .fetch_optional(pool)
            .await
            .map_err(db_err)?);
        let user: Option<User> = row.map(Into::into);
        if let Some(u) = &user {
            self.hot.keep_user(ticket, u);
        }
        Ok(user)
    }

    async fn credentials_by_email(&self, email_key: &str) -> Result<Option<(User, Option<String>)>> {
        self.credentials_where(
            concat!("SELECT ", user_columns!(), ", password_hash FROM users WHERE email_key = $1"),
            email_key,
        )
        .await
    }

    async fn credentials_by_username(&self, username_key: &str) -> Result<Option<(User, Option<String>)>> {
        self.credentials_where(
            concat!("SELECT ", user_columns!(), ", password_hash FROM users WHERE username_key = $1"),
            username_key,
        )
        .await
    }

    async fn replace_password_hash(&self, user: UserId, old: &str, new: &str, now: Timestamp) -> Result<bool> {
        let n = on_pool!(&self.db, writer, |pool| sqlx::query(
            "UPDATE users SET password_hash = $3, updated_at = $4 WHERE id = $1 AND password_hash = $2"
        )
        .bind(user.0)
        .bind(old)
        .bind(new)
        .bind(micros(now))
        .execute(pool)
        .await
        .map_err(db_err)?
        .rows_affected());
        self.hot.forget(&[user.0]);
        Ok(n == 1)
    }

    async fn non_ascii_identities(&self) -> Result<Vec<StoredIdentity>> {
        // `length` counts characters and `octet_length` bytes on both backends: they differ
        // exactly when the UTF-8 text holds a character outside ASCII.
        const SQL: &str = "SELECT id, email, username, email_key, username_key FROM users \
             WHERE length(email) <> octet_length(email) OR length(username) <> octet_length(username) \
             ORDER BY id";
        let rows: Vec<(i64, String, String, String, String)> =
            on_pool!(&self.db, reader, |pool| sqlx::query_as(SQL).fetch_all(pool).await.map_err(db_err)?);
        Ok(rows
            .into_iter()
            .map(|(id, email, username, email_key, username_key)| StoredIdentity {
                id: UserId(id),
                email,
                username,
                email_key,
                username_key,
            })
            .collect())
    }

    async fn set_identity_keys(&self, user: UserId, email_key: &str, username_key: &str) -> Result<bool> {
        let result = on_pool!(&self.db, writer, |pool| sqlx::query(
            "UPDATE users SET email_key = $2, username_key = $3 WHERE id = $1"
        )
        .bind(user.0)
        .bind(email_key)
        .bind(username_key)
        .execute(pool)
        .await
        .map(|_| ()));
        self.hot.forget(&[user.0]);
        match result {
            Ok(_) => Ok(true),
            Err(e) if is_unique_violation(&e) => Ok(false),
            Err(e) => Err(db_err(e)),
        }
    }
}
