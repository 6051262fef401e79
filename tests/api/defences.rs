//! Defences: throttling shared by every node, client addresses behind trusted proxies, slow
//! and greedy clients, oversized uploads refused from their headers, and the `Origin`
//! check of cookie-authenticated requests.

use std::time::Duration;

use reqwest::{Response, StatusCode, header};
use serde_json::{Value, json};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

use crate::{account::browser_session, both_backends, helpers::*};

/// A login through document 002 from the client address `from` (believed only when the
/// test's loopback peer is a trusted proxy).
async fn login_from(app: &TestApp, from: &str, email: &str, password: &str) -> Response {
    app.client
        .post(app.url("/api/users/login/"))
        .header("x-forwarded-for", from)
        .json(&json!({"email": email, "password": password}))
        .send()
        .await
        .expect("request")
}

async fn metrics(app: &TestApp) -> String {
    app.get("/metrics", None).await.text().await.expect("metrics")
}

/// The value of the first `/metrics` line starting with `prefix`.
fn metric(text: &str, prefix: &str) -> Option<f64> {
    text.lines().find(|l| l.starts_with(prefix)).and_then(|l| l.rsplit(' ').next()).and_then(|v| v.parse().ok())
}

both_backends! {
    async fn a_throttled_login_gets_429_in_each_surfaces_shape_and_no_tokens(app)
    env = [("USERD_RATE_LIMIT", "on"), ("USERD_THROTTLE_LOGIN_ADDRESS", "100/1m")];
    {
        app.fresh_throttle_windows();
        app.register("owner@example.com").await;
        // Five wrong passwords for one account from one address (the default 5 in 5 minutes).
        for _ in 0..5 {
            assert_eq!(app.login("owner@example.com", "wrong-password").await.status(), StatusCode::UNAUTHORIZED);
        }
        // The right password gets no tokens while throttled.
        let res = app.login("owner@example.com", PASSWORD).await;
        assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
        let wait: u64 = res.headers()[header::RETRY_AFTER].to_str().expect("ascii").parse().expect("seconds");
        assert!((1..=300).contains(&wait), "{wait}");
        let body = json_of(res, StatusCode::TOO_MANY_REQUESTS).await;
        assert_eq!(body["status"], "failed");
        assert!(body.get("data").is_none_or(|d| d.get("tokens").is_none()), "{body}");
        // An account that does not exist is throttled the same way: nothing tells them apart.
        for _ in 0..5 {
            assert_eq!(app.login("nobody@example.com", "wrong-password").await.status(), StatusCode::UNAUTHORIZED);
        }
        let ghost = app.login("nobody@example.com", PASSWORD).await;
        assert_eq!(ghost.status(), StatusCode::TOO_MANY_REQUESTS);
        let ghost = json_of(ghost, StatusCode::TOO_MANY_REQUESTS).await;
        let keys = |v: &Value| v.as_object().map(|o| o.keys().cloned().collect::<Vec<_>>());
        assert_eq!(keys(&ghost), keys(&body), "same answer for an existing and a missing account");
        assert_eq!(ghost["status"], body["status"]);
        // Document 003's shape; its username login counts under its own name.
        let reg = json!({"username": "carl", "email": "carl@example.com", "password": PASSWORD, "password_confirm": PASSWORD});
        json_of(app.post_json("/careers/users/register/", &reg, None).await, StatusCode::CREATED).await;
        for _ in 0..5 {
            let res = app.post_json("/careers/users/login/", &json!({"username": "carl", "password": "nope-nope-1"}), None).await;
            assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
        }
        let res = app.post_json("/careers/users/login/", &json!({"username": "carl", "password": PASSWORD}), None).await;
        assert!(res.headers().contains_key(header::RETRY_AFTER));
        let body = json_of(res, StatusCode::TOO_MANY_REQUESTS).await;
        assert!(body["detail"].as_str().is_some_and(|d| d.starts_with("Request was throttled.")), "{body}");
        // Document 004's shape.
        for _ in 0..5 {
            let res = app.post_json("/api/user/login/", &json!({"email": "carl@example.com", "password": "nope-nope-1"}), None).await;
            assert_ne!(res.status(), StatusCode::OK);
        }
        let res = app.post_json("/api/user/login/", &json!({"email": "carl@example.com", "password": PASSWORD}), None).await;
        let body = json_of(res, StatusCode::TOO_MANY_REQUESTS).await;
        assert!(body["detail"].is_string(), "{body}");
        // The metrics count allowed and throttled logins.
        let text = metrics(&app).await;
        assert!(metric(&text, r#"userd_throttle_decisions_total{action="login",outcome="throttled"}"#).is_some_and(|n| n >= 3.0), "{text}");
        assert!(metric(&text, r#"userd_throttle_decisions_total{action="login",outcome="allowed"}"#).is_some_and(|n| n >= 15.0), "{text}");
        assert_eq!(metric(&text, "userd_throttle_degraded"), Some(0.0), "{text}");
    }
}

both_backends! {
    async fn strangers_cannot_lock_the_owner_out_from_where_they_sign_in(app)
    env = [("USERD_RATE_LIMIT", "on"), ("USERD_TRUSTED_PROXIES", "127.0.0.1"), ("USERD_THROTTLE_LOGIN_ACCOUNT", "12/1h")];
    {
        app.fresh_throttle_windows();
        app.register("owner@example.com").await;
        let home = "198.51.100.7";
        assert_eq!(login_from(&app, home, "owner@example.com", PASSWORD).await.status(), StatusCode::OK);
        // Strangers spread their guesses over many addresses, each under its own limit.
        for i in 0..6 {
            let from = format!("203.0.113.{i}");
            for _ in 0..2 {
                let res = login_from(&app, &from, "owner@example.com", "guess-guess-1").await;
                assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
            }
        }
        // Past the account's limit: a fresh address is refused (the trade-off), the owner's is not.
        let fresh = login_from(&app, "192.0.2.99", "owner@example.com", PASSWORD).await;
        assert_eq!(fresh.status(), StatusCode::TOO_MANY_REQUESTS);
        let owner = login_from(&app, home, "owner@example.com", PASSWORD).await;
        assert_eq!(owner.status(), StatusCode::OK, "the owner signs in from where they signed in before");
        // Ten wrong passwords from one stranger's address throttle that address only.
        for _ in 0..10 {
            login_from(&app, "203.0.113.200", "someone@example.com", "guess-guess-1").await;
        }
        let res = login_from(&app, "203.0.113.200", "owner@example.com", PASSWORD).await;
        assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(login_from(&app, home, "owner@example.com", PASSWORD).await.status(), StatusCode::OK);
    }
}

both_backends! {
    async fn forwarded_addresses_are_believed_only_from_trusted_proxies(app)
    env = [("USERD_RATE_LIMIT", "on")];
    {
        app.fresh_throttle_windows();
        // No trusted proxy: a client cannot pick a new address per attempt.
        for i in 0..10 {
            let res = login_from(&app, &format!("203.0.113.{i}"), &format!("u{i}@example.com"), "guess-guess-1").await;
            assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
        }
        let res = login_from(&app, "203.0.113.77", "u77@example.com", "guess-guess-1").await;
        assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS, "counted under the peer's address");
    }
}

both_backends! {
    async fn behind_a_trusted_proxy_each_client_and_each_ipv6_64_counts_alone(app)
    env = [("USERD_RATE_LIMIT", "on"), ("USERD_TRUSTED_PROXIES", "127.0.0.0/8, ::1")];
    {
        app.fresh_throttle_windows();
        // Ten failures from one client address throttle it...
        for i in 0..10 {
            let res = login_from(&app, "203.0.113.1", &format!("a{i}@example.com"), "guess-guess-1").await;
            assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
        }
        assert_eq!(login_from(&app, "203.0.113.1", "x@example.com", "guess").await.status(), StatusCode::TOO_MANY_REQUESTS);
        // ...but not another client of the same proxy.
        assert_eq!(login_from(&app, "203.0.113.2", "x@example.com", "guess").await.status(), StatusCode::UNAUTHORIZED);
        // Entries left of the last untrusted hop are the client's own writing: ignored.
        let spoofed = "198.51.100.1, 203.0.113.1";
        assert_eq!(login_from(&app, spoofed, "x@example.com", "guess").await.status(), StatusCode::TOO_MANY_REQUESTS);
        // RFC 7239 `Forwarded` names the client too.
        let res = app.client.post(app.url("/api/users/login/"))
            .header("forwarded", "for=203.0.113.1;proto=https")
            .json(&json!({"email": "x@example.com", "password": "guess"}))
            .send().await.expect("request");
        assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
        // IPv6 clients are counted per /64: another address of the same /64 is throttled.
        for i in 0..10 {
            let from = format!("2001:db8:aa:bb::{i:x}");
            assert_eq!(login_from(&app, &from, &format!("b{i}@example.com"), "guess").await.status(), StatusCode::UNAUTHORIZED);
        }
        assert_eq!(login_from(&app, "2001:db8:aa:bb:ffff::1", "y@example.com", "g").await.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(login_from(&app, "2001:db8:aa:bc::1", "y@example.com", "g").await.status(), StatusCode::UNAUTHORIZED);
    }
}

both_backends! {
    async fn registrations_and_reset_mails_are_throttled_per_address(app)
    env = [("USERD_RATE_LIMIT", "on"), ("USERD_THROTTLE_REGISTER", "3/1h"), ("USERD_THROTTLE_PASSWORD_RESET", "2/5m")];
    {
        app.fresh_throttle_windows();
        for i in 0..3 {
            app.register(&format!("r{i}@example.com")).await;
        }
        let body = json!({"email": "r9@example.com", "password": PASSWORD, "confirm_password": PASSWORD});
        let res = app.post_json("/api/users/register/", &body, None).await;
        assert!(res.headers().contains_key(header::RETRY_AFTER));
        json_of(res, StatusCode::TOO_MANY_REQUESTS).await;
        for _ in 0..2 {
            let res = app.post_json("/api/users/password/reset/", &json!({"email": "r0@example.com"}), None).await;
            assert!(res.status().is_success(), "{}", res.status());
        }
        let res = app.post_json("/api/users/password/reset/", &json!({"email": "r0@example.com"}), None).await;
        assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    }
}

/// Without its shared counters the limiter does not let everything through: strict
/// per-node limits apply, the log says so and `/metrics` shows it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_its_shared_counters_the_limiter_falls_back_to_strict_local_limits() {
    let Some(app) = TestApp::spawn_with(Backend::Postgres, &[("USERD_RATE_LIMIT", "on")]).await else { return };
    let mut c = <sqlx::PgConnection as sqlx::Connection>::connect(&app.database_url).await.expect("connect");
    sqlx::query("DROP TABLE throttle_counters").execute(&mut c).await.expect("drop");
    let mut statuses = Vec::new();
    for i in 0..8 {
        statuses.push(app.login(&format!("f{i}@example.com"), "guess-guess-1").await.status());
    }
    assert!(statuses.contains(&StatusCode::TOO_MANY_REQUESTS), "{statuses:?}");
    assert!(
        statuses.iter().all(|s| *s == StatusCode::UNAUTHORIZED || *s == StatusCode::TOO_MANY_REQUESTS),
        "{statuses:?}"
    );
    let text = metrics(&app).await;
    assert_eq!(metric(&text, "userd_throttle_degraded"), Some(1.0), "{text}");
    assert!(metric(&text, "userd_throttle_fallbacks_total").is_some_and(|n| n >= 1.0), "{text}");
}

/// Three userd processes on one PostgreSQL database share the counts: attempts spread over
/// the three still hit the limit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_nodes_on_one_database_share_the_login_limits() {
    let Some(db) = TestDb::new(Backend::Postgres).await else { return };
    // Day-long windows: the real clock cannot cross a window's end during the test.
    let env = [
        ("USERD_RATE_LIMIT", "on"),
        ("USERD_THROTTLE_LOGIN_ADDRESS", "10/1d"),
        ("USERD_THROTTLE_LOGIN_ACCOUNT_ADDRESS", "5/1d"),
    ];
    let nodes = crate::cli::Nodes::start(&db.url, 3, &env);
    let urls = &nodes.urls;
    let client = reqwest::Client::new();
    let body = json!({"email": "shared@example.com", "password": PASSWORD, "confirm_password": PASSWORD});
    let res = client.post(format!("{}/api/users/register/", urls[0])).json(&body).send().await.expect("register");
    assert_eq!(res.status(), StatusCode::CREATED);
    let login = |node: usize, password: &'static str| {
        client
            .post(format!("{}/api/users/login/", urls[node]))
            .json(&json!({"email": "shared@example.com", "password": password}))
            .send()
    };
    // Five failures, spread over the three nodes (2, 2, 1): each node saw fewer than five.
    for i in 0..5 {
        assert_eq!(login(i % 3, "wrong-password").await.expect("send").status(), StatusCode::UNAUTHORIZED);
    }
    for node in 0..3 {
        let res = login(node, PASSWORD).await.expect("send");
        assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS, "node {node}");
    }
    // Per address too: five more failures for other accounts make ten from this address.
    for i in 0..5 {
        let body = json!({"email": format!("n{i}@example.com"), "password": "wrong-password"});
        let res = client.post(format!("{}/api/users/login/", urls[i % 3])).json(&body).send().await.expect("send");
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    }
    for url in urls {
        let body = json!({"email": "other@example.com", "password": "wrong-password"});
        let res = client.post(format!("{url}/api/users/login/")).json(&body).send().await.expect("send");
        assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS, "{url}");
        // Health and authenticated calls are untouched by the flood.
        assert_eq!(client.get(format!("{url}/healthz")).send().await.expect("send").status(), StatusCode::OK);
    }
}

