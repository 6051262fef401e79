//! The settings, variable by variable: defaults, bounds, files, redaction.

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
    assert_eq!(c.bind, vec!["127.0.0.1:8000".parse().expect("address")]);
    assert_eq!(c.database_url, "sqlite://./data/userd.db");
    assert_eq!(c.access_ttl, Duration::from_secs(3600));
    assert_eq!(c.refresh_ttl, Duration::from_secs(7 * 86400));
    assert_eq!(c.jwt_alg, JwtAlg::EdDsa);
    assert!(c.rate_limit);
    assert_eq!(c.max_upload_bytes, 26_214_400);
    assert!(c.trusted_proxies.is_empty(), "proxy headers ignored unless asked for");
    assert_eq!(c.max_connections_per_client, 128);
    assert_eq!(c.db_pool, None);
}

#[test]
fn the_pool_proxies_and_limits_are_read() {
    let c = from(&[
        ("USERD_DB_POOL", "8"),
        ("USERD_TRUSTED_PROXIES", "10.0.0.0/8, 192.0.2.7 ,::1"),
        ("USERD_THROTTLE_LOGIN_ADDRESS", "3/2m"),
    ])
    .expect("valid");
    assert_eq!(c.db_pool, Some(8));
    assert_eq!(c.trusted_proxies.len(), 3);
    assert_eq!(c.throttle.login_address.hits, 3);
    assert_eq!(c.throttle.login_address.window, Duration::from_secs(120));
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
        ("USERD_GOOGLE_JWKS_URL", "www.googleapis.com/oauth2/v3/certs"),
        ("USERD_GITHUB_OAUTH_URL", "github.com"),
        ("USERD_GITHUB_API_URL", "ftp://api.github.com"),
        ("USERD_GITHUB_CLIENT_SECRET", "only the secret"),
        ("USERD_LOG", "[[["),
        ("USERD_LOG_FORMAT", "xml"),
        ("USERD_TRUSTED_PROXIES", "10.0.0.0/33"),
        ("USERD_TRUSTED_PROXIES", "proxy.internal"),
        ("USERD_MAX_CONNECTIONS_PER_CLIENT", "0"),
        ("USERD_DB_POOL", "0"),
        ("USERD_DB_POOL", "many"),
        ("USERD_THROTTLE_LOGIN_ADDRESS", "10"),
        ("USERD_THROTTLE_REGISTER", "0/1h"),
    ];
    for (var, value) in cases {
        let err = from(&[(var, value)]).expect_err(var);
        assert_eq!(err.var, var, "{value} should be refused by {var}");
        assert!(err.to_string().starts_with(var));
    }
}

#[test]
fn the_log_format_is_text_unless_json_is_asked_for() {
    assert_eq!(from(&[]).expect("default").log_format, LogFormat::Text);
    assert_eq!(from(&[("USERD_LOG_FORMAT", "text")]).expect("text").log_format, LogFormat::Text);
    assert_eq!(from(&[("USERD_LOG_FORMAT", "json")]).expect("json").log_format, LogFormat::Json);
    let err = from(&[("USERD_LOG_FORMAT", "JSONL")]).expect_err("unknown format");
    assert_eq!(err.to_string(), "USERD_LOG_FORMAT: 'JSONL' is not text or json");
}

#[test]
fn a_database_url_the_store_could_not_read_is_refused_without_quoting_it() {
    for url in ["postgres://u:hunter2@h:notaport/db", "sqlite://data/userd.db?mode=sometimes"] {
        let err = from(&[("USERD_DATABASE_URL", url)]).expect_err(url);
        assert_eq!(err.var, "USERD_DATABASE_URL");
        assert!(err.to_string().contains("not a valid database URL"), "{err}");
        assert!(!err.to_string().contains("hunter2"), "the password is not quoted: {err}");
    }
    from(&[("USERD_DATABASE_URL", "postgres://u:p@db.example.com:5433/userd?sslmode=require")]).expect("valid");
}

#[test]
fn a_bad_flag_is_named_as_the_flag_not_as_its_variable() {
    // The flag overrides the variable, so whatever the environment holds, the flag's value is read.
    let err = Config::from_env(Some("nonsense".into()), None).expect_err("not an address");
    assert_eq!(err.var, "--bind");
    assert!(err.to_string().starts_with("--bind: 'nonsense'"), "{err}");
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
        (&[("USERD_ACCESS_TTL", "99999999999999999999s")], Err(("USERD_ACCESS_TTL", "out of range")), "overflows u64"),
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
    let unread = "USERD_REDIS_URL";
    assert!(!KNOWN_VARS.contains(&unread), "{unread} is not read, so it must earn the warning");
}

