//! The account lifecycle's storage: mailed tokens, the security event log, staff's user
//! lists. The writes a use case makes in its transaction are in `tx.rs`.

use async_trait::async_trait;
use jiff::Timestamp;

use super::{
    SqlStore, db_err, from_micros, micros, on_pool,
    users::{UserRow, user_columns},
};
use crate::domain::{
    Result,
    model::{Cursor, MailPurpose, Page, PageRequest, RedeemedToken, SecurityEvent, User, UserId, UserSearch},
    ports::{EventStore, LifecycleStore},
};

#[derive(sqlx::FromRow)]
struct EventRow {
    id: i64,
    user_id: i64,
    kind: String,
    ip: Option<String>,
    user_agent: Option<String>,
    detail: Option<String>,
    created_at: i64,
}

impl From<EventRow> for SecurityEvent {
    fn from(r: EventRow) -> Self {
        SecurityEvent {
            id: r.id,
            user: UserId(r.user_id),
            kind: r.kind,
            ip: r.ip,
            user_agent: r.user_agent,
            detail: r.detail,
            created_at: from_micros(r.created_at),
        }
    }
}

/// `%`, `_` and `\` of a search typed by staff are literal characters.
fn like_pattern(text: &str) -> String {
    let mut p = String::with_capacity(text.len() + 2);
    p.push('%');
    for c in text.to_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            p.push('\\');
        }
        p.push(c);
    }
    p.push('%');
    p
}

/// Splits one more row than asked for into the page and the cursor of the next.
fn page_of<T>(mut items: Vec<T>, limit: u32, cursor: impl Fn(&T) -> Cursor) -> Page<T> {
    let more = items.len() > limit as usize;
    items.truncate(limit as usize);
    let next = if more { items.last().map(cursor) } else { None };
    Page { items, next, total: None }
}

/// The id half of a cursor this store handed out; anything else reads as "from the start".
fn cursor_id(c: &Cursor) -> i64 {
    c.id.parse().unwrap_or(i64::MAX)
}

#[async_trait]
impl EventStore for SqlStore {
    async fn insert_event(&self, e: &SecurityEvent) -> Result<()> {
        on_pool!(&self.db, writer, |pool| sqlx::query(
            "INSERT INTO security_events (user_id, kind, ip, user_agent, detail, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6)"
        )
        .bind(e.user.0)
        .bind(&e.kind)
        .bind(&e.ip)
        .bind(&e.user_agent)
        .bind(&e.detail)
        .bind(micros(e.created_at))
        .execute(pool)
        .await
        .map_err(db_err)
        .map(|_| ())?);
        Ok(())
    }

    async fn events(&self, user: UserId, page: &PageRequest) -> Result<Page<SecurityEvent>> {
        const FIRST: &str = "SELECT id, user_id, kind, ip, user_agent, detail, created_at FROM security_events \
             WHERE user_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2";
        const AFTER: &str = "SELECT id, user_id, kind, ip, user_agent, detail, created_at FROM security_events \
             WHERE user_id = $1 AND (created_at < $3 OR (created_at = $3 AND id < $4)) \
             ORDER BY created_at DESC, id DESC LIMIT $2";
        let fetch = i64::from(page.limit) + 1;
        let rows: Vec<EventRow> = on_pool!(&self.db, reader, |pool| match &page.after {
            None => sqlx::query_as(FIRST).bind(user.0).bind(fetch).fetch_all(pool).await,
            Some(c) => {
                sqlx::query_as(AFTER)
                    .bind(user.0)
                    .bind(fetch)
                    .bind(micros(c.at))
                    .bind(cursor_id(c))
                    .fetch_all(pool)
                    .await
            }
        }
        .map_err(db_err)?);
        let items: Vec<SecurityEvent> = rows.into_iter().map(Into::into).collect();
        Ok(page_of(items, page.limit, |e| Cursor { at: e.created_at, id: e.id.to_string() }))
    }

    async fn purge_events(&self, before: Timestamp) -> Result<u64> {
        let n = on_pool!(&self.db, writer, |pool| sqlx::query("DELETE FROM security_events WHERE created_at < $1")
            .bind(micros(before))
            .execute(pool)
            .await
            .map_err(db_err)?
            .rows_affected());
        Ok(n)
    }
}

