//! The command line (see `shared/contract.md`): `serve` (default), `migrate`,
//! `create-admin`, `seed`, `keys rotate`, `import django`, `copy-data`.

use std::{io::Read, path::PathBuf, sync::Arc};

use anyhow::Context;
use clap::{Parser, Subcommand};

use crate::{
    Application,
    config::Config,
    domain::{
        clock::{Clock, SystemClock},
        crypto::{Purpose, Sealer},
        model::{Email, Password},
        ports::KeyStore,
        sessions::tokens,
    },
    secret, telemetry,
};

#[derive(Debug, Parser)]
#[command(name = "userd", version, about = "A users service: accounts, logins, tokens, profiles and a social graph.")]
pub struct Cli {
    /// Listen address (overrides USERD_BIND).
    #[arg(long, global = true)]
    pub bind: Option<String>,
    /// Data directory (overrides USERD_DATA_DIR).
    #[arg(long, global = true)]
    pub data_dir: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Start the server (the default); migrations are applied on start.
    Serve,
    /// Apply migrations and exit.
    Migrate,
    /// Create (or promote) a staff user; the password is read from stdin.
    CreateAdmin {
        #[arg(long)]
        email: String,
    },
    /// Add N realistic demo users in bulk (for demos and benchmarks); they share one
    /// password, given with --password or printed at the end.
    Seed {
        #[arg(long)]
        users: u64,
        #[arg(long)]
        password: Option<String>,
    },
    /// Manage JWT signing keys.
    Keys {
        #[command(subcommand)]
        action: KeysAction,
    },
    /// Import users from another system, keeping their passwords and tokens.
    Import {
        #[command(subcommand)]
        source: ImportSource,
    },
    /// Copy everything from the configured database to an empty one at --to (for
    /// instance SQLite to PostgreSQL), then check row counts.
    CopyData {
        /// `postgres://…` or `sqlite://…` of the empty target database.
        #[arg(long)]
        to: String,
    },
    /// The raw argon2id rate of this machine with userd's parameters (what a login costs),
    /// for scripts/bench.sh: one JSON line on stdout.
    #[command(hide = true)]
    HashRate {
        /// How long to measure.
        #[arg(long, default_value_t = 5.0)]
        seconds: f64,
        /// Threads hashing at once; by default as many as the server's hashing pool has.
        #[arg(long)]
        threads: Option<usize>,
    },
}