#[test]
fn debug_output_hides_the_database_password_and_the_secrets() {
    let config = from(&[
        ("USERD_DATABASE_URL", "postgres://u:hunter2pass@h/db"),
        ("USERD_SECRET_KEY", KEY),
        ("USERD_STRIPE_SECRET_KEY", "sk_test_hunter2stripe"),
        ("USERD_STRIPE_WEBHOOK_SECRET", "whsec_hunter2hook"),
        ("USERD_GITHUB_CLIENT_ID", "Iv1.0123456789abcdef"),
        ("USERD_GITHUB_CLIENT_SECRET", "hunter2github"),
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

#[test]
fn bind_takes_several_addresses_in_order() {
    let c = from(&[("USERD_BIND", "127.0.0.1:8000, 127.0.0.1:8010,127.0.0.1:8000")]).expect("valid");
    let expected: Vec<std::net::SocketAddr> =
        ["127.0.0.1:8000", "127.0.0.1:8010"].iter().map(|a| a.parse().expect("address")).collect();
    assert_eq!(c.bind, expected, "in order, each once");
    let c = from(&[("USERD_BIND", "127.0.0.1:0,127.0.0.1:0")]).expect("valid");
    assert_eq!(c.bind.len(), 2, "port 0 twice is two free ports");
    let err = from(&[("USERD_BIND", "127.0.0.1:8000,nonsense")]).expect_err("one is not an address");
    assert_eq!(err.var, "USERD_BIND");
    assert!(err.to_string().contains("'nonsense'"), "{err}");
}

#[test]
fn google_and_github_sign_in_follow_the_contract() {
    use secrecy::ExposeSecret;

    let c = from(&[]).expect("defaults");
    assert_eq!(c.social.google_client_id, None, "Google login is off until a client id is set");
    assert_eq!(c.social.google_jwks_url, "https://www.googleapis.com/oauth2/v3/certs");
    assert!(c.social.github_client_id.is_none() && c.social.github_client_secret.is_none());
    assert_eq!(c.social.github_oauth_url, "https://github.com");
    assert_eq!(c.social.github_api_url, "https://api.github.com");

    let dir = tempfile::tempdir().expect("dir");
    let secret_file = dir.path().join("github-secret");
    std::fs::write(&secret_file, "s3cr3t-from-file\n").expect("write");
    let secret_file = secret_file.to_string_lossy().into_owned();
    let c = from(&[
        ("USERD_GOOGLE_CLIENT_ID", "123.apps.googleusercontent.com"),
        ("USERD_GOOGLE_JWKS_URL", "http://127.0.0.1:9/certs/"),
        ("USERD_GITHUB_CLIENT_ID", "Iv1.abc"),
        ("USERD_GITHUB_CLIENT_SECRET_FILE", &secret_file),
        ("USERD_GITHUB_OAUTH_URL", "http://127.0.0.1:9"),
        ("USERD_GITHUB_API_URL", "http://127.0.0.1:9/api/"),
    ])
    .expect("valid");
    assert_eq!(c.social.google_client_id.as_deref(), Some("123.apps.googleusercontent.com"));
    assert_eq!(c.social.google_jwks_url, "http://127.0.0.1:9/certs");
    assert_eq!(c.social.github_client_secret.as_ref().map(|s| s.expose_secret()), Some("s3cr3t-from-file"));
    assert_eq!(c.social.github_api_url, "http://127.0.0.1:9/api");

    let cases: &[(Settings, &str, &str)] = &[
        (&[("USERD_GITHUB_CLIENT_ID", "Iv1.abc")], "USERD_GITHUB_CLIENT_SECRET", "an id without its secret"),
        (&[("USERD_GITHUB_CLIENT_SECRET", "hunter2")], "USERD_GITHUB_CLIENT_SECRET", "a secret without its id"),
        (
            &[("USERD_GITHUB_CLIENT_SECRET_FILE", &secret_file)],
            "USERD_GITHUB_CLIENT_SECRET_FILE",
            "a file without the id",
        ),
        (
            &[
                ("USERD_GITHUB_CLIENT_ID", "Iv1.abc"),
                ("USERD_GITHUB_CLIENT_SECRET", "hunter2"),
                ("USERD_GITHUB_CLIENT_SECRET_FILE", &secret_file),
            ],
            "USERD_GITHUB_CLIENT_SECRET_FILE",
            "both the secret and its file",
        ),
    ];
    for (settings, var, why) in cases {
        let err = from(settings).expect_err(why);
        assert_eq!(err.var, *var, "{why}: {err}");
        assert!(!err.to_string().contains("hunter2") && !err.to_string().contains("s3cr3t"), "{why}: {err}");
    }
}

#[test]
fn mail_settings_are_checked_and_the_smtp_password_is_hidden() {
    let config = from(&[("USERD_SMTP_URL", "smtp://mailer:hunter2@mail.example.com:587")]).expect("valid");
    assert!(!format!("{config:?}").contains("hunter2"), "{config:?}");
    assert_eq!(config.event_retention, Duration::from_secs(90 * 86_400));
    for (settings, var) in [
        (&[("USERD_SMTP_URL", "http://mail.example.com")][..], "USERD_SMTP_URL"),
        (&[("USERD_MAIL_FROM", "not an address")][..], "USERD_MAIL_FROM"),
        (&[("USERD_EVENT_RETENTION", "forever")][..], "USERD_EVENT_RETENTION"),
    ] {
        assert_eq!(from(settings).expect_err(var).var, var);
    }
    let config =
        from(&[("USERD_EVENT_RETENTION", "30d"), ("USERD_MAIL_FROM", "Acme <no-reply@acme.test>")]).expect("valid");
    assert_eq!(config.event_retention, Duration::from_secs(30 * 86_400));
}
