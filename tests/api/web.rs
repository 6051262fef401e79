//! The web app (issue 12): how userd serves it (every page path, its security headers, its
//! versioned assets, the API's 404s kept in their surfaces' shapes), the endpoints it
//! starts from (`/api/users/config/`, `GET /api/users/session/`, the provider sessions),
//! and the app itself driven end to end in Debian's Chromium by `tests/web/e2e.mjs`.

use std::{
    io::Write,
    path::{Path, PathBuf},
    process::{Command, Stdio},
};

use reqwest::{StatusCode, header};
use serde_json::{Value, json};
use userd::http::web::{APP_POLICY, VERSION};

use crate::{
    account::browser_session,
    both_backends,
    helpers::*,
    social::fakes::{FakeGitHub, FakeGoogle, GITHUB_CLIENT_ID, GITHUB_CLIENT_SECRET, GOOGLE_CLIENT_ID, Person},
    stripe::FakeStripe,
};

const SESSION: &str = "/api/users/session/";

async fn sqlite_app(env: &[(&str, &str)]) -> TestApp {
    TestApp::spawn_with(Backend::Sqlite, env).await.expect("SQLite is always available")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_page_of_the_app_is_served_and_other_paths_keep_their_owners_answers() {
    let app = sqlite_app(&[]).await;
    let html = "text/html; charset=utf-8";
    let cases: &[(&str, &str, StatusCode, &str, &str)] = &[
        ("GET", "/", StatusCode::OK, html, "the app's home"),
        ("GET", "/settings", StatusCode::OK, html, "a page of the app"),
        ("GET", "/settings/", StatusCode::OK, html, "with a trailing slash, the same page"),
        ("GET", "/people/alice", StatusCode::OK, html, "a deep link with a parameter"),
        ("GET", "/staff/users/12", StatusCode::OK, html, "a staff deep link (the app guards it)"),
        ("GET", "/reset-password?token=abc", StatusCode::OK, html, "the page a reset mail links to"),
        ("GET", "/verify-email?token=abc", StatusCode::OK, html, "the page a verification mail links to"),
        ("HEAD", "/profile", StatusCode::OK, html, "HEAD as GET"),
        ("GET", "/no/such/page", StatusCode::NOT_FOUND, html, "the app's not-found page, with a real 404"),
        ("POST", "/settings", StatusCode::METHOD_NOT_ALLOWED, "", "pages are only read"),
        ("GET", "/api/users/nothing/", StatusCode::NOT_FOUND, "application/json", "document 002's 404"),
        ("GET", "/careers/users/a/b/c/", StatusCode::NOT_FOUND, "application/json", "document 003's 404"),
        ("GET", "/api/user/nothing/", StatusCode::NOT_FOUND, "application/json", "document 004's 404"),
        ("GET", "/api/nothing", StatusCode::NOT_FOUND, "application/json", "any other API path"),
        ("GET", "/assets/000000000000/src/main.js", StatusCode::NOT_FOUND, "", "another build's asset is gone"),
        ("GET", &format!("/assets/{VERSION}/index.html"), StatusCode::NOT_FOUND, "", "the page is not an asset"),
        ("GET", &format!("/assets/{VERSION}/src/nothing.js"), StatusCode::NOT_FOUND, "", "no such asset"),
    ];
    for (method, path, status, content_type, why) in cases {
        let req = app.client.request(method.parse().expect("method"), app.url(path));
        let res = req.send().await.expect("send");
        assert_eq!(res.status(), *status, "{method} {path}: {why}");
        let ct = res.headers().get(header::CONTENT_TYPE).map(|v| v.to_str().expect("ascii").to_string());
        if !content_type.is_empty() {
            assert_eq!(ct.as_deref(), Some(*content_type), "{method} {path}: {why}");
        }
    }
    let body = json_of(app.get("/api/users/nothing/", None).await, StatusCode::NOT_FOUND).await;
    assert_eq!(body, json!({"status": "failed", "message": "Not found."}), "002's envelope");
    let body = json_of(app.get("/careers/users/a/b/c/", None).await, StatusCode::NOT_FOUND).await;
    assert_eq!(body, json!({"detail": "Not found."}), "003's DRF shape");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_app_page_forbids_inline_code_and_framing_and_is_revalidated_while_its_assets_are_cached() {
    let app = sqlite_app(&[]).await;
    let res = app.get("/people/alice", None).await;
    assert_eq!(res.status(), StatusCode::OK);
    let h = res.headers().clone();
    let get = |name: &str| h.get(name).map(|v| v.to_str().expect("ascii").to_string());
    assert_eq!(get("content-security-policy").as_deref(), Some(APP_POLICY));
    let csp = get("content-security-policy").expect("csp");
    for needed in
        ["script-src 'self'", "style-src 'self'", "frame-ancestors 'none'", "connect-src 'self'", "base-uri 'none'"]
    {
        assert!(csp.contains(needed), "{needed} in {csp}");
    }
    assert!(!csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"), "{csp}");
    assert_eq!(get("x-frame-options").as_deref(), Some("DENY"));
    assert_eq!(get("x-content-type-options").as_deref(), Some("nosniff"));
    assert_eq!(get("referrer-policy").as_deref(), Some("same-origin"));
    assert_eq!(get("cache-control").as_deref(), Some("no-cache"), "a new build is picked up at once");

    let page = res.text().await.expect("body");
    assert!(!page.contains("<style") && !page.contains(" style="), "no inline style");
    for tag in page.split("<script").skip(1) {
        assert!(tag.split('>').next().expect("tag").contains("src="), "no inline script: <script{tag}");
    }
    let prefix = format!("/assets/{VERSION}/");
    let assets: Vec<&str> = page.split('"').filter(|s| s.starts_with(&prefix)).collect();
    assert!(assets.len() >= 3, "the page names its versioned assets: {assets:?}");
    for asset in assets {
        let res = app.get(asset, None).await;
        assert_eq!(res.status(), StatusCode::OK, "{asset}");
        let cache = res.headers().get(header::CACHE_CONTROL).expect("cache-control").to_str().expect("ascii");
        assert_eq!(cache, "public, max-age=31536000, immutable", "{asset}");
        assert_eq!(res.headers().get("x-content-type-options").expect("nosniff"), "nosniff", "{asset}");
    }
    let res = app.get(&format!("{prefix}src/main.js"), None).await;
    assert_eq!(res.headers().get(header::CONTENT_TYPE).expect("type"), "text/javascript; charset=utf-8");
    let res = app.get(&format!("{prefix}vendor/preact.mjs"), None).await;
    assert_eq!(res.status(), StatusCode::OK, "the vendored view library");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_config_says_which_providers_and_payments_are_configured_and_never_a_secret() {
    let app = sqlite_app(&[("USERD_MAX_UPLOAD_BYTES", "1048576")]).await;
    let body = json_of(app.get("/api/users/config/", None).await, StatusCode::OK).await;
    assert_eq!(
        body,
        json!({"providers": {"google": null, "github": null}, "stripe": {"enabled": false, "plans": []},
               "limits": {"max_upload_bytes": 1048576, "max_picture_bytes": 5242880}}),
        "nothing configured"
    );

    let app = sqlite_app(&[
        ("USERD_GOOGLE_CLIENT_ID", "1234-abc.apps.googleusercontent.com"),
        ("USERD_GITHUB_CLIENT_ID", "Ov23liAbCdEf"),
        ("USERD_GITHUB_CLIENT_SECRET", "github-secret-never-shown"),
        ("USERD_GITHUB_OAUTH_URL", "https://github.example.com/"),
        ("USERD_STRIPE_SECRET_KEY", "sk_test_never_shown"),
        ("USERD_STRIPE_PRICES", "pro=price_pro,team=price_team"),
    ])
    .await;
    let res = app.get("/api/users/config/", None).await;
    let text = res.text().await.expect("body");
    for secret in ["github-secret-never-shown", "sk_test_never_shown", "price_pro"] {
        assert!(!text.contains(secret), "{secret} leaked: {text}");
    }
    let body: Value = serde_json::from_str(&text).expect("json");
    assert_eq!(body["providers"]["google"], json!({"client_id": "1234-abc.apps.googleusercontent.com"}));
    assert_eq!(
        body["providers"]["github"],
        json!({"client_id": "Ov23liAbCdEf", "authorize_url": "https://github.example.com/login/oauth/authorize"})
    );
    assert_eq!(body["stripe"], json!({"enabled": true, "plans": ["pro", "team"]}));
}

both_backends! {
    async fn the_session_endpoint_answers_the_browser_its_user_and_nothing_else(app) {
        let res = app.get(SESSION, None).await;
        assert_eq!(json_of(res, StatusCode::UNAUTHORIZED).await, json!({"message": "Not authenticated"}));

        let (access, _) = app.register_tokens("web@example.com").await;
        let (cookie, csrf) = browser_session(&app, "web@example.com").await;
        let res = app.client.patch(app.url("/api/users/settings/")).header(header::COOKIE, &cookie)
            .header("X-CSRFToken", &csrf).json(&json!({"tz": "Europe/Paris"})).send().await.expect("send");
        assert_eq!(res.status(), StatusCode::OK);
        let res = app.client.get(app.url(SESSION)).header(header::COOKIE, &cookie).send().await.expect("send");
        let body = json_of(res, StatusCode::OK).await;
        let user = &body["user"];
        let mut keys: Vec<&str> = user.as_object().expect("object").keys().map(String::as_str).collect();
        keys.sort_unstable();
        assert_eq!(keys, ["email", "email_verified", "external_id", "first_name", "id", "is_staff", "last_name",
            "picture", "plan", "subscription_status", "tz", "username"]);
        assert_eq!(user["email"], "web@example.com");
        assert_eq!(user["tz"], "Europe/Paris");
        assert_eq!(user["is_staff"], false);
        assert_eq!(user["plan"], Value::Null);
        assert!(body.get("csrftoken").is_none() && user.get("access_token").is_none(), "no secret in it: {body}");

        // Only the cookie answers, as for sign-out: a token is no browser session.
        let res = app.get(SESSION, Some(&access)).await;
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "a JWT is not a browser session");
    }
}

both_backends! {
    async fn the_profile_update_of_document_003_also_sets_the_company(app) {
        let (access, _) = app.register_tokens("company@example.com").await;
        let res = app.client.patch(app.url("/careers/users/me/update/")).bearer_auth(&access)
            .json(&json!({"company_name": "Analytical Engines Ltd", "bio": "Notes"})).send().await.expect("send");
        assert_eq!(res.status(), StatusCode::OK);
        let body = json_of(app.get("/api/users/profile/", Some(&access)).await, StatusCode::OK).await;
        assert_eq!(body["data"]["company_name"], "Analytical Engines Ltd", "document 002's profile shows it");

        let cases = [
            (json!({"company_name": "x".repeat(256)}), "over 255 characters"),
            (json!({"company_name": ["a", "b"]}), "a list, not text"),
        ];
        for (update, why) in cases {
            let res = app.client.patch(app.url("/careers/users/me/update/")).bearer_auth(&access)
                .json(&update).send().await.expect("send");
            let body = json_of(res, StatusCode::BAD_REQUEST).await;
            assert!(body["company_name"].is_array(), "{why}: {body}");
        }
        let res = app.client.patch(app.url("/careers/users/me/update/")).bearer_auth(&access)
            .json(&json!({"company_name": ""})).send().await.expect("send");
        assert_eq!(res.status(), StatusCode::OK, "an empty company clears it");
        let body = json_of(app.get("/api/users/profile/", Some(&access)).await, StatusCode::OK).await;
        assert_eq!(body["data"]["company_name"], "");
    }
}

async fn with_providers(backend: Backend) -> Option<(TestApp, FakeGoogle, FakeGitHub)> {
    let google = FakeGoogle::start().await;
    let github = FakeGitHub::start().await;
    let env = [
        ("USERD_GOOGLE_CLIENT_ID", GOOGLE_CLIENT_ID),
        ("USERD_GOOGLE_JWKS_URL", google.jwks_url.as_str()),
        ("USERD_GITHUB_CLIENT_ID", GITHUB_CLIENT_ID),
        ("USERD_GITHUB_CLIENT_SECRET", GITHUB_CLIENT_SECRET),
        ("USERD_GITHUB_OAUTH_URL", github.oauth_url.as_str()),
        ("USERD_GITHUB_API_URL", github.api_url.as_str()),
    ];
    Some((TestApp::spawn_with(backend, &env).await?, google, github))
}

/// The `Cookie` header a sign-in answer's `Set-Cookie`s make.
fn cookies_of(res: &reqwest::Response) -> String {
    let pairs: Vec<String> = res
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .map(|v| v.to_str().expect("ascii").split(';').next().expect("pair").to_string())
        .collect();
    assert!(pairs.iter().any(|p| p.starts_with("sessionid=")), "{pairs:?}");
    assert!(pairs.iter().any(|p| p.starts_with("csrftoken=")), "{pairs:?}");
    pairs.join("; ")
}

async fn provider_sessions_start_browser_sessions(backend: Backend) {
    let Some((app, google, github)) = with_providers(backend).await else { return };
    // Google: a new user, signed in with the cookie; no token in the answer.
    let res = app
        .post_json("/api/users/session/google/", &json!({"token": google.token("g-1", "ada@example.com")}), None)
        .await;
    let cookie = cookies_of(&res);
    let body = json_of(res, StatusCode::OK).await;
    assert_eq!(body["user"]["email"], "ada@example.com");
    assert!(body.get("data").is_none() && body.get("tokens").is_none(), "no token pair: {body}");
    let res = app.client.get(app.url(SESSION)).header(header::COOKIE, &cookie).send().await.expect("send");
    assert_eq!(json_of(res, StatusCode::OK).await["user"]["email"], "ada@example.com");
    let res =
        app.client.get(app.url("/api/users/identities/")).header(header::COOKIE, &cookie).send().await.expect("send");
    assert_eq!(json_of(res, StatusCode::OK).await["data"]["identities"][0]["provider"], "google");

    // GitHub: the person's verified primary address links or creates the account.
    let person = Person::new(77, Some("Grace Hopper"), &[("grace@example.com", true, true)]);
    let res = app.post_json("/api/users/session/github/", &json!({"code": github.code_for(&person)}), None).await;
    let cookie = cookies_of(&res);
    assert_eq!(json_of(res, StatusCode::OK).await["user"]["first_name"], "Grace");
    let res = app.client.get(app.url(SESSION)).header(header::COOKIE, &cookie).send().await.expect("send");
    assert_eq!(json_of(res, StatusCode::OK).await["user"]["email"], "grace@example.com");

    let refusals = [
        ("/api/users/session/google/", json!({"token": "not-a-token"}), StatusCode::BAD_REQUEST, "a forged token"),
        ("/api/users/session/github/", json!({"code": "used-or-unknown"}), StatusCode::BAD_REQUEST, "an unknown code"),
        ("/api/users/session/google/", json!({}), StatusCode::BAD_REQUEST, "no token"),
    ];
    for (path, body, status, why) in refusals {
        let res = app.post_json(path, &body, None).await;
        assert_eq!(res.status(), status, "{why}");
        assert!(res.headers().get(header::SET_COOKIE).is_none(), "{why}: no cookie");
        let body: Value = res.json().await.expect("json");
        assert!(body["message"].is_string(), "{why}: the account surface's shape: {body}");
    }
    let res = app
        .client
        .post(app.url("/api/users/session/google/"))
        .header(header::ORIGIN, "https://evil.example")
        .json(&json!({"token": google.token("g-2", "eve@example.com")}))
        .send()
        .await
        .expect("send");
    assert_eq!(res.status(), StatusCode::FORBIDDEN, "a page elsewhere cannot sign the browser in");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn google_and_github_sign_ins_start_browser_sessions_on_sqlite() {
    provider_sessions_start_browser_sessions(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn google_and_github_sign_ins_start_browser_sessions_on_postgres() {
    provider_sessions_start_browser_sessions(Backend::Postgres).await;
}

// ---- the browser ------------------------------------------------------------------------

/// What the browser test needs: Chromium, Node.js and playwright-core (installed by
/// `.ci/run` into `tests/web/node_modules`). Locally a missing one skips the test with a
/// notice; under `CI=true` it fails, so the browser half cannot be lost unnoticed.
fn browser_tools() -> Option<(PathBuf, PathBuf)> {
    let chromium = PathBuf::from(std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into()));
    let web = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/web");
    let node = Command::new("node").arg("--version").output().is_ok_and(|o| o.status.success());
    let missing: Vec<&str> = [
        (!chromium.exists()).then_some("Chromium (apt-get install chromium)"),
        (!node).then_some("Node.js"),
        (!web.join("node_modules/playwright-core").exists()).then_some("playwright-core (npm ci --prefix tests/web)"),
    ]
    .into_iter()
    .flatten()
    .collect();
    if missing.is_empty() {
        return Some((chromium, web));
    }
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("CI=true but the browser tests cannot run: missing {}", missing.join(", "));
    }
    let _ = writeln!(std::io::stderr(), "NOTICE: the browser tests are skipped: missing {}", missing.join(", "));
    None
}

/// Makes a staff user the way operators do: `userd create-admin`, password on stdin.
fn create_admin(app: &TestApp, email: &str, password: &str) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_userd"))
        .args(["create-admin", "--email", email])
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("USERD_DATA_DIR", &app.data_dir)
        .env("USERD_DATABASE_URL", &app.database_url)
        .env("USERD_LOG", "warn")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run userd create-admin");
    child.stdin.take().expect("stdin").write_all(format!("{password}\n").as_bytes()).expect("password");
    let out = child.wait_with_output().expect("create-admin");
    assert!(out.status.success(), "create-admin: {}", String::from_utf8_lossy(&out.stderr));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_web_app_works_end_to_end_in_chromium() {
    let Some((chromium, web)) = browser_tools() else { return };
    let google = FakeGoogle::start().await;
    let github = FakeGitHub::start().await;
    github.authorize_as(Person::new(4242, Some("Octo Cat"), &[("octo@example.com", true, true)]));
    let stripe = FakeStripe::start().await;
    let env = [
        ("USERD_GOOGLE_CLIENT_ID", GOOGLE_CLIENT_ID),
        ("USERD_GOOGLE_JWKS_URL", google.jwks_url.as_str()),
        ("USERD_GITHUB_CLIENT_ID", GITHUB_CLIENT_ID),
        ("USERD_GITHUB_CLIENT_SECRET", GITHUB_CLIENT_SECRET),
        ("USERD_GITHUB_OAUTH_URL", github.oauth_url.as_str()),
        ("USERD_GITHUB_API_URL", github.api_url.as_str()),
        ("USERD_STRIPE_SECRET_KEY", "sk_test_x"),
        ("USERD_STRIPE_PRICES", "pro=price_pro,team=price_team"),
        ("USERD_STRIPE_API_URL", stripe.url.as_str()),
    ];
    let app = sqlite_app(&env).await;
    create_admin(&app, "staff@example.com", "staff-password-123");

    let screenshots = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/web-screenshots");
    let mut cmd = Command::new("node");
    cmd.arg("e2e.mjs")
        .current_dir(&web)
        .env("USERD_URL", &app.address)
        .env("USERD_DATA_DIR", &app.data_dir)
        .env("STAFF_EMAIL", "staff@example.com")
        .env("STAFF_PASSWORD", "staff-password-123")
        .env("SCREENSHOT_DIR", &screenshots)
        .env("CHROMIUM", &chromium)
        .env("E2E_PROVIDERS", "1")
        .env("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1");
    // The browser runs while this test's runtime keeps serving userd.
    let out =
        tokio::task::spawn_blocking(move || cmd.output()).await.expect("join").expect("run node tests/web/e2e.mjs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    // Shown with --nocapture, and on failure.
    println!("{stdout}");
    assert!(out.status.success(), "the browser tests failed:\n{stdout}\n{stderr}");
    assert!(stdout.contains(" passed, 0 failed"), "{stdout}");
}
