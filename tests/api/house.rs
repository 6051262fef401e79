//! Regressions of the restructuring: absurd lifetimes, inactive accounts on every
//! credential kind, registration as one transaction, browser sign-out by cookie only,
//! and paged file lists.

use reqwest::{StatusCode, header, multipart};
use serde_json::json;

use crate::{account::browser_session, both_backends, helpers::*};

both_backends! {
    async fn the_longest_allowed_lifetimes_register_and_log_in(app)
    env = [("USERD_ACCESS_TTL", "7d"), ("USERD_REFRESH_TTL", "365d")];
    {
        let (access, refresh) = app.register_tokens("user@example.com").await;
        assert_eq!(app.login("user@example.com", PASSWORD).await.status(), StatusCode::OK);
        assert_eq!(app.get("/api/users/profile/", Some(&access)).await.status(), StatusCode::OK);
        let res = app.post_json("/api/users/refresh-token/", &json!({"refresh": refresh}), None).await;
        assert_eq!(res.status(), StatusCode::OK);
    }
}

async fn upload(app: &TestApp, token: &str) -> String {
    let part = multipart::Part::bytes(b"hello".to_vec()).file_name("a.txt").mime_str("text/plain").expect("mime");
    let res = app
        .client
        .post(app.url("/api/files/"))
        .bearer_auth(token)
        .multipart(multipart::Form::new().part("file", part))
        .send()
        .await
        .expect("send");
    json_of(res, StatusCode::CREATED).await["id"].as_str().expect("id").to_string()
}

both_backends! {
    async fn a_deactivated_account_is_refused_with_every_credential_on_every_endpoint(app) {
        let (access, refresh) = app.register_tokens("user@example.com").await;
        let api_token = json_of(app.get("/api/users/me/token/", Some(&access)).await, StatusCode::OK).await
            ["access_token"].as_str().expect("token").to_string();
        let (cookie, csrf) = browser_session(&app, "user@example.com").await;
        let file = upload(&app, &access).await;
        // Every credential works, and caches whatever it caches, before the deactivation.
        for token in [&access, &api_token] {
            assert_eq!(app.get("/api/files/", Some(token)).await.status(), StatusCode::OK);
        }

        app.db.execute("UPDATE users SET is_active = FALSE").await;
        app.until_status("/api/users/profile/", Some(&access), StatusCode::UNAUTHORIZED).await;

        let paths = ["/api/users/profile/", "/api/users/me/", "/api/users/storage/", "/api/files/",
                     &format!("/api/files/{file}/"), &format!("/api/files/{file}/content/")];
        for path in paths {
            for token in [&access, &api_token] {
                let res = app.get(path, Some(token)).await;
                assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "GET {path} with a bearer credential");
            }
            let res = app.client.get(app.url(path)).header(header::COOKIE, &cookie).send().await.expect("send");
            assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "GET {path} with the session cookie");
        }
        for token in [&access, &api_token] {
            let res = app.client.delete(app.url(&format!("/api/files/{file}/"))).bearer_auth(token).send().await.expect("send");
            assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "DELETE with a bearer credential");
        }
        let res = app.client.delete(app.url(&format!("/api/files/{file}/"))).header(header::COOKIE, &cookie)
            .header("X-CSRFToken", &csrf).send().await.expect("send");
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "DELETE with the session cookie");
        let res = app.post_json("/api/users/refresh-token/", &json!({"refresh": refresh}), None).await;
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "no new access token either");
        assert_eq!(app.login("user@example.com", PASSWORD).await.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(app.db.count("SELECT COUNT(*) FROM files").await, 1, "nothing was deleted");

        app.db.execute("UPDATE users SET is_active = TRUE").await;
        app.until_status("/api/files/", Some(&access), StatusCode::OK).await;
    }
}

both_backends! {
    async fn a_registration_that_fails_midway_leaves_no_account_behind(app) {
        // Make the session insert, the second write of registration, fail.
        let trigger = match app.db.backend {
            Backend::Sqlite => "CREATE TRIGGER fail_sessions BEFORE INSERT ON sessions BEGIN SELECT RAISE(ABORT, 'no sessions'); END;".to_string(),
            Backend::Postgres => "CREATE FUNCTION fail_sessions() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'no sessions'; END $$ LANGUAGE plpgsql; \
                CREATE TRIGGER fail_sessions BEFORE INSERT ON sessions FOR EACH ROW EXECUTE FUNCTION fail_sessions();".to_string(),
        };
        app.db.execute(&trigger).await;
        let body = json!({"email": "user@example.com", "password": PASSWORD, "confirm_password": PASSWORD});
        let res = app.post_json("/api/users/register/", &body, None).await;
        let out = json_of(res, StatusCode::INTERNAL_SERVER_ERROR).await;
        assert_eq!(out, json!({"status": "failed", "message": "Internal server error."}), "no detail leaks");
        assert_eq!(app.db.count("SELECT COUNT(*) FROM users").await, 0, "the user was rolled back with the session");

        app.db.execute(match app.db.backend {
            Backend::Sqlite => "DROP TRIGGER fail_sessions",
            Backend::Postgres => "DROP TRIGGER fail_sessions ON sessions",
        }).await;
        let res = app.post_json("/api/users/register/", &body, None).await;
        assert_eq!(res.status(), StatusCode::CREATED, "the e-mail is free: nothing was half-written");
    }
}

both_backends! {
    async fn browser_sign_out_takes_the_session_cookie_not_a_bearer_token(app) {
        let (access, _) = app.register_tokens("user@example.com").await;
        let res = app.client.delete(app.url("/api/users/session/")).bearer_auth(&access).send().await.expect("send");
        assert_eq!(json_of(res, StatusCode::UNAUTHORIZED).await, json!({"message": "Not authenticated"}));
        assert_eq!(app.get("/api/users/profile/", Some(&access)).await.status(), StatusCode::OK, "the JWT login lives on");
    }
}

both_backends! {
    async fn file_lists_come_in_pages_that_follow_a_cursor(app) {
        let (token, _) = app.register_tokens("user@example.com").await;
        let mut uploaded = Vec::new();
        for _ in 0..5 {
            uploaded.push(upload(&app, &token).await);
        }
        uploaded.reverse(); // newest first
        let mut seen = Vec::new();
        let mut url = app.url("/api/files/?limit=2");
        let mut pages = 0;
        loop {
            let res = app.client.get(&url).bearer_auth(&token).send().await.expect("send");
            let page = json_of(res, StatusCode::OK).await;
            assert_eq!(page["count"], 5);
            pages += 1;
            seen.extend(page["results"].as_array().expect("results").iter().map(|f| f["id"].as_str().expect("id").to_string()));
            match page["next"].as_str() {
                Some(next) => url = next.to_string(),
                None => break,
            }
        }
        assert_eq!(pages, 3);
        assert_eq!(seen, uploaded, "every file once, newest first");
        for (query, why) in [("limit=0", "too small"), ("limit=1001", "too large"), ("limit=x", "not a number"), ("cursor=bogus", "not ours")] {
            let res = app.get(&format!("/api/files/?{query}"), Some(&token)).await;
            assert_eq!(res.status(), StatusCode::BAD_REQUEST, "{why}");
        }
    }
}
