//! Reads a Django database (SQLite file or PostgreSQL) as `userd import django` needs it:
//! the user model's table (`auth_user` or a custom one), DRF's `authtoken_token`, allauth's
//! `socialaccount_socialaccount` and simplejwt's `token_blacklist_*` tables, each when it
//! exists. The source is opened read-only on SQLite and only ever read.
//!
//! Every value is read as text (SQLite's and PostgreSQL's types differ; Django's SQLite
//! keeps booleans as 0/1 and datetimes as text) and parsed here.

use std::{
    collections::{HashMap, HashSet},
    str::FromStr,
};

use anyhow::Context;
use jiff::{Timestamp, civil::DateTime, tz::TimeZone};
use sqlx::{
    ConnectOptions, PgPool, Row, SqlitePool,
    postgres::PgConnectOptions,
    sqlite::{SqliteConnectOptions, SqlitePoolOptions},
};

use crate::domain::imports::{LegacyIdentity, LegacyRefresh, LegacyUser};

/// A Django database, read-only.
pub enum Source {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// Columns of a user model that userd keeps, beyond the required `id`, `password`, `email`.
const OPTIONAL: [&str; 9] =
    ["username", "first_name", "last_name", "is_active", "is_staff", "date_joined", "company_name", "bio", "avatar"];
const TIMESTAMPS: [&str; 3] = ["date_joined", "last_login", "expires_at"];

/// A table name as `--table` may give it: a plain SQL identifier.
pub fn valid_table(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && name.len() <= 63
}

impl Source {
    /// `from`: a `postgres://` URL, a `sqlite://` URL or a path to a SQLite file.
    pub async fn open(from: &str) -> anyhow::Result<Source> {
        if from.starts_with("postgres://") || from.starts_with("postgresql://") {
            let opts = PgConnectOptions::from_str(from).context("--from is not a valid PostgreSQL URL")?;
            let pool = sqlx::postgres::PgPoolOptions::new()
                .max_connections(2)
                .connect_with(opts.disable_statement_logging())
                .await
                .context("connecting to the Django database")?;
            return Ok(Source::Postgres(pool));
        }
        let path = from.strip_prefix("sqlite://").or_else(|| from.strip_prefix("sqlite:")).unwrap_or(from);
        anyhow::ensure!(std::path::Path::new(path).is_file(), "--from: no SQLite file at {path}");
        let opts = SqliteConnectOptions::new().filename(path).read_only(true).disable_statement_logging();
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(opts)
            .await
            .with_context(|| format!("opening the Django database {path}"))?;
        Ok(Source::Sqlite(pool))
    }

    pub async fn close(&self) {
        match self {
            Source::Sqlite(p) => p.close().await,
            Source::Postgres(p) => p.close().await,
        }
    }

    /// The columns of `table`, empty when it does not exist.
    async fn columns(&self, table: &str) -> anyhow::Result<HashSet<String>> {
        let names: Vec<String> = match self {
            Source::Sqlite(p) => sqlx::query_scalar("SELECT name FROM pragma_table_info($1)")
                .bind(table)
                .fetch_all(p)
                .await
                .context("reading the source's tables")?,
            Source::Postgres(p) => sqlx::query_scalar(
                "SELECT column_name::text FROM information_schema.columns \
                 WHERE table_name = $1 AND table_schema = current_schema()",
            )
            .bind(table)
            .fetch_all(p)
            .await
            .context("reading the source's tables")?,
        };
        Ok(names.into_iter().collect())
    }

    /// An expression reading `column` as text.
    fn text(&self, column: &str) -> String {
        let timestamp = TIMESTAMPS.iter().any(|t| column.ends_with(t));
        match self {
            Source::Sqlite(_) => format!("CAST({column} AS TEXT)"),
            Source::Postgres(_) if timestamp => {
                format!("to_char({column} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US')")
            }
            Source::Postgres(_) => format!("{column}::text"),
        }
    }

