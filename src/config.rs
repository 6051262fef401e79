//! Settings, read once at start from `USERD_*` variables (see `shared/contract.md`).
//!
//! Every malformed value stops the start with one line naming the variable. Secrets may instead be kept in
//! files (`USERD_SECRET_KEY_FILE`, `USERD_DATABASE_URL_FILE`: containers, systemd credentials).

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

/// `Debug` hides the database password and every secret (see the manual impl below).
#[derive(Clone)]
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
    "USERD_LOG",
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
    /// Reads the process environment; `bind` and `data_dir` come from the CLI flags when given.
    pub fn from_env(bind: Option<String>, data_dir: Option<PathBuf>) -> Result<Self, ConfigError> {
        Self::from_lookup(|name| match name {
            "USERD_BIND" if bind.is_some() => bind.clone(),
            "USERD_DATA_DIR" if data_dir.is_some() => data_dir.as_ref().map(|d| d.to_string_lossy().into_owned()),
            _ => std::env::var(name).ok(),
        })
    }

    /// Reads settings through `get`, so tests can configure an instance without the environment.
    /// The files named by `USERD_SECRET_KEY_FILE` and `USERD_DATABASE_URL_FILE` are read from disk.
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
        let database_url =
            match plain_or_file(&get, var("USERD_DATABASE_URL"), "USERD_DATABASE_URL", "USERD_DATABASE_URL_FILE")? {
                None => format!("sqlite://{}/userd.db", data_dir.display()),
                Some((v, _))
                    if v.starts_with("sqlite:") || v.starts_with("postgres://") || v.starts_with("postgresql://") =>
                {
                    v
                }
                Some((_, from)) => return Err(bad(from, "must start with sqlite:// or postgres://")),
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
            log,
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
            .field("log", log)
            .finish()
    }
}

/// `url` with any password replaced by `***`: the one in `scheme://user:password@host…` and the value of any
/// query parameter named `…password` (PostgreSQL URLs accept `?password=`). Errs towards hiding too much:
/// a password holding an unencoded `/`, `?`, `#` or `@` is still hidden whole.
fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else { return redact_query(url) };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..authority_end];
    let userinfo_end = match authority.rfind('@') {
        Some(at) => Some(at),
        // `user:pa/ss@host`: an unencoded delimiter ended the authority early, so hide up to the last `@`.
        None if authority.contains(':') => rest[authority_end..].rfind('@').map(|at| authority_end + at),
        None => None,
    };
    match userinfo_end {
        Some(at) => {
            let user = match rest[..at].split_once(':') {
                Some((user, _password)) => format!("{user}:***"),
                None => rest[..at].to_string(),
            };
            format!("{scheme}://{user}@{}", redact_query(&rest[at + 1..]))
        }
        None => format!("{scheme}://{}", redact_query(rest)),
    }
}

fn redact_query(url: &str) -> String {
    let Some((head, query)) = url.split_once('?') else { return url.to_string() };
    let params: Vec<String> = query
        .split('&')
        .map(|p| match p.split_once('=') {
            Some((key, _)) if key.to_ascii_lowercase().ends_with("password") => format!("{key}=***"),
            _ => p.to_string(),
        })
        .collect();
    format!("{head}?{}", params.join("&"))
}

/// The value of setting `name`: `plain` (the variable as `from_lookup` reads it), or the contents of the file
/// named by `file_name`, trailing whitespace trimmed. Comes with the variable that errors about the value name.
/// Errors never quote the file's contents.
fn plain_or_file(
    get: &impl Fn(&str) -> Option<String>,
    plain: Option<String>,
    name: &'static str,
    file_name: &'static str,
) -> Result<Option<(String, &'static str)>, ConfigError> {
    use std::io::Read;

    let Some(path) = get(file_name).filter(|p| !p.trim().is_empty()) else {
        return Ok(plain.map(|v| (v, name)));
    };
    if plain.is_some() {
        return Err(bad(file_name, format!("cannot be used together with {name}; set only one of them")));
    }
    let unreadable = |e: std::io::Error| bad(file_name, format!("cannot read '{path}': {e}"));
    let mut bytes = Vec::new();
    std::fs::File::open(&path)
        .and_then(|f| f.take(MAX_SETTING_FILE_BYTES + 1).read_to_end(&mut bytes))
        .map_err(unreadable)?;
    if bytes.len() as u64 > MAX_SETTING_FILE_BYTES {
        return Err(bad(file_name, format!("'{path}' is larger than {MAX_SETTING_FILE_BYTES} bytes")));
    }
    let mut value = String::from_utf8(bytes).map_err(|_| bad(file_name, format!("'{path}' is not UTF-8 text")))?;
    value.truncate(value.trim_end().len());
    if value.is_empty() {
        return Err(bad(file_name, format!("'{path}' is empty")));
    }
    Ok(Some((value, file_name)))
}

