//! Settings, read once at start from `USERD_*` variables (see `shared/contract.md`).
//!
//! Every malformed value stops the start with one line naming the variable. Secrets may instead be kept in
//! files (`USERD_SECRET_KEY_FILE`, `USERD_DATABASE_URL_FILE`, `USERD_GITHUB_CLIENT_SECRET_FILE`: containers,
//! systemd credentials).

use std::{net::SocketAddr, path::PathBuf, time::Duration};

use ipnet::IpNet;
use secrecy::{ExposeSecret, SecretString};

pub use self::values::parse_duration;
use self::values::{addresses, database_url, duration, human, optional_url, pairs, plain_or_file, redact_url, url_or};
pub use crate::domain::model::JwtAlg;
use crate::domain::{model::Limit, throttle::Limits};

#[cfg(test)]
mod tests;
mod values;

/// A setting that could not be used; `Display` is the one line printed before exit code 2.
#[derive(Debug, thiserror::Error)]
#[error("{var}: {message}")]
pub struct ConfigError {
    pub var: &'static str,
    pub message: String,
}

fn bad(var: &'static str, message: impl Into<String>) -> ConfigError {
    ConfigError { var, message: message.into() }
}

/// Stripe settings; checkout answers 400 while `secret_key` is unset.
#[derive(Debug, Clone, Default)]
pub struct StripeConfig {
    pub secret_key: Option<SecretString>,
    pub api_url: String,
    pub prices: Vec<(String, String)>,
    pub webhook_secret: Option<SecretString>,
    pub success_url: Option<String>,
    pub cancel_url: Option<String>,
}

/// Google and GitHub sign-in; each answers its documented 400 while unconfigured.
#[derive(Debug, Clone, Default)]
pub struct SocialConfig {
    /// The expected `aud` of Google ID tokens (`USERD_GOOGLE_CLIENT_ID`).
    pub google_client_id: Option<String>,
    pub google_jwks_url: String,
    /// The OAuth app's id and secret; both or neither.
    pub github_client_id: Option<String>,
    pub github_client_secret: Option<SecretString>,
    pub github_oauth_url: String,
    pub github_api_url: String,
}

/// S3 settings, from the usual `AWS_*` variables.
#[derive(Debug, Clone, Default)]
pub struct S3Config {
    pub region: String,
    pub endpoint: Option<String>,
    pub access_key_id: Option<String>,
    pub secret_access_key: Option<SecretString>,
    pub session_token: Option<SecretString>,
}

/// How log lines are written to stderr (`USERD_LOG_FORMAT`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum LogFormat {
    /// One human-readable line per event (coloured only when stderr is a terminal).
    #[default]
    Text,
    /// One JSON object per line, for log shippers.
    Json,
}

/// `Debug` hides the database password and every secret (see the manual impl below).
#[derive(Clone)]
pub struct Config {
    /// Listen addresses (at least one); the first names the default public URL.
    pub bind: Vec<SocketAddr>,
    pub data_dir: PathBuf,
    pub database_url: String,
    /// `None`: derived from the address actually bound.
    pub public_url: Option<String>,
    /// `None`: generated into the data dir on first start.
    pub secret_key: Option<SecretString>,
    pub jwt_alg: JwtAlg,
    pub access_ttl: Duration,
    pub refresh_ttl: Duration,
    pub rate_limit: bool,
    pub storage_url: String,
    pub max_upload_bytes: u64,
    pub s3: S3Config,
    pub cors_origins: Vec<String>,
    pub stripe: StripeConfig,
    pub social: SocialConfig,
    pub log: String,
    pub log_format: LogFormat,
    /// `None`: mails are written as `.eml` files to `$USERD_DATA_DIR/outbox/`. Holds a password.
    pub smtp_url: Option<SecretString>,
    /// The sender of userd's mails (`USERD_MAIL_FROM`).
    pub mail_from: String,
    /// How long security events are kept (`USERD_EVENT_RETENTION`).
    pub event_retention: Duration,
    /// The throttling limits (`USERD_THROTTLE_*`), when `rate_limit` is on.
    pub throttle: Limits,
    /// Peers whose `X-Forwarded-For` / `Forwarded` is believed (`USERD_TRUSTED_PROXIES`).
    pub trusted_proxies: Vec<IpNet>,
    /// Connections one client address may hold (`USERD_MAX_CONNECTIONS_PER_CLIENT`).
    pub max_connections_per_client: usize,
    /// Database connections per node (`USERD_DB_POOL`); `None`: userd's default.
    pub db_pool: Option<u32>,
}

