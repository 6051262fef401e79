//! Revocations announced across nodes: PostgreSQL `NOTIFY`, `LISTEN` on every node.
//! SQLite serves one node, whose cache the domain evicts directly, so it announces nothing.

use std::time::Duration;

use async_trait::async_trait;
use sqlx::postgres::PgListener;
use tokio::sync::mpsc;

use super::{Db, SqlStore, db_err};
use crate::domain::{Result, model::Revocation, ports::RevocationBus};

const CHANNEL: &str = "userd_revocations";

#[async_trait]
impl RevocationBus for SqlStore {
    async fn announce(&self, revocation: &Revocation) -> Result<()> {
        if let Db::Postgres(pool) = &self.db {
            sqlx::query("SELECT pg_notify($1, $2)")
                .bind(CHANNEL)
                .bind(revocation.encode())
                .execute(pool)
                .await
                .map_err(db_err)?;
        }
        Ok(())
    }

    async fn feed(&self) -> Option<mpsc::Receiver<Revocation>> {
        feed(&self.db).await
    }
}

async fn feed(db: &Db) -> Option<mpsc::Receiver<Revocation>> {
    let Db::Postgres(pool) = db else { return None };
    let pool = pool.clone();
    let (tx, rx) = mpsc::channel(1024);
    tokio::spawn(async move {
        loop {
            let mut listener = match PgListener::connect_with(&pool).await {
                Ok(l) => l,
                Err(e) => {
                    tracing::warn!(error = %e, "revocation listener cannot connect; retrying");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
            };
            if let Err(e) = listener.listen(CHANNEL).await {
                tracing::warn!(error = %e, "LISTEN failed; retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
            // Anything may have been missed while not listening.
            if tx.send(Revocation::All).await.is_err() {
                return;
            }
            loop {
                match listener.try_recv().await {
                    Ok(Some(n)) => {
                        if tx.send(Revocation::decode(n.payload())).await.is_err() {
                            return;
                        }
                    }
                    Ok(None) => {
                        if tx.send(Revocation::All).await.is_err() {
                            return;
                        }
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "revocation listener failed; reconnecting");
                        break;
                    }
                }
            }
            if pool.is_closed() {
                return;
            }
        }
    });
    Some(rx)
}
