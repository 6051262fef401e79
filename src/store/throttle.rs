//! Throttling counters shared by every node: one UPSERT per attempt counted.

use async_trait::async_trait;
use jiff::Timestamp;

use super::{SqlStore, db_err, micros, on_pool};
use crate::domain::{Result, model::CounterKey, ports::ThrottleStore};

/// `($1, $2, 1, $3), ($4, $5, 1, $6), …` for `n` rows.
fn rows(n: usize) -> String {
    (0..n).map(|i| format!("(${}, ${}, 1, ${})", 3 * i + 1, 3 * i + 2, 3 * i + 3)).collect::<Vec<_>>().join(", ")
}

/// `$1, $2, …` for `n` values.
fn params(n: usize) -> String {
    (1..=n).map(|i| format!("${i}")).collect::<Vec<_>>().join(", ")
}

/// The counts of `found` (key, hits, window start) in `keys`' order and windows.
fn in_order(keys: &[CounterKey], found: &[(String, i64, i64)]) -> Vec<u64> {
    keys.iter()
        .map(|k| {
            found
                .iter()
                .find(|(key, _, start)| *key == k.key && *start == micros(k.window_start))
                .map_or(0, |(_, hits, _)| u64::try_from(*hits).unwrap_or(0))
        })
        .collect()
}

#[async_trait]
impl ThrottleStore for SqlStore {
    async fn counts(&self, keys: &[CounterKey]) -> Result<Vec<u64>> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        // Built from the number of keys only; every value is bound.
        let sql =
            format!("SELECT key, hits, window_start FROM throttle_counters WHERE key IN ({})", params(keys.len()));
        let found: Vec<(String, i64, i64)> = on_pool!(&self.db, reader, |pool| {
            let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql));
            for k in keys {
                q = q.bind(&k.key);
            }
            q.fetch_all(pool).await.map_err(db_err)?
        });
        Ok(in_order(keys, &found))
    }

    async fn hit(&self, keys: &[CounterKey]) -> Result<Vec<u64>> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "INSERT INTO throttle_counters (key, window_start, hits, expires_at) VALUES {} \
             ON CONFLICT (key) DO UPDATE SET \
               hits = CASE WHEN throttle_counters.window_start = excluded.window_start \
                           THEN throttle_counters.hits + 1 ELSE 1 END, \
               window_start = excluded.window_start, expires_at = excluded.expires_at \
             RETURNING key, hits, window_start",
            rows(keys.len())
        );
        let found: Vec<(String, i64, i64)> = on_pool!(&self.db, writer, |pool| {
            let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql));
            for k in keys {
                q = q.bind(&k.key).bind(micros(k.window_start)).bind(micros(k.expires_at));
            }
            q.fetch_all(pool).await.map_err(db_err)?
        });
        Ok(in_order(keys, &found))
    }

    async fn clear(&self, keys: &[String]) -> Result<()> {
        if keys.is_empty() {
            return Ok(());
        }
        let sql = format!("DELETE FROM throttle_counters WHERE key IN ({})", params(keys.len()));
        on_pool!(&self.db, writer, |pool| {
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for k in keys {
                q = q.bind(k);
            }
            q.execute(pool).await.map_err(db_err).map(|_| ())?
        });
        Ok(())
    }

    async fn purge_counters(&self, now: Timestamp) -> Result<u64> {
        let n = on_pool!(&self.db, writer, |pool| sqlx::query("DELETE FROM throttle_counters WHERE expires_at < $1")
            .bind(micros(now))
            .execute(pool)
            .await
            .map_err(db_err)?
            .rows_affected());
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statements_have_one_placeholder_per_value() {
        assert_eq!(rows(2), "($1, $2, 1, $3), ($4, $5, 1, $6)");
        assert_eq!(params(3), "$1, $2, $3");
    }
}