/// Names this version reads; any other `USERD_*` variable earns a warning at start.
pub const KNOWN_VARS: &[&str] = &[
    "USERD_BIND",
    "USERD_DATA_DIR",
    "USERD_DATABASE_URL",
    "USERD_DATABASE_URL_FILE",
    "USERD_PUBLIC_URL",
    "USERD_SECRET_KEY",
    "USERD_SECRET_KEY_FILE",
    "USERD_JWT_ALG",
    "USERD_ACCESS_TTL",
    "USERD_REFRESH_TTL",
    "USERD_RATE_LIMIT",
    "USERD_STORAGE_URL",
    "USERD_MAX_UPLOAD_BYTES",
    "USERD_CORS_ORIGINS",
    "USERD_STRIPE_SECRET_KEY",
    "USERD_STRIPE_API_URL",
    "USERD_STRIPE_PRICES",
    "USERD_STRIPE_WEBHOOK_SECRET",
    "USERD_STRIPE_SUCCESS_URL",
    "USERD_STRIPE_CANCEL_URL",
    "USERD_GOOGLE_CLIENT_ID",
    "USERD_GOOGLE_JWKS_URL",
    "USERD_GITHUB_CLIENT_ID",
    "USERD_GITHUB_CLIENT_SECRET",
    "USERD_GITHUB_CLIENT_SECRET_FILE",
    "USERD_GITHUB_OAUTH_URL",
    "USERD_GITHUB_API_URL",
    "USERD_LOG",
    "USERD_LOG_FORMAT",
    "USERD_SMTP_URL",
    "USERD_SMTP_URL_FILE",
    "USERD_MAIL_FROM",
    "USERD_EVENT_RETENTION",
    "USERD_THROTTLE_LOGIN_ADDRESS",
    "USERD_THROTTLE_LOGIN_ACCOUNT_ADDRESS",
    "USERD_THROTTLE_LOGIN_ACCOUNT",
    "USERD_THROTTLE_REGISTER",
    "USERD_THROTTLE_PASSWORD_RESET",
    "USERD_THROTTLE_VERIFICATION_MAIL",
    "USERD_THROTTLE_PROVIDER_LOGIN",
    "USERD_TRUSTED_PROXIES",
    "USERD_MAX_CONNECTIONS_PER_CLIENT",
    "USERD_DB_POOL",
    // Not a server setting: the test suite reads it (tests/api/helpers.rs) to run against PostgreSQL, and
    // `cargo test` starts the binary with the developer's environment, so it must not earn a warning.
    "USERD_TEST_POSTGRES_URL",
];

/// Shortest token lifetime accepted by `USERD_ACCESS_TTL` and `USERD_REFRESH_TTL`.
pub const MIN_TTL: Duration = Duration::from_secs(1);

/// Longest `USERD_ACCESS_TTL` (7 days): an access token cannot be revoked before it expires.
pub const MAX_ACCESS_TTL: Duration = Duration::from_secs(7 * 86_400);

/// Longest `USERD_REFRESH_TTL` (365 days); it must also be at least `USERD_ACCESS_TTL`.
pub const MAX_REFRESH_TTL: Duration = Duration::from_secs(365 * 86_400);

/// Largest file `*_FILE` settings read: a secret or a URL is far smaller, and `/dev/zero` must not fill memory.
pub const MAX_SETTING_FILE_BYTES: u64 = 64 * 1024;

