//! Document 002's Google and GitHub login and the linked providers of the contract,
//! against local servers that speak Google's key endpoint (with real RSA keys made here)
//! and GitHub's OAuth and REST protocols.

pub(crate) mod fakes;

use std::time::Duration;

use reqwest::{Response, StatusCode, header};
use serde_json::{Value, json};

use self::fakes::*;
use crate::{account::browser_session, both_backends, helpers::*};

const GOOGLE: &str = "/api/users/login/google/";
const GITHUB: &str = "/api/users/login/github/";
const IDENTITIES: &str = "/api/users/identities/";
const GOOGLE_REFUSED: &str = "Invalid Google token. Please try again.";
const GITHUB_REFUSED: &str = "Failed to obtain access token from GitHub. Please try again.";

async fn spawn(backend: Backend, extra: &[(&str, &str)]) -> Option<(TestApp, FakeGoogle, FakeGitHub)> {
    let google = FakeGoogle::start().await;
    let github = FakeGitHub::start().await;
    let mut env = vec![
        ("USERD_GOOGLE_CLIENT_ID", GOOGLE_CLIENT_ID),
        ("USERD_GOOGLE_JWKS_URL", google.jwks_url.as_str()),
        ("USERD_GITHUB_CLIENT_ID", GITHUB_CLIENT_ID),
        ("USERD_GITHUB_CLIENT_SECRET", GITHUB_CLIENT_SECRET),
        ("USERD_GITHUB_OAUTH_URL", github.oauth_url.as_str()),
        ("USERD_GITHUB_API_URL", github.api_url.as_str()),
    ];
    env.extend_from_slice(extra);
    let app = TestApp::spawn_with(backend, &env).await?;
    Some((app, google, github))
}

/// Like `both_backends!`, with a fake Google and a fake GitHub started first, userd
/// configured to use them, and both passed to the body.
macro_rules! with_providers {
    (async fn $name:ident($app:ident, $google:ident, $github:ident) $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            async fn case($app: TestApp, $google: FakeGoogle, $github: FakeGitHub) $body
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let (app, google, github) = spawn(Backend::Sqlite, &[]).await.expect("SQLite is always available");
                case(app, google, github).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                if let Some((app, google, github)) = spawn(Backend::Postgres, &[]).await {
                    case(app, google, github).await
                }
            }
        }
    };
}

async fn google_login(app: &TestApp, token: &str) -> Response {
    app.post_json(GOOGLE, &json!({"token": token}), None).await
}

async fn github_login(app: &TestApp, code: &str) -> Response {
    app.post_json(GITHUB, &json!({"code": code}), None).await
}

fn refusal(message: &str) -> Value {
    json!({"status": "failed", "message": message})
}

fn access_of(body: &Value) -> String {
    body["data"]["tokens"]["access"].as_str().expect("access token").to_string()
}

async fn users(app: &TestApp) -> i64 {
    app.db.count("SELECT COUNT(*) FROM users").await
}

/// The providers linked to the caller, in link order, and whether they have a password.
async fn identities(app: &TestApp, token: &str) -> (Vec<String>, bool) {
    let body = json_of(app.get(IDENTITIES, Some(token)).await, StatusCode::OK).await;
    assert_eq!(
        (body["status"].as_str(), body["message"].as_str()),
        (Some("success"), Some("Identities retrieved successfully"))
    );
    let providers = body["data"]["identities"]
        .as_array()
        .expect("identities")
        .iter()
        .map(|i| i["provider"].as_str().expect("provider").to_string())
        .collect();
    (providers, body["data"]["has_password"].as_bool().expect("has_password"))
}

async fn unlink(app: &TestApp, provider: &str, token: &str) -> Response {
    app.client.delete(app.url(&format!("{IDENTITIES}{provider}/"))).bearer_auth(token).send().await.expect("send")
}

// ---- Google ----

