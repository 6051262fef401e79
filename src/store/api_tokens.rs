use async_trait::async_trait;
use jiff::Timestamp;

use super::{
    SqlStore,
    cache::TokenHash,
    db_err, micros, on_pool,
    users::{UserRow, user_columns},
};
use crate::domain::{
    Result,
    model::{User, UserId},
    ports::{ApiTokenStore, UserStore},
};

#[async_trait]
impl ApiTokenStore for SqlStore {
    async fn sealed_api_token(&self, user: UserId) -> Result<Option<Vec<u8>>> {
        if let Some(sealed) = self.hot.sealed_token(user.0) {
            return Ok(Some(sealed));
        }
        let ticket = self.hot.ticket();
        let sealed: Option<Vec<u8>> = on_pool!(&self.db, reader, |pool| sqlx::query_scalar(
            "SELECT token_enc FROM api_tokens WHERE user_id = $1"
        )
        .bind(user.0)
        .fetch_optional(pool)
        .await
        .map_err(db_err)?);
        if let Some(s) = &sealed {
            self.hot.keep_sealed_token(ticket, user.0, s);
        }
        Ok(sealed)
    }

    async fn insert_api_token(&self, user: UserId, hash: &[u8], sealed: &[u8], now: Timestamp) -> Result<bool> {
        let now = micros(now);
        let n = on_pool!(&self.db, writer, |pool| {
            sqlx::query(
            "INSERT INTO api_tokens (user_id, token_hash, token_enc, created_at, updated_at) VALUES ($1, $2, $3, $4, $4) \
             ON CONFLICT (user_id) DO NOTHING"
        )
        .bind(user.0)
        .bind(hash)
        .bind(sealed)
        .bind(now)
        .execute(pool)
        .await
        .map_err(db_err)?
        .rows_affected()
        });
        Ok(n == 1)
    }

    async fn replace_api_token(&self, user: UserId, hash: &[u8], sealed: &[u8], now: Timestamp) -> Result<()> {
        let now = micros(now);
        on_pool!(&self.db, writer, |pool| {
            sqlx::query(
            "INSERT INTO api_tokens (user_id, token_hash, token_enc, created_at, updated_at) VALUES ($1, $2, $3, $4, $4) \
             ON CONFLICT (user_id) DO UPDATE SET token_hash = excluded.token_hash, token_enc = excluded.token_enc, \
             updated_at = excluded.updated_at"
        )
        .bind(user.0)
        .bind(hash)
        .bind(sealed)
        .bind(now)
        .execute(pool)
        .await
        .map_err(db_err)
        .map(|_| ())?
        });
        self.hot.forget(&[user.0]);
        Ok(())
    }

    async fn api_token_owner(&self, hash: &[u8]) -> Result<Option<User>> {
        const SQL: &str = concat!(
            "SELECT ",
            user_columns!(),
            " FROM users WHERE id = (SELECT user_id FROM api_tokens WHERE token_hash = $1)"
        );
        let key: Option<TokenHash> = hash.try_into().ok();
        if let Some(owner) = key.as_ref().and_then(|k| self.hot.token_owner(k)) {
            return self.user_by_id(UserId(owner)).await;
        }
        let ticket = self.hot.ticket();
        let row: Option<UserRow> = on_pool!(&self.db, reader, |pool| sqlx::query_as(SQL)
            .bind(hash)
            .fetch_optional(pool)
            .await
            .map_err(db_err)?);
        let user: Option<User> = row.map(Into::into);
        if let (Some(u), Some(key)) = (&user, key) {
            self.hot.keep_token(ticket, key, u.id.0);
            self.hot.keep_user(ticket, u);
        }
        Ok(user)
    }
}
