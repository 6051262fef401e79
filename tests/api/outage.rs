//! The database gone under a running node: every surface answers 503 in its own shape with
//! `Retry-After` (never 500, never a hang past the pool's bounded wait), `/readyz` fails
//! within about 2 s, `/healthz` stays up, and the node serves again by itself once the
//! database is back.
//!
//! PostgreSQL only (SQLite is a file in the node's own data directory): the node reaches its
//! database through a small TCP proxy in this test, which cuts every connection and then
//! holds new ones unanswered, as a vanished server does, and later forwards again.

use std::{
    net::SocketAddr,
    str::FromStr,
    time::{Duration, Instant},
};

use reqwest::{StatusCode, header};
use serde_json::{Value, json};
use sqlx::postgres::PgConnectOptions;
use tokio::{
    net::{TcpListener, TcpStream},
    sync::watch,
};

use crate::helpers::*;

/// A TCP proxy to the database that can be switched off (every open connection cut, new ones
/// accepted and left unanswered) and on again.
struct Proxy {
    addr: SocketAddr,
    up: watch::Sender<bool>,
}

impl Proxy {
    async fn start(target: String) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind the proxy");
        let addr = listener.local_addr().expect("proxy address");
        let (up, watching) = watch::channel(true);
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                tokio::spawn(forward(client, target.clone(), watching.clone()));
            }
        });
        Proxy { addr, up }
    }

    fn set(&self, up: bool) {
        self.up.send_replace(up);
    }
}

async fn forward(mut client: TcpStream, target: String, mut up: watch::Receiver<bool>) {
    let is_up = *up.borrow_and_update();
    if !is_up {
        // A server that vanished: the connection is neither served nor refused. It is closed
        // when the proxy comes back, so the pool's next attempt goes through.
        let _ = up.wait_for(|u| *u).await;
        return;
    }
    let Ok(mut server) = TcpStream::connect(&target).await else { return };
    tokio::select! {
        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
        _ = up.wait_for(|u| !*u) => {}
    }
}

/// `url` with its host and port replaced by `addr`.
fn through(url: &str, addr: SocketAddr) -> String {
    let (scheme, rest) = url.split_once("://").expect("a URL");
    let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
    let user = authority.rsplit_once('@').map(|(u, _)| format!("{u}@")).unwrap_or_default();
    format!("{scheme}://{user}{addr}/{path}")
}

const UNAVAILABLE: &str = "Service temporarily unavailable, try again later.";

/// A request of one surface, the body it must answer with while the database is gone, and
/// which surface it is.
struct Case {
    surface: &'static str,
    method: reqwest::Method,
    path: &'static str,
    body: Option<Value>,
    authenticated: bool,
    expected: Value,
}

