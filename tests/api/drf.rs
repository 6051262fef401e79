//! What a Django REST framework client expects of every surface: bodies as forms and
//! multipart as well as JSON, `Authorization: Token`, `APPEND_SLASH`'s redirect, `OPTIONS`,
//! compression, and error shapes even for bodies that cannot be read.

use reqwest::{
    StatusCode, header,
    multipart::{Form, Part},
};
use serde_json::{Value, json};

use crate::{account::browser_session, both_backends, helpers::*};

async fn sqlite_app() -> TestApp {
    TestApp::spawn_with(Backend::Sqlite, &[]).await.expect("SQLite is always available")
}

both_backends! {
    async fn document_002_reads_forms_and_multipart_as_it_reads_json(app) {
        let form = [("email", "form@example.com"), ("password", PASSWORD), ("confirm_password", PASSWORD), ("first_name", "Ada")];
        let res = app.client.post(app.url("/api/users/register/")).form(&form).send().await.expect("send");
        let body = json_of(res, StatusCode::CREATED).await;
        assert_eq!(body["data"]["user"]["first_name"], "Ada");
        let refresh = body["data"]["tokens"]["refresh"].as_str().expect("refresh").to_string();

        // multipart, with a file part that is not a field and is skipped
        let login = Form::new()
            .text("email", "form@example.com")
            .text("password", PASSWORD)
            .part("avatar", Part::bytes(vec![1, 2, 3]).file_name("a.bin"));
        let res = app.client.post(app.url("/api/users/login/")).multipart(login).send().await.expect("send");
        let body = json_of(res, StatusCode::OK).await;
        let access = body["data"]["tokens"]["access"].as_str().expect("access").to_string();

        let res = app.client.post(app.url("/api/users/refresh-token/")).form(&[("refresh", &refresh)]).send().await.expect("send");
        assert!(json_of(res, StatusCode::OK).await["access"].is_string());

        // No body at all is an empty form, so the field is missing (not 415).
        let res = app.client.post(app.url("/api/users/logout/")).bearer_auth(&access).send().await.expect("send");
        assert_eq!(json_of(res, StatusCode::BAD_REQUEST).await, json!({"status": "failed", "message": "Refresh token is required"}));
        let res = app.client.post(app.url("/api/users/logout/")).bearer_auth(&access).form(&[("refresh", &refresh)]).send().await.expect("send");
        assert_eq!(json_of(res, StatusCode::OK).await["message"], "User logged out successfully");

        // A form is validated like JSON: every field's problem, in the surface's shape.
        let res = app.client.post(app.url("/api/users/register/")).form(&[("email", "nope")]).send().await.expect("send");
        let body = json_of(res, StatusCode::BAD_REQUEST).await;
        assert_eq!(body["status"], "failed");
        assert_eq!(body["errors"]["email"], json!(["Enter a valid email address."]));
        assert_eq!(body["errors"]["password"], json!(["This field is required."]));
    }
}

