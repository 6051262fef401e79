//! Revocations announced across nodes: PostgreSQL `NOTIFY` after commit, `LISTEN` on every
//! node. SQLite serves one node, whose cache is evicted directly, so it announces nothing.

use std::time::Duration;

use sqlx::postgres::PgListener;
use tokio::sync::mpsc;

use super::Db;
use crate::domain::{
    ports::Revocation,
    types::{SessionId, UserId},
};

const CHANNEL: &str = "userd_revocations";

fn encode(r: &Revocation) -> String {
    match r {
        Revocation::Session(id) => format!("s:{}", id.0),
        Revocation::User(id) => format!("u:{}", id.0),
        Revocation::All => "all".into(),
    }
}

fn decode(payload: &str) -> Revocation {
    match payload.split_once(':') {
        Some(("s", id)) => Revocation::Session(SessionId(id.to_string())),
        Some(("u", id)) => id.parse().map(|n| Revocation::User(UserId(n))).unwrap_or(Revocation::All),
        _ => Revocation::All,
    }
}

pub(crate) async fn announce(db: &Db, revocation: &Revocation) {
    if let Db::Postgres(pool) = db {
        let sent = sqlx::query("SELECT pg_notify($1, $2)").bind(CHANNEL).bind(encode(revocation)).execute(pool).await;
        if let Err(e) = sent {
            // Other nodes still re-check within the cache's maximum age.
            tracing::warn!(error = %e, "announcing a revocation failed");
        }
    }
}

pub(crate) async fn feed(db: &Db) -> Option<mpsc::Receiver<Revocation>> {
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
                        if tx.send(decode(n.payload())).await.is_err() {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_round_trip() {
        for r in [Revocation::Session(SessionId("abc".into())), Revocation::User(UserId(42)), Revocation::All] {
            assert_eq!(decode(&encode(&r)), r);
        }
        assert_eq!(decode("garbage"), Revocation::All);
    }
}