/// Reads what the server sends until it closes the connection (or `limit` passes).
async fn read_until_closed(stream: &mut TcpStream, limit: Duration) -> Option<String> {
    let mut buf = Vec::new();
    match tokio::time::timeout(limit, stream.read_to_end(&mut buf)).await {
        Ok(_) => Some(String::from_utf8_lossy(&buf).into_owned()),
        Err(_) => None,
    }
}

fn host_port(app: &TestApp) -> String {
    app.address.trim_start_matches("http://").to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_clients_are_cut_off_and_one_address_holds_few_connections() {
    let app = TestApp::spawn_with(Backend::Sqlite, &[("USERD_MAX_CONNECTIONS_PER_CLIENT", "4")]).await.expect("app");
    let addr = host_port(&app);
    // Headers that never end, and a body that stops after a few bytes.
    let mut slow_headers = TcpStream::connect(&addr).await.expect("connect");
    slow_headers.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ").await.expect("write");
    let mut slow_body = TcpStream::connect(&addr).await.expect("connect");
    slow_body
        .write_all(b"POST /api/users/login/ HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"em")
        .await
        .expect("write");
    // An idle keep-alive connection after one request.
    let mut idle = TcpStream::connect(&addr).await.expect("connect");
    idle.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").await.expect("write");
    let mut first = [0u8; 12];
    idle.read_exact(&mut first).await.expect("response");
    assert_eq!(&first, b"HTTP/1.1 200");
    // A fourth connection fills this address's allowance; a fifth is closed at once.
    let fourth = TcpStream::connect(&addr).await.expect("connect");
    let mut fifth = TcpStream::connect(&addr).await.expect("connect");
    let _ = fifth.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").await;
    let refused = read_until_closed(&mut fifth, Duration::from_secs(10)).await;
    assert_eq!(refused.as_deref(), Some(""), "the fifth connection is closed without an answer");
    drop(fourth);
    // The slow ones are cut by the server (header, body and idle timeouts), freeing room.
    let cut = tokio::join!(
        read_until_closed(&mut slow_headers, Duration::from_secs(60)),
        read_until_closed(&mut slow_body, Duration::from_secs(60)),
        read_until_closed(&mut idle, Duration::from_secs(60)),
    );
    assert!(cut.0.is_some(), "slow headers are cut");
    let body_answer = cut.1.expect("a trickling body is cut");
    assert!(body_answer.is_empty() || body_answer.starts_with("HTTP/1.1 400"), "{body_answer}");
    assert!(cut.2.is_some(), "an idle keep-alive connection is closed");
    let res = app.get("/healthz", None).await;
    assert_eq!(res.status(), StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_declaring_too_many_bytes_is_refused_before_any_is_sent() {
    let app = TestApp::spawn_with(Backend::Sqlite, &[]).await.expect("app");
    let (access, _) = app.register_tokens("up@example.com").await;
    for (path, shape) in [("/api/files/", "message"), ("/api/user/register/", "detail")] {
        let mut stream = TcpStream::connect(host_port(&app)).await.expect("connect");
        let head = format!(
            "POST {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {access}\r\n\
             Content-Type: multipart/form-data; boundary=b\r\nContent-Length: 107374182400\r\n\
             Expect: 100-continue\r\nConnection: close\r\n\r\n"
        );
        stream.write_all(head.as_bytes()).await.expect("write");
        let answer = read_until_closed(&mut stream, Duration::from_secs(30)).await.expect("answered");
        assert!(answer.starts_with("HTTP/1.1 413"), "{path}: no 100 Continue, a 413: {answer}");
        let body = answer.split("\r\n\r\n").nth(1).unwrap_or("");
        let v: Value = serde_json::from_str(body).unwrap_or_else(|_| panic!("{path}: {answer}"));
        assert!(v[shape].is_string(), "{path}: {v}");
    }
}

both_backends! {
    async fn cookie_requests_from_another_origin_are_refused_even_with_the_token(app) {
        app.register("web@example.com").await;
        let (cookie, csrf) = browser_session(&app, "web@example.com").await;
        let patch = |origin: Option<String>, site: Option<&'static str>| {
            let mut req = app.client.patch(app.url("/api/users/settings/"))
                .header(header::COOKIE, cookie.clone())
                .header("x-csrftoken", csrf.clone())
                .json(&json!({"tz": "UTC"}));
            if let Some(o) = origin {
                req = req.header(header::ORIGIN, o);
            }
            if let Some(s) = site {
                req = req.header("sec-fetch-site", s);
            }
            req.send()
        };
        let res = patch(Some("https://evil.example".into()), Some("cross-site")).await.expect("send");
        let body = json_of(res, StatusCode::FORBIDDEN).await;
        assert_eq!(
            body["message"],
            "CSRF Failed: Origin checking failed - https://evil.example does not match any trusted origins."
        );
        let res = patch(None, Some("cross-site")).await.expect("send");
        assert_eq!(res.status(), StatusCode::FORBIDDEN);
        // The app's own origin (the request's host) and clients that are not browsers pass.
        assert_eq!(patch(None, None).await.expect("send").status(), StatusCode::OK);
        assert_eq!(patch(Some(app.address.clone()), Some("same-origin")).await.expect("send").status(), StatusCode::OK);
        // Signing a browser in from another origin is refused too (login CSRF).
        let res = app.client.post(app.url("/api/users/session/"))
            .header(header::ORIGIN, "https://evil.example")
            .json(&json!({"email": "web@example.com", "password": PASSWORD}))
            .send().await.expect("send");
        assert_eq!(res.status(), StatusCode::FORBIDDEN);
        assert!(res.headers().get(header::SET_COOKIE).is_none());
    }
}

both_backends! {
    async fn a_trusted_cors_origin_may_send_cookie_requests(app)
    env = [("USERD_CORS_ORIGINS", "https://app.example.com")];
    {
        app.register("web@example.com").await;
        let (cookie, csrf) = browser_session(&app, "web@example.com").await;
        let res = app.client.patch(app.url("/api/users/settings/"))
            .header(header::COOKIE, cookie)
            .header("x-csrftoken", csrf)
            .header(header::ORIGIN, "https://app.example.com")
            .header("sec-fetch-site", "cross-site")
            .json(&json!({"tz": "UTC"}))
            .send().await.expect("send");
        assert_eq!(res.status(), StatusCode::OK);
    }
}