impl Config {
    /// Reads the process environment; `bind` and `data_dir` come from the CLI flags when given, and an error
    /// about a value given by a flag names the flag.
    pub fn from_env(bind: Option<String>, data_dir: Option<PathBuf>) -> Result<Self, ConfigError> {
        Self::from_lookup(|name| match name {
            "USERD_BIND" if bind.is_some() => bind.clone(),
            "USERD_DATA_DIR" if data_dir.is_some() => data_dir.as_ref().map(|d| d.to_string_lossy().into_owned()),
            _ => std::env::var(name).ok(),
        })
        .map_err(|e| match e.var {
            "USERD_BIND" if bind.is_some() => ConfigError { var: "--bind", ..e },
            "USERD_DATA_DIR" if data_dir.is_some() => ConfigError { var: "--data-dir", ..e },
            _ => e,
        })
    }

    /// Reads settings through `get`, so tests can configure an instance without the environment.
    /// The files named by `USERD_SECRET_KEY_FILE` and `USERD_DATABASE_URL_FILE` are read from disk.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let var = |name: &str| get(name).filter(|v| !v.trim().is_empty());

        let bind = match var("USERD_BIND") {
            None => vec![SocketAddr::from(([127, 0, 0, 1], 8000))],
            Some(v) => addresses(&v).map_err(|why| bad("USERD_BIND", why))?,
        };
        let data_dir = PathBuf::from(var("USERD_DATA_DIR").unwrap_or_else(|| "./data".into()));
        let database_url =
            match plain_or_file(&get, var("USERD_DATABASE_URL"), "USERD_DATABASE_URL", "USERD_DATABASE_URL_FILE")? {
                None => format!("sqlite://{}/userd.db", data_dir.display()),
                Some((v, from)) => {
                    database_url(&v).map_err(|why| bad(from, why))?;
                    v
                }
            };
        let public_url = match var("USERD_PUBLIC_URL") {
            None => None,
            Some(v) if v.starts_with("http://") || v.starts_with("https://") => {
                Some(v.trim_end_matches('/').to_string())
            }
            Some(_) => {
                return Err(bad("USERD_PUBLIC_URL", "must start with http:// or https://"));
            }
        };
        let secret_key =
            match plain_or_file(&get, get("USERD_SECRET_KEY"), "USERD_SECRET_KEY", "USERD_SECRET_KEY_FILE")? {
                None => None,
                Some((v, _)) if v.len() >= 32 => Some(SecretString::from(v)),
                Some((_, from)) => return Err(bad(from, "must be at least 32 characters")),
            };
        let jwt_alg = match var("USERD_JWT_ALG").as_deref() {
            None | Some("EdDSA") => JwtAlg::EdDsa,
            Some("HS256") => JwtAlg::Hs256,
            Some(v) => return Err(bad("USERD_JWT_ALG", format!("'{v}' is not EdDSA or HS256"))),
        };
        let access_ttl = duration(&var, "USERD_ACCESS_TTL", Duration::from_secs(60 * 60), MAX_ACCESS_TTL)?;
        let refresh_ttl = duration(&var, "USERD_REFRESH_TTL", Duration::from_secs(7 * 24 * 60 * 60), MAX_REFRESH_TTL)?;
        if refresh_ttl < access_ttl {
            return Err(bad(
                "USERD_REFRESH_TTL",
                format!(
                    "{} is shorter than USERD_ACCESS_TTL ({}); it must be at least as long",
                    human(refresh_ttl),
                    human(access_ttl)
                ),
            ));
        }
        let rate_limit = match var("USERD_RATE_LIMIT").as_deref() {
            None | Some("on") => true,
            Some("off") => false,
            Some(v) => return Err(bad("USERD_RATE_LIMIT", format!("'{v}' is not on or off"))),
        };
        let storage_url = match var("USERD_STORAGE_URL") {
            None => format!("file://{}/files", data_dir.display()),
            Some(v) if v.starts_with("file://") || v.starts_with("s3://") => v,
            Some(_) => return Err(bad("USERD_STORAGE_URL", "must start with file:// or s3://")),
        };
        let max_upload_bytes = match var("USERD_MAX_UPLOAD_BYTES") {
            None => 25 * 1024 * 1024,
            Some(v) => v
                .trim()
                .parse::<u64>()
                .ok()
                .filter(|n| *n > 0)
                .ok_or_else(|| bad("USERD_MAX_UPLOAD_BYTES", format!("'{v}' is not a positive number of bytes")))?,
        };
        let s3 = S3Config {
            region: var("AWS_REGION").or_else(|| var("AWS_DEFAULT_REGION")).unwrap_or_else(|| "us-east-1".into()),
            endpoint: match var("AWS_ENDPOINT_URL_S3").or_else(|| var("AWS_ENDPOINT_URL")) {
                None => None,
                Some(v) if v.starts_with("http://") || v.starts_with("https://") => {
                    Some(v.trim_end_matches('/').into())
                }
                Some(_) => return Err(bad("AWS_ENDPOINT_URL", "must start with http:// or https://")),
            },
            access_key_id: var("AWS_ACCESS_KEY_ID"),
            secret_access_key: var("AWS_SECRET_ACCESS_KEY").map(SecretString::from),
            session_token: var("AWS_SESSION_TOKEN").map(SecretString::from),
        };
        let cors_origins = match var("USERD_CORS_ORIGINS") {
            None => Vec::new(),
            Some(v) => {
                let origins: Vec<String> = v
                    .split(',')
                    .map(|o| o.trim().trim_end_matches('/').to_string())
                    .filter(|o| !o.is_empty())
                    .collect();
                if let Some(o) = origins.iter().find(|o| {
                    !(o.starts_with("http://") || o.starts_with("https://"))
                        || o.parse::<axum::http::HeaderValue>().is_err()
                }) {
                    return Err(bad(
                        "USERD_CORS_ORIGINS",
                        format!("'{o}' is not an origin like https://app.example.com"),
                    ));
                }
                origins
            }
        };
        let stripe = StripeConfig {
            secret_key: var("USERD_STRIPE_SECRET_KEY").map(SecretString::from),
            api_url: url_or(&var, "USERD_STRIPE_API_URL", "https://api.stripe.com")?,
            prices: match var("USERD_STRIPE_PRICES") {
                None => Vec::new(),
                Some(v) => {
                    pairs(&v).ok_or_else(|| bad("USERD_STRIPE_PRICES", "must look like plan=price_id,plan=price_id"))?
                }
            },
            webhook_secret: var("USERD_STRIPE_WEBHOOK_SECRET").map(SecretString::from),
            success_url: optional_url(&var, "USERD_STRIPE_SUCCESS_URL")?,
            cancel_url: optional_url(&var, "USERD_STRIPE_CANCEL_URL")?,
        };
        let social = social(&get, &var)?;
        let log = var("USERD_LOG").unwrap_or_else(|| "info".into());
        if tracing_subscriber::EnvFilter::try_new(&log).is_err() {
            return Err(bad("USERD_LOG", format!("'{log}' is not a tracing filter such as info or userd=debug")));
        }
        let log_format = match var("USERD_LOG_FORMAT").as_deref().map(str::trim) {
            None | Some("text") => LogFormat::Text,
            Some("json") => LogFormat::Json,
            Some(v) => return Err(bad("USERD_LOG_FORMAT", format!("'{v}' is not text or json"))),
        };
        let smtp_url = match plain_or_file(&get, var("USERD_SMTP_URL"), "USERD_SMTP_URL", "USERD_SMTP_URL_FILE")? {
            None => None,
            Some((v, _)) if v.starts_with("smtp://") || v.starts_with("smtps://") => Some(SecretString::from(v)),
            Some((_, from)) => return Err(bad(from, "must start with smtp:// or smtps://")),
        };
        let mail_from = var("USERD_MAIL_FROM").unwrap_or_else(|| "userd <no-reply@localhost>".into());
        if mail_from.parse::<lettre::message::Mailbox>().is_err() {
            return Err(bad(
                "USERD_MAIL_FROM",
                format!("'{mail_from}' is not an address like userd <no-reply@example.com>"),
            ));
        }
        let throttle = throttle_limits(&var)?;
        let trusted_proxies = match var("USERD_TRUSTED_PROXIES") {
            None => Vec::new(),
            Some(v) => parse_proxies(&v).map_err(|why| bad("USERD_TRUSTED_PROXIES", why))?,
        };
        let db_pool =
            match var("USERD_DB_POOL") {
                None => None,
                Some(v) => Some(v.trim().parse::<u32>().ok().filter(|n| (1..=1000).contains(n)).ok_or_else(|| {
                    bad("USERD_DB_POOL", format!("'{v}' is not a number of connections from 1 to 1000"))
                })?),
            };
        let max_connections_per_client = match var("USERD_MAX_CONNECTIONS_PER_CLIENT") {
            None => 128,
            Some(v) => v.trim().parse::<usize>().ok().filter(|n| *n > 0).ok_or_else(|| {
                bad("USERD_MAX_CONNECTIONS_PER_CLIENT", format!("'{v}' is not a positive number of connections"))
            })?,
        };
        let event_retention = duration(
            &var,
            "USERD_EVENT_RETENTION",
            Duration::from_secs(90 * 86_400),
            Duration::from_secs(100 * 365 * 86_400),
        )?;