with_providers! {
    async fn google_login_creates_a_verified_passwordless_user_and_signs_them_in(app, google, _github) {
        let res = google_login(&app, &google.token("google-sub-1", "Ada@Example.com")).await;
        let body = json_of(res, StatusCode::OK).await;
        assert_eq!(body["status"], "success");
        assert_eq!(body["message"], "Google login successful");
        let user = &body["data"]["user"];
        assert_eq!(
            (user["email"].as_str(), user["first_name"].as_str(), user["last_name"].as_str(), user["company_name"].as_str()),
            (Some("Ada@example.com"), Some("Ada"), Some("Lovelace"), Some(""))
        );
        assert!(user["id"].is_i64() && body["data"]["tokens"]["refresh"].is_string());
        let access = access_of(&body);
        let profile = json_of(app.get("/api/users/profile/", Some(&access)).await, StatusCode::OK).await;
        assert_eq!(profile["data"]["id"], user["id"]);
        let me = json_of(app.get("/api/users/me/", Some(&access)).await, StatusCode::OK).await;
        assert_eq!((me["email_verified"].as_bool(), me["username"].as_str()), (Some(true), Some("Ada")), "{me}");
        assert_eq!(app.db.count("SELECT COUNT(*) FROM users WHERE password_hash IS NULL").await, 1, "no password");
        assert_eq!(identities(&app, &access).await, (vec!["google".to_string()], false));

        // The next login finds the same user; each login is a session of its own.
        let again = json_of(google_login(&app, &google.token("google-sub-1", "ada@example.com")).await, StatusCode::OK).await;
        assert_eq!(again["data"]["user"]["id"], user["id"]);
        assert_ne!(access_of(&again), access);
        assert_eq!(users(&app).await, 1);
        assert_eq!(app.db.count("SELECT COUNT(*) FROM sessions").await, 2);
        // A user without a password cannot sign in with one.
        assert_eq!(app.login("ada@example.com", PASSWORD).await.status(), StatusCode::UNAUTHORIZED);
    }
}

with_providers! {
    async fn google_tokens_are_refused_unless_every_check_passes(app, google, _github) {
        let stranger = SigningKey::generate(&google.key.kid);
        let claims = |f: &dyn Fn(&mut Value)| {
            let mut c = google_claims("google-sub-1", "ada@example.com");
            f(&mut c);
            c
        };
        let good = google_claims("google-sub-1", "ada@example.com");
        let mut signature_of_another = google.key.sign(&good);
        signature_of_another.truncate(signature_of_another.rfind('.').expect("three parts"));
        let other = stranger.sign(&good);
        signature_of_another.push_str(&other[other.rfind('.').expect("three parts")..]);
        let cases: Vec<(String, &str)> = vec![
            (stranger.sign(&good), "signed by a key Google does not publish, under Google's kid"),
            (signature_of_another, "a valid token's claims with another key's signature"),
            (google.key.sign(&claims(&|c| c["aud"] = json!("someone-else.apps.googleusercontent.com"))), "another client's audience"),
            (google.key.sign(&claims(&|c| c["aud"] = json!(null))), "no audience"),
            (google.key.sign(&claims(&|c| c["iss"] = json!("https://accounts.evil.example"))), "another issuer"),
            (google.key.sign(&claims(&|c| c["iss"] = json!(null))), "no issuer"),
            (google.key.sign(&claims(&|c| c["exp"] = json!(now() - 3600))), "expired an hour ago"),
            (google.key.sign(&claims(&|c| c["exp"] = json!(null))), "no expiry"),
            (google.key.sign(&claims(&|c| c["iat"] = json!(now() + 3600))), "issued in an hour"),
            (google.key.sign(&claims(&|c| c["email_verified"] = json!(false))), "an unverified e-mail"),
            (google.key.sign(&claims(&|c| c["email_verified"] = json!(null))), "e-mail verification not stated"),
            (google.key.sign(&claims(&|c| c["email"] = json!(null))), "no e-mail"),
            (google.key.sign(&claims(&|c| c["email"] = json!("not an address"))), "not an e-mail address"),
            (google.key.sign(&claims(&|c| c["sub"] = json!(null))), "no subject"),
            (google.key.sign_with_header(&json!({"alg": "RS256", "kid": "no-such-kid"}), &good), "an unknown kid"),
            (google.key.sign_with_header(&json!({"alg": "RS256"}), &good), "no kid"),
            (google.key.sign_with_header(&json!({"alg": "RS384", "kid": google.key.kid}), &good), "another algorithm named"),
            (unsigned_token(&google.key.kid, &good), "alg none"),
            (hs256_token(&google.key.kid, &google.key.modulus(), &good), "HS256 keyed with the public key"),
            (hs256_token(&google.key.kid, google.key.jwk().to_string().as_bytes(), &good), "HS256 keyed with the JWK"),
            ("not.a.jwt".into(), "garbage"),
            ("x".repeat(8193), "over 8192 characters"),
        ];
        for (token, why) in &cases {
            let res = google_login(&app, token).await;
            assert_eq!(json_of(res, StatusCode::BAD_REQUEST).await["message"], GOOGLE_REFUSED, "{why}");
        }
        assert_eq!(users(&app).await, 0, "no user was created");
        assert_eq!(app.db.count("SELECT COUNT(*) FROM sessions").await, 0);

        // Exactly the documented shape; a missing token also says which field.
        let res = google_login(&app, &cases[0].0).await;
        assert_eq!(json_of(res, StatusCode::BAD_REQUEST).await, refusal(GOOGLE_REFUSED));
        for body in [json!({}), json!({"token": ""}), json!({"token": null}), json!({"token": ["x"]})] {
            let out = json_of(app.post_json(GOOGLE, &body, None).await, StatusCode::BAD_REQUEST).await;
            assert_eq!(out["message"], GOOGLE_REFUSED, "{body}");
            assert!(out["errors"]["token"].is_array(), "{body}: {out}");
        }

        // Both spellings of Google's issuer, a string `email_verified` and names from `name`
        // alone are accepted.
        for (sub, iss) in [("sub-a", "accounts.google.com"), ("sub-b", "https://accounts.google.com")] {
            let token = google.key.sign(&json!({
                "iss": iss, "aud": GOOGLE_CLIENT_ID, "sub": sub, "email": format!("{sub}@example.com"),
                "email_verified": "true", "name": "Grace Brewster Hopper", "iat": now(), "exp": now() + 60,
            }));
            let body = json_of(google_login(&app, &token).await, StatusCode::OK).await;
            assert_eq!((body["data"]["user"]["first_name"].as_str(), body["data"]["user"]["last_name"].as_str()),
                (Some("Grace"), Some("Brewster Hopper")), "{iss}");
        }
        let leeway = google.key.sign(&claims(&|c| c["exp"] = json!(now() - 5)));
        assert_eq!(google_login(&app, &leeway).await.status(), StatusCode::OK, "a few seconds of clock skew");
    }
}

