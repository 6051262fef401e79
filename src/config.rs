//! Settings, read once at start from `USERD_*` variables (see `shared/contract.md`).
//!
//! Every malformed value stops the start with one line naming the variable.

use std::{net::SocketAddr, path::PathBuf, time::Duration};

use secrecy::SecretString;

pub use crate::domain::model::JwtAlg;

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

/// S3 settings, from the usual `AWS_*` variables.
#[derive(Debug, Clone, Default)]
pub struct S3Config {
    pub region: String,
    pub endpoint: Option<String>,
    pub access_key_id: Option<String>,
    pub secret_access_key: Option<SecretString>,
    pub session_token: Option<SecretString>,
}

#[derive(Debug, Clone)]
pub struct Config {
    pub bind: SocketAddr,
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
    pub log: String,
}

/// Names this version reads; any other `USERD_*` variable earns a warning at start.
pub const KNOWN_VARS: &[&str] = &[
    "USERD_BIND",
    "USERD_DATA_DIR",
    "USERD_DATABASE_URL",
    "USERD_PUBLIC_URL",
    "USERD_SECRET_KEY",
    "USERD_JWT_ALG",
    "USERD_ACCESS_TTL",
    "USERD_REFRESH_TTL",
    "USERD_RATE_LIMIT",
    "USERD_STORAGE_URL",
    "USERD_MAX_UPLOAD_BYTES",
    "USERD_SMTP_URL",
    "USERD_CORS_ORIGINS",
    "USERD_GOOGLE_CLIENT_ID",
    "USERD_GOOGLE_JWKS_URL",
    "USERD_GITHUB_CLIENT_ID",
    "USERD_GITHUB_CLIENT_SECRET",
    "USERD_GITHUB_OAUTH_URL",
    "USERD_GITHUB_API_URL",
    "USERD_STRIPE_SECRET_KEY",
    "USERD_STRIPE_API_URL",
    "USERD_STRIPE_PRICES",
    "USERD_STRIPE_WEBHOOK_SECRET",
    "USERD_STRIPE_SUCCESS_URL",
    "USERD_STRIPE_CANCEL_URL",
    "USERD_LOG",
    "USERD_TEST_POSTGRES_URL",
];

impl Config {
    /// Reads the process environment; `bind` and `data_dir` come from the CLI flags when given.
    pub fn from_env(bind: Option<String>, data_dir: Option<PathBuf>) -> Result<Self, ConfigError> {
        Self::from_lookup(|name| match name {
            "USERD_BIND" if bind.is_some() => bind.clone(),
            "USERD_DATA_DIR" if data_dir.is_some() => data_dir.as_ref().map(|d| d.to_string_lossy().into_owned()),
            _ => std::env::var(name).ok(),
        })
    }

    /// Reads settings through `get`, so tests can configure an instance without the environment.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let var = |name: &str| get(name).filter(|v| !v.trim().is_empty());

        let bind = match var("USERD_BIND") {
            None => SocketAddr::from(([127, 0, 0, 1], 8000)),
            Some(v) => v
                .trim()
                .parse()
                .map_err(|_| bad("USERD_BIND", format!("'{v}' is not an address like 127.0.0.1:8000")))?,
        };
        let data_dir = PathBuf::from(var("USERD_DATA_DIR").unwrap_or_else(|| "./data".into()));
        let database_url = match var("USERD_DATABASE_URL") {
            None => format!("sqlite://{}/userd.db", data_dir.display()),
            Some(v) if v.starts_with("sqlite:") || v.starts_with("postgres://") || v.starts_with("postgresql://") => v,
            Some(_) => {
                return Err(bad("USERD_DATABASE_URL", "must start with sqlite:// or postgres://"));
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
        let secret_key = match get("USERD_SECRET_KEY") {
            None => None,
            Some(v) if v.len() >= 32 => Some(SecretString::from(v)),
            Some(_) => return Err(bad("USERD_SECRET_KEY", "must be at least 32 characters")),
        };
        let jwt_alg = match var("USERD_JWT_ALG").as_deref() {
            None | Some("EdDSA") => JwtAlg::EdDsa,
            Some("HS256") => JwtAlg::Hs256,
            Some(v) => return Err(bad("USERD_JWT_ALG", format!("'{v}' is not EdDSA or HS256"))),
        };
        let access_ttl = duration(&var, "USERD_ACCESS_TTL", Duration::from_secs(60 * 60))?;
        let refresh_ttl = duration(&var, "USERD_REFRESH_TTL", Duration::from_secs(7 * 24 * 60 * 60))?;
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
        let log = var("USERD_LOG").unwrap_or_else(|| "info".into());
        if tracing_subscriber::EnvFilter::try_new(&log).is_err() {
            return Err(bad("USERD_LOG", format!("'{log}' is not a tracing filter such as info or userd=debug")));
        }

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
            log,
        })
    }
}