        Ok(Config {
            bind,
            data_dir,
            database_url,
            public_url,
            secret_key,
            jwt_alg,
            access_ttl,
            refresh_ttl,
            rate_limit,
            storage_url,
            max_upload_bytes,
            s3,
            cors_origins,
            stripe,
            social,
            log,
            log_format,
            smtp_url,
            mail_from,
            event_retention,
            throttle,
            trusted_proxies,
            max_connections_per_client,
            db_pool,
        })
    }
}

/// `USERD_TRUSTED_PROXIES`: addresses or CIDRs separated by commas.
pub fn parse_proxies(text: &str) -> Result<Vec<IpNet>, String> {
    let mut nets = Vec::new();
    for item in text.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let net = match item.parse::<IpNet>() {
            Ok(net) => net,
            Err(_) => item
                .parse::<std::net::IpAddr>()
                .map(IpNet::from)
                .map_err(|_| format!("'{item}' is not an address or CIDR such as 10.0.0.0/8"))?,
        };
        nets.push(net.trunc());
    }
    Ok(nets)
}

/// `USERD_THROTTLE_*`: each `N/DURATION` (`10/1m`: at most 10 in each minute).
fn throttle_limits(var: &impl Fn(&str) -> Option<String>) -> Result<Limits, ConfigError> {
    let read = |name: &'static str, default: Limit| -> Result<Limit, ConfigError> {
        let Some(v) = var(name) else { return Ok(default) };
        let parsed = v.split_once('/').and_then(|(n, d)| {
            let hits = n.trim().parse::<u64>().ok().filter(|h| *h > 0)?;
            let window = parse_duration(d.trim()).filter(|w| *w >= Duration::from_secs(1))?;
            Some(Limit { hits, window })
        });
        parsed.ok_or_else(|| bad(name, format!("'{v}' is not a limit such as 10/1m (a count, a slash, a duration)")))
    };
    let d = Limits::default();
    let account_address = read("USERD_THROTTLE_LOGIN_ACCOUNT_ADDRESS", d.login_account_address)?;
    Ok(Limits {
        login_address: read("USERD_THROTTLE_LOGIN_ADDRESS", d.login_address)?,
        login_account_address: account_address,
        // The back-off grows: four times the short limit in an hour (or its window, if longer).
        login_account_address_long: Limit {
            hits: account_address.hits.saturating_mul(4),
            window: account_address.window.max(Duration::from_secs(3600)),
        },
        login_account: read("USERD_THROTTLE_LOGIN_ACCOUNT", d.login_account)?,
        register: read("USERD_THROTTLE_REGISTER", d.register)?,
        password_reset: read("USERD_THROTTLE_PASSWORD_RESET", d.password_reset)?,
        verification_mail: read("USERD_THROTTLE_VERIFICATION_MAIL", d.verification_mail)?,
        provider_login: read("USERD_THROTTLE_PROVIDER_LOGIN", d.provider_login)?,
    })
}