with_providers! {
    async fn google_keys_are_fetched_once_and_refetched_for_a_new_kid_at_most_once_a_minute(app, google, _github) {
        google.set_max_age(300);
        for i in 0..5 {
            let res = google_login(&app, &google.token(&format!("sub-{i}"), &format!("user{i}@example.com"))).await;
            assert_eq!(res.status(), StatusCode::OK);
        }
        assert_eq!(google.fetches(), 1, "one fetch for many logins");

        // Google rotates: a token with the new kid makes userd look again, at most once a minute.
        let rotated = SigningKey::generate("google-key-2");
        google.publish(&rotated);
        let new_kid = rotated.sign(&google_claims("sub-rotated", "rotated@example.com"));
        assert_eq!(google_login(&app, &new_kid).await.status(), StatusCode::BAD_REQUEST, "fetched under a minute ago");
        assert_eq!(google.fetches(), 1);
        app.clock.advance(Duration::from_secs(61));
        assert_eq!(google_login(&app, &new_kid).await.status(), StatusCode::OK, "refetched for the new kid");
        assert_eq!(google.fetches(), 2);

        // A stream of forged kids costs at most one fetch a minute.
        for i in 0..10 {
            let forged = google.key.sign_with_header(&json!({"alg": "RS256", "kid": format!("forged-{i}")}), &google_claims("x", "x@example.com"));
            assert_eq!(google_login(&app, &forged).await.status(), StatusCode::BAD_REQUEST);
        }
        assert_eq!(google.fetches(), 2, "no fetch for unknown kids within the minute");
        app.clock.advance(Duration::from_secs(61));
        for i in 0..10 {
            let forged = google.key.sign_with_header(&json!({"alg": "RS256", "kid": format!("forged-again-{i}")}), &google_claims("x", "x@example.com"));
            assert_eq!(google_login(&app, &forged).await.status(), StatusCode::BAD_REQUEST);
        }
        assert_eq!(google.fetches(), 3, "one fetch for the whole stream");
        assert_eq!(google_login(&app, &google.token("sub-0", "user0@example.com")).await.status(), StatusCode::OK);
        assert_eq!(google.fetches(), 3, "known keys need no fetch");

        // Once max-age (300 s) has passed since the last fetch, the next login fetches again.
        app.clock.advance(Duration::from_secs(301));
        assert_eq!(google_login(&app, &google.token("sub-0", "user0@example.com")).await.status(), StatusCode::OK);
        assert_eq!(google.fetches(), 4);
    }
}

