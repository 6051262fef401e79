//! Reading one setting: durations with units and bounds, URLs, `plan=price` pairs, values
//! kept in files, and URLs with their passwords hidden.

use std::{str::FromStr, time::Duration};

use sqlx::{postgres::PgConnectOptions, sqlite::SqliteConnectOptions};

use super::{ConfigError, MAX_SETTING_FILE_BYTES, MIN_TTL, bad};

/// `url` with any password replaced by `***`: the one in `scheme://user:password@host…` and the value of any
/// query parameter named `…password` (PostgreSQL URLs accept `?password=`). Errs towards hiding too much:
/// a password holding an unencoded `/`, `?`, `#` or `@` is still hidden whole.
pub(super) fn redact_url(url: &str) -> String {
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

pub(super) fn redact_query(url: &str) -> String {
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

/// Checks a database URL as the store will read it, so a malformed one stops the start as a setting
/// does. The reason never quotes the URL, which may hold a password.
pub(super) fn database_url(url: &str) -> Result<(), String> {
    let parsed = if url.starts_with("sqlite:") {
        SqliteConnectOptions::from_str(url).map(drop)
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        PgConnectOptions::from_str(url).map(drop)
    } else {
        return Err("must start with sqlite:// or postgres://".into());
    };
    parsed.map_err(|e| match e {
        sqlx::Error::Configuration(why) => format!("not a valid database URL ({why})"),
        other => format!("not a valid database URL ({other})"),
    })
}

/// The value of setting `name`: `plain` (the variable as `from_lookup` reads it), or the contents of the file
/// named by `file_name`, trailing whitespace trimmed. Comes with the variable that errors about the value name.
/// Errors never quote the file's contents.
pub(super) fn plain_or_file(
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
pub(super) enum Written {
    Length(Duration),
    /// Well-formed, but more seconds than a `u64` holds.
    TooLong,
    Malformed,
}

pub(super) fn read_duration(v: &str) -> Written {
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
pub(super) fn human(d: Duration) -> String {
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
pub(super) fn duration(
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

pub(super) fn url_or(
    var: &impl Fn(&str) -> Option<String>,
    name: &'static str,
    default: &str,
) -> Result<String, ConfigError> {
    Ok(optional_url(var, name)?.unwrap_or_else(|| default.to_string()))
}

pub(super) fn optional_url(
    var: &impl Fn(&str) -> Option<String>,
    name: &'static str,
) -> Result<Option<String>, ConfigError> {
    match var(name) {
        None => Ok(None),
        Some(v) if v.starts_with("http://") || v.starts_with("https://") => {
            Ok(Some(v.trim_end_matches('/').to_string()))
        }
        Some(v) => Err(bad(name, format!("'{v}' is not an http(s) URL"))),
    }
}

pub(super) fn pairs(v: &str) -> Option<Vec<(String, String)>> {
    v.split(',')
        .filter(|p| !p.trim().is_empty())
        .map(|p| {
            let (k, val) = p.split_once('=')?;
            let (k, val) = (k.trim(), val.trim());
            (!k.is_empty() && !val.is_empty()).then(|| (k.to_string(), val.to_string()))
        })
        .collect()
}

/// `USERD_BIND`: one address, or several separated by commas (each is bound).
pub(super) fn addresses(v: &str) -> Result<Vec<std::net::SocketAddr>, String> {
    let mut found = Vec::new();
    for part in v.split(',').map(str::trim) {
        let addr: std::net::SocketAddr =
            part.parse().map_err(|_| format!("'{part}' is not an address like 127.0.0.1:8000"))?;
        // The same address twice is bound once; port 0 asks for a new free port each time.
        if addr.port() == 0 || !found.contains(&addr) {
            found.push(addr);
        }
    }
    Ok(found)
}