/// The `USERD_GOOGLE_*` and `USERD_GITHUB_*` settings. The GitHub secret may be kept in a
/// file (`USERD_GITHUB_CLIENT_SECRET_FILE`); the app's id and secret go together.
fn social(
    get: &impl Fn(&str) -> Option<String>,
    var: &impl Fn(&str) -> Option<String>,
) -> Result<SocialConfig, ConfigError> {
    let github_client_id = var("USERD_GITHUB_CLIENT_ID").map(|v| v.trim().to_string());
    let secret = plain_or_file(
        get,
        var("USERD_GITHUB_CLIENT_SECRET"),
        "USERD_GITHUB_CLIENT_SECRET",
        "USERD_GITHUB_CLIENT_SECRET_FILE",
    )?;
    match (&github_client_id, &secret) {
        (Some(_), None) => {
            return Err(bad("USERD_GITHUB_CLIENT_SECRET", "must be set too when USERD_GITHUB_CLIENT_ID is set"));
        }
        (None, Some((_, from))) => {
            return Err(bad(from, "is set but USERD_GITHUB_CLIENT_ID is not; set both or neither"));
        }
        _ => {}
    }
    Ok(SocialConfig {
        google_client_id: var("USERD_GOOGLE_CLIENT_ID").map(|v| v.trim().to_string()),
        google_jwks_url: url_or(var, "USERD_GOOGLE_JWKS_URL", "https://www.googleapis.com/oauth2/v3/certs")?,
        github_client_id,
        github_client_secret: secret.map(|(v, _)| SecretString::from(v.trim().to_string())),
        github_oauth_url: url_or(var, "USERD_GITHUB_OAUTH_URL", "https://github.com")?,
        github_api_url: url_or(var, "USERD_GITHUB_API_URL", "https://api.github.com")?,
    })
}

