//! Revocations announced across nodes: PostgreSQL `NOTIFY`, `LISTEN` on every node.
//! SQLite serves one node, whose cache the domain evicts directly, so it announces nothing.
//!
//! The same listener hears which users changed (the `userd_users` notifications that
//! migration 0011's triggers send) and keeps the store's cache of hot rows exact; that
//! cache is only used while the listener is connected.

use std::{sync::Arc, time::Duration};

use async_trait::async_trait;
use sqlx::postgres::PgListener;
use tokio::sync::mpsc;

use super::{Db, SqlStore, cache::HotRows, db_err};
use crate::domain::{Result, model::Revocation, ports::RevocationBus};

const CHANNEL: &str = "userd_revocations";
/// Ids of changed users (or `all`), sent by triggers on `users` and `api_tokens`.
const USERS_CHANNEL: &str = "userd_users";

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
        feed(&self.db, Arc::clone(&self.hot)).await
    }
}

async fn feed(db: &Db, hot: Arc<HotRows>) -> Option<mpsc::Receiver<Revocation>> {
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
            if let Err(e) = listener.listen_all([CHANNEL, USERS_CHANNEL]).await {
                tracing::warn!(error = %e, "LISTEN failed; retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
            // Anything may have been missed while not listening.
            hot.set_live(true);
            if tx.send(Revocation::All).await.is_err() {
                hot.set_live(false);
                return;
            }
            loop {
                match listener.try_recv().await {
                    Ok(Some(n)) if n.channel() == USERS_CHANNEL => match n.payload().parse::<i64>() {
                        Ok(id) => hot.forget(&[id]),
                        Err(_) => hot.forget_all(),
                    },
                    Ok(Some(n)) => {
                        if tx.send(Revocation::decode(n.payload())).await.is_err() {
                            hot.set_live(false);
                            return;
                        }
                    }
                    Ok(None) => {
                        // The connection was lost: listen afresh (which clears every cache).
                        tracing::warn!("revocation listener lost its connection; reconnecting");
                        break;
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "revocation listener failed; reconnecting");
                        break;
                    }
                }
            }
            hot.set_live(false);
            if pool.is_closed() {
                return;
            }
        }
    });
    Some(rx)
}
