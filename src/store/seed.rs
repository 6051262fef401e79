//! Bulk insertion for `userd seed`: many rows per statement, many statements per
//! transaction, the one place where the two backends' bulk forms differ.

use sqlx::{Postgres, QueryBuilder, Sqlite};

use super::{Db, SqlStore, db_err, micros};
use crate::{domain::Result, seed::SeedUser};

/// Rows per statement on SQLite (14 values each, well under its 32,766 variables).
const SQLITE_ROWS: usize = 1000;

impl SqlStore {
    /// The highest user id so far (0 for none): seeded usernames are numbered after it.
    pub async fn max_user_id(&self) -> Result<i64> {
        let max: Option<i64> =
            super::on_pool!(&self.db, reader, |pool| sqlx::query_scalar("SELECT MAX(id) FROM users")
                .fetch_one(pool)
                .await
                .map_err(db_err)?);
        Ok(max.unwrap_or(0))
    }

    /// Inserts `users` sharing `password_hash` in one transaction; a username or e-mail
    /// that is taken is skipped. Returns how many were inserted.
    pub async fn insert_seed_users(&self, users: &[SeedUser], password_hash: &str) -> Result<u64> {
        match &self.db {
            Db::Sqlite { writer, .. } => {
                let mut tx = writer.begin().await.map_err(db_err)?;
                let version: i64 = sqlx::query_scalar("SELECT version FROM directory_totals WHERE id = 1")
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(db_err)?;
                let mut inserted = 0;
                for chunk in users.chunks(SQLITE_ROWS) {
                    let mut q = QueryBuilder::<Sqlite>::new(
                        "INSERT INTO users (external_id, email, email_key, email_verified, username, username_key, \
                         password_hash, first_name, last_name, bio, is_staff, is_active, created_at, updated_at) ",
                    );
                    q.push_values(chunk, |mut row, u| {
                        row.push_bind(&u.external_id)
                            .push_bind(&u.email)
                            .push_bind(u.email.to_lowercase())
                            .push_bind(true)
                            .push_bind(&u.username)
                            .push_bind(u.username.to_lowercase())
                            .push_bind(password_hash)
                            .push_bind(&u.first_name)
                            .push_bind(&u.last_name)
                            .push_bind(&u.bio)
                            .push_bind(false)
                            .push_bind(true)
                            .push_bind(micros(u.joined))
                            .push_bind(micros(u.joined));
                    });
                    q.push(" ON CONFLICT DO NOTHING");
                    inserted += q.build().execute(&mut *tx).await.map_err(db_err)?.rows_affected();
                }
                // The triggers logged each row for the directory's counts; a bulk insert is
                // better counted again (as PostgreSQL's statement triggers leave it), and a
                // million logged rows would only be pruned.
                sqlx::query("DELETE FROM directory_changes WHERE version > $1")
                    .bind(version)
                    .execute(&mut *tx)
                    .await
                    .map_err(db_err)?;
                tx.commit().await.map_err(db_err)?;
                Ok(inserted)
            }
            Db::Postgres(pool) => {
                let mut q = QueryBuilder::<Postgres>::new(
                    "INSERT INTO users (external_id, email, email_key, email_verified, username, username_key, \
                     password_hash, first_name, last_name, bio, is_staff, is_active, created_at, updated_at) \
                     SELECT e, m, lower(m), TRUE, n, lower(n), ",
                );
                q.push_bind(password_hash);
                q.push(", f, l, b, FALSE, TRUE, t, t FROM UNNEST(");
                q.push_bind(users.iter().map(|u| u.external_id.clone()).collect::<Vec<_>>()).push("::text[], ");
                q.push_bind(users.iter().map(|u| u.email.clone()).collect::<Vec<_>>()).push("::text[], ");
                q.push_bind(users.iter().map(|u| u.username.clone()).collect::<Vec<_>>()).push("::text[], ");
                q.push_bind(users.iter().map(|u| u.first_name.clone()).collect::<Vec<_>>()).push("::text[], ");
                q.push_bind(users.iter().map(|u| u.last_name.clone()).collect::<Vec<_>>()).push("::text[], ");
                q.push_bind(users.iter().map(|u| u.bio.clone()).collect::<Vec<_>>()).push("::text[], ");
                q.push_bind(users.iter().map(|u| micros(u.joined)).collect::<Vec<_>>());
                q.push("::bigint[]) AS s(e, m, n, f, l, b, t) ON CONFLICT DO NOTHING");
                Ok(q.build().execute(pool).await.map_err(db_err)?.rows_affected())
            }
        }
    }
}
