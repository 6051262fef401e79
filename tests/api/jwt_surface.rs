//! Document 002: every endpoint, status and message.

use reqwest::StatusCode;
use serde_json::json;

use crate::{both_backends, helpers::*};

both_backends! {
    async fn health_check_says_the_service_is_running(app) {
        let body = json_of(app.get("/api/users/status/", None).await, StatusCode::OK).await;
        assert_eq!(body, json!({"status": "success", "message": "Service is running"}));
    }
}

both_backends! {
    async fn registration_returns_the_user_and_a_token_pair(app) {
        let res = app
            .post_json(
                "/api/users/register/",
                &json!({"email": "user@example.com", "password": PASSWORD, "confirm_password": PASSWORD,
                        "company_name": "My Company", "first_name": "John", "last_name": "Doe"}),
                None,
            )
            .await;
        assert_eq!(res.headers()["cache-control"], "no-store");
        assert_eq!(res.headers()["x-content-type-options"], "nosniff");
        let body = json_of(res, StatusCode::CREATED).await;
        assert_eq!(body["status"], "success");
        assert_eq!(body["message"], "User registered successfully");
        let user = &body["data"]["user"];
        assert!(user["id"].is_i64(), "id is a number: {user}");
        assert_eq!(
            json!({"email": user["email"], "first_name": user["first_name"], "last_name": user["last_name"], "company_name": user["company_name"]}),
            json!({"email": "user@example.com", "first_name": "John", "last_name": "Doe", "company_name": "My Company"})
        );
        assert_eq!(user.as_object().map(|o| o.len()), Some(5), "exactly the documented fields: {user}");
        for kind in ["access", "refresh"] {
            let t = body["data"]["tokens"][kind].as_str().expect("token");
            assert!(t.starts_with("eyJ") && t.split('.').count() == 3, "{kind} is a JWT");
        }
    }
}

both_backends! {
    async fn registering_an_existing_email_in_any_case_is_refused(app) {
        app.register("user@example.com").await;
        let res = app
            .post_json("/api/users/register/", &json!({"email": "USER@Example.com", "password": PASSWORD, "confirm_password": PASSWORD}), None)
            .await;
        let body = json_of(res, StatusCode::BAD_REQUEST).await;
        assert_eq!(
            body,
            json!({"status": "failed", "message": "A user with this email already exists.",
                   "errors": {"email": ["A user with this email already exists."]}})
        );
    }
}

both_backends! {
    async fn registration_rejects_each_invalid_field_with_its_message(app) {
        let long = "a".repeat(1025);
        // (body, field, expected message, why)
        let cases = [
            (json!({"password": PASSWORD, "confirm_password": PASSWORD}), "email", "This field is required.", "email missing"),
            (json!({"email": "not-an-email", "password": PASSWORD, "confirm_password": PASSWORD}), "email", "Enter a valid email address.", "email malformed"),
            (json!({"email": "", "password": PASSWORD, "confirm_password": PASSWORD}), "email", "This field may not be blank.", "email blank"),
            (json!({"email": ["a@b.co"], "password": PASSWORD, "confirm_password": PASSWORD}), "email", "Not a valid string.", "email not a string"),
            (json!({"email": "a@example.com", "confirm_password": PASSWORD}), "password", "This field is required.", "password missing"),
            (json!({"email": "a@example.com", "password": "short1", "confirm_password": "short1"}), "password", "This password is too short. It must contain at least 8 characters.", "too short"),
            (json!({"email": "a@example.com", "password": "password123", "confirm_password": "password123"}), "password", "This password is too common.", "common password"),
            (json!({"email": "a@example.com", "password": "73910573058", "confirm_password": "73910573058"}), "password", "This password is entirely numeric.", "numeric"),
            (json!({"email": "a@example.com", "password": long, "confirm_password": long}), "password", "Ensure this field has no more than 1024 characters.", "over 1024 characters"),
            (json!({"email": "a@example.com", "password": PASSWORD}), "confirm_password", "This field is required.", "confirmation missing"),
            (json!({"email": "a@example.com", "password": PASSWORD, "confirm_password": "securepassword124"}), "confirm_password", "Passwords do not match.", "confirmation differs"),
            (json!({"email": "a@example.com", "password": PASSWORD, "confirm_password": PASSWORD, "first_name": "x".repeat(151)}), "first_name", "Ensure this field has no more than 150 characters.", "name too long"),
        ];
        for (body, field, message, why) in cases {
            let res = app.post_json("/api/users/register/", &body, None).await;
            let out = json_of(res, StatusCode::BAD_REQUEST).await;
            assert_eq!(out["status"], "failed", "{why}");
            let msgs = out["errors"][field].as_array().unwrap_or_else(|| panic!("{why}: no errors for {field}: {out}"));
            assert!(msgs.iter().any(|m| m == message), "{why}: {out}");
            assert!(out["message"].is_string(), "{why}");
        }
        // Nothing was stored by any of them.
        let res = app.login("a@example.com", PASSWORD).await;
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    }
}

