//! `TestApp`: a real userd on 127.0.0.1:0 with a fresh database (SQLite in a temp dir, or a
//! new PostgreSQL database dropped afterwards), and typed helpers to talk to it.

use std::{
    collections::HashMap,
    io::Write,
    sync::{
        Arc, Once,
        atomic::{AtomicU64, Ordering},
    },
};

use reqwest::{Client, Response, StatusCode};
use serde_json::{Value, json};
use sqlx::{Connection, PgConnection, SqliteConnection};
use tempfile::TempDir;
use tokio::sync::oneshot;
use userd::{Application, config::Config, domain::clock::ManualClock};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Runs one test body against SQLite and, when `USERD_TEST_POSTGRES_URL` is set, PostgreSQL.
/// `env = [("USERD_X", "v")]` adds settings for that test.
#[macro_export]
macro_rules! both_backends {
    ($(#[$meta:meta])* async fn $name:ident($app:ident) $(env = $env:expr;)? $body:block) => {
        $(#[$meta])*
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            async fn case($app: $crate::helpers::TestApp) $body
            fn env() -> Vec<(&'static str, &'static str)> {
                #[allow(unused_mut)]
                let mut v: Vec<(&'static str, &'static str)> = Vec::new();
                $(v.extend($env);)?
                v
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let app = $crate::helpers::TestApp::spawn_with($crate::helpers::Backend::Sqlite, &env()).await;
                case(app.expect("SQLite is always available")).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                if let Some(app) = $crate::helpers::TestApp::spawn_with($crate::helpers::Backend::Postgres, &env()).await {
                    case(app).await
                }
            }
        }
    };
}

pub const PASSWORD: &str = "securepassword123";

/// The PostgreSQL server the suite may use. Locally its absence skips that half with a
/// notice; in CI (`CI=true`) it fails the run, so the half cannot be lost unnoticed.
pub fn postgres_url() -> Option<String> {
    static NOTICE: Once = Once::new();
    let url = std::env::var("USERD_TEST_POSTGRES_URL").ok().filter(|u| !u.is_empty());
    if url.is_none() && std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("CI=true but USERD_TEST_POSTGRES_URL is not set: the PostgreSQL half of the suite must run in CI");
    }
    if url.is_none() {
        NOTICE.call_once(|| {
            // Written to the real stderr so the notice shows even though test output is captured.
            let _ = writeln!(
                std::io::stderr(),
                "NOTICE: USERD_TEST_POSTGRES_URL is not set: the PostgreSQL half of the suite is skipped"
            );
        });
    }
    url
}

/// `url` naming database `db` instead of its own.
pub fn with_database(url: &str, db: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let base = match base.rsplit_once('/') {
        Some((prefix, _)) if prefix.contains("//") && prefix.len() > "postgres://".len() => prefix.to_string(),
        _ => base.to_string(),
    };
    match query {
        Some(q) => format!("{base}/{db}?{q}"),
        None => format!("{base}/{db}"),
    }
}

/// A fresh, empty database: SQLite in a temp dir, or a new PostgreSQL database dropped
/// with this value.
pub struct TestDb {
    pub url: String,
    pub backend: Backend,
    pub dir: TempDir,
    pg: Option<(String, String)>,
}

static COUNTER: AtomicU64 = AtomicU64::new(0);

impl TestDb {
    /// `None` for PostgreSQL when it is not configured.
    pub async fn new(backend: Backend) -> Option<TestDb> {
        let dir = tempfile::tempdir().expect("temp dir");
        let (url, pg) = match backend {
            Backend::Sqlite => (format!("sqlite://{}/userd.db", dir.path().display()), None),
            Backend::Postgres => {
                let admin = postgres_url()?;
                let name = format!(
                    "userd_test_{}_{}_{}",
                    std::process::id(),
                    COUNTER.fetch_add(1, Ordering::SeqCst),
                    jiff::Timestamp::now().as_microsecond() % 1_000_000
                );
                let mut conn = PgConnection::connect(&admin).await.expect("connect to USERD_TEST_POSTGRES_URL");
                sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE \"{name}\"")))
                    .execute(&mut conn)
                    .await
                    .expect("create test database");
                (with_database(&admin, &name), Some((admin, name)))
            }
        };
        Some(TestDb { url, backend, dir, pg })
    }

    /// Runs SQL on the database behind the application's back (to set up a failure, or
    /// to look at what was stored).
    pub async fn execute(&self, sql: &str) {
        match self.backend {
            Backend::Sqlite => {
                let mut c = SqliteConnection::connect(&self.url).await.expect("connect");
                sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_string())).execute(&mut c).await.expect(sql);
            }
            Backend::Postgres => {
                let mut c = PgConnection::connect(&self.url).await.expect("connect");
                sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_string())).execute(&mut c).await.expect(sql);
            }
        }
    }

    /// The first column of the first row of a query returning one integer.
    pub async fn count(&self, sql: &str) -> i64 {
        let sql = sqlx::AssertSqlSafe(sql.to_string());
        match self.backend {
            Backend::Sqlite => {
                let mut c = SqliteConnection::connect(&self.url).await.expect("connect");
                sqlx::query_scalar(sql).fetch_one(&mut c).await.expect("count")
            }
            Backend::Postgres => {
                let mut c = PgConnection::connect(&self.url).await.expect("connect");
                sqlx::query_scalar(sql).fetch_one(&mut c).await.expect("count")
            }
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some((admin, name)) = self.pg.take() {
            // Drop runs outside async context guarantees: use a thread with its own runtime.
            let _ = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
                rt.block_on(async move {
                    if let Ok(mut conn) = PgConnection::connect(&admin).await {
                        let _ = sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
                            "DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"
                        )))
                        .execute(&mut conn)
                        .await;
                    }
                });
            })
            .join();
        }
    }
}