with_providers! {
    async fn a_key_endpoint_that_is_down_answers_400_and_the_keys_held_keep_working(app, google, _github) {
        google.set_down(true);
        // Valid for longer than the clock is moved below.
        let mut claims = google_claims("google-sub-1", "ada@example.com");
        claims["exp"] = json!(now() + 3 * 3600);
        let token = google.key.sign(&claims);
        assert_eq!(json_of(google_login(&app, &token).await, StatusCode::BAD_REQUEST).await, refusal(GOOGLE_REFUSED));
        assert_eq!(json_of(google_login(&app, &token).await, StatusCode::BAD_REQUEST).await, refusal(GOOGLE_REFUSED));
        assert_eq!(google.fetches(), 1, "a failed fetch is not retried within the minute");

        google.set_down(false);
        app.clock.advance(Duration::from_secs(61));
        assert_eq!(google_login(&app, &token).await.status(), StatusCode::OK, "back up");
        assert_eq!(google.fetches(), 2);

        // Down again once the keys are stale: the keys held keep verifying.
        google.set_down(true);
        app.clock.advance(Duration::from_secs(3601));
        assert_eq!(google_login(&app, &token).await.status(), StatusCode::OK, "stale keys still verify");
        assert_eq!(google.fetches(), 3, "and userd did try to refresh them");
        assert_eq!(users(&app).await, 1);
    }
}

both_backends! {
    async fn google_and_github_answer_400_when_they_cannot_be_reached(app)
    env = [
        ("USERD_GOOGLE_CLIENT_ID", GOOGLE_CLIENT_ID),
        ("USERD_GOOGLE_JWKS_URL", "http://127.0.0.1:9/oauth2/v3/certs"),
        ("USERD_GITHUB_CLIENT_ID", GITHUB_CLIENT_ID),
        ("USERD_GITHUB_CLIENT_SECRET", GITHUB_CLIENT_SECRET),
        ("USERD_GITHUB_OAUTH_URL", "http://127.0.0.1:9"),
        ("USERD_GITHUB_API_URL", "http://127.0.0.1:9"),
    ];
    {
        let key = SigningKey::generate("google-key-1");
        let res = google_login(&app, &key.sign(&google_claims("google-sub-1", "ada@example.com"))).await;
        assert_eq!(json_of(res, StatusCode::BAD_REQUEST).await, refusal(GOOGLE_REFUSED));
        let res = github_login(&app, "0123456789abcdef0123").await;
        assert_eq!(json_of(res, StatusCode::BAD_REQUEST).await, refusal(GITHUB_REFUSED));
        assert_eq!(users(&app).await, 0);
    }
}

both_backends! {
    async fn unconfigured_providers_answer_their_documented_400(app) {
        let res = google_login(&app, "eyJhbGciOiJSUzI1NiJ9.e30.c2ln").await;
        assert_eq!(json_of(res, StatusCode::BAD_REQUEST).await, refusal(GOOGLE_REFUSED));
        let res = github_login(&app, "0123456789abcdef0123").await;
        assert_eq!(json_of(res, StatusCode::BAD_REQUEST).await, refusal(GITHUB_REFUSED));
        let (access, _) = app.register_tokens("user@example.com").await;
        assert_eq!(identities(&app, &access).await, (vec![], true), "the identities endpoints still answer");
    }
}

both_backends! {
    async fn provider_logins_are_throttled_per_address_when_rate_limiting_is_on(app)
    env = [("USERD_RATE_LIMIT", "on")];
    {
        let mut throttled = None;
        for _ in 0..40 {
            let res = google_login(&app, "eyJhbGciOiJSUzI1NiJ9.e30.c2ln").await;
            if res.status() == StatusCode::TOO_MANY_REQUESTS {
                throttled = Some(res);
                break;
            }
            assert_eq!(res.status(), StatusCode::BAD_REQUEST);
        }
        let res = throttled.expect("throttled within 40 attempts");
        assert!(res.headers().get(header::RETRY_AFTER).is_some());
        assert_eq!(json_of(res, StatusCode::TOO_MANY_REQUESTS).await["status"], "failed");
        let res = github_login(&app, "0123456789abcdef0123").await;
        assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS, "GitHub shares the address's budget");
    }
}

// ---- GitHub ----