    /// Every row of `sql` as texts.
    async fn rows(&self, sql: String) -> anyhow::Result<Vec<Vec<Option<String>>>> {
        let sql = sqlx::AssertSqlSafe(sql);
        fn texts<R: Row>(row: &R) -> anyhow::Result<Vec<Option<String>>>
        where
            for<'r> Option<String>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
            usize: sqlx::ColumnIndex<R>,
        {
            (0..row.len()).map(|i| row.try_get::<Option<String>, usize>(i).map_err(Into::into)).collect()
        }
        match self {
            Source::Sqlite(p) => sqlx::query(sql).fetch_all(p).await?.iter().map(texts).collect(),
            Source::Postgres(p) => sqlx::query(sql).fetch_all(p).await?.iter().map(texts).collect(),
        }
    }

    /// The users of `table` with their tokens, identities and refresh tokens, in id order.
    /// The second value: whether simplejwt's outstanding tokens were there to read.
    pub async fn users(&self, table: &str) -> anyhow::Result<(Vec<LegacyUser>, bool)> {
        anyhow::ensure!(valid_table(table), "--table {table:?} is not a plain table name");
        let present = self.columns(table).await?;
        anyhow::ensure!(!present.is_empty(), "the Django database has no table {table}");
        for required in ["id", "password", "email"] {
            anyhow::ensure!(present.contains(required), "table {table} has no {required} column");
        }
        let optional: Vec<&str> = OPTIONAL.iter().copied().filter(|c| present.contains(*c)).collect();
        let mut select: Vec<String> = ["id", "password", "email"].iter().map(|c| self.text(c)).collect();
        select.extend(optional.iter().map(|c| self.text(c)));
        let sql = format!("SELECT {} FROM \"{table}\" ORDER BY id", select.join(", "));
        let tokens = self.tokens().await?;
        let mut identities = self.identities().await?;
        let (mut refresh, tracks) = self.refresh_tokens().await?;
        let mut users = Vec::new();
        for row in self.rows(sql).await.with_context(|| format!("reading {table}"))? {
            let mut row = row.into_iter();
            let mut next = || row.next().flatten();
            let legacy_id = next().unwrap_or_default();
            let mut user = LegacyUser {
                password: next().unwrap_or_default(),
                email: next().unwrap_or_default(),
                is_active: true,
                api_token: tokens.get(&legacy_id).cloned(),
                identities: identities.remove(&legacy_id).unwrap_or_default(),
                refresh_tokens: refresh.remove(&legacy_id).unwrap_or_default(),
                ..LegacyUser::default()
            };
            for column in &optional {
                let value = next();
                match *column {
                    "username" => user.username = value,
                    "first_name" => user.first_name = value.unwrap_or_default(),
                    "last_name" => user.last_name = value.unwrap_or_default(),
                    "is_active" => user.is_active = value.as_deref().is_none_or(truthy),
                    "is_staff" => user.is_staff = value.as_deref().is_some_and(truthy),
                    "date_joined" => user.date_joined = value.as_deref().and_then(timestamp),
                    "company_name" => user.company_name = value.unwrap_or_default(),
                    "bio" => user.bio = value.unwrap_or_default(),
                    "avatar" => user.avatar = value,
                    _ => {}
                }
            }
            user.legacy_id = legacy_id;
            users.push(user);
        }
        Ok((users, tracks))
    }

    /// DRF's keys by user id.
    async fn tokens(&self) -> anyhow::Result<HashMap<String, String>> {
        if self.columns("authtoken_token").await?.is_empty() {
            return Ok(HashMap::new());
        }
        let sql = format!("SELECT {}, {} FROM authtoken_token", self.text("user_id"), self.text("key"));
        Ok(self
            .rows(sql)
            .await
            .context("reading authtoken_token")?
            .into_iter()
            .filter_map(|r| match r.as_slice() {
                [Some(user), Some(key)] => Some((user.clone(), key.clone())),
                _ => None,
            })
            .collect())
    }