#[derive(Debug, Subcommand)]
pub enum ImportSource {
    /// A Django user table with its password hashes, DRF tokens, allauth identities and
    /// simplejwt tokens (see docs/migrating-from-django.md).
    Django {
        /// The Django database: a SQLite file's path or a PostgreSQL URL.
        #[arg(long = "from")]
        from: String,
        /// The user model's table.
        #[arg(long, default_value = "auth_user")]
        table: String,
        /// A file holding Django's SECRET_KEY (simplejwt's signing key): its access and
        /// refresh tokens are then accepted until they expire.
        #[arg(long)]
        simplejwt_secret_file: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
pub enum KeysAction {
    /// Add a new signing key; old keys keep verifying until their tokens expire.
    Rotate,
}

/// Runs a parsed command with a valid config.
pub async fn run(command: Command, config: Config) -> anyhow::Result<()> {
    match command {
        Command::Serve => serve(config).await,
        Command::Migrate => {
            let store = crate::open_store(&config).await?;
            store.close().await;
            eprintln!("migrations applied");
            Ok(())
        }
        Command::CreateAdmin { email } => create_admin(config, &email).await,
        Command::Seed { users, password } => seed(config, users, password).await,
        Command::Import { source: ImportSource::Django { from, table, simplejwt_secret_file } } => {
            crate::import::django(&config, &from, &table, simplejwt_secret_file.as_deref()).await.map(|_| ())
        }
        Command::CopyData { to } => crate::store::copy::copy_data(&config.database_url, &to).await,
        Command::HashRate { seconds, threads } => hash_rate(seconds, threads),
        Command::Keys { action: KeysAction::Rotate } => {
            let store = crate::open_store(&config).await?;
            let master = secret::master_key(&config)?;
            let sealer = Sealer::derive(secret::AsBytes::as_bytes(&master), Purpose::SigningKeys)?;
            // Verify the secret opens the existing keys before adding one it could not.
            crate::build_domain(&config, store.clone(), Arc::new(SystemClock)).await?;
            let key = tokens::generate_key(config.jwt_alg, &sealer, SystemClock.now())?;
            store.insert_signing_key(&key).await?;
            store.close().await;
            eprintln!("added signing key {} ({}); running nodes pick it up within a minute", key.kid, key.alg);
            Ok(())
        }
    }
}

/// Rows generated and inserted at a time.
const SEED_BATCH: u64 = 10_000;

async fn seed(config: Config, count: u64, password: Option<String>) -> anyhow::Result<()> {
    let given = password.is_some();
    let password = match password {
        Some(p) => p,
        None => crate::domain::crypto::random_token(12)?,
    };
    let parsed = Password::new_password(&password)
        .map_err(|why| anyhow::anyhow!("--password is refused by the password rules: {why:?}"))?;
    let store = crate::open_store(&config).await?;
    let hash = crate::domain::passwords::PasswordHasher::new(1)?.hash(&parsed).await?;
    let started = std::time::Instant::now();
    let first = u64::try_from(store.max_user_id().await?).unwrap_or(0) + 1;
    let run = crate::domain::crypto::random_token(3)?;
    let now = SystemClock.now();
    let mut inserted = 0;
    let mut done = 0;
    while done < count {
        let n = SEED_BATCH.min(count - done);
        let users = crate::seed::users(first + done, n, now, &run);
        inserted += store.insert_seed_users(&users, &hash).await?;
        done += n;
        if done % 100_000 == 0 || done == count {
            eprintln!("seeded {done} of {count} ({:.1} s)", started.elapsed().as_secs_f64());
        }
    }
    store.close().await;
    eprintln!(
        "added {inserted} users in {:.1} s ({} skipped as taken)",
        started.elapsed().as_secs_f64(),
        count - inserted
    );
    if !given {
        eprintln!("their password: {password}");
    }
    Ok(())
}

/// Prints what [`crate::domain::passwords::verify_rate`] measures, as one JSON line.
fn hash_rate(seconds: f64, threads: Option<usize>) -> anyhow::Result<()> {
    anyhow::ensure!(seconds.is_finite() && seconds > 0.0 && seconds <= 600.0, "--seconds: between 0 and 600");
    let threads = threads.unwrap_or_else(crate::hashing_threads).max(1);
    let (done, took) = crate::domain::passwords::verify_rate(threads, std::time::Duration::from_secs_f64(seconds))?;
    println!(
        "{}",
        serde_json::json!({
            "measure": "argon2id_verify_per_s",
            "params": crate::domain::passwords::PARAMS_TEXT,
            "threads": threads,
            "verifications": done,
            "seconds": (took * 1000.0).round() / 1000.0,
            "per_s": (done as f64 / took * 10.0).round() / 10.0,
        })
    );
    Ok(())
}

/// `e` and its causes on one line, each said once: many libraries' messages end with their
/// source's (sqlx's "error returned from database: {source}"), which `{:#}` would print twice.
pub fn error_line(e: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in e.chain() {
        let text = cause.to_string().replace('\n', " ");
        if line.ends_with(text.as_str()) {
            continue;
        }
        if !line.is_empty() {
            line.push_str(": ");
        }
        line.push_str(&text);
    }
    line
}

async fn serve(config: Config) -> anyhow::Result<()> {
    let log_format = config.log_format;
    let app = Application::build(config).await?;
    // A fixed line per address that scripts wait for (contract), the first address first.
    for addr in app.local_addrs() {
        telemetry::print(log_format, tracing::Level::INFO, &format!("listening on http://{addr}"));
    }
    tracing::info!(public_url = app.public_url(), "userd started");
    app.run_until(shutdown_signal()).await?;
    tracing::info!("stopped");
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutting down: draining in-flight requests");
}

async fn create_admin(config: Config, email: &str) -> anyhow::Result<()> {
    let email =
        Email::parse(email).map_err(|why| anyhow::anyhow!("--email: {}", crate::http::problem::drf_message(&why)))?;
    let mut input = String::new();
    std::io::stdin().read_to_string(&mut input).context("reading the password from stdin")?;
    let raw = input.strip_suffix('\n').map(|s| s.strip_suffix('\r').unwrap_or(s)).unwrap_or(&input);
    let password = Password::new_password(raw).map_err(|problems| {
        let words: Vec<String> = problems.iter().map(crate::http::problem::drf_message).collect();
        anyhow::anyhow!("password: {}", words.join(" "))
    })?;
    let store = crate::open_store(&config).await?;
    let domain = crate::build_domain(&config, Arc::clone(&store), Arc::new(SystemClock)).await?;
    let user = domain.accounts.create_admin(email, password).await.map_err(|e| match e {
        // The password rule that needs the account (too similar to the e-mail), worded.
        crate::domain::Error::Validation(fields) => {
            let words: Vec<String> = fields
                .iter()
                .map(|(field, whys)| {
                    let words: Vec<String> = whys.iter().map(crate::http::problem::drf_message).collect();
                    format!("{field}: {}", words.join(" "))
                })
                .collect();
            anyhow::anyhow!("{}", words.join("; "))
        }
        other => anyhow::anyhow!("{other}"),
    })?;
    store.close().await;
    eprintln!("staff user {} (id {}) is ready", user.email, user.id);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::error_line;

    #[test]
    fn an_error_line_says_each_cause_once() {
        let inner = std::io::Error::other("database \"x\" does not exist");
        let wrapped = anyhow::Error::new(inner).context("error returned from database: database \"x\" does not exist");
        let e = wrapped.context("applying migrations");
        assert_eq!(error_line(&e), "applying migrations: error returned from database: database \"x\" does not exist");
        let e = anyhow::anyhow!("one\ntwo").context("outer");
        assert_eq!(error_line(&e), "outer: one two");
    }
}