with_providers! {
    async fn github_login_exchanges_the_code_and_signs_in_with_the_primary_verified_email(app, _google, github) {
        let octo = Person::new(583231, Some("The Octocat"), &[
            ("octo-old@example.com", false, true),
            ("Octocat@GitHub.example", true, true),
        ]);
        let res = github_login(&app, &github.code_for(&octo)).await;
        let body = json_of(res, StatusCode::OK).await;
        assert_eq!((body["status"].as_str(), body["message"].as_str()), (Some("success"), Some("GitHub login successful")));
        let user = &body["data"]["user"];
        assert_eq!(
            (user["email"].as_str(), user["first_name"].as_str(), user["last_name"].as_str()),
            (Some("Octocat@github.example"), Some("The"), Some("Octocat"))
        );
        let access = access_of(&body);
        assert_eq!(identities(&app, &access).await, (vec!["github".to_string()], false));
        let (form, accept) = github.exchanges().pop().expect("one exchange");
        assert_eq!(accept.as_deref(), Some("application/json"));
        assert_eq!(
            (form.get("client_id").map(String::as_str), form.get("client_secret").map(String::as_str)),
            (Some(GITHUB_CLIENT_ID), Some(GITHUB_CLIENT_SECRET))
        );

        // A new code for the same person finds the same user, even under another name.
        let renamed = Person { name: None, ..octo.clone() };
        let again = json_of(github_login(&app, &github.code_for(&renamed)).await, StatusCode::OK).await;
        assert_eq!(again["data"]["user"]["id"], user["id"]);
        assert_eq!(users(&app).await, 1);
        let octo_id = user["id"].clone();

        // A form body works as well as JSON.
        let code = github.code_for(&octo);
        let res = app.client.post(app.url(GITHUB)).form(&[("code", code.as_str())]).send().await.expect("send");
        assert_eq!(json_of(res, StatusCode::OK).await["data"]["user"]["id"], octo_id);
    }
}

with_providers! {
    async fn github_refusals_answer_the_documented_400_and_create_nobody(app, _google, github) {
        let person = Person::new(1, Some("Ada"), &[("ada@example.com", true, true)]);
        let used = github.code_for(&person);
        assert_eq!(github_login(&app, &used).await.status(), StatusCode::OK);
        app.db.execute("DELETE FROM sessions").await;
        app.db.execute("DELETE FROM user_identities").await;
        app.db.execute("DELETE FROM users").await;

        let refused = |p: &Person| github.code_for(p);
        let unverified = Person::new(2, None, &[("bob@example.com", true, false)]);
        let secondary_only = Person::new(3, None, &[("carol@example.com", true, false), ("carol@work.example", false, true)]);
        let no_emails = Person::new(4, None, &[]);
        let not_an_address = Person::new(5, None, &[("dave", true, true)]);
        let cases: Vec<(String, Option<GitHubFailure>, &str)> = vec![
            (used.clone(), None, "a code already exchanged (bad_verification_code)"),
            ("0123456789abcdef0123".into(), None, "a code GitHub never issued"),
            (refused(&unverified), None, "the primary e-mail is unverified"),
            (refused(&secondary_only), None, "only a secondary e-mail is verified"),
            (refused(&no_emails), None, "no e-mail at all"),
            (refused(&not_an_address), None, "GitHub's e-mail is not an address"),
            (refused(&person), Some(GitHubFailure::ExchangeDown), "the token endpoint answers 502"),
            (refused(&person), Some(GitHubFailure::ExchangeGarbage), "the token endpoint answers HTML"),
            (refused(&person), Some(GitHubFailure::EmailsForbidden), "the e-mail list is forbidden"),
            ("x".repeat(513), None, "over 512 characters"),
        ];
        for (code, failure, why) in &cases {
            github.fail(*failure);
            let out = json_of(github_login(&app, code).await, StatusCode::BAD_REQUEST).await;
            assert_eq!((&out["status"], &out["message"]), (&json!("failed"), &json!(GITHUB_REFUSED)), "{why}");
        }
        github.fail(None);
        assert_eq!(users(&app).await, 0, "no user was created");
        for body in [json!({}), json!({"code": " "}), json!({"code": {"a": 1}})] {
            let out = json_of(app.post_json(GITHUB, &body, None).await, StatusCode::BAD_REQUEST).await;
            assert_eq!(out["message"], GITHUB_REFUSED, "{body}");
            assert!(out["errors"]["code"].is_array(), "{body}: {out}");
        }
        assert!(github.exchanges().iter().all(|(f, _)| f.get("code").is_some_and(|c| c.len() <= 512)), "an oversized code never reaches GitHub");
    }
}

// ---- linking ----