/// Parses `90s`, `60m`, `12h`, `7d` (a bare number is seconds).
pub fn parse_duration(v: &str) -> Option<Duration> {
    let v = v.trim();
    let (digits, unit) = match v.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
        Some((i, _)) => v.split_at(i),
        None => (v, "s"),
    };
    let n: u64 = digits.parse().ok()?;
    let secs = match unit {
        "s" => n,
        "m" => n.checked_mul(60)?,
        "h" => n.checked_mul(3600)?,
        "d" => n.checked_mul(86_400)?,
        _ => return None,
    };
    (secs > 0).then(|| Duration::from_secs(secs))
}

fn duration(
    var: &impl Fn(&str) -> Option<String>,
    name: &'static str,
    default: Duration,
) -> Result<Duration, ConfigError> {
    match var(name) {
        None => Ok(default),
        Some(v) => {
            parse_duration(&v).ok_or_else(|| bad(name, format!("'{v}' is not a duration such as 90s, 60m, 12h or 7d")))
        }
    }
}

fn url_or(var: &impl Fn(&str) -> Option<String>, name: &'static str, default: &str) -> Result<String, ConfigError> {
    Ok(optional_url(var, name)?.unwrap_or_else(|| default.to_string()))
}

fn optional_url(var: &impl Fn(&str) -> Option<String>, name: &'static str) -> Result<Option<String>, ConfigError> {
    match var(name) {
        None => Ok(None),
        Some(v) if v.starts_with("http://") || v.starts_with("https://") => {
            Ok(Some(v.trim_end_matches('/').to_string()))
        }
        Some(v) => Err(bad(name, format!("'{v}' is not an http(s) URL"))),
    }
}

fn pairs(v: &str) -> Option<Vec<(String, String)>> {
    v.split(',')
        .filter(|p| !p.trim().is_empty())
        .map(|p| {
            let (k, val) = p.split_once('=')?;
            let (k, val) = (k.trim(), val.trim());
            (!k.is_empty() && !val.is_empty()).then(|| (k.to_string(), val.to_string()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn from(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: std::collections::HashMap<String, String> =
            pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Config::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn defaults_follow_the_contract() {
        let c = from(&[]).expect("defaults are valid");
        assert_eq!(c.bind.to_string(), "127.0.0.1:8000");
        assert_eq!(c.database_url, "sqlite://./data/userd.db");
        assert_eq!(c.access_ttl, Duration::from_secs(3600));
        assert_eq!(c.refresh_ttl, Duration::from_secs(7 * 86400));
        assert_eq!(c.jwt_alg, JwtAlg::EdDsa);
        assert!(c.rate_limit);
        assert_eq!(c.max_upload_bytes, 26_214_400);
    }

    #[test]
    fn each_malformed_value_names_its_variable() {
        let cases = [
            ("USERD_BIND", "nowhere"),
            ("USERD_DATABASE_URL", "mysql://x"),
            ("USERD_JWT_ALG", "RS256"),
            ("USERD_ACCESS_TTL", "5x"),
            ("USERD_REFRESH_TTL", "0d"),
            ("USERD_RATE_LIMIT", "maybe"),
            ("USERD_SECRET_KEY", "short"),
            ("USERD_PUBLIC_URL", "example.com"),
            ("USERD_STORAGE_URL", "ftp://x"),
            ("USERD_MAX_UPLOAD_BYTES", "-1"),
            ("USERD_CORS_ORIGINS", "example.com"),
            ("USERD_STRIPE_PRICES", "pro"),
            ("USERD_LOG", "[[["),
        ];
        for (var, value) in cases {
            let err = from(&[(var, value)]).expect_err(var);
            assert_eq!(err.var, var, "{value} should be refused by {var}");
            assert!(err.to_string().starts_with(var));
        }
    }

    #[test]
    fn durations_take_unit_suffixes() {
        assert_eq!(parse_duration("90s"), Some(Duration::from_secs(90)));
        assert_eq!(parse_duration("15m"), Some(Duration::from_secs(900)));
        assert_eq!(parse_duration("2h"), Some(Duration::from_secs(7200)));
        assert_eq!(parse_duration("7d"), Some(Duration::from_secs(604_800)));
        assert_eq!(parse_duration("10"), Some(Duration::from_secs(10)));
        assert_eq!(parse_duration("m"), None);
        assert_eq!(parse_duration("1w"), None);
    }
}
