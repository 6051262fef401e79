//! `userd import django` end to end: a real Django project (tests/django/make_project.py)
//! makes users with each hasher Django ships, a DRF token, an allauth identity and simplejwt
//! tokens; userd imports them on SQLite and on PostgreSQL, and everyone logs in through
//! documents 002, 003 and 004 with the same password, with the old hash replaced.

use std::{io::Write, path::Path, process::Command};

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::{
    cli::userd,
    helpers::{Backend, TestApp, TestDb, json_of},
};

/// The Django project's facts, or `None` (with a notice) when Django or a hasher's library
/// is not installed locally; under `CI=true` their absence fails the test.
fn django_project(dir: &Path) -> Option<Value> {
    let probe = Command::new("python3")
        .args(["-c", "import django, argon2, bcrypt, rest_framework, rest_framework_simplejwt"])
        .output();
    if !probe.is_ok_and(|o| o.status.success()) {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("CI=true but Django, argon2-cffi, bcrypt or djangorestframework-simplejwt is missing");
        }
        let _ = writeln!(
            std::io::stderr(),
            "NOTICE: Django (or argon2-cffi, bcrypt, djangorestframework-simplejwt) is not installed: \
             the Django import test is skipped"
        );
        return None;
    }
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/django/make_project.py");
    let out = Command::new("python3").arg(script).arg(dir).output().expect("python3 runs");
    assert!(out.status.success(), "make_project.py: {}", String::from_utf8_lossy(&out.stderr));
    Some(serde_json::from_slice(&out.stdout).expect("the project's facts as JSON"))
}

/// `userd import django` into `db`, with its data dir (and generated secret) in `db.dir`.
fn import(db: &TestDb, django: &Value, extra: &[&str]) -> (String, String) {
    let out = userd(db.dir.path())
        .env("USERD_DATABASE_URL", &db.url)
        .args(["import", "django", "--from", django["database"].as_str().expect("database")])
        .args(extra)
        .output()
        .expect("run");
    let (stdout, stderr) =
        (String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned());
    assert!(out.status.success(), "import failed: {stdout} {stderr}");
    (stdout, stderr)
}

async fn login(app: &TestApp, surface: usize, user: &Value, password: &str) -> StatusCode {
    let (email, username) = (user["email"].as_str().expect("email"), user["username"].as_str().expect("username"));
    let (path, body) = match surface {
        0 => ("/api/users/login/", json!({"email": email, "password": password})),
        1 => ("/careers/users/login/", json!({"username": username, "password": password})),
        _ => ("/api/user/login/", json!({"email": email, "password": password})),
    };
    app.post_json(path, &body, None).await.status()
}

async fn stored_hash_is_argon2id(db: &TestDb, username: &str) -> bool {
    db.count(&format!("SELECT COUNT(*) FROM users WHERE username = '{username}' AND password_hash LIKE '$argon2id$%'"))
        .await
        == 1
}