both_backends! {
    async fn documents_000_and_001_read_forms_and_multipart_as_they_read_json(app) {
        let (access, _) = app.register_tokens("acct@example.com").await;
        let res = app.client.post(app.url("/api/users/session/")).form(&[("email", "acct@example.com"), ("password", PASSWORD)]).send().await.expect("send");
        let body = json_of(res, StatusCode::OK).await;
        assert_eq!(body["user"]["email"], "acct@example.com");

        let res = app.client.patch(app.url("/api/users/settings/")).bearer_auth(&access).form(&[("tz", "Europe/Paris")]).send().await.expect("send");
        assert_eq!(json_of(res, StatusCode::OK).await["details"]["updated_fields"]["tz"], "Europe/Paris");
        let res = app
            .client
            .patch(app.url("/api/users/settings/"))
            .bearer_auth(&access)
            .multipart(Form::new().text("tz", "Asia/Tokyo"))
            .send()
            .await
            .expect("send");
        assert_eq!(json_of(res, StatusCode::OK).await["details"]["updated_fields"]["tz"], "Asia/Tokyo");
        let res = app.client.patch(app.url("/api/users/settings/")).bearer_auth(&access).form(&[("tz", "Mars/Base")]).send().await.expect("send");
        let body = json_of(res, StatusCode::BAD_REQUEST).await;
        assert_eq!(body["message"], "Unexpected error");
        assert!(body["errors"]["tz"].is_array(), "{body}");

        // Checkout reads the form too; without Stripe it is document 001's 400, not 415.
        let res = app.client.post(app.url("/api/users/stripe/checkout/")).bearer_auth(&access).form(&[("plan", "pro")]).send().await.expect("send");
        assert!(json_of(res, StatusCode::BAD_REQUEST).await["message"].is_string());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bodies_of_other_types_get_415_in_the_surfaces_shape() {
    let app = sqlite_app().await;
    let send = |path: &'static str, content_type: &'static str| {
        app.client.post(app.url(path)).header(header::CONTENT_TYPE, content_type).body("email=a").send()
    };
    let res = send("/api/users/login/", "text/plain").await.expect("send");
    let body = json_of(res, StatusCode::UNSUPPORTED_MEDIA_TYPE).await;
    assert_eq!(body, json!({"status": "failed", "message": "Unsupported media type \"text/plain\" in request."}));
    let res = send("/api/users/session/", "application/xml").await.expect("send");
    let body = json_of(res, StatusCode::UNSUPPORTED_MEDIA_TYPE).await;
    assert_eq!(body, json!({"message": "Unsupported media type \"application/xml\" in request."}));
    let res = send("/api/users/login/", "multipart/form-data").await.expect("send");
    let body = json_of(res, StatusCode::BAD_REQUEST).await;
    assert!(body["message"].as_str().expect("message").starts_with("Multipart form parse error"), "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_upload_names_the_type_it_was_sent() {
    let app = sqlite_app().await;
    let (access, _) = app.register_tokens("up@example.com").await;
    let res = app
        .client
        .post(app.url("/api/files/"))
        .bearer_auth(&access)
        .json(&json!({"file": "x"}))
        .send()
        .await
        .expect("send");
    let body = json_of(res, StatusCode::UNSUPPORTED_MEDIA_TYPE).await;
    assert_eq!(body, json!({"message": "Unsupported media type \"application/json\" in request."}));
    let res = app
        .client
        .post(app.url("/api/files/"))
        .bearer_auth(&access)
        .header(header::CONTENT_TYPE, "multipart/form-data")
        .body("--x--")
        .send()
        .await
        .expect("send");
    let body = json_of(res, StatusCode::BAD_REQUEST).await;
    assert!(body["message"].as_str().expect("message").starts_with("Multipart form parse error"), "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_webhook_body_is_refused_in_json() {
    let app = sqlite_app().await;
    let res = app
        .client
        .post(app.url("/api/users/stripe/webhook/"))
        .header(header::CONTENT_TYPE, "application/json")
        .body(vec![b' '; 200 * 1024])
        .send()
        .await
        .expect("send");
    let body = json_of(res, StatusCode::PAYLOAD_TOO_LARGE).await;
    assert!(body["message"].is_string(), "{body}");
}

both_backends! {
    async fn drf_token_scheme_authenticates_the_personal_api_token(app) {
        let (access, _) = app.register_tokens("tok@example.com").await;
        let body = json_of(app.get("/api/users/me/token/", Some(&access)).await, StatusCode::OK).await;
        let key = body["access_token"].as_str().expect("token").to_string();
        for path in ["/api/users/me/", "/api/users/profile/", "/api/files/"] {
            let res = app.client.get(app.url(path)).header(header::AUTHORIZATION, format!("Token {key}")).send().await.expect("send");
            assert_eq!(res.status(), StatusCode::OK, "{path}");
        }
        // `Token` carries an API token only: a JWT in it is not one.
        let res = app.client.get(app.url("/api/users/me/")).header(header::AUTHORIZATION, format!("Token {access}")).send().await.expect("send");
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
        let res = app.client.get(app.url("/api/users/me/")).header(header::AUTHORIZATION, "Token nope").send().await.expect("send");
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_path_without_its_trailing_slash_redirects_keeping_the_method() {
    let app = sqlite_app().await;
    app.register("slash@example.com").await;
    let login = json!({"email": "slash@example.com", "password": PASSWORD});
    let res = app.client.post(app.url("/api/users/login")).json(&login).send().await.expect("send");
    assert_eq!(res.status(), StatusCode::PERMANENT_REDIRECT);
    assert_eq!(res.headers()[header::LOCATION], "/api/users/login/");
    let res = app.get("/api/files?limit=5", None).await;
    assert_eq!(res.status(), StatusCode::PERMANENT_REDIRECT);
    assert_eq!(res.headers()[header::LOCATION], "/api/files/?limit=5");
    let res = app.get("/api/files/abc", None).await;
    assert_eq!(res.headers()[header::LOCATION], "/api/files/abc/", "templates match too");
    // Only where the slashed path is a route.
    assert_eq!(app.get("/api/users/nothing", None).await.status(), StatusCode::NOT_FOUND);
    // A client that follows redirects (as requests and curl -L do) logs in with one POST.
    let following = reqwest::Client::new();
    let res = following.post(app.url("/api/users/login")).json(&login).send().await.expect("send");
    assert_eq!(json_of(res, StatusCode::OK).await["message"], "Login successful");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn options_answers_with_the_allowed_methods() {
    let app = sqlite_app().await;
    let cases = [
        ("/api/users/login/", "POST, OPTIONS"),
        ("/api/users/session/", "GET, HEAD, POST, DELETE, OPTIONS"),
        ("/api/files/{id}/", "GET, HEAD, DELETE, OPTIONS"),
        ("/healthz", "GET, HEAD, OPTIONS"),
    ];
    for (path, allow) in cases {
        let path = path.replace("{id}", "abc");
        let res = app.client.request(reqwest::Method::OPTIONS, app.url(&path)).send().await.expect("send");
        assert_eq!(res.headers()[header::ALLOW], allow, "{path}");
        let body: Value = json_of(res, StatusCode::OK).await;
        assert_eq!(
            body["parses"],
            json!(["application/json", "application/x-www-form-urlencoded", "multipart/form-data"])
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_responses_are_gzipped_for_clients_that_accept_it() {
    let app = sqlite_app().await;
    for path in ["/api/openapi.json", "/metrics"] {
        let plain = app.get(path, None).await;
        assert!(plain.headers().get(header::CONTENT_ENCODING).is_none(), "{path}");
        let plain_len = plain.bytes().await.expect("body").len();
        let res = app.client.get(app.url(path)).header(header::ACCEPT_ENCODING, "gzip").send().await.expect("send");
        assert_eq!(res.headers()[header::CONTENT_ENCODING], "gzip", "{path}");
        let gzipped = res.bytes().await.expect("body");
        assert!(gzipped.starts_with(&[0x1f, 0x8b]) && gzipped.len() < plain_len, "{path}");
    }
    // A user's file is sent as stored.
    let (access, _) = app.register_tokens("gz@example.com").await;
    let form = Form::new()
        .part("file", Part::bytes(vec![b'a'; 8192]).file_name("a.txt").mime_str("text/plain").expect("mime"));
    let res = app.client.post(app.url("/api/files/")).bearer_auth(&access).multipart(form).send().await.expect("send");
    let id = json_of(res, StatusCode::CREATED).await["id"].as_str().expect("id").to_string();
    let res = app
        .client
        .get(app.url(&format!("/api/files/{id}/content/")))
        .bearer_auth(&access)
        .header(header::ACCEPT_ENCODING, "gzip")
        .send()
        .await
        .expect("send");
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.headers().get(header::CONTENT_ENCODING).is_none());
    assert_eq!(res.bytes().await.expect("body").len(), 8192);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_docs_page_runs_under_a_content_security_policy() {
    let app = sqlite_app().await;
    let res = app.get("/api/docs/", None).await;
    assert_eq!(res.status(), StatusCode::OK);
    let csp = res.headers()[header::CONTENT_SECURITY_POLICY].to_str().expect("ascii").to_string();
    for directive in ["default-src 'self'", "script-src 'self'", "frame-ancestors 'none'", "object-src 'none'"] {
        assert!(csp.contains(directive), "{directive} in {csp}");
    }
    let page = res.text().await.expect("page");
    assert!(!page.contains("<script>"), "no inline script the policy would block");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_browser_session_signs_in_with_a_form() {
    let app = sqlite_app().await;
    app.register("browser@example.com").await;
    let (cookie, csrf) = browser_session(&app, "browser@example.com").await;
    let res = app
        .client
        .patch(app.url("/api/users/settings/"))
        .header(header::COOKIE, &cookie)
        .header("x-csrftoken", &csrf)
        .form(&[("tz", "UTC")])
        .send()
        .await
        .expect("send");
    assert_eq!(res.status(), StatusCode::OK);
}
