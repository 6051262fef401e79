//! The log as operators read it: the binary's stderr written to a file, as a service manager
//! or a container runtime would.

use std::{
    path::PathBuf,
    process::{Child, Stdio},
    time::{Duration, Instant},
};

use reqwest::{Response, StatusCode};
use serde_json::{Value, json};

use crate::cli::userd;

/// A running userd whose stderr goes to a file; killed when dropped, so a failed assertion
/// leaves no process behind.
struct Logged {
    child: Child,
    log: PathBuf,
    url: String,
    client: reqwest::Client,
    _dir: tempfile::TempDir,
}

impl Logged {
    fn start(env: &[(&str, &str)]) -> Logged {
        let dir = tempfile::tempdir().expect("dir");
        let log = dir.path().join("stderr.log");
        let file = std::fs::File::create(&log).expect("log file");
        let mut cmd = userd(&dir.path().join("data"));
        cmd.env("USERD_BIND", "127.0.0.1:0").env("USERD_LOG", "info").env("USERD_RATE_LIMIT", "off");
        cmd.envs(env.iter().copied()).stderr(Stdio::from(file));
        let child = cmd.spawn().expect("spawn");
        let mut server = Logged { child, log, url: String::new(), client: reqwest::Client::new(), _dir: dir };
        let line = server.line_with("listening on http://");
        let rest = line.split("listening on ").nth(1).expect("address");
        server.url = rest.split(|c: char| c.is_whitespace() || c == '"').next().expect("url").to_string();
        server
    }

    fn text(&self) -> String {
        std::fs::read_to_string(&self.log).expect("read log")
    }