/// Parses `90s`, `60m`, `12h`, `7d` (a bare number is seconds); `None` when malformed, zero, or beyond `u64`
/// seconds. Never panics.
pub fn parse_duration(v: &str) -> Option<Duration> {
    match read_duration(v) {
        Written::Length(d) if !d.is_zero() => Some(d),
        _ => None,
    }
}

/// A duration as written: its length, or why it has none.
#[derive(Debug, PartialEq, Eq)]
enum Written {
    Length(Duration),
    /// Well-formed, but more seconds than a `u64` holds.
    TooLong,
    Malformed,
}

fn read_duration(v: &str) -> Written {
    let v = v.trim();
    let (digits, unit) = match v.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
        Some((i, _)) => v.split_at(i),
        None => (v, "s"),
    };
    let seconds_per_unit: u64 = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Written::Malformed,
    };
    if digits.is_empty() {
        return Written::Malformed;
    }
    // `digits` is only ASCII digits, so parsing fails only by overflowing.
    match digits.parse::<u64>().ok().and_then(|n| n.checked_mul(seconds_per_unit)) {
        Some(secs) => Written::Length(Duration::from_secs(secs)),
        None => Written::TooLong,
    }
}

/// `d` in the largest unit that divides it exactly: `7d`, `90m`, `61s`.
fn human(d: Duration) -> String {
    let secs = d.as_secs();
    match secs {
        0 => "0s".into(),
        s if s % 86_400 == 0 => format!("{}d", s / 86_400),
        s if s % 3600 == 0 => format!("{}h", s / 3600),
        s if s % 60 == 0 => format!("{}m", s / 60),
        s => format!("{s}s"),
    }
}