both_backends! {
    async fn a_64_character_password_is_accepted(app) {
        let password = "Correct-Horse-Battery-Staple-".repeat(3);
        let password = &password[..64];
        let res = app
            .post_json("/api/users/register/", &json!({"email": "long@example.com", "password": password, "confirm_password": password}), None)
            .await;
        assert_eq!(res.status(), StatusCode::CREATED);
        assert_eq!(app.login("long@example.com", password).await.status(), StatusCode::OK);
    }
}

both_backends! {
    async fn bodies_that_are_not_json_objects_get_clear_errors(app) {
        let url = app.url("/api/users/register/");
        let res = app.client.post(&url).header("content-type", "text/plain").body("email=a").send().await.expect("send");
        let body = json_of(res, StatusCode::UNSUPPORTED_MEDIA_TYPE).await;
        assert_eq!(body, json!({"status": "failed", "message": "Unsupported media type \"text/plain\" in request."}));

        let res = app.client.post(&url).header("content-type", "application/json").body("{\"email\": ").send().await.expect("send");
        let body = json_of(res, StatusCode::BAD_REQUEST).await;
        assert_eq!(body["status"], "failed");

        let res = app.post_json("/api/users/register/", &json!(["a", "b"]), None).await;
        let body = json_of(res, StatusCode::BAD_REQUEST).await;
        assert_eq!(body["message"], "Invalid data. Expected a dictionary, but got list.");

        let huge = json!({"email": "a@example.com", "bio": "x".repeat(200_000)});
        let res = app.post_json("/api/users/register/", &huge, None).await;
        let body = json_of(res, StatusCode::PAYLOAD_TOO_LARGE).await;
        assert_eq!(body["status"], "failed");
    }
}

both_backends! {
    async fn login_returns_the_user_and_tokens(app) {
        let registered = app.register("user@example.com").await;
        let body = json_of(app.login("User@Example.com", PASSWORD).await, StatusCode::OK).await;
        assert_eq!(body["status"], "success");
        assert_eq!(body["message"], "Login successful");
        assert_eq!(body["data"]["user"], registered["data"]["user"]);
        assert!(body["data"]["tokens"]["access"].is_string());
        assert!(body["data"]["tokens"]["refresh"].is_string());
    }
}

both_backends! {
    async fn wrong_password_and_unknown_email_get_the_same_answer(app) {
        app.register("user@example.com").await;
        let wrong = app.login("user@example.com", "not-the-password").await;
        assert_eq!(wrong.headers()["www-authenticate"], "Bearer realm=\"api\"");
        let wrong = json_of(wrong, StatusCode::UNAUTHORIZED).await;
        let unknown = json_of(app.login("nobody@example.com", PASSWORD).await, StatusCode::UNAUTHORIZED).await;
        assert_eq!(wrong, json!({"status": "failed", "message": "Invalid email or password."}));
        assert_eq!(unknown, wrong);
    }
}

both_backends! {
    async fn login_requires_both_fields(app) {
        let cases = [
            (json!({"password": PASSWORD}), "email"),
            (json!({"email": "user@example.com"}), "password"),
            (json!({"email": "user@example.com", "password": ""}), "password"),
        ];
        for (body, field) in cases {
            let out = json_of(app.post_json("/api/users/login/", &body, None).await, StatusCode::BAD_REQUEST).await;
            assert_eq!(out["status"], "failed");
            assert!(out["errors"][field].is_array(), "{out}");
        }
    }
}