pub struct TestApp {
    pub address: String,
    pub client: Client,
    pub data_dir: std::path::PathBuf,
    pub database_url: String,
    /// The application's clock: `advance` it instead of sleeping.
    pub clock: Arc<ManualClock>,
    shutdown: Option<oneshot::Sender<()>>,
    // Last: the database goes after the application has stopped.
    pub db: TestDb,
}

impl TestApp {
    /// `None` for PostgreSQL when it is not configured.
    pub async fn spawn_with(backend: Backend, env: &[(&str, &str)]) -> Option<TestApp> {
        let db = TestDb::new(backend).await?;
        Some(Self::spawn_on(db, env).await)
    }

    /// Starts userd on a database that already holds data (an import's or a copy's), with
    /// its data dir (and so its generated secret key) in `db.dir`.
    pub async fn spawn_on(db: TestDb, env: &[(&str, &str)]) -> TestApp {
        let mut vars: HashMap<String, String> = HashMap::from([
            ("USERD_BIND".into(), "127.0.0.1:0".into()),
            ("USERD_DATA_DIR".into(), db.dir.path().display().to_string()),
            ("USERD_DATABASE_URL".into(), db.url.clone()),
            ("USERD_RATE_LIMIT".into(), "off".into()),
            ("USERD_LOG".into(), "warn".into()),
        ]);
        for (k, v) in env {
            vars.insert((*k).into(), (*v).into());
        }
        let config = Config::from_lookup(|k| vars.get(k).cloned()).expect("valid test config");
        let clock = ManualClock::new();
        let app = Application::build_with_clock(config, clock.clone()).await.expect("application starts");
        let address = format!("http://{}", app.local_addr());
        let (tx, rx) = oneshot::channel::<()>();
        tokio::spawn(app.run_until(async move {
            let _ = rx.await;
        }));
        TestApp {
            address,
            client: Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client"),
            data_dir: db.dir.path().to_path_buf(),
            database_url: db.url.clone(),
            clock,
            shutdown: Some(tx),
            db,
        }
    }

    /// Moves the clock to the start of the next 5-minute boundary, where every throttling
    /// window of 1 or 5 minutes starts afresh: a test that counts attempts then has a whole
    /// window of real time before one ends mid-test (windows are fixed, aligned to the epoch).
    pub fn fresh_throttle_windows(&self) {
        const WINDOW: i64 = 300_000_000;
        let now = userd::domain::clock::Clock::now(&*self.clock).as_microsecond();
        let ahead = WINDOW - now.rem_euclid(WINDOW);
        self.clock.advance(std::time::Duration::from_micros(ahead.unsigned_abs()));
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    /// After a change made straight in the database, as an operator might: a SQLite node
    /// sees it on its next request, a PostgreSQL node once its notification feed brings it
    /// (asynchronously, within milliseconds). Waits up to 2 s for `path` to answer `want`.
    pub async fn until_status(&self, path: &str, token: Option<&str>, want: StatusCode) {
        for _ in 0..100 {
            if self.get(path, token).await.status() == want {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        panic!("GET {path} never answered {want}");
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> Response {
        let mut req = self.client.get(self.url(path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        req.send().await.expect("request")
    }

    pub async fn post_json(&self, path: &str, body: &Value, token: Option<&str>) -> Response {
        let mut req = self.client.post(self.url(path)).json(body);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        req.send().await.expect("request")
    }

    /// Registers through document 002 and returns the response body.
    pub async fn register(&self, email: &str) -> Value {
        let res = self
            .post_json(
                "/api/users/register/",
                &json!({"email": email, "password": PASSWORD, "confirm_password": PASSWORD,
                        "company_name": "My Company", "first_name": "John", "last_name": "Doe"}),
                None,
            )
            .await;
        assert_eq!(res.status(), StatusCode::CREATED, "registration of {email}");
        res.json().await.expect("json")
    }

    /// Registers and returns `(access, refresh)`.
    pub async fn register_tokens(&self, email: &str) -> (String, String) {
        let body = self.register(email).await;
        let t = &body["data"]["tokens"];
        (t["access"].as_str().expect("access").into(), t["refresh"].as_str().expect("refresh").into())
    }

    pub async fn login(&self, email: &str, password: &str) -> Response {
        self.post_json("/api/users/login/", &json!({"email": email, "password": password}), None).await
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// The body as JSON, with the status checked first.
pub async fn json_of(res: Response, status: StatusCode) -> Value {
    let actual = res.status();
    let text = res.text().await.expect("body");
    assert_eq!(actual, status, "unexpected status; body: {text}");
    serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text}"))
}