    /// The first line holding `needle`, waiting for it up to 10 s.
    fn line_with(&mut self, needle: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(line) = self.text().lines().find(|l| l.contains(needle)) {
                return line.to_string();
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("userd exited ({status}) before logging {needle:?}:\n{}", self.text());
            }
            assert!(Instant::now() < deadline, "no line with {needle:?} in:\n{}", self.text());
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    async fn get(&self, path: &str) -> Response {
        self.client.get(format!("{}{path}", self.url)).send().await.expect("request")
    }

    /// Registers a user and returns their access token.
    async fn access_token(&self) -> String {
        let res = self
            .client
            .post(format!("{}/api/users/register/", self.url))
            .json(&json!({"email": "buyer@example.com", "password": "securepassword123", "confirm_password": "securepassword123"}))
            .send()
            .await
            .expect("register");
        assert_eq!(res.status(), StatusCode::CREATED);
        let body: Value = res.json().await.expect("json");
        body["data"]["tokens"]["access"].as_str().expect("access token").to_string()
    }
}

impl Drop for Logged {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn request_id(res: &Response) -> String {
    res.headers().get("x-request-id").and_then(|v| v.to_str().ok()).expect("x-request-id").to_string()
}

#[tokio::test]
async fn text_logs_carry_no_colour_codes_and_one_access_line_per_request() {
    let mut server = Logged::start(&[]);
    let res = server
        .client
        .get(format!("{}/api/users/status/?token=query-secret-value", server.url))
        .bearer_auth("header-secret-value")
        .send()
        .await
        .expect("request");
    assert_eq!(res.status(), StatusCode::OK);
    let id = request_id(&res);
    let line = server.line_with(&id);
    for part in [" INFO ", "method=GET", "route=/api/users/status/", "status=200", " ms=", &format!("request_id={id}")]
    {
        assert!(line.contains(part), "{part:?} in {line}");
    }

    let cases = [
        ("/no/such/path", "route=unmatched", "status=404", "no route matched"),
        ("/api/files/path-value-secret/", "route=/api/files/{id}/", "status=401", "the template, not the path"),
    ];
    for (path, route, status, why) in cases {
        let res = server.get(path).await;
        let line = server.line_with(&request_id(&res));
        assert!(line.contains(route) && line.contains(status), "{why}: {line}");
    }

    let log = server.text();
    assert_eq!(log.matches(id.as_str()).count(), 1, "one line per request:\n{log}");
    assert!(!log.contains("\x1b["), "stderr is not a terminal, so no colour codes:\n{log}");
    for secret in ["query-secret-value", "header-secret-value", "path-value-secret"] {
        assert!(!log.contains(secret), "{secret} is not logged:\n{log}");
    }
}

#[tokio::test]
async fn json_logs_are_one_object_per_line_with_the_access_fields() {
    let mut server = Logged::start(&[("USERD_LOG_FORMAT", "json")]);
    let res = server.get("/api/users/status/").await;
    let id = request_id(&res);
    server.line_with(&id);

    let log = server.text();
    let lines: Vec<Value> =
        log.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}"))).collect();
    assert!(lines.iter().any(|l| l["message"].as_str().is_some_and(|m| m.starts_with("listening on http://"))));
    let access: Vec<&Value> = lines.iter().filter(|l| l["span"]["request_id"] == id.as_str()).collect();
    assert_eq!(access.len(), 1, "{log}");
    let line = access[0];
    assert_eq!(line["level"], "INFO");
    assert_eq!(line["message"], "access");
    assert_eq!(line["status"], 200);
    assert!(line["ms"].as_f64().is_some_and(|ms| ms >= 0.0), "{line}");
    assert_eq!(line["span"]["method"], "GET");
    assert_eq!(line["span"]["route"], "/api/users/status/");
    assert!(line["timestamp"].is_string(), "{line}");
}

#[tokio::test]
async fn a_feature_that_is_not_configured_answers_400_and_logs_what_to_set() {
    let mut server = Logged::start(&[]);
    let access = server.access_token().await;
    let res = server
        .client
        .post(format!("{}/api/users/stripe/checkout/", server.url))
        .bearer_auth(&access)
        .json(&json!({"plan": "pro"}))
        .send()
        .await
        .expect("checkout");
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let id = request_id(&res);
    // Document 001's answer for any failed checkout.
    assert_eq!(res.json::<Value>().await.expect("json"), json!({"message": "Unexpected error"}));
    let line = server.line_with("checkout is not configured: set USERD_STRIPE_SECRET_KEY and USERD_STRIPE_PRICES");
    assert!(line.contains(" WARN ") && line.contains(&id), "{line}");

    let res = server
        .client
        .post(format!("{}/api/users/stripe/webhook/", server.url))
        .header("stripe-signature", "t=1,v1=00")
        .body("{}")
        .send()
        .await
        .expect("webhook");
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let line = server.line_with("the Stripe webhook is not configured: set USERD_STRIPE_WEBHOOK_SECRET");
    assert!(line.contains(" WARN ") && line.contains(&request_id(&res)), "{line}");
}

#[tokio::test]
async fn sign_in_providers_log_what_to_set_and_why_they_failed_but_never_a_secret() {
    let post = |server: &Logged, path: &str, body: Value| {
        server.client.post(format!("{}{path}", server.url)).json(&body).send()
    };
    let mut server = Logged::start(&[]);
    for _ in 0..2 {
        let res = post(&server, "/api/users/login/google/", json!({"token": "eyJhbGciOiJSUzI1NiJ9.e30.c2ln"}))
            .await
            .expect("send");
        assert_eq!(res.status(), StatusCode::BAD_REQUEST);
        let id = request_id(&res);
        let line = server.line_with(&id);
        assert!(
            line.contains(" WARN ") && line.contains("Google login is not configured: set USERD_GOOGLE_CLIENT_ID"),
            "{line}"
        );
    }
    assert_eq!(server.text().matches("Google login is not configured").count(), 2, "once per answer");
    let res = post(&server, "/api/users/login/github/", json!({"code": "0123456789abcdef0123"})).await.expect("send");
    let line = server.line_with(&request_id(&res));
    assert!(
        line.contains("GitHub login is not configured: set USERD_GITHUB_CLIENT_ID and USERD_GITHUB_CLIENT_SECRET"),
        "{line}"
    );
    drop(server);

    // Configured, but neither provider answers (nothing listens on port 9).
    let mut server = Logged::start(&[
        ("USERD_GOOGLE_CLIENT_ID", "1234-userd-test.apps.googleusercontent.com"),
        ("USERD_GOOGLE_JWKS_URL", "http://127.0.0.1:9/oauth2/v3/certs"),
        ("USERD_GITHUB_CLIENT_ID", "Iv1.userdtest"),
        ("USERD_GITHUB_CLIENT_SECRET", "hunter2-github-secret"),
        ("USERD_GITHUB_OAUTH_URL", "http://127.0.0.1:9"),
    ]);
    let token = "eyJhbGciOiJSUzI1NiIsImtpZCI6ImsxIn0.eyJzdWIiOiJodW50ZXIyLXRva2VuIn0.c2lnbmF0dXJl";
    let res = post(&server, "/api/users/login/google/", json!({"token": token})).await.expect("send");
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let line = server.line_with("fetching Google's signing keys failed");
    assert!(line.contains(" WARN ") && line.contains(&request_id(&res)), "{line}");
    let res = post(&server, "/api/users/login/github/", json!({"code": "hunter2-code"})).await.expect("send");
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let line = server.line_with("GitHub sign-in failed");
    assert!(line.contains(" WARN ") && line.contains(&request_id(&res)), "{line}");
    let log = server.text();
    assert!(!log.contains("hunter2") && !log.contains(token), "no secret, code or token in the log:\n{log}");
}