both_backends! {
    async fn profile_shows_the_authenticated_user(app) {
        let (access, _) = app.register_tokens("user@example.com").await;
        let body = json_of(app.get("/api/users/profile/", Some(&access)).await, StatusCode::OK).await;
        assert_eq!(body["status"], "success");
        assert_eq!(body["message"], "Profile retrieved successfully");
        assert_eq!(body["data"]["email"], "user@example.com");
        assert_eq!(body["data"]["company_name"], "My Company");
        assert!(body["data"]["id"].is_i64());

        // Document 004's scheme is accepted everywhere.
        let res = app.client.get(app.url("/api/users/profile/")).header("authorization", format!("JWT {access}")).send().await.expect("send");
        assert_eq!(res.status(), StatusCode::OK);
    }
}

both_backends! {
    async fn profile_without_or_with_bad_credentials_is_refused(app) {
        let (access, refresh) = app.register_tokens("user@example.com").await;
        let none = json_of(app.get("/api/users/profile/", None).await, StatusCode::UNAUTHORIZED).await;
        assert_eq!(none, json!({"status": "failed", "message": "Authentication credentials were not provided."}));

        let mut tampered = access.clone();
        tampered.pop();
        tampered.push(if access.ends_with('A') { 'B' } else { 'A' });
        // (token, why)
        let cases = [
            (refresh.as_str(), "a refresh token is never an access token"),
            (tampered.as_str(), "signature does not match"),
            ("eyJhbGciOiJub25lIn0.eyJzdWIiOiIxIn0.", "alg none"),
            ("garbage", "not a token at all"),
        ];
        for (token, why) in cases {
            let res = app.get("/api/users/profile/", Some(token)).await;
            assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "{why}");
        }
        let res = app.client.get(app.url(&format!("/api/users/profile/?token={access}"))).send().await.expect("send");
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "never a token in the query string");
        let res = app.client.get(app.url("/api/users/profile/")).header("authorization", format!("Basic {access}")).send().await.expect("send");
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "other schemes are refused");
    }
}

both_backends! {
    async fn refresh_returns_only_a_new_access_token(app) {
        let (_, refresh) = app.register_tokens("user@example.com").await;
        let res = app.post_json("/api/users/refresh-token/", &json!({"refresh": refresh}), None).await;
        assert_eq!(res.headers()["cache-control"], "no-store");
        let body = json_of(res, StatusCode::OK).await;
        assert_eq!(body.as_object().map(|o| o.len()), Some(1), "{body}");
        let access = body["access"].as_str().expect("access");
        assert_eq!(app.get("/api/users/profile/", Some(access)).await.status(), StatusCode::OK);
    }
}

both_backends! {
    async fn refresh_refuses_invalid_tokens(app) {
        let (access, _) = app.register_tokens("user@example.com").await;
        for (token, why) in [(access.as_str(), "an access token"), ("nonsense", "garbage")] {
            let res = app.post_json("/api/users/refresh-token/", &json!({"refresh": token}), None).await;
            let body = json_of(res, StatusCode::UNAUTHORIZED).await;
            assert_eq!(body, json!({"status": "failed", "message": "Token is invalid or expired"}), "{why}");
        }
        let res = app.post_json("/api/users/refresh-token/", &json!({}), None).await;
        let body = json_of(res, StatusCode::BAD_REQUEST).await;
        assert_eq!(body["message"], "Refresh token is required");
        assert_eq!(body["errors"]["refresh"], json!(["This field is required."]));
    }
}

both_backends! {
    async fn logout_blacklists_the_refresh_token_and_ends_that_login(app) {
        let (access, refresh) = app.register_tokens("user@example.com").await;
        let other = json_of(app.login("user@example.com", PASSWORD).await, StatusCode::OK).await;
        let other_access = other["data"]["tokens"]["access"].as_str().expect("access").to_string();

        let res = app.post_json("/api/users/logout/", &json!({"refresh": refresh}), Some(&access)).await;
        let body = json_of(res, StatusCode::OK).await;
        assert_eq!(body, json!({"status": "success", "message": "User logged out successfully"}));

        let res = app.post_json("/api/users/refresh-token/", &json!({"refresh": refresh}), None).await;
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "blacklisted refresh token");
        assert_eq!(app.get("/api/users/profile/", Some(&access)).await.status(), StatusCode::UNAUTHORIZED, "access token of the ended login");
        assert_eq!(app.get("/api/users/profile/", Some(&other_access)).await.status(), StatusCode::OK, "other logins go on");
    }
}