    /// allauth's social accounts by user id.
    async fn identities(&self) -> anyhow::Result<HashMap<String, Vec<LegacyIdentity>>> {
        let present = self.columns("socialaccount_socialaccount").await?;
        if present.is_empty() {
            return Ok(HashMap::new());
        }
        let optional = |c: &str| if present.contains(c) { self.text(c) } else { "NULL".into() };
        let sql = format!(
            "SELECT {}, {}, {}, {}, {}, {} FROM socialaccount_socialaccount ORDER BY id",
            self.text("user_id"),
            self.text("provider"),
            self.text("uid"),
            optional("extra_data"),
            optional("date_joined"),
            optional("last_login"),
        );
        let mut by_user: HashMap<String, Vec<LegacyIdentity>> = HashMap::new();
        for r in self.rows(sql).await.context("reading socialaccount_socialaccount")? {
            let [Some(user), Some(provider), Some(uid), extra, joined, last] = <[Option<String>; 6]>::try_from(r)
                .map_err(|_| anyhow::anyhow!("socialaccount_socialaccount: unexpected row"))?
            else {
                continue;
            };
            let email = extra
                .and_then(|e| serde_json::from_str::<serde_json::Value>(&e).ok())
                .and_then(|v| v.get("email").and_then(|e| e.as_str()).map(str::to_string));
            by_user.entry(user).or_default().push(LegacyIdentity {
                provider,
                uid,
                email,
                linked_at: joined.as_deref().and_then(timestamp),
                last_login: last.as_deref().and_then(timestamp),
            });
        }
        Ok(by_user)
    }

    /// simplejwt's outstanding refresh tokens by user id (whether blacklisted), and
    /// whether its `token_blacklist` app's tables are there.
    async fn refresh_tokens(&self) -> anyhow::Result<(HashMap<String, Vec<LegacyRefresh>>, bool)> {
        if self.columns("token_blacklist_outstandingtoken").await?.is_empty() {
            return Ok((HashMap::new(), false));
        }
        let blacklist = !self.columns("token_blacklist_blacklistedtoken").await?.is_empty();
        let blacklisted = if blacklist {
            "CASE WHEN EXISTS (SELECT 1 FROM token_blacklist_blacklistedtoken b WHERE b.token_id = o.id) \
             THEN 'true' ELSE 'false' END"
        } else {
            "'false'"
        };
        let sql = format!(
            "SELECT {}, {}, {}, {blacklisted} FROM token_blacklist_outstandingtoken o WHERE o.user_id IS NOT NULL",
            self.text("o.user_id"),
            self.text("o.jti"),
            self.text("o.expires_at"),
        );
        let mut by_user: HashMap<String, Vec<LegacyRefresh>> = HashMap::new();
        for r in self.rows(sql).await.context("reading token_blacklist_outstandingtoken")? {
            if let [Some(user), Some(jti), Some(expires), Some(black)] = r.as_slice()
                && let Some(expires_at) = timestamp(expires)
            {
                by_user.entry(user.clone()).or_default().push(LegacyRefresh {
                    jti: jti.clone(),
                    expires_at,
                    blacklisted: truthy(black),
                });
            }
        }
        Ok((by_user, true))
    }
}

fn truthy(v: &str) -> bool {
    matches!(v.trim().to_ascii_lowercase().as_str(), "1" | "t" | "true")
}

/// Django's datetimes: `2024-05-01 12:30:00.123456` (SQLite, UTC, maybe with `+00:00`) or
/// the ISO form PostgreSQL's `to_char` gives above (UTC).
fn timestamp(v: &str) -> Option<Timestamp> {
    let v = v.trim();
    if let Ok(t) = v.parse::<Timestamp>() {
        return Some(t);
    }
    let civil = v.replacen(' ', "T", 1).parse::<DateTime>().ok()?;
    civil.to_zoned(TimeZone::UTC).ok().map(|z| z.timestamp())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn django_datetimes_and_booleans_are_read_from_either_backend() {
        let expected: Timestamp = "2024-05-01T12:30:00.123456Z".parse().expect("ts");
        assert_eq!(timestamp("2024-05-01 12:30:00.123456"), Some(expected));
        assert_eq!(timestamp("2024-05-01T12:30:00.123456"), Some(expected));
        assert_eq!(timestamp("2024-05-01 12:30:00.123456+00:00"), Some(expected));
        assert_eq!(timestamp("not a date"), None);
        assert!(truthy("1") && truthy("true") && truthy("t") && !truthy("0") && !truthy("false"));
        assert!(valid_table("accounts_user") && !valid_table("x; DROP TABLE y") && !valid_table("1abc"));
    }
}
