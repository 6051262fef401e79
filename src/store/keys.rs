use async_trait::async_trait;

use super::{SqlStore, db_err, from_micros, is_unique_violation, micros, on_pool};
use crate::domain::{Result, model::StoredKey, ports::KeyStore};

#[derive(sqlx::FromRow)]
struct KeyRow {
    kid: String,
    alg: String,
    private_enc: Vec<u8>,
    public: Vec<u8>,
    created_at: i64,
}

#[async_trait]
impl KeyStore for SqlStore {
    async fn signing_keys(&self) -> Result<Vec<StoredKey>> {
        let rows: Vec<KeyRow> = on_pool!(&self.db, reader, |pool| {
            sqlx::query_as("SELECT kid, alg, private_enc, public, created_at FROM signing_keys ORDER BY created_at")
                .fetch_all(pool)
                .await
                .map_err(db_err)?
        });
        Ok(rows
            .into_iter()
            .map(|r| StoredKey {
                kid: r.kid,
                alg: r.alg,
                private_enc: r.private_enc,
                public: r.public,
                created_at: from_micros(r.created_at),
            })
            .collect())
    }

    async fn insert_signing_key(&self, key: &StoredKey) -> Result<()> {
        let result = on_pool!(&self.db, writer, |pool| {
            sqlx::query(
                "INSERT INTO signing_keys (kid, alg, private_enc, public, created_at) VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(&key.kid)
            .bind(&key.alg)
            .bind(&key.private_enc)
            .bind(&key.public)
            .bind(micros(key.created_at))
            .execute(pool)
            .await
            .map(|_| ())
        });
        match result {
            Ok(_) => Ok(()),
            // Random 96-bit kids do not collide; should one ever, the caller reads back what is stored.
            Err(e) if is_unique_violation(&e) => Ok(()),
            Err(e) => Err(db_err(e)),
        }
    }
}
