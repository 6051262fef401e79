//! Documents 000 and 001: the current user, personal API tokens, settings, and the browser
//! session with CSRF.

use reqwest::{StatusCode, header};
use serde_json::{Value, json};

use crate::{both_backends, helpers::*};

/// Extra request headers of a test case.
type Headers = Vec<(&'static str, String)>;

/// Registers through document 002 and returns (JWT access token, personal API token).
pub async fn user_with_api_token(app: &TestApp, email: &str) -> (String, String) {
    let (access, _) = app.register_tokens(email).await;
    let body = json_of(app.get("/api/users/me/token/", Some(&access)).await, StatusCode::OK).await;
    (access, body["access_token"].as_str().expect("token").to_string())
}

/// Signs in through `/api/users/session/`; returns (Cookie header value, csrf token).
pub async fn browser_session(app: &TestApp, email: &str) -> (String, String) {
    let res = app.post_json("/api/users/session/", &json!({"email": email, "password": PASSWORD}), None).await;
    assert_eq!(res.status(), StatusCode::OK);
    let cookies: Vec<String> =
        res.headers().get_all(header::SET_COOKIE).iter().map(|v| v.to_str().expect("ascii").to_string()).collect();
    let sid = cookies.iter().find(|c| c.starts_with("sessionid=")).expect("sessionid cookie");
    let csrf = cookies.iter().find(|c| c.starts_with("csrftoken=")).expect("csrftoken cookie");
    assert!(sid.contains("HttpOnly"), "{sid}");
    assert!(sid.contains("SameSite=Lax"), "{sid}");
    assert!(!csrf.contains("HttpOnly"), "the app's JavaScript reads it: {csrf}");
    let value = |c: &str| c.split(';').next().expect("pair").to_string();
    let csrf_token = value(csrf).trim_start_matches("csrftoken=").to_string();
    (format!("{}; {}", value(sid), value(csrf)), csrf_token)
}

both_backends! {
    async fn me_shows_every_documented_field_and_the_api_token(app) {
        let (access, _) = app.register_tokens("user@example.com").await;
        let body = json_of(app.get("/api/users/me/", Some(&access)).await, StatusCode::OK).await;
        let mut keys: Vec<&str> = body.as_object().expect("object").keys().map(String::as_str).collect();
        keys.sort_unstable();
        assert_eq!(keys, ["access_token", "email", "email_verified", "external_id", "first_name", "is_authenticated", "last_name", "username"]);
        assert_eq!(body["email"], "user@example.com");
        assert_eq!(body["email_verified"], false);
        assert_eq!(body["username"], "user");
        assert_eq!(body["first_name"], "John");
        assert_eq!(body["is_authenticated"], true);
        let token = body["access_token"].as_str().expect("token");
        assert!(token.starts_with("userd_") && token.len() >= 6 + 43, "prefixed, 32 random bytes: {token}");
        let again = json_of(app.get("/api/users/me/token/", Some(&access)).await, StatusCode::OK).await;
        assert_eq!(again, json!({"access_token": token}), "the same token is shown again");
    }
}

both_backends! {
    async fn the_api_token_authenticates_on_every_surface(app) {
        let (_, token) = user_with_api_token(&app, "user@example.com").await;
        assert_eq!(app.get("/api/users/me/", Some(&token)).await.status(), StatusCode::OK);
        assert_eq!(app.get("/api/users/storage/", Some(&token)).await.status(), StatusCode::OK);
        let profile = json_of(app.get("/api/users/profile/", Some(&token)).await, StatusCode::OK).await;
        assert_eq!(profile["data"]["email"], "user@example.com");
    }
}

both_backends! {
    async fn regenerating_invalidates_the_old_token_at_once(app) {
        let (access, old) = user_with_api_token(&app, "user@example.com").await;
        let body = json_of(app.post_json("/api/users/me/token/regenerate/", &json!({}), Some(&old)).await, StatusCode::OK).await;
        let new = body["access_token"].as_str().expect("token").to_string();
        assert_ne!(new, old);
        let refused = json_of(app.get("/api/users/me/", Some(&old)).await, StatusCode::UNAUTHORIZED).await;
        assert_eq!(refused, json!({"message": "Not authenticated"}));
        assert_eq!(app.get("/api/users/me/", Some(&new)).await.status(), StatusCode::OK);
        let shown = json_of(app.get("/api/users/me/token/", Some(&access)).await, StatusCode::OK).await;
        assert_eq!(shown["access_token"], new.as_str());
    }
}

both_backends! {
    async fn api_tokens_are_stored_hashed_and_encrypted(app) {
        let (_, token) = user_with_api_token(&app, "user@example.com").await;
        let rows: Vec<(Vec<u8>, Vec<u8>)> = match app.database_url.starts_with("sqlite") {
            true => {
                let pool = sqlx::SqlitePool::connect(&app.database_url).await.expect("db");
                sqlx::query_as("SELECT token_hash, token_enc FROM api_tokens").fetch_all(&pool).await.expect("rows")
            }
            false => {
                let pool = sqlx::PgPool::connect(&app.database_url).await.expect("db");
                sqlx::query_as("SELECT token_hash, token_enc FROM api_tokens").fetch_all(&pool).await.expect("rows")
            }
        };
        assert_eq!(rows.len(), 1);
        let (hash, enc) = &rows[0];
        assert_eq!(hash.len(), 32, "a SHA-256");
        let needle = token.as_bytes();
        assert!(!enc.windows(needle.len()).any(|w| w == needle), "ciphertext does not contain the token");
        assert!(!enc.windows(20).any(|w| needle.windows(20).any(|n| n == w)), "nor any long piece of it");
    }
}

both_backends! {
    async fn token_endpoints_refuse_unauthenticated_callers(app) {
        for (method, path) in [("GET", "/api/users/me/"), ("GET", "/api/users/me/token/"), ("POST", "/api/users/me/token/regenerate/"), ("GET", "/api/users/storage/")] {
            for token in [None, Some("userd_not-a-real-token"), Some("not-even-prefixed")] {
                let mut req = app.client.request(method.parse().expect("method"), app.url(path));
                if let Some(t) = token {
                    req = req.bearer_auth(t);
                }
                let res = req.send().await.expect("send");
                let body = json_of(res, StatusCode::UNAUTHORIZED).await;
                assert_eq!(body, json!({"message": "Not authenticated"}), "{method} {path} {token:?}");
            }
        }
    }
}

both_backends! {
    async fn settings_update_the_time_zone(app) {
        let (access, _) = app.register_tokens("user@example.com").await;
        let patch = |body: Value| {
            app.client.patch(app.url("/api/users/settings/")).bearer_auth(&access).json(&body).send()
        };
        let body = json_of(patch(json!({"tz": "America/New_York"})).await.expect("send"), StatusCode::OK).await;
        assert_eq!(body, json!({"message": "ok", "details": {"updated_fields": {"tz": "America/New_York"}}}));
        let body = json_of(patch(json!({"tz": "America/New_York"})).await.expect("send"), StatusCode::OK).await;
        assert_eq!(body, json!({"message": "ok"}), "nothing changed, no details");
        let body = json_of(patch(json!({})).await.expect("send"), StatusCode::OK).await;
        assert_eq!(body, json!({"message": "ok"}));
        let body = json_of(patch(json!({"tz": "UTC"})).await.expect("send"), StatusCode::OK).await;
        assert_eq!(body["details"]["updated_fields"]["tz"], "UTC");
        let body = json_of(patch(json!({"tz": null})).await.expect("send"), StatusCode::OK).await;
        assert_eq!(body, json!({"message": "ok", "details": {"updated_fields": {"tz": null}}}));
    }
}

both_backends! {
    async fn settings_refuse_bad_time_zones_and_strangers(app) {
        let (access, _) = app.register_tokens("user@example.com").await;
        // (body, why)
        let cases = [
            (json!({"tz": "Mars/Olympus_Mons"}), "not a zone"),
            (json!({"tz": ""}), "blank"),
            (json!({"tz": 42}), "a number is not a zone"),
            (json!({"tz": ["UTC"]}), "not a string"),
        ];
        for (body, why) in cases {
            let res = app.client.patch(app.url("/api/users/settings/")).bearer_auth(&access).json(&body).send().await.expect("send");
            let out = json_of(res, StatusCode::BAD_REQUEST).await;
            assert_eq!(out["message"], "Unexpected error", "{why}");
            assert!(out["errors"]["tz"].is_array(), "{why}: {out}");
        }
        let res = app.client.patch(app.url("/api/users/settings/")).json(&json!({"tz": "UTC"})).send().await.expect("send");
        assert_eq!(json_of(res, StatusCode::UNAUTHORIZED).await, json!({"message": "Unauthorized"}));
        // Nothing was changed by the refused requests.
        let res = app.client.patch(app.url("/api/users/settings/")).bearer_auth(&access).json(&json!({"tz": null})).send().await.expect("send");
        assert_eq!(json_of(res, StatusCode::OK).await, json!({"message": "ok"}));
    }
}

both_backends! {
    async fn a_browser_session_works_with_its_csrf_token(app) {
        app.register("user@example.com").await;
        let (cookie, csrf) = browser_session(&app, "user@example.com").await;
        let me = app.client.get(app.url("/api/users/me/")).header(header::COOKIE, &cookie).send().await.expect("send");
        let me = json_of(me, StatusCode::OK).await;
        let old = me["access_token"].as_str().expect("token").to_string();

        let res = app.client.post(app.url("/api/users/me/token/regenerate/")).header(header::COOKIE, &cookie).header("X-CSRFToken", &csrf).send().await.expect("send");
        let new = json_of(res, StatusCode::OK).await;
        assert_ne!(new["access_token"], old.as_str());
    }
}

both_backends! {
    async fn unsafe_requests_with_the_session_cookie_need_the_csrf_header(app) {
        app.register("user@example.com").await;
        let (cookie, csrf) = browser_session(&app, "user@example.com").await;
        let token_before = json_of(app.client.get(app.url("/api/users/me/token/")).header(header::COOKIE, &cookie).send().await.expect("send"), StatusCode::OK).await;
        let api_token = token_before["access_token"].as_str().expect("token").to_string();

        // (extra headers, expected message, why)
        let cases: Vec<(Headers, &str, &str)> = vec![
            (vec![], "CSRF Failed: CSRF token missing.", "no header"),
            (vec![("X-CSRFToken", "wrong".into())], "CSRF Failed: CSRF token incorrect.", "wrong token"),
            (vec![("X-CSRFToken", format!("{csrf}x"))], "CSRF Failed: CSRF token incorrect.", "token with extra characters"),
            (vec![("Authorization", format!("Bearer {api_token}"))], "CSRF Failed: CSRF token missing.", "a bearer header does not switch the check off"),
        ];
        for (headers, message, why) in cases {
            let mut req = app.client.post(app.url("/api/users/me/token/regenerate/")).header(header::COOKIE, &cookie);
            for (k, v) in &headers {
                req = req.header(*k, v);
            }
            let body = json_of(req.send().await.expect("send"), StatusCode::FORBIDDEN).await;
            assert_eq!(body, json!({"message": message}), "{why}");
        }
        let res = app.client.patch(app.url("/api/users/settings/")).header(header::COOKIE, &cookie).json(&json!({"tz": "UTC"})).send().await.expect("send");
        assert_eq!(res.status(), StatusCode::FORBIDDEN, "settings too");
        let res = app.client.post(app.url("/api/users/logout/")).header(header::COOKIE, &cookie).json(&json!({"refresh": "x"})).send().await.expect("send");
        assert_eq!(res.status(), StatusCode::FORBIDDEN, "and document 002's endpoints");

        // Nothing changed.
        let after = json_of(app.client.get(app.url("/api/users/me/token/")).header(header::COOKIE, &cookie).send().await.expect("send"), StatusCode::OK).await;
        assert_eq!(after, token_before);
        let settings = app.client.patch(app.url("/api/users/settings/")).header(header::COOKIE, &cookie).header("X-CSRFToken", &csrf).json(&json!({"tz": "UTC"})).send().await.expect("send");
        let settings = json_of(settings, StatusCode::OK).await;
        assert!(settings["details"].is_object(), "tz was not set by the forged request");
    }
}

both_backends! {
    async fn signing_out_ends_the_session(app) {
        app.register("user@example.com").await;
        let (cookie, csrf) = browser_session(&app, "user@example.com").await;
        let res = app.client.delete(app.url("/api/users/session/")).header(header::COOKIE, &cookie).send().await.expect("send");
        assert_eq!(res.status(), StatusCode::FORBIDDEN, "sign-out needs the CSRF header too");
        let res = app.client.delete(app.url("/api/users/session/")).header(header::COOKIE, &cookie).header("X-CSRFToken", &csrf).send().await.expect("send");
        assert_eq!(res.status(), StatusCode::NO_CONTENT);
        let cleared: Vec<&str> = res.headers().get_all(header::SET_COOKIE).iter().filter_map(|v| v.to_str().ok()).collect();
        assert!(cleared.iter().any(|c| c.starts_with("sessionid=") && c.contains("Max-Age=0")), "{cleared:?}");
        let res = app.client.get(app.url("/api/users/me/")).header(header::COOKIE, &cookie).send().await.expect("send");
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "the old cookie no longer works");
    }
}