impl std::fmt::Debug for Config {
    /// Prints every setting except secrets: the database password is `***`, `SecretString`s print redacted.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Destructured so that a new field cannot be forgotten here.
        let Config {
            bind,
            data_dir,
            database_url,
            public_url,
            secret_key,
            jwt_alg,
            access_ttl,
            refresh_ttl,
            rate_limit,
            storage_url,
            max_upload_bytes,
            s3,
            cors_origins,
            stripe,
            social,
            log,
            log_format,
            smtp_url,
            mail_from,
            event_retention,
            throttle,
            trusted_proxies,
            max_connections_per_client,
            db_pool,
        } = self;
        f.debug_struct("Config")
            .field("bind", bind)
            .field("data_dir", data_dir)
            .field("database_url", &redact_url(database_url))
            .field("public_url", public_url)
            .field("secret_key", secret_key)
            .field("jwt_alg", jwt_alg)
            .field("access_ttl", access_ttl)
            .field("refresh_ttl", refresh_ttl)
            .field("rate_limit", rate_limit)
            .field("storage_url", &redact_url(storage_url))
            .field("max_upload_bytes", max_upload_bytes)
            .field("s3", s3)
            .field("cors_origins", cors_origins)
            .field("stripe", stripe)
            .field("social", social)
            .field("log", log)
            .field("log_format", log_format)
            .field("smtp_url", &smtp_url.as_ref().map(|u| redact_url(u.expose_secret())))
            .field("mail_from", mail_from)
            .field("event_retention", event_retention)
            .field("throttle", throttle)
            .field("trusted_proxies", trusted_proxies)
            .field("max_connections_per_client", max_connections_per_client)
            .field("db_pool", db_pool)
            .finish()
    }
}