fn cases() -> Vec<Case> {
    use reqwest::Method;
    let login = json!({"email": "outage@example.com", "password": PASSWORD});
    vec![
        Case {
            surface: "document 002",
            method: Method::POST,
            path: "/api/users/login/",
            body: Some(login.clone()),
            authenticated: false,
            expected: json!({"status": "failed", "message": UNAVAILABLE}),
        },
        Case {
            surface: "document 002, authenticated",
            method: Method::GET,
            path: "/api/users/profile/",
            body: None,
            authenticated: true,
            expected: json!({"status": "failed", "message": UNAVAILABLE}),
        },
        Case {
            surface: "documents 000/001",
            method: Method::GET,
            path: "/api/users/me/",
            body: None,
            authenticated: true,
            expected: json!({"message": UNAVAILABLE}),
        },
        Case {
            surface: "files",
            method: Method::GET,
            path: "/api/files/",
            body: None,
            authenticated: true,
            expected: json!({"message": UNAVAILABLE}),
        },
        Case {
            surface: "document 003",
            method: Method::GET,
            path: "/careers/users/me/",
            body: None,
            authenticated: true,
            expected: json!({"detail": UNAVAILABLE}),
        },
        Case {
            surface: "document 004",
            method: Method::POST,
            path: "/api/user/login/",
            body: Some(login),
            authenticated: false,
            expected: json!({"detail": UNAVAILABLE}),
        },
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_database_gone_every_surface_answers_503_in_its_shape_and_service_resumes_when_it_returns() {
    let Some(db) = TestDb::new(Backend::Postgres).await else { return };
    let opts = PgConnectOptions::from_str(&db.url).expect("a PostgreSQL URL");
    if opts.get_socket().is_some() || opts.get_host().starts_with('/') {
        eprintln!("NOTICE: USERD_TEST_POSTGRES_URL names a socket: the outage test needs TCP and is skipped");
        return;
    }
    let proxy = Proxy::start(format!("{}:{}", opts.get_host(), opts.get_port())).await;
    let url = through(&db.url, proxy.addr);
    let app = TestApp::spawn_on(db, &[("USERD_DATABASE_URL", url.as_str())]).await;
    let (access, _) = app.register_tokens("outage@example.com").await;

    proxy.set(false);

    // Every probe at once: the slowest bounds the wait of all.
    let started = Instant::now();
    let readyz = async {
        let res = app.get("/readyz", None).await;
        (res.status(), started.elapsed())
    };
    let healthz = async {
        let res = app.get("/healthz", None).await;
        (res.status(), started.elapsed())
    };
    let requests = futures_util::future::join_all(cases().into_iter().map(|case| {
        let (app, access) = (&app, &access);
        async move {
            let mut req = app.client.request(case.method.clone(), app.url(case.path));
            if let Some(body) = &case.body {
                req = req.json(body);
            }
            if case.authenticated {
                req = req.bearer_auth(access);
            }
            let res = req.send().await.expect("request");
            let elapsed = started.elapsed();
            let status = res.status();
            let retry_after = res.headers().get(header::RETRY_AFTER).and_then(|v| v.to_str().ok()).map(str::to_string);
            let text = res.text().await.expect("body");
            (case, status, retry_after, text, elapsed)
        }
    }));
    let ((ready, ready_after), (health, health_after), answers) = tokio::join!(readyz, healthz, requests);

    assert_eq!(ready, StatusCode::SERVICE_UNAVAILABLE, "/readyz fails");
    assert!(ready_after < Duration::from_millis(3500), "/readyz answered within about 2 s: {ready_after:?}");
    assert_eq!(health, StatusCode::OK, "/healthz stays up");
    assert!(health_after < Duration::from_secs(1), "/healthz does not wait for the database: {health_after:?}");
    for (case, status, retry_after, text, elapsed) in answers {
        let what = format!("{} {} ({})", case.method, case.path, case.surface);
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{what}: {text}");
        assert_eq!(retry_after.as_deref(), Some("5"), "{what}: Retry-After");
        let body: Value = serde_json::from_str(&text).unwrap_or_else(|_| panic!("{what}: not JSON: {text}"));
        assert_eq!(body, case.expected, "{what}: the surface's shape, nothing internal");
        assert!(elapsed < Duration::from_secs(9), "{what}: answered within the bounded wait, not {elapsed:?}");
    }

    proxy.set(true);

    // Back by itself: no restart, no operator.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if app.get("/readyz", None).await.status() == StatusCode::OK {
            break;
        }
        assert!(Instant::now() < deadline, "/readyz did not recover within 20 s of the database's return");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let res = app.login("outage@example.com", PASSWORD).await;
    assert_eq!(res.status(), StatusCode::OK, "login works again");
    let res = app.get("/api/users/profile/", Some(&access)).await;
    assert_eq!(res.status(), StatusCode::OK, "the token issued before the outage still works");
}

#[test]
fn the_proxy_url_keeps_the_user_database_and_options() {
    let addr: SocketAddr = "127.0.0.1:6000".parse().expect("addr");
    assert_eq!(
        through("postgres://postgres:pw@127.0.0.1:5432/userd_x?sslmode=disable", addr),
        "postgres://postgres:pw@127.0.0.1:6000/userd_x?sslmode=disable"
    );
    assert_eq!(through("postgres://localhost/db", addr), "postgres://127.0.0.1:6000/db");
}