with_providers! {
    async fn an_identity_is_remembered_after_the_email_changes_on_either_side(app, google, _github) {
        let body = json_of(google_login(&app, &google.token("google-sub-1", "ada@example.com")).await, StatusCode::OK).await;
        let id = body["data"]["user"]["id"].clone();
        let access = access_of(&body);
        // The user moves to another address in userd (document 004's update).
        let res = app.client.put(app.url("/api/user/update/")).bearer_auth(&access)
            .json(&json!({"email": "ada@new.example.com"})).send().await.expect("send");
        assert_eq!(res.status(), StatusCode::OK);
        // Someone else now registers the old address with a password.
        app.register("ada@example.com").await;

        // Google still says the old address: the identity wins over the e-mail.
        let body = json_of(google_login(&app, &google.token("google-sub-1", "ada@example.com")).await, StatusCode::OK).await;
        assert_eq!((&body["data"]["user"]["id"], body["data"]["user"]["email"].as_str()), (&id, Some("ada@new.example.com")));
        // The user moves at Google too.
        let body = json_of(google_login(&app, &google.token("google-sub-1", "ada@elsewhere.example")).await, StatusCode::OK).await;
        assert_eq!(body["data"]["user"]["id"], id);
        assert_eq!(users(&app).await, 2);
        let email: i64 = app.db.count("SELECT COUNT(*) FROM user_identities WHERE email = 'ada@elsewhere.example'").await;
        assert_eq!(email, 1, "the link records the provider's latest address");
    }
}

with_providers! {
    async fn a_verified_provider_email_links_the_existing_account(app, google, github) {
        let registered = app.register("user@example.com").await;
        let id = registered["data"]["user"]["id"].clone();
        let password_access = access_of(&registered);
        // The owner has verified the address (by the mailed link).
        app.db.execute("UPDATE users SET email_verified = TRUE").await;

        let body = json_of(google_login(&app, &google.token("google-sub-1", "User@Example.com")).await, StatusCode::OK).await;
        assert_eq!(body["data"]["user"]["id"], id, "linked, not duplicated");
        assert_eq!((body["data"]["user"]["first_name"].as_str(), body["data"]["user"]["company_name"].as_str()),
            (Some("John"), Some("My Company")), "the account keeps its own names");
        let person = Person::new(7, Some("Johnny"), &[("user@example.com", true, true)]);
        let body = json_of(github_login(&app, &github.code_for(&person)).await, StatusCode::OK).await;
        assert_eq!(body["data"]["user"]["id"], id);
        assert_eq!(users(&app).await, 1);

        assert_eq!(identities(&app, &password_access).await, (vec!["google".to_string(), "github".to_string()], true));
        assert_eq!(app.login("user@example.com", PASSWORD).await.status(), StatusCode::OK, "the password still works");

        // Another Google account claiming the same address cannot take a second seat.
        let res = google_login(&app, &google.token("google-sub-2", "user@example.com")).await;
        assert_eq!(json_of(res, StatusCode::BAD_REQUEST).await, refusal(GOOGLE_REFUSED));
        assert_eq!(app.db.count("SELECT COUNT(*) FROM user_identities").await, 2);
    }
}