#[async_trait]
impl LifecycleStore for SqlStore {
    async fn last_mail_token_at(&self, user: UserId, purpose: MailPurpose) -> Result<Option<Timestamp>> {
        let at: Option<i64> = on_pool!(&self.db, reader, |pool| sqlx::query_scalar(
            "SELECT MAX(created_at) FROM mail_tokens WHERE user_id = $1 AND purpose = $2"
        )
        .bind(user.0)
        .bind(purpose.as_str())
        .fetch_one(pool)
        .await
        .map_err(db_err)?);
        Ok(at.map(from_micros))
    }

    async fn mail_token(&self, hash: &[u8], purpose: MailPurpose, now: Timestamp) -> Result<Option<RedeemedToken>> {
        let row: Option<(i64, String)> = on_pool!(&self.db, reader, |pool| sqlx::query_as(
            "SELECT user_id, email_key FROM mail_tokens \
             WHERE token_hash = $1 AND purpose = $2 AND used_at IS NULL AND expires_at > $3"
        )
        .bind(hash)
        .bind(purpose.as_str())
        .bind(micros(now))
        .fetch_optional(pool)
        .await
        .map_err(db_err)?);
        Ok(row.map(|(user, email_key)| RedeemedToken { user: UserId(user), email_key }))
    }

    async fn purge_mail_tokens(&self, now: Timestamp) -> Result<u64> {
        let n = on_pool!(&self.db, writer, |pool| sqlx::query(
            "DELETE FROM mail_tokens WHERE expires_at < $1 OR used_at IS NOT NULL"
        )
        .bind(micros(now))
        .execute(pool)
        .await
        .map_err(db_err)?
        .rows_affected());
        Ok(n)
    }

    async fn password_hash(&self, user: UserId) -> Result<Option<String>> {
        let hash: Option<Option<String>> =
            on_pool!(&self.db, reader, |pool| sqlx::query_scalar("SELECT password_hash FROM users WHERE id = $1")
                .bind(user.0)
                .fetch_optional(pool)
                .await
                .map_err(db_err)?);
        Ok(hash.flatten())
    }

    async fn users(&self, search: &UserSearch, page: &PageRequest) -> Result<Page<User>> {
        const FIRST: &str = concat!(
            "SELECT ",
            user_columns!(),
            " FROM users WHERE ($1 = '' OR email_key LIKE $1 ESCAPE '\\' OR username_key LIKE $1 ESCAPE '\\' \
               OR lower(first_name || ' ' || last_name) LIKE $1 ESCAPE '\\') \
             ORDER BY created_at DESC, id DESC LIMIT $2"
        );
        const AFTER: &str = concat!(
            "SELECT ",
            user_columns!(),
            " FROM users WHERE ($1 = '' OR email_key LIKE $1 ESCAPE '\\' OR username_key LIKE $1 ESCAPE '\\' \
               OR lower(first_name || ' ' || last_name) LIKE $1 ESCAPE '\\') \
               AND (created_at < $3 OR (created_at = $3 AND id < $4)) \
             ORDER BY created_at DESC, id DESC LIMIT $2"
        );
        let pattern =
            search.text.as_deref().map(str::trim).filter(|t| !t.is_empty()).map_or(String::new(), like_pattern);
        let fetch = i64::from(page.limit) + 1;
        let rows: Vec<UserRow> = on_pool!(&self.db, reader, |pool| match &page.after {
            None => sqlx::query_as(FIRST).bind(&pattern).bind(fetch).fetch_all(pool).await,
            Some(c) => {
                sqlx::query_as(AFTER)
                    .bind(&pattern)
                    .bind(fetch)
                    .bind(micros(c.at))
                    .bind(cursor_id(c))
                    .fetch_all(pool)
                    .await
            }
        }
        .map_err(db_err)?);
        let items: Vec<User> = rows.into_iter().map(Into::into).collect();
        Ok(page_of(items, page.limit, |u| Cursor { at: u.created_at, id: u.id.0.to_string() }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_patterns_keep_wildcards_literal() {
        assert_eq!(like_pattern("A%b_c\\"), "%a\\%b\\_c\\\\%");
    }
}