async fn imported_users_log_in_everywhere_with_their_django_passwords_and_tokens(backend: Backend) {
    let project = tempfile::tempdir().expect("dir");
    let Some(django) = django_project(project.path()) else { return };
    let Some(db) = TestDb::new(backend).await else { return };
    let secret = django["secret_file"].as_str().expect("secret file").to_string();
    let (stdout, stderr) = import(&db, &django, &["--simplejwt-secret-file", &secret]);
    assert!(stdout.contains("imported 7, skipped 1 (1 invalid e-mail)"), "{stdout}");
    assert!(stderr.contains("bad email") && stderr.contains("invalid e-mail"), "the skipped row is named: {stderr}");
    // Idempotent: a second run imports nobody and says why.
    let (stdout, _) = import(&db, &django, &[]);
    assert!(stdout.contains("imported 0, skipped 8 (7 already imported, 1 invalid e-mail)"), "{stdout}");
    assert_eq!(db.count("SELECT COUNT(*) FROM users").await, 7);

    let app = TestApp::spawn_on(db, &[]).await;
    let password = django["password"].as_str().expect("password");
    let users = django["users"].as_array().expect("users");
    assert_eq!(users.len(), 6, "one user per hasher");
    // A wrong password fails against a legacy hash, and leaves it as it is.
    assert_eq!(login(&app, 0, &users[0], "not the password").await, StatusCode::UNAUTHORIZED);
    assert!(!stored_hash_is_argon2id(&app.db, "pbkdf2_sha256_user").await);
    for (i, user) in users.iter().enumerate() {
        let name = user["username"].as_str().expect("username");
        let hasher = user["hasher"].as_str().expect("hasher");
        assert!(!stored_hash_is_argon2id(&app.db, name).await, "{hasher}: imported as it was");
        // The first login, on the legacy hash, goes through each document in turn.
        assert_eq!(login(&app, i % 3, user, password).await, StatusCode::OK, "{hasher}: first login");
        assert!(stored_hash_is_argon2id(&app.db, name).await, "{hasher}: re-hashed with argon2id");
        for surface in 0..3 {
            assert_eq!(login(&app, surface, user, password).await, StatusCode::OK, "{hasher}: document {surface}");
        }
        // Document 003 answers a wrong password with 400, the others with 401.
        let wrong = login(&app, (i + 1) % 3, user, "not the password").await;
        assert!(matches!(wrong, StatusCode::UNAUTHORIZED | StatusCode::BAD_REQUEST), "{hasher}: {wrong}");
    }
    let unusable = &django["unusable"];
    assert_eq!(login(&app, 0, unusable, "").await, StatusCode::BAD_REQUEST);
    assert_eq!(login(&app, 0, unusable, password).await, StatusCode::UNAUTHORIZED, "an unusable password stays so");

    // The DRF key is the user's personal API token, in DRF's scheme and as a bearer token.
    let key = django["token_key"].as_str().expect("key");
    for scheme in ["Token", "Bearer"] {
        let res = app
            .client
            .get(app.url("/api/users/profile/"))
            .header("authorization", format!("{scheme} {key}"))
            .send()
            .await
            .expect("send");
        let body = json_of(res, StatusCode::OK).await;
        assert_eq!(body["data"]["email"], "pbkdf2_sha256@example.com", "{scheme}");
    }
    // The allauth account is a linked Google identity.
    let body = json_of(app.get("/api/users/identities/", Some(key)).await, StatusCode::OK).await;
    assert!(body.to_string().contains("google"), "{body}");

    // simplejwt's access token works as it is; its refresh token gives userd's own access
    // token; the blacklisted one is refused.
    let access = django["access"].as_str().expect("access");
    let body = json_of(app.get("/api/users/profile/", Some(access)).await, StatusCode::OK).await;
    assert_eq!(body["data"]["email"], "pbkdf2_sha256@example.com");
    let res = app.post_json("/api/users/refresh-token/", &json!({"refresh": django["refresh"]}), None).await;
    let body = json_of(res, StatusCode::OK).await;
    let fresh = body["access"].as_str().expect("a new access token");
    assert!(!userd::domain::sessions::legacy::is_legacy(fresh), "userd's own token");
    assert_eq!(app.get("/api/users/profile/", Some(fresh)).await.status(), StatusCode::OK);
    let res =
        app.post_json("/api/users/refresh-token/", &json!({"refresh": django["blacklisted_refresh"]}), None).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "a blacklisted refresh token");
    // Logging out with the legacy refresh token ends it.
    let res = app.post_json("/api/users/logout/", &json!({"refresh": django["refresh"]}), Some(fresh)).await;
    assert_eq!(res.status(), StatusCode::OK);
    let res = app.post_json("/api/users/refresh-token/", &json!({"refresh": django["refresh"]}), None).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "logged out");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn imported_django_users_log_in_on_sqlite() {
    imported_users_log_in_everywhere_with_their_django_passwords_and_tokens(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn imported_django_users_log_in_on_postgres() {
    imported_users_log_in_everywhere_with_their_django_passwords_and_tokens(Backend::Postgres).await;
}