with_providers! {
    async fn an_unverified_account_linked_by_the_address_owner_loses_what_its_registrant_set(app, google, _github) {
        // Someone registered with another person's address before they did (pre-hijacking).
        let registered = app.register("victim@example.com").await;
        let squatter_access = access_of(&registered);
        let squatter_api = json_of(app.get("/api/users/me/token/", Some(&squatter_access)).await, StatusCode::OK).await;
        let squatter_api = squatter_api["access_token"].as_str().expect("token").to_string();

        // The address's owner signs in with Google, which vouches for it.
        let body = json_of(google_login(&app, &google.token("google-sub-9", "victim@example.com")).await, StatusCode::OK).await;
        assert_eq!(body["data"]["user"]["id"], registered["data"]["user"]["id"]);
        let owner_access = access_of(&body);
        assert_eq!(app.login("victim@example.com", PASSWORD).await.status(), StatusCode::UNAUTHORIZED, "the registrant's password is gone");
        assert_eq!(app.get("/api/users/profile/", Some(&squatter_access)).await.status(), StatusCode::UNAUTHORIZED, "their sessions end");
        assert_eq!(app.get("/api/users/me/", Some(&squatter_api)).await.status(), StatusCode::UNAUTHORIZED, "their API token ends");
        let me = json_of(app.get("/api/users/me/", Some(&owner_access)).await, StatusCode::OK).await;
        assert_eq!(me["email_verified"], true, "the provider vouched for the address");
        assert_eq!(identities(&app, &owner_access).await, (vec!["google".to_string()], false));

        // The owner sets a first password through the reset link, as any provider-made user does.
        let mails_before = crate::lifecycle::mails_to(&app, "victim@example.com").len();
        let res = app.post_json("/api/users/password/reset/", &json!({"email": "victim@example.com"}), None).await;
        assert_eq!(res.status(), StatusCode::OK);
        let mail = crate::lifecycle::nth_mail(&app, "victim@example.com", mails_before + 1).await;
        let token = crate::lifecycle::token_in(&mail);
        // The first password follows every rule a new password does.
        for (password, message) in [
            ("victim@example.com", "The password is too similar to the email address."),
            ("         ", "This password is entirely whitespace."),
        ] {
            let res = app.post_json("/api/users/password/reset/confirm/", &json!({"token": token, "password": password}), None).await;
            assert_eq!(json_of(res, StatusCode::BAD_REQUEST).await["errors"], json!({"password": [message]}));
        }
        let body = json!({"token": token, "password": "the owner's own secret"});
        let res = app.post_json("/api/users/password/reset/confirm/", &body, None).await;
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(app.login("victim@example.com", "the owner's own secret").await.status(), StatusCode::OK);
    }
}

with_providers! {
    async fn an_unverified_provider_email_never_links_nor_creates(app, google, github) {
        let registered = app.register("user@example.com").await;
        let access = access_of(&registered);
        let mut claims = google_claims("google-sub-1", "user@example.com");
        claims["email_verified"] = json!(false);
        let res = google_login(&app, &google.key.sign(&claims)).await;
        assert_eq!(json_of(res, StatusCode::BAD_REQUEST).await, refusal(GOOGLE_REFUSED));
        let person = Person::new(7, None, &[("user@example.com", true, false), ("other@example.com", false, true)]);
        let res = github_login(&app, &github.code_for(&person)).await;
        assert_eq!(json_of(res, StatusCode::BAD_REQUEST).await, refusal(GITHUB_REFUSED));
        claims["email"] = json!("someone-new@example.com");
        let res = google_login(&app, &google.key.sign(&claims)).await;
        assert_eq!(res.status(), StatusCode::BAD_REQUEST, "nor creates an account");

        assert_eq!(users(&app).await, 1);
        assert_eq!(identities(&app, &access).await, (vec![], true));
        assert_eq!(app.db.count("SELECT COUNT(*) FROM user_identities").await, 0);
        assert_eq!(app.db.count("SELECT COUNT(*) FROM sessions").await, 1, "only the registration's");
    }
}

with_providers! {
    async fn a_deactivated_account_gets_no_tokens(app, google, github) {
        let token = google.token("google-sub-1", "ada@example.com");
        let access = access_of(&json_of(google_login(&app, &token).await, StatusCode::OK).await);
        app.register("bob@example.com").await;
        app.db.execute("UPDATE users SET is_active = FALSE").await;
        app.until_status("/api/users/profile/", Some(&access), StatusCode::UNAUTHORIZED).await;
        let sessions = app.db.count("SELECT COUNT(*) FROM sessions").await;

        let res = google_login(&app, &token).await;
        assert_eq!(json_of(res, StatusCode::BAD_REQUEST).await, refusal(GOOGLE_REFUSED), "a linked identity");
        let bob = Person::new(9, None, &[("bob@example.com", true, true)]);
        let res = github_login(&app, &github.code_for(&bob)).await;
        assert_eq!(json_of(res, StatusCode::BAD_REQUEST).await, refusal(GITHUB_REFUSED), "an e-mail to link");
        assert_eq!(app.db.count("SELECT COUNT(*) FROM sessions").await, sessions, "no session started");
        assert_eq!(app.db.count("SELECT COUNT(*) FROM user_identities").await, 1, "nothing linked");

        app.db.execute("UPDATE users SET is_active = TRUE").await;
        app.until_status("/api/users/profile/", Some(&access), StatusCode::OK).await;
        assert_eq!(google_login(&app, &token).await.status(), StatusCode::OK, "reactivated");
    }
}

