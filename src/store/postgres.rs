//! What only PostgreSQL does: its connection set-up, and the queries whose SQL differs.
//! (Announcements between nodes, `LISTEN`/`NOTIFY`, are in `notify.rs`.)

use std::{io::ErrorKind, str::FromStr, time::Duration};

use sqlx::{
    Connection, PgConnection, PgPool,
    postgres::{PgConnectOptions, PgPoolOptions},
};

use super::{Db, db_err, outbox::OutboxRow};
use crate::domain::Result;

/// How long the first connection may take before the start fails.
const FIRST_CONNECTION: Duration = Duration::from_secs(5);

/// Connects once to check the server, then opens the pool. The pool alone would retry a refused
/// connection until its acquire timeout and then report only "pool timed out"; one direct
/// connection fails within [`FIRST_CONNECTION`] and says why, in one line naming the server
/// (never the password).
/// Connections per node unless `USERD_DB_POOL` says otherwise.
const DEFAULT_POOL: u32 = 16;

pub(super) async fn connect(url: &str, pool: Option<u32>) -> anyhow::Result<Db> {
    let opts = PgConnectOptions::from_str(url)
        .map_err(|e| anyhow::anyhow!("the database URL is not a PostgreSQL URL: {e}"))?;
    match tokio::time::timeout(FIRST_CONNECTION, PgConnection::connect_with(&opts)).await {
        Ok(Ok(conn)) => {
            let _ = conn.close().await;
        }
        Ok(Err(e)) => anyhow::bail!("cannot connect to {}: {}", server(&opts), cause(&e)),
        Err(_) => {
            anyhow::bail!("cannot connect to {}: no answer within {} s", server(&opts), FIRST_CONNECTION.as_secs())
        }
    }
    let pool = PgPoolOptions::new()
        .max_connections(pool.unwrap_or(DEFAULT_POOL))
        .acquire_timeout(Duration::from_secs(10))
        .connect_lazy_with(opts);
    Ok(Db::Postgres(pool))
}

/// `PostgreSQL at HOST:PORT (database D, user U)`: what an operator needs to find the server.
fn server(opts: &PgConnectOptions) -> String {
    let at = match opts.get_socket() {
        Some(dir) => format!("the socket in {}", dir.display()),
        None if opts.get_host().contains(':') => format!("[{}]:{}", opts.get_host(), opts.get_port()),
        None => format!("{}:{}", opts.get_host(), opts.get_port()),
    };
    let user = opts.get_username();
    // PostgreSQL's own default: a database named like the user.
    let database = opts.get_database().unwrap_or(user);
    format!("PostgreSQL at {at} (database {database}, user {user})")
}

/// Why the first connection failed, in words an operator acts on. The server's own message
/// is used without sqlx's wrapping (which repeats it and adds a line number of PostgreSQL's
/// source).
fn cause(e: &sqlx::Error) -> String {
    match e {
        sqlx::Error::Io(io) => match io.kind() {
            ErrorKind::ConnectionRefused => "connection refused (is PostgreSQL running and listening there?)".into(),
            ErrorKind::TimedOut => "timed out".into(),
            // getaddrinfo's failure carries no kind of its own.
            _ if io.to_string().contains("lookup address") => format!("unknown host ({io})"),
            _ => io.to_string(),
        },
        sqlx::Error::Database(d) => match d.code().as_deref() {
            // invalid_catalog_name
            Some("3D000") => format!("{} (create it, or name another database in USERD_DATABASE_URL)", d.message()),
            // invalid_password, invalid_authorization_specification
            Some("28P01" | "28000") => format!("authentication failed: {}", d.message()),
            _ => d.message().to_string(),
        },
        other => other.to_string(),
    }
}

/// Several nodes claim at once: `FOR UPDATE SKIP LOCKED` gives each row to one of them
/// without making the others wait.
pub(super) async fn claim_outbox(pool: &PgPool, now: i64, until: i64, limit: u32) -> Result<Vec<OutboxRow>> {
    sqlx::query_as(
        "UPDATE outbox SET due_at = $2, attempts = attempts + 1 \
         WHERE id IN (SELECT id FROM outbox WHERE due_at <= $1 ORDER BY id LIMIT $3 FOR UPDATE SKIP LOCKED) \
         RETURNING id, kind, payload, attempts",
    )
    .bind(now)
    .bind(until)
    .bind(i64::from(limit))
    .fetch_all(pool)
    .await
    .map_err(db_err)
}