both_backends! {
    async fn logout_errors_are_documented(app) {
        let (access, refresh) = app.register_tokens("user@example.com").await;
        let (_, someone_elses) = app.register_tokens("other@example.com").await;

        let body = json_of(app.post_json("/api/users/logout/", &json!({}), Some(&access)).await, StatusCode::BAD_REQUEST).await;
        assert_eq!(body, json!({"status": "failed", "message": "Refresh token is required"}));

        for (token, why) in [("nonsense", "garbage"), (access.as_str(), "an access token"), (someone_elses.as_str(), "another user's token")] {
            let res = app.post_json("/api/users/logout/", &json!({"refresh": token}), Some(&access)).await;
            let body = json_of(res, StatusCode::BAD_REQUEST).await;
            assert_eq!(body, json!({"status": "failed", "message": "Token is invalid or expired"}), "{why}");
        }

        let res = app.post_json("/api/users/logout/", &json!({"refresh": refresh}), None).await;
        let body = json_of(res, StatusCode::UNAUTHORIZED).await;
        assert_eq!(body["message"], "Authentication credentials were not provided.");
        // Still logged in: none of the refused calls changed anything.
        assert_eq!(app.get("/api/users/profile/", Some(&access)).await.status(), StatusCode::OK);
        assert_eq!(app.get("/api/users/profile/", None).await.status(), StatusCode::UNAUTHORIZED);
    }
}

both_backends! {
    async fn access_tokens_expire_after_their_configured_lifetime(app)
    env = [("USERD_ACCESS_TTL", "15m")];
    {
        let (access, refresh) = app.register_tokens("user@example.com").await;
        assert_eq!(app.get("/api/users/profile/", Some(&access)).await.status(), StatusCode::OK);
        app.clock.advance(std::time::Duration::from_secs(14 * 60));
        assert_eq!(app.get("/api/users/profile/", Some(&access)).await.status(), StatusCode::OK, "still alive");
        // Past the lifetime plus the verifier's few seconds of leeway.
        app.clock.advance(std::time::Duration::from_secs(60 + 6));
        assert_eq!(app.get("/api/users/profile/", Some(&access)).await.status(), StatusCode::UNAUTHORIZED);
        let res = app.post_json("/api/users/refresh-token/", &json!({"refresh": refresh}), None).await;
        assert_eq!(res.status(), StatusCode::OK, "the refresh token lives longer");
        // A week later the refresh token and its session have expired too.
        app.clock.advance(std::time::Duration::from_secs(7 * 86_400));
        let res = app.post_json("/api/users/refresh-token/", &json!({"refresh": refresh}), None).await;
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    }
}

both_backends! {
    async fn hs256_mode_signs_and_verifies_without_public_keys(app)
    env = [("USERD_JWT_ALG", "HS256")];
    {
        let (access, _) = app.register_tokens("user@example.com").await;
        let header = access.split('.').next().expect("header");
        let header: serde_json::Value = serde_json::from_slice(
            &base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, header).expect("b64"),
        )
        .expect("json");
        assert_eq!(header["alg"], "HS256");
        assert!(header["kid"].is_string());
        assert_eq!(app.get("/api/users/profile/", Some(&access)).await.status(), StatusCode::OK);
        let jwks = json_of(app.get("/.well-known/jwks.json", None).await, StatusCode::OK).await;
        assert_eq!(jwks, json!({"keys": []}));
    }
}

both_backends! {
    async fn login_attempts_are_throttled_when_rate_limiting_is_on(app)
    env = [("USERD_RATE_LIMIT", "on")];
    {
        app.fresh_throttle_windows();
        app.register("user@example.com").await;
        let mut throttled = None;
        for _ in 0..15 {
            let res = app.login("user@example.com", "wrong-password").await;
            if res.status() == StatusCode::TOO_MANY_REQUESTS {
                throttled = Some(res);
                break;
            }
            assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
        }
        let res = throttled.expect("throttled within 15 attempts");
        assert!(res.headers().contains_key("retry-after"));
        let body = json_of(res, StatusCode::TOO_MANY_REQUESTS).await;
        assert_eq!(body["status"], "failed");
    }
}