with_providers! {
    async fn concurrent_first_sign_ins_of_one_person_make_one_account(app, google, _github) {
        let token = google.token("google-sub-1", "ada@example.com");
        let logins = (0..6).map(|_| google_login(&app, &token));
        let mut ids = Vec::new();
        for res in futures_util::future::join_all(logins).await {
            ids.push(json_of(res, StatusCode::OK).await["data"]["user"]["id"].clone());
        }
        ids.dedup();
        assert_eq!(ids.len(), 1, "{ids:?}");
        assert_eq!(users(&app).await, 1);
        assert_eq!(app.db.count("SELECT COUNT(*) FROM user_identities").await, 1);
    }
}

// ---- linked providers ----

with_providers! {
    async fn identities_are_listed_and_unlinked_but_never_the_last_way_to_sign_in(app, google, github) {
        let body = json_of(google_login(&app, &google.token("google-sub-1", "ada@example.com")).await, StatusCode::OK).await;
        let access = access_of(&body);
        let ada = Person::new(11, None, &[("ada@example.com", true, true)]);
        assert_eq!(github_login(&app, &github.code_for(&ada)).await.status(), StatusCode::OK);
        let listed = json_of(app.get(IDENTITIES, Some(&access)).await, StatusCode::OK).await;
        let first = &listed["data"]["identities"][0];
        assert_eq!((first["provider"].as_str(), first["email"].as_str()), (Some("google"), Some("ada@example.com")));
        assert!(first["linked_at"].as_str().is_some_and(|t| t.parse::<jiff::Timestamp>().is_ok()), "{first}");
        assert!(first["last_login_at"].as_str().is_some_and(|t| t.parse::<jiff::Timestamp>().is_ok()), "{first}");

        // The personal API token works as well as the JWT.
        let api_token = json_of(app.get("/api/users/me/token/", Some(&access)).await, StatusCode::OK).await
            ["access_token"].as_str().expect("token").to_string();
        let res = unlink(&app, "github", &api_token).await;
        assert_eq!(json_of(res, StatusCode::OK).await, json!({"status": "success", "message": "Identity unlinked successfully"}));
        assert_eq!(identities(&app, &api_token).await, (vec!["google".to_string()], false));

        let res = unlink(&app, "google", &access).await;
        let out = json_of(res, StatusCode::BAD_REQUEST).await;
        assert_eq!(out["status"], "failed");
        assert!(out["message"].as_str().is_some_and(|m| m.contains("only way left to sign in")), "{out}");
        assert_eq!(identities(&app, &access).await.0, vec!["google".to_string()], "still linked");
        for (provider, why) in [("github", "no longer linked"), ("gitlab", "no such provider"), ("Google", "names are exact")] {
            let res = unlink(&app, provider, &access).await;
            assert_eq!(json_of(res, StatusCode::NOT_FOUND).await, refusal("Not found."), "{why}");
        }
        let res = app.client.delete(app.url(&format!("{IDENTITIES}google/"))).send().await.expect("send");
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(app.get(IDENTITIES, None).await.status(), StatusCode::UNAUTHORIZED);

        // Signing in through GitHub again links it anew (its verified e-mail matches).
        let body = json_of(github_login(&app, &github.code_for(&ada)).await, StatusCode::OK).await;
        assert_eq!(identities(&app, &access_of(&body)).await.0, vec!["google".to_string(), "github".to_string()]);
    }
}

with_providers! {
    async fn a_browser_session_unlinks_with_its_csrf_token_and_a_password_keeps_the_account_reachable(app, google, _github) {
        app.register("user@example.com").await;
        app.db.execute("UPDATE users SET email_verified = TRUE").await;
        assert_eq!(google_login(&app, &google.token("google-sub-1", "user@example.com")).await.status(), StatusCode::OK);
        let (cookie, csrf) = browser_session(&app, "user@example.com").await;
        let res = app.client.get(app.url(IDENTITIES)).header(header::COOKIE, &cookie).send().await.expect("send");
        assert_eq!(json_of(res, StatusCode::OK).await["data"]["identities"][0]["provider"], "google");

        let url = app.url(&format!("{IDENTITIES}google/"));
        let res = app.client.delete(&url).header(header::COOKIE, &cookie).send().await.expect("send");
        assert_eq!(res.status(), StatusCode::FORBIDDEN, "no CSRF token");
        let res = app.client.delete(&url).header(header::COOKIE, &cookie).header("X-CSRFToken", &csrf).send().await.expect("send");
        assert_eq!(res.status(), StatusCode::OK, "the password is left to sign in with");
        assert_eq!(app.db.count("SELECT COUNT(*) FROM user_identities").await, 0);
    }
}