both_backends! {
    async fn session_sign_in_checks_credentials(app) {
        app.register("user@example.com").await;
        let res = app.post_json("/api/users/session/", &json!({"email": "user@example.com", "password": "wrong-password"}), None).await;
        assert!(res.headers().get(header::SET_COOKIE).is_none());
        assert_eq!(json_of(res, StatusCode::UNAUTHORIZED).await, json!({"message": "Invalid email or password."}));
        let res = app.post_json("/api/users/session/", &json!({"password": PASSWORD}), None).await;
        assert_eq!(res.status(), StatusCode::BAD_REQUEST);
        let res = app.post_json("/api/users/session/", &json!({"username": "user", "password": PASSWORD}), None).await;
        assert_eq!(res.status(), StatusCode::OK, "a username signs in too");
        let forged = app.client.get(app.url("/api/users/me/")).header(header::COOKIE, "sessionid=abc.def").send().await.expect("send");
        assert_eq!(forged.status(), StatusCode::UNAUTHORIZED);
    }
}

both_backends! {
    async fn session_cookies_are_secure_behind_https(app)
    env = [("USERD_PUBLIC_URL", "https://users.example.com")];
    {
        app.register("user@example.com").await;
        let res = app.post_json("/api/users/session/", &json!({"email": "user@example.com", "password": PASSWORD}), None).await;
        let cookies: Vec<&str> = res.headers().get_all(header::SET_COOKIE).iter().filter_map(|v| v.to_str().ok()).collect();
        assert!(cookies.iter().all(|c| c.contains("Secure")), "{cookies:?}");
    }
}
