//! The binary as operators run it: flags, settings, subcommands, the start line, shutdown.

use std::{
    io::{BufRead, BufReader, Write},
    process::{Command, Stdio},
    time::Duration,
};

use reqwest::StatusCode;
use serde_json::json;

const BIN: &str = env!("CARGO_BIN_EXE_userd");

/// The binary with only `PATH` and the given data dir from the environment, logging at `warn`.
pub(crate) fn userd(dir: &std::path::Path) -> Command {
    let mut c = Command::new(BIN);
    c.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("USERD_DATA_DIR", dir)
        .env("USERD_LOG", "warn");
    c
}

#[test]
fn version_and_help_print_and_exit_zero() {
    let out = Command::new(BIN).arg("--version").output().expect("run");
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("userd "));
    let out = Command::new(BIN).arg("--help").output().expect("run");
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    for cmd in ["serve", "migrate", "create-admin", "keys"] {
        assert!(help.contains(cmd), "{cmd} in help");
    }
}

#[test]
fn a_bad_setting_stops_the_start_with_one_line_naming_it() {
    let dir = tempfile::tempdir().expect("dir");
    let cases = [
        ("USERD_ACCESS_TTL", "soon"),
        ("USERD_JWT_ALG", "RS256"),
        ("USERD_BIND", "everywhere"),
        ("USERD_DATABASE_URL", "mysql://x"),
        ("USERD_REFRESH_TTL", "100000000d"),
        ("USERD_ACCESS_TTL", "99999999999999999999s"),
        ("USERD_SECRET_KEY_FILE", "/nonexistent/userd-secret-key"),
        ("USERD_LOG_FORMAT", "xml"),
        ("USERD_DATABASE_URL", "postgres://u:p@host:notaport/db"),
    ];
    for (var, value) in cases {
        let out = userd(dir.path()).env(var, value).output().expect("run");
        assert_eq!(out.status.code(), Some(2), "{var}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
        assert!(err.contains(var), "{err}");
        assert!(!err.contains("panicked"), "{err}");
    }
}

#[test]
fn an_out_of_range_lifetime_stops_the_start_with_the_allowed_range() {
    let dir = tempfile::tempdir().expect("dir");
    let out = userd(dir.path()).env("USERD_REFRESH_TTL", "100000000d").output().expect("run");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
    assert!(err.contains("USERD_REFRESH_TTL") && err.contains("between 1s and 365d"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn the_secret_key_can_be_kept_in_a_file_and_a_missing_file_is_named() {
    let dir = tempfile::tempdir().expect("dir");
    let secrets = tempfile::tempdir().expect("secrets dir");
    let key = "0123456789abcdefghij0123456789abcdefghij";
    let key_file = secrets.path().join("userd-secret-key");
    std::fs::write(&key_file, format!("{key}\n")).expect("write");

    let out = userd(dir.path()).env("USERD_SECRET_KEY_FILE", &key_file).arg("migrate").output().expect("run");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let out = userd(dir.path()).env("USERD_SECRET_KEY_FILE", &key_file).args(["keys", "rotate"]).output().expect("run");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(!dir.path().join("secret.key").exists(), "the file's key is used, none is generated");
    // The signing keys were sealed with the file's contents minus the newline: the bare value opens them.
    let out = userd(dir.path()).env("USERD_SECRET_KEY", key).args(["keys", "rotate"]).output().expect("run");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));

    let missing = secrets.path().join("missing");
    let out = userd(dir.path()).env("USERD_SECRET_KEY_FILE", &missing).arg("migrate").output().expect("run");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
    assert!(err.contains("USERD_SECRET_KEY_FILE"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn migrate_applies_migrations_and_exits() {
    let dir = tempfile::tempdir().expect("dir");
    let out = userd(dir.path()).arg("migrate").output().expect("run");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(dir.path().join("userd.db").exists());
    let again = userd(dir.path()).arg("migrate").output().expect("run");
    assert!(again.status.success(), "idempotent");
}

fn start(dir: &std::path::Path) -> (std::process::Child, String) {
    let (child, mut urls) = start_with(dir, &[], 1);
    (child, urls.remove(0))
}

/// Starts `userd serve` with `env` added and waits for its `listening on` lines, one per
/// address it binds (`listeners`); returns the process and the URLs in the order printed.
pub(crate) fn start_with(
    dir: &std::path::Path,
    env: &[(&str, &str)],
    listeners: usize,
) -> (std::process::Child, Vec<String>) {
    let mut command = userd(dir);
    command.env("USERD_BIND", "127.0.0.1:0").env("USERD_LOG", "info").env("USERD_RATE_LIMIT", "off");
    for (k, v) in env {
        command.env(k, v);
    }
    let mut child = command.stderr(Stdio::piped()).spawn().expect("spawn");
    let stderr = child.stderr.take().expect("stderr");
    // Lines are read on a thread that keeps draining them, so the child never blocks on a
    // full pipe and a child that never prints its lines fails the test instead of hanging it.
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Some(rest) = line.split("listening on ").nth(1) {
                let _ = tx.send(rest.trim().to_string());
            }
        }
    });
    let mut urls = Vec::new();
    while urls.len() < listeners {
        match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(url) => urls.push(url),
            Err(e) => {
                let _ = child.kill();
                panic!("userd printed {} of {listeners} `listening on` lines: {e}", urls.len());
            }
        }
    }
    (child, urls)
}

/// `n` userd processes serving one PostgreSQL database, as nodes behind a load balancer
/// are: each with its own data directory, all with the same secret key and `env`. They are
/// stopped (SIGTERM) when this is dropped.
pub(crate) struct Nodes {
    pub urls: Vec<String>,
    pub dirs: Vec<tempfile::TempDir>,
    children: Vec<std::process::Child>,
}

impl Nodes {
    pub(crate) fn start(database_url: &str, n: usize, env: &[(&str, &str)]) -> Nodes {
        let mut all = vec![
            ("USERD_DATABASE_URL", database_url),
            ("USERD_SECRET_KEY", "a-secret-key-every-node-of-the-test-shares-0123456789"),
        ];
        all.extend_from_slice(env);
        let dirs: Vec<tempfile::TempDir> = (0..n).map(|_| tempfile::tempdir().expect("dir")).collect();
        let (children, urls) = dirs
            .iter()
            .map(|dir| {
                let (child, mut urls) = start_with(dir.path(), &all, 1);
                (child, urls.remove(0))
            })
            .unzip();
        Nodes { urls, dirs, children }
    }
}

impl Drop for Nodes {
    fn drop(&mut self) {
        for child in &mut self.children {
            sigterm(child);
            let _ = child.wait();
        }
    }
}

#[tokio::test]
async fn serve_listens_on_every_address_of_userd_bind() {
    let dir = tempfile::tempdir().expect("dir");
    let (mut child, urls) = start_with(dir.path(), &[("USERD_BIND", "127.0.0.1:0,127.0.0.1:0")], 2);
    assert_ne!(urls[0], urls[1], "two addresses, one line each");
    for url in &urls {
        let res = reqwest::get(format!("{url}/healthz")).await.expect("request");
        assert_eq!(res.status(), StatusCode::OK, "{url}");
    }
    // One application: a user registered on one address logs in on the other.
    let client = reqwest::Client::new();
    let body =
        json!({"email": "both@example.com", "password": "securepassword123", "confirm_password": "securepassword123"});
    let res = client.post(format!("{}/api/users/register/", urls[0])).json(&body).send().await.expect("register");
    assert_eq!(res.status(), StatusCode::CREATED);
    let res = client
        .post(format!("{}/api/user/login/", urls[1]))
        .json(&json!({"email": "both@example.com", "password": "securepassword123"}))
        .send()
        .await
        .expect("login");
    assert_eq!(res.status(), StatusCode::OK);
    sigterm(&child);
    let status = child.wait().expect("wait");
    assert!(status.success(), "exit 0 after SIGTERM: {status:?}");
}

pub(crate) fn sigterm(child: &std::process::Child) {
    let _ = Command::new("kill").arg("-TERM").arg(child.id().to_string()).status();
}

#[tokio::test]
async fn serve_prints_its_address_and_exits_zero_on_sigterm() {
    let dir = tempfile::tempdir().expect("dir");
    let (mut child, url) = start(dir.path());
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    let res = reqwest::get(format!("{url}/healthz")).await.expect("request");
    assert_eq!(res.status(), StatusCode::OK);
    sigterm(&child);
    let status = tokio::task::spawn_blocking(move || child.wait()).await.expect("join").expect("wait");
    assert_eq!(status.code(), Some(0));
}

#[tokio::test]
async fn create_admin_creates_then_promotes_and_resets_the_password() {
    let dir = tempfile::tempdir().expect("dir");
    let run = |password: &str| {
        let mut child = userd(dir.path())
            .args(["create-admin", "--email", "admin@example.com"])
            .stdin(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn");
        child.stdin.take().expect("stdin").write_all(format!("{password}\n").as_bytes()).expect("write");
        child.wait_with_output().expect("wait")
    };
    let out = run("first-admin-password");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let out = run("second-admin-password");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let weak = run("password");
    assert!(!weak.status.success(), "weak passwords are refused");
    let similar = run("admin@example.com");
    assert!(!similar.status.success(), "a password like the e-mail is refused");
    let stderr = String::from_utf8_lossy(&similar.stderr);
    assert!(stderr.contains("password: The password is too similar to the email address."), "{stderr}");

    let (mut child, url) = start(dir.path());
    let client = reqwest::Client::new();
    let login = |pw: &'static str| {
        client
            .post(format!("{url}/api/users/login/"))
            .json(&json!({"email": "admin@example.com", "password": pw}))
            .send()
    };
    assert_eq!(login("second-admin-password").await.expect("send").status(), StatusCode::OK);
    assert_eq!(login("first-admin-password").await.expect("send").status(), StatusCode::UNAUTHORIZED);
    sigterm(&child);
    let _ = tokio::task::spawn_blocking(move || child.wait()).await;
}

#[tokio::test]
async fn keys_rotate_adds_a_key_and_old_tokens_keep_working() {
    let dir = tempfile::tempdir().expect("dir");
    let (mut child, url) = start(dir.path());
    let client = reqwest::Client::new();
    let reg = client
        .post(format!("{url}/api/users/register/"))
        .json(&json!({"email": "u@example.com", "password": "securepassword123", "confirm_password": "securepassword123"}))
        .send()
        .await
        .expect("send");
    assert_eq!(reg.status(), StatusCode::CREATED);
    let body: serde_json::Value = reg.json().await.expect("json");
    let old_access = body["data"]["tokens"]["access"].as_str().expect("access").to_string();

    let out = userd(dir.path()).args(["keys", "rotate"]).output().expect("run");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));

    // Old tokens still verify on the running node.
    let res = client.get(format!("{url}/api/users/profile/")).bearer_auth(&old_access).send().await.expect("send");
    assert_eq!(res.status(), StatusCode::OK);
    sigterm(&child);
    let _ = tokio::task::spawn_blocking(move || child.wait()).await;

    // A restarted node signs with the new key and publishes both.
    let (mut child, url) = start(dir.path());
    let jwks: serde_json::Value =
        reqwest::get(format!("{url}/.well-known/jwks.json")).await.expect("get").json().await.expect("json");
    assert_eq!(jwks["keys"].as_array().map(Vec::len), Some(2));
    let res = client.get(format!("{url}/api/users/profile/")).bearer_auth(&old_access).send().await.expect("send");
    assert_eq!(res.status(), StatusCode::OK, "tokens of the old key keep verifying");
    let login: serde_json::Value = client
        .post(format!("{url}/api/users/login/"))
        .json(&json!({"email": "u@example.com", "password": "securepassword123"}))
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    let new_access = login["data"]["tokens"]["access"].as_str().expect("access");
    assert_ne!(new_access.split('.').next(), old_access.split('.').next(), "signed with the new kid");
    sigterm(&child);
    let _ = tokio::task::spawn_blocking(move || child.wait()).await;
    let _ = Duration::from_secs(0);
}