/// Reads the duration setting `name`, which must lie within `MIN_TTL..=max`.
fn duration(
    var: &impl Fn(&str) -> Option<String>,
    name: &'static str,
    default: Duration,
    max: Duration,
) -> Result<Duration, ConfigError> {
    let Some(v) = var(name) else { return Ok(default) };
    let range = format!("between {} and {}", human(MIN_TTL), human(max));
    match read_duration(&v) {
        Written::Length(d) if (MIN_TTL..=max).contains(&d) => Ok(d),
        Written::Length(_) | Written::TooLong => Err(bad(name, format!("'{v}' is out of range: must be {range}"))),
        Written::Malformed => {
            Err(bad(name, format!("'{v}' is not a duration such as 90s, 60m, 12h or 7d (must be {range})")))
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

    /// Variables given to `from`: `(name, value)` pairs.
    type Settings<'a> = &'a [(&'a str, &'a str)];

    fn from(pairs: Settings) -> Result<Config, ConfigError> {
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

    #[test]
    fn parsing_a_duration_never_panics_or_overflows() {
        let cases: [(&str, Option<u64>, &str); 12] = [
            ("18446744073709551615s", Some(u64::MAX), "the largest u64 still fits"),
            ("18446744073709551616s", None, "one past u64::MAX"),
            ("99999999999999999999s", None, "far past u64::MAX"),
            ("213503982334601d", Some(213_503_982_334_601 * 86_400), "the most days that fit in u64 seconds"),
            ("213503982334602d", None, "multiplying by a day overflows"),
            ("307445734561825861m", None, "multiplying by a minute overflows"),
            ("0", None, "zero is no lifetime"),
            ("", None, "empty"),
            ("-1s", None, "no sign"),
            ("+5m", None, "no sign"),
            ("1.5h", None, "no fractions"),
            ("\u{0663}s", None, "only ASCII digits"),
        ];
        for (input, expected, why) in cases {
            assert_eq!(parse_duration(input), expected.map(Duration::from_secs), "{input}: {why}");
        }
    }

    #[test]
    fn token_lifetimes_must_lie_within_their_bounds() {
        type Expected = Result<(u64, u64), (&'static str, &'static str)>;
        const DAY: u64 = 86_400;
        let cases: &[(Settings, Expected, &str)] = &[
            (&[("USERD_ACCESS_TTL", "1s")], Ok((1, 7 * DAY)), "the shortest access lifetime"),
            (&[("USERD_ACCESS_TTL", "7d")], Ok((7 * DAY, 7 * DAY)), "the longest access lifetime"),
            (&[("USERD_ACCESS_TTL", "168h")], Ok((7 * DAY, 7 * DAY)), "7d written in hours"),
            (&[("USERD_ACCESS_TTL", "604801")], Err(("USERD_ACCESS_TTL", "between 1s and 7d")), "7d and a second"),
            (&[("USERD_ACCESS_TTL", "8d")], Err(("USERD_ACCESS_TTL", "between 1s and 7d")), "past 7d"),
            (&[("USERD_ACCESS_TTL", "0s")], Err(("USERD_ACCESS_TTL", "between 1s and 7d")), "zero"),
            (
                &[("USERD_ACCESS_TTL", "99999999999999999999s")],
                Err(("USERD_ACCESS_TTL", "out of range")),
                "overflows u64",
            ),
            (&[("USERD_ACCESS_TTL", "1s"), ("USERD_REFRESH_TTL", "1s")], Ok((1, 1)), "the shortest refresh lifetime"),
            (&[("USERD_REFRESH_TTL", "365d")], Ok((3600, 365 * DAY)), "the longest refresh lifetime"),
            (&[("USERD_REFRESH_TTL", "366d")], Err(("USERD_REFRESH_TTL", "between 1s and 365d")), "past 365d"),
            (
                &[("USERD_REFRESH_TTL", "100000000d")],
                Err(("USERD_REFRESH_TTL", "between 1s and 365d")),
                "fits u64 but is absurd",
            ),
            (
                &[("USERD_REFRESH_TTL", "99999999999999999999s")],
                Err(("USERD_REFRESH_TTL", "between 1s and 365d")),
                "overflows u64",
            ),
            (
                &[("USERD_REFRESH_TTL", "213503982334602d")],
                Err(("USERD_REFRESH_TTL", "between 1s and 365d")),
                "overflows when turned into seconds",
            ),
            (&[("USERD_REFRESH_TTL", "soon")], Err(("USERD_REFRESH_TTL", "between 1s and 365d")), "malformed"),
            (&[("USERD_ACCESS_TTL", "2h"), ("USERD_REFRESH_TTL", "2h")], Ok((7200, 7200)), "refresh as long as access"),
            (
                &[("USERD_ACCESS_TTL", "2h"), ("USERD_REFRESH_TTL", "119m")],
                Err(("USERD_REFRESH_TTL", "shorter than USERD_ACCESS_TTL (2h)")),
                "refresh shorter than access",
            ),
            (
                &[("USERD_REFRESH_TTL", "30m")],
                Err(("USERD_REFRESH_TTL", "shorter than USERD_ACCESS_TTL (1h)")),
                "shorter than the default access lifetime",
            ),
        ];
        for (settings, expected, why) in cases {
            match (from(settings), expected) {
                (Ok(c), Ok((access, refresh))) => {
                    assert_eq!(c.access_ttl, Duration::from_secs(*access), "{why}");
                    assert_eq!(c.refresh_ttl, Duration::from_secs(*refresh), "{why}");
                }
                (Err(e), Err((var, fragment))) => {
                    assert_eq!(e.var, *var, "{why}: {e}");
                    assert!(e.message.contains(fragment), "{why}: '{e}' should contain '{fragment}'");
                }
                (got, expected) => panic!("{why}: got {got:?}, expected {expected:?}"),
            }
        }
    }

    const KEY: &str = "0123456789abcdefghij0123456789abcdefghij";

    #[test]
    fn secrets_can_be_read_from_files() {
        use secrecy::ExposeSecret;

        let dir = tempfile::tempdir().expect("dir");
        let file = |name: &str, contents: &str| {
            let path = dir.path().join(name);
            std::fs::write(&path, contents).expect("write");
            path.to_string_lossy().into_owned()
        };
        let key = file("key", &format!("{KEY}\n"));
        let padded_key = file("padded-key", &format!("{KEY} \t\r\n\n"));
        let url = file("url", "postgres://u:hunter2pass@h/db\n");

        let c = from(&[("USERD_SECRET_KEY_FILE", &key)]).expect("a key file");
        assert_eq!(c.secret_key.as_ref().map(|k| k.expose_secret()), Some(KEY), "the trailing newline is trimmed");
        let c = from(&[("USERD_SECRET_KEY_FILE", &padded_key)]).expect("a key file");
        assert_eq!(c.secret_key.as_ref().map(|k| k.expose_secret()), Some(KEY), "trailing whitespace is trimmed");
        let c = from(&[("USERD_DATABASE_URL_FILE", &url)]).expect("a URL file");
        assert_eq!(c.database_url, "postgres://u:hunter2pass@h/db");
        let c = from(&[("USERD_SECRET_KEY_FILE", ""), ("USERD_SECRET_KEY", KEY)]).expect("an empty _FILE is unset");
        assert!(c.secret_key.is_some());
    }

    #[test]
    fn a_secret_file_that_cannot_be_used_names_its_variable_and_hides_its_contents() {
        let dir = tempfile::tempdir().expect("dir");
        let file = |name: &str, contents: &[u8]| {
            let path = dir.path().join(name);
            std::fs::write(&path, contents).expect("write");
            path.to_string_lossy().into_owned()
        };
        let key = file("key", KEY.as_bytes());
        let short = file("short", b"hunter2short\n");
        let mysql = file("mysql", b"mysql://u:hunter2pass@h/db\n");
        let blank = file("blank", b" \n\n");
        let empty = file("empty", b"");
        let binary = file("binary", b"hunter2\xff\xfe");
        let huge = file("huge", &vec![b'k'; MAX_SETTING_FILE_BYTES as usize + 1]);
        let missing = dir.path().join("missing").to_string_lossy().into_owned();
        let a_dir = dir.path().to_string_lossy().into_owned();

        let cases: &[(Settings, &str, &str)] = &[
            (&[("USERD_SECRET_KEY", KEY), ("USERD_SECRET_KEY_FILE", &key)], "USERD_SECRET_KEY_FILE", "both set"),
            (
                &[("USERD_DATABASE_URL", "sqlite://x.db"), ("USERD_DATABASE_URL_FILE", &mysql)],
                "USERD_DATABASE_URL_FILE",
                "both set",
            ),
            (&[("USERD_SECRET_KEY_FILE", &missing)], "USERD_SECRET_KEY_FILE", "missing file"),
            (&[("USERD_DATABASE_URL_FILE", &missing)], "USERD_DATABASE_URL_FILE", "missing file"),
            (&[("USERD_SECRET_KEY_FILE", &a_dir)], "USERD_SECRET_KEY_FILE", "a directory"),
            (&[("USERD_SECRET_KEY_FILE", &empty)], "USERD_SECRET_KEY_FILE", "empty file"),
            (&[("USERD_SECRET_KEY_FILE", &blank)], "USERD_SECRET_KEY_FILE", "only whitespace"),
            (&[("USERD_DATABASE_URL_FILE", &blank)], "USERD_DATABASE_URL_FILE", "only whitespace"),
            (&[("USERD_SECRET_KEY_FILE", &binary)], "USERD_SECRET_KEY_FILE", "not UTF-8"),
            (&[("USERD_SECRET_KEY_FILE", &huge)], "USERD_SECRET_KEY_FILE", "larger than any secret"),
            (&[("USERD_SECRET_KEY_FILE", &short)], "USERD_SECRET_KEY_FILE", "too short, as USERD_SECRET_KEY would be"),
            (&[("USERD_DATABASE_URL_FILE", &mysql)], "USERD_DATABASE_URL_FILE", "a scheme USERD_DATABASE_URL refuses"),
        ];
        for (settings, var, why) in cases {
            let err = from(settings).expect_err(why);
            assert_eq!(err.var, *var, "{why}: {err}");
            let line = err.to_string();
            assert!(!line.contains("hunter2") && !line.contains(KEY) && !line.contains("kkkk"), "{why}: {line}");
        }
    }

    #[test]
    fn known_vars_are_exactly_the_settings_read() {
        let asked = std::cell::RefCell::new(std::collections::BTreeSet::new());
        Config::from_lookup(|name| {
            asked.borrow_mut().insert(name.to_string());
            None
        })
        .expect("defaults are valid");
        let read: Vec<String> = asked.into_inner().into_iter().filter(|n| n.starts_with("USERD_")).collect();
        let mut known: Vec<&str> = KNOWN_VARS.iter().copied().filter(|n| *n != "USERD_TEST_POSTGRES_URL").collect();
        known.sort_unstable();
        assert_eq!(read, known, "every name read is known, and every known name is read");
        for unread in [
            "USERD_SMTP_URL",
            "USERD_GOOGLE_CLIENT_ID",
            "USERD_GOOGLE_JWKS_URL",
            "USERD_GITHUB_CLIENT_ID",
            "USERD_GITHUB_CLIENT_SECRET",
            "USERD_GITHUB_OAUTH_URL",
            "USERD_GITHUB_API_URL",
        ] {
            assert!(!KNOWN_VARS.contains(&unread), "{unread} is not read yet, so it must earn the warning");
        }
    }

    #[test]
    fn debug_output_hides_the_database_password_and_the_secrets() {
        let config = from(&[
            ("USERD_DATABASE_URL", "postgres://u:hunter2pass@h/db"),
            ("USERD_SECRET_KEY", KEY),
            ("USERD_STRIPE_SECRET_KEY", "sk_test_hunter2stripe"),
            ("USERD_STRIPE_WEBHOOK_SECRET", "whsec_hunter2hook"),
            ("AWS_SECRET_ACCESS_KEY", "hunter2aws"),
            ("AWS_SESSION_TOKEN", "hunter2session"),
        ])
        .expect("valid");
        let debug = format!("{config:?}");
        assert!(!debug.contains("hunter2"), "{debug}");
        assert!(!debug.contains(KEY), "{debug}");
        assert!(debug.contains("postgres://u:***@h/db"), "{debug}");
        let pretty = format!("{config:#?}");
        assert!(!pretty.contains("hunter2") && !pretty.contains(KEY), "{pretty}");
    }

    #[test]
    fn redacting_a_url_hides_any_password() {
        let cases = [
            ("postgres://u:secret@h/db", "postgres://u:***@h/db", "user and password"),
            (
                "postgresql://u:secret@h:5432/db?sslmode=require",
                "postgresql://u:***@h:5432/db?sslmode=require",
                "port and query",
            ),
            ("postgres://:secret@h/db", "postgres://:***@h/db", "password without user"),
            ("postgres://u:p%40secret@h/db", "postgres://u:***@h/db", "percent-encoded"),
            ("postgres://u:p@secret@h/db", "postgres://u:***@h/db", "an unencoded @ in the password"),
            ("postgres://u:pa/secret@h/db", "postgres://u:***@h/db", "an unencoded / in the password"),
            ("postgres://u:pa?secret@h/db", "postgres://u:***@h/db", "an unencoded ? in the password"),
            ("postgres://u:pa#secret@h/db", "postgres://u:***@h/db", "an unencoded # in the password"),
            (
                "postgres://h/db?user=u&password=secret&sslmode=require",
                "postgres://h/db?user=u&password=***&sslmode=require",
                "password parameter",
            ),
            ("postgres:///db?PassWord=secret", "postgres:///db?PassWord=***", "parameter names are case-insensitive"),
            ("postgres://u@h/db", "postgres://u@h/db", "no password: unchanged"),
            ("postgres://h:5432/db", "postgres://h:5432/db", "no userinfo: unchanged"),
            ("sqlite://./data/userd.db", "sqlite://./data/userd.db", "a path: unchanged"),
            ("sqlite::memory:", "sqlite::memory:", "no authority: unchanged"),
            ("s3://bucket", "s3://bucket", "a bucket: unchanged"),
        ];
        for (input, expected, why) in cases {
            assert_eq!(redact_url(input), expected, "{why}");
        }
    }
}
