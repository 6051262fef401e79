//! The account lifecycle: e-mail verification, password reset and change, staff
//! deactivation, account deletion, security events and the export, with the mails read
//! from the `.eml` outbox.

use std::time::Duration;

use reqwest::{StatusCode, header};
use serde_json::{Value, json};

use crate::{
    account::{browser_session, user_with_api_token},
    both_backends,
    files::{upload, walk},
    helpers::*,
};

/// The mails in the outbox sent to `to`, oldest first, as text.
pub fn mails_to(app: &TestApp, to: &str) -> Vec<String> {
    let Ok(dir) = std::fs::read_dir(app.data_dir.join("outbox")) else { return Vec::new() };
    let mut mails: Vec<(std::time::SystemTime, String)> = dir
        .filter_map(Result::ok)
        .filter(|e| e.path().extension().is_some_and(|x| x == "eml"))
        .filter_map(|e| {
            let text = std::fs::read_to_string(e.path()).ok()?;
            let modified = e.metadata().ok()?.modified().ok()?;
            text.lines().any(|l| l.eq_ignore_ascii_case(&format!("To: {to}"))).then_some((modified, text))
        })
        .collect();
    mails.sort_by_key(|(at, _)| *at);
    mails.into_iter().map(|(_, text)| text).collect()
}

/// Waits until `to` has `n` mails (mail goes out in the background) and returns the last.
pub async fn nth_mail(app: &TestApp, to: &str, n: usize) -> String {
    for _ in 0..200 {
        let mails = mails_to(app, to);
        if mails.len() >= n {
            return mails[n - 1].clone();
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("no mail #{n} to {to}; outbox has {:?}", mails_to(app, to).len());
}

/// A mail's text with its quoted-printable encoding undone (links are longer than a line).
fn decoded(mail: &str) -> String {
    mail.replace("=\r\n", "").replace("=\n", "").replace("=3D", "=")
}

/// The token of the link in a mail (`…?token=…`).
pub fn token_in(mail: &str) -> String {
    let mail = decoded(mail);
    let at = mail.find("?token=").expect("a link with a token") + "?token=".len();
    mail[at..].chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_').collect()
}

async fn me(app: &TestApp, token: &str) -> Value {
    json_of(app.get("/api/users/me/", Some(token)).await, StatusCode::OK).await
}

async fn post(app: &TestApp, path: &str, body: Value, token: Option<&str>) -> reqwest::Response {
    app.post_json(path, &body, token).await
}

/// Makes a registered user staff, as `userd create-admin` does.
async fn make_staff(app: &TestApp, email: &str) {
    app.db.execute(&format!("UPDATE users SET is_staff = TRUE WHERE email_key = '{email}'")).await;
}

async fn events(app: &TestApp, token: &str) -> Vec<String> {
    let body = json_of(app.get("/api/users/events/", Some(token)).await, StatusCode::OK).await;
    body["data"]["events"]
        .as_array()
        .expect("events")
        .iter()
        .map(|e| e["kind"].as_str().expect("kind").to_string())
        .collect()
}

/// Waits for an event recorded in the background.
async fn wait_for_event(app: &TestApp, token: &str, kind: &str) -> Vec<String> {
    for _ in 0..200 {
        let kinds = events(app, token).await;
        if kinds.iter().any(|k| k == kind) {
            return kinds;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("no {kind} event; have {:?}", events(app, token).await);
}

both_backends! {
    async fn registration_on_every_surface_mails_a_link_that_verifies_once(app) {
        let (access, _) = app.register_tokens("ann@example.com").await;
        let mail = nth_mail(&app, "ann@example.com", 1).await;
        assert!(mail.contains("Subject: Confirm your e-mail address"), "{mail}");
        assert!(decoded(&mail).contains(&format!("{}/verify-email?token=", app.address)), "links use the public URL: {mail}");
        assert_eq!(me(&app, &access).await["email_verified"], json!(false));

        let bad = post(&app, "/api/users/email/verify/", json!({"token": "forged"}), None).await;
        assert_eq!(json_of(bad, StatusCode::BAD_REQUEST).await, json!({"status": "failed", "message": "This link is invalid or has expired.", "errors": {"token": ["This link is invalid or has expired."]}}));
        let missing = post(&app, "/api/users/email/verify/", json!({}), None).await;
        assert_eq!(missing.status(), StatusCode::BAD_REQUEST);
        let long = post(&app, "/api/users/email/verify/", json!({"token": "x".repeat(10_000)}), None).await;
        assert_eq!(long.status(), StatusCode::BAD_REQUEST);

        let token = token_in(&mail);
        let ok = post(&app, "/api/users/email/verify/", json!({"token": token}), None).await;
        assert_eq!(json_of(ok, StatusCode::OK).await, json!({"status": "success", "message": "Email verified successfully"}));
        assert_eq!(me(&app, &access).await["email_verified"], json!(true));
        let again = post(&app, "/api/users/email/verify/", json!({"token": token}), None).await;
        assert_eq!(again.status(), StatusCode::BAD_REQUEST, "single use");
        assert!(events(&app, &access).await.contains(&"email_verified".to_string()));

        // Documents 003 and 004 mail too.
        let body = json!({"username": "bob", "email": "bob@example.com", "password": PASSWORD, "password_confirm": PASSWORD});
        assert_eq!(post(&app, "/careers/users/register/", body, None).await.status(), StatusCode::CREATED);
        nth_mail(&app, "bob@example.com", 1).await;
        let body = json!({"email": "cid@example.com", "password": PASSWORD, "full_name": "Cid Moe"});
        assert_eq!(post(&app, "/api/user/register/", body, None).await.status(), StatusCode::CREATED);
        let mail = nth_mail(&app, "cid@example.com", 1).await;

        // A link older than 24 hours has expired.
        app.clock.advance(Duration::from_secs(24 * 3600 + 1));
        let late = post(&app, "/api/users/email/verify/", json!({"token": token_in(&mail)}), None).await;
        assert_eq!(late.status(), StatusCode::BAD_REQUEST);
    }
}

both_backends! {
    async fn resend_waits_a_minute_and_a_new_address_needs_a_new_link(app) {
        let (access, _) = app.register_tokens("dan@example.com").await;
        let first = nth_mail(&app, "dan@example.com", 1).await;
        let res = post(&app, "/api/users/email/resend/", json!({}), Some(&access)).await;
        assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
        assert!(res.headers().get(header::RETRY_AFTER).is_some());
        app.clock.advance(Duration::from_secs(61));
        let res = post(&app, "/api/users/email/resend/", json!({}), Some(&access)).await;
        assert_eq!(json_of(res, StatusCode::OK).await["message"], "Verification email sent");
        nth_mail(&app, "dan@example.com", 2).await;
        assert_eq!(post(&app, "/api/users/email/resend/", json!({}), None).await.status(), StatusCode::UNAUTHORIZED);

        // A new address through document 003: unverified, a mail to it, and the old link proves nothing.
        let res = app.client.patch(app.url("/careers/users/me/update/")).bearer_auth(&access)
            .json(&json!({"email": "dan.new@example.com"})).send().await.expect("send");
        assert_eq!(res.status(), StatusCode::OK);
        let mail = nth_mail(&app, "dan.new@example.com", 1).await;
        let old = post(&app, "/api/users/email/verify/", json!({"token": token_in(&first)}), None).await;
        assert_eq!(old.status(), StatusCode::BAD_REQUEST);
        assert_eq!(me(&app, &access).await["email_verified"], json!(false));
        let ok = post(&app, "/api/users/email/verify/", json!({"token": token_in(&mail)}), None).await;
        assert_eq!(ok.status(), StatusCode::OK);
        let me_now = me(&app, &access).await;
        assert_eq!((me_now["email"].clone(), me_now["email_verified"].clone()), (json!("dan.new@example.com"), json!(true)));
        let res = post(&app, "/api/users/email/resend/", json!({}), Some(&access)).await;
        assert_eq!(json_of(res, StatusCode::OK).await["message"], "Email is already verified");
        assert!(wait_for_event(&app, &access, "email_changed").await.contains(&"email_verification_sent".to_string()));
    }
}

both_backends! {
    async fn password_reset_answers_alike_and_revokes_every_credential(app) {
        let (access, refresh) = app.register_tokens("eve@example.com").await;
        let (cookie, _) = browser_session(&app, "eve@example.com").await;
        let expected = json!({"status": "success", "message": "If an account exists for this email, a reset link has been sent."});
        let res = post(&app, "/api/users/password/reset/", json!({"email": "nobody@example.com"}), None).await;
        assert_eq!(json_of(res, StatusCode::OK).await, expected, "an unknown address is answered alike");
        let res = post(&app, "/api/users/password/reset/", json!({"email": "EVE@example.com"}), None).await;
        assert_eq!(json_of(res, StatusCode::OK).await, expected);
        assert_eq!(post(&app, "/api/users/password/reset/", json!({"email": "not-an-email"}), None).await.status(), StatusCode::BAD_REQUEST);
        let mail = nth_mail(&app, "eve@example.com", 2).await;
        assert!(mail.contains("Subject: Reset your password"), "{mail}");
        assert!(mails_to(&app, "nobody@example.com").is_empty());
        let token = token_in(&mail);

        let weak = post(&app, "/api/users/password/reset/confirm/", json!({"token": token, "password": "12345678"}), None).await;
        assert_eq!(weak.status(), StatusCode::BAD_REQUEST);
        let forged = post(&app, "/api/users/password/reset/confirm/", json!({"token": "forged", "password": "a brand new secret"}), None).await;
        assert_eq!(json_of(forged, StatusCode::BAD_REQUEST).await["errors"]["token"], json!(["This link is invalid or has expired."]));
        let mismatch = post(&app, "/api/users/password/reset/confirm/", json!({"token": token, "password": "a brand new secret", "confirm_password": "other"}), None).await;
        assert_eq!(mismatch.status(), StatusCode::BAD_REQUEST);
        let ok = post(&app, "/api/users/password/reset/confirm/", json!({"token": token, "password": "a brand new secret"}), None).await;
        assert_eq!(json_of(ok, StatusCode::OK).await["message"], "Password has been reset");

        assert_eq!(app.get("/api/users/profile/", Some(&access)).await.status(), StatusCode::UNAUTHORIZED, "access token");
        assert_eq!(post(&app, "/api/users/refresh-token/", json!({"refresh": refresh}), None).await.status(), StatusCode::UNAUTHORIZED, "refresh token");
        let res = app.client.get(app.url("/api/users/me/")).header(header::COOKIE, &cookie).send().await.expect("send");
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "browser session");
        assert_eq!(app.login("eve@example.com", PASSWORD).await.status(), StatusCode::UNAUTHORIZED);
        let login = json_of(app.login("eve@example.com", "a brand new secret").await, StatusCode::OK).await;
        let access = login["data"]["tokens"]["access"].as_str().expect("access").to_string();
        assert_eq!(me(&app, &access).await["email_verified"], json!(true), "the link reached the address");
        let again = post(&app, "/api/users/password/reset/confirm/", json!({"token": token, "password": "another new secret"}), None).await;
        assert_eq!(again.status(), StatusCode::BAD_REQUEST, "single use");
        let kinds = events(&app, &access).await;
        assert!(kinds.contains(&"password_reset".to_string()) && kinds.contains(&"password_reset_requested".to_string()), "{kinds:?}");

        // A link older than an hour has expired.
        app.clock.advance(Duration::from_secs(61));
        post(&app, "/api/users/password/reset/", json!({"email": "eve@example.com"}), None).await;
        let mail = nth_mail(&app, "eve@example.com", 3).await;
        app.clock.advance(Duration::from_secs(3601));
        let late = post(&app, "/api/users/password/reset/confirm/", json!({"token": token_in(&mail), "password": "another new secret"}), None).await;
        assert_eq!(late.status(), StatusCode::BAD_REQUEST);
    }
}

both_backends! {
    async fn password_change_checks_the_current_one_and_keeps_the_caller(app) {
        let (access, _) = app.register_tokens("fay@example.com").await;
        let other = json_of(app.login("fay@example.com", PASSWORD).await, StatusCode::OK).await;
        let other = other["data"]["tokens"]["access"].as_str().expect("access").to_string();
        let wrong = post(&app, "/api/users/password/change/", json!({"current_password": "wrong-password", "password": "a brand new secret"}), Some(&access)).await;
        assert_eq!(json_of(wrong, StatusCode::BAD_REQUEST).await["errors"], json!({"current_password": ["The password is incorrect."]}));
        let weak = post(&app, "/api/users/password/change/", json!({"current_password": PASSWORD, "password": "short"}), Some(&access)).await;
        assert_eq!(weak.status(), StatusCode::BAD_REQUEST);
        let ok = post(&app, "/api/users/password/change/", json!({"current_password": PASSWORD, "password": "a brand new secret"}), Some(&access)).await;
        assert_eq!(json_of(ok, StatusCode::OK).await["message"], "Password changed successfully");
        assert_eq!(app.get("/api/users/profile/", Some(&access)).await.status(), StatusCode::OK, "the caller stays");
        assert_eq!(app.get("/api/users/profile/", Some(&other)).await.status(), StatusCode::UNAUTHORIZED, "other logins end");
        assert_eq!(app.login("fay@example.com", "a brand new secret").await.status(), StatusCode::OK);
        assert!(events(&app, &access).await.contains(&"password_changed".to_string()));
    }
}

both_backends! {
    async fn staff_deactivation_refuses_every_credential_until_reactivated(app) {
        let (staff, _) = app.register_tokens("boss@example.com").await;
        let (access, api_token) = user_with_api_token(&app, "gus@example.com").await;
        let login = json_of(app.login("gus@example.com", PASSWORD).await, StatusCode::OK).await;
        let refresh = login["data"]["tokens"]["refresh"].as_str().expect("refresh").to_string();
        let (cookie, _) = browser_session(&app, "gus@example.com").await;
        let id = json_of(app.get("/api/users/profile/", Some(&access)).await, StatusCode::OK).await["data"]["id"].as_i64().expect("id");

        assert_eq!(app.get("/api/staff/users/", Some(&staff)).await.status(), StatusCode::FORBIDDEN, "not staff yet");
        make_staff(&app, "boss@example.com").await;
        app.until_status("/api/staff/users/", Some(&staff), StatusCode::OK).await;
        let list = json_of(app.get("/api/staff/users/?search=GUS%40", Some(&staff)).await, StatusCode::OK).await;
        let users = list["data"]["users"].as_array().expect("users");
        assert_eq!(users.len(), 1, "{list}");
        assert_eq!((users[0]["email"].clone(), users[0]["is_active"].clone()), (json!("gus@example.com"), json!(true)));
        let paged = json_of(app.get("/api/staff/users/?limit=1", Some(&staff)).await, StatusCode::OK).await;
        let next = paged["data"]["next"].as_str().expect("a second page").to_string();
        let rest = json_of(app.get(&format!("/api/staff/users/?limit=1&cursor={next}"), Some(&staff)).await, StatusCode::OK).await;
        assert_ne!(paged["data"]["users"][0]["id"], rest["data"]["users"][0]["id"]);
        assert_eq!(app.get("/api/staff/users/?limit=0", Some(&staff)).await.status(), StatusCode::BAD_REQUEST);
        assert_eq!(app.get("/api/staff/users/999999/", Some(&staff)).await.status(), StatusCode::NOT_FOUND);
        assert_eq!(app.get("/api/staff/users/nope/", Some(&staff)).await.status(), StatusCode::NOT_FOUND);

        let boss_id = json_of(app.get("/api/users/profile/", Some(&staff)).await, StatusCode::OK).await["data"]["id"].as_i64().expect("id");
        let own = post(&app, &format!("/api/staff/users/{boss_id}/deactivate/"), json!({}), Some(&staff)).await;
        assert_eq!(own.status(), StatusCode::BAD_REQUEST, "not oneself");
        let res = post(&app, &format!("/api/staff/users/{id}/deactivate/"), json!({}), Some(&staff)).await;
        let body = json_of(res, StatusCode::OK).await;
        assert_eq!((body["message"].clone(), body["data"]["is_active"].clone()), (json!("User deactivated"), json!(false)));

        assert_eq!(app.get("/api/users/profile/", Some(&access)).await.status(), StatusCode::UNAUTHORIZED, "JWT");
        assert_eq!(post(&app, "/api/users/refresh-token/", json!({"refresh": refresh}), None).await.status(), StatusCode::UNAUTHORIZED, "refresh");
        assert_eq!(app.get("/api/users/me/", Some(&api_token)).await.status(), StatusCode::UNAUTHORIZED, "API token");
        let res = app.client.get(app.url("/api/users/me/")).header(header::COOKIE, &cookie).send().await.expect("send");
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "browser session");
        assert_eq!(app.login("gus@example.com", PASSWORD).await.status(), StatusCode::UNAUTHORIZED, "password login");
        let res = post(&app, "/careers/users/login/", json!({"username": "gus", "password": PASSWORD}), None).await;
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "document 003 login");

        let events = json_of(app.get(&format!("/api/staff/users/{id}/events/"), Some(&staff)).await, StatusCode::OK).await;
        let kinds: Vec<&str> = events["data"]["events"].as_array().expect("events").iter().filter_map(|e| e["kind"].as_str()).collect();
        let deactivated = events["data"]["events"].as_array().expect("events").iter().find(|e| e["kind"] == "deactivated");
        assert_eq!(deactivated.map(|e| e["detail"].clone()), Some(json!(format!("by staff user {boss_id}"))), "{kinds:?}");
        assert!(kinds.contains(&"login_failed"), "the refused sign-ins are recorded: {kinds:?}");

        let res = post(&app, &format!("/api/staff/users/{id}/reactivate/"), json!({}), Some(&staff)).await;
        assert_eq!(json_of(res, StatusCode::OK).await["data"]["is_active"], json!(true));
        assert_eq!(app.get("/api/users/profile/", Some(&access)).await.status(), StatusCode::UNAUTHORIZED, "old sessions stay revoked");
        assert_eq!(app.get("/api/users/me/", Some(&api_token)).await.status(), StatusCode::UNAUTHORIZED, "the old API token is gone");
        assert_eq!(app.login("gus@example.com", PASSWORD).await.status(), StatusCode::OK);
    }
}

both_backends! {
    async fn deleting_an_account_removes_it_everywhere(app) {
        let (access, api_token) = user_with_api_token(&app, "hal@example.com").await;
        let (friend, _) = app.register_tokens("ivy@example.com").await;
        assert_eq!(upload(&app, &access, "a.txt", b"hello".to_vec()).await.status(), StatusCode::CREATED);
        let ivy = json_of(app.get("/careers/users/me/", Some(&friend)).await, StatusCode::OK).await["id"].clone();
        assert_eq!(post(&app, "/careers/users/follow/", json!({"following": ivy}), Some(&access)).await.status(), StatusCode::CREATED);
        let files_before = app.db.count("SELECT COUNT(*) FROM files").await;
        assert_eq!(files_before, 1);

        let delete = |body: Value, token: String| {
            let app = &app;
            async move { app.client.delete(app.url("/api/users/me/")).bearer_auth(token).json(&body).send().await.expect("send") }
        };
        let res = delete(json!({}), access.clone()).await;
        assert_eq!(json_of(res, StatusCode::BAD_REQUEST).await["errors"]["password"], json!(["This field is required."]));
        let res = delete(json!({"password": "wrong-password"}), access.clone()).await;
        assert_eq!(json_of(res, StatusCode::BAD_REQUEST).await["errors"]["password"], json!(["The password is incorrect."]));
        let res = delete(json!({"password": PASSWORD}), access.clone()).await;
        assert_eq!(json_of(res, StatusCode::OK).await, json!({"status": "success", "message": "Account deleted"}));

        assert_eq!(app.get("/api/users/profile/", Some(&access)).await.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(app.get("/api/users/me/", Some(&api_token)).await.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(app.login("hal@example.com", PASSWORD).await.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(app.db.count("SELECT COUNT(*) FROM files").await, 0);
        assert_eq!(app.db.count("SELECT COUNT(*) FROM follows").await, 0);
        let stats = json_of(app.get("/careers/users/me/stats/", Some(&friend)).await, StatusCode::OK).await;
        assert_eq!(stats["followers_count"], json!(0), "{stats}");
        // The file's bytes go after the commit.
        let mut left = usize::MAX;
        for _ in 0..200 {
            left = walk(&app.data_dir.join("files")).len();
            if left == 0 { break; }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        assert_eq!(left, 0, "the file's bytes are removed");
        // The address is free again.
        app.register("hal@example.com").await;
    }
}

both_backends! {
    async fn events_record_who_did_what_from_where(app) {
        let (access, _) = app.register_tokens("jo@example.com").await;
        assert_eq!(app.login("jo@example.com", "wrong-password").await.status(), StatusCode::UNAUTHORIZED);
        let res = app.client.post(app.url("/api/users/login/")).header(header::USER_AGENT, "probe/1.0")
            .json(&json!({"email": "jo@example.com", "password": PASSWORD})).send().await.expect("send");
        assert_eq!(res.status(), StatusCode::OK);
        let res = app.client.post(app.url("/api/users/me/token/regenerate/")).bearer_auth(&access).send().await.expect("send");
        assert_eq!(res.status(), StatusCode::OK);
        let kinds = wait_for_event(&app, &access, "login_failed").await;
        for kind in ["account_created", "login_succeeded", "api_token_regenerated"] {
            assert!(kinds.iter().any(|k| k == kind), "{kind} in {kinds:?}");
        }
        let body = json_of(app.get("/api/users/events/", Some(&access)).await, StatusCode::OK).await;
        let login = body["data"]["events"].as_array().expect("events").iter().find(|e| e["kind"] == "login_succeeded").expect("login").clone();
        assert_eq!((login["ip"].clone(), login["user_agent"].clone(), login["detail"].clone()), (json!("127.0.0.1"), json!("probe/1.0"), json!("password")));
        let text = body.to_string();
        assert!(!text.contains(PASSWORD) && !text.contains(&access), "no secret in events");

        let page = json_of(app.get("/api/users/events/?limit=2", Some(&access)).await, StatusCode::OK).await;
        assert_eq!(page["data"]["events"].as_array().map(Vec::len), Some(2));
        let next = page["data"]["next"].as_str().expect("next").to_string();
        let rest = json_of(app.get(&format!("/api/users/events/?cursor={next}"), Some(&access)).await, StatusCode::OK).await;
        assert_eq!(rest["data"]["events"].as_array().map(Vec::len), Some(kinds.len() - 2));
        assert_eq!(app.get("/api/users/events/?cursor=garbage!", Some(&access)).await.status(), StatusCode::BAD_REQUEST);
        assert_eq!(app.get("/api/users/events/", None).await.status(), StatusCode::UNAUTHORIZED);
    }
}

both_backends! {
    async fn the_export_holds_everything_userd_keeps_about_the_caller(app) {
        let (access, _) = app.register_tokens("kim@example.com").await;
        let (friend, _) = app.register_tokens("lee@example.com").await;
        assert_eq!(upload(&app, &access, "notes.txt", b"hello".to_vec()).await.status(), StatusCode::CREATED);
        let lee = json_of(app.get("/careers/users/me/", Some(&friend)).await, StatusCode::OK).await["id"].clone();
        assert_eq!(post(&app, "/careers/users/follow/", json!({"following": lee}), Some(&access)).await.status(), StatusCode::CREATED);
        let kim = json_of(app.get("/careers/users/me/", Some(&access)).await, StatusCode::OK).await["id"].clone();
        assert_eq!(post(&app, "/careers/users/follow/", json!({"following": kim}), Some(&friend)).await.status(), StatusCode::CREATED);

        let res = app.get("/api/users/me/export/", Some(&access)).await;
        assert_eq!(res.status(), StatusCode::OK);
        let disposition = res.headers().get(header::CONTENT_DISPOSITION).and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
        assert!(disposition.starts_with("attachment;") && disposition.contains("userd-export-kim.json"), "{disposition}");
        let export = json_of(res, StatusCode::OK).await;
        assert_eq!(export["format"], "userd-export/1");
        assert_eq!(export["account"]["email"], "kim@example.com");
        assert_eq!(export["sign_in"]["has_password"], json!(true));
        assert_eq!(export["files"][0]["name"], "notes.txt");
        assert!(export["files"][0]["download_url"].as_str().is_some_and(|u| u.starts_with(&app.address)));
        assert_eq!(export["following"][0]["username"], "lee");
        assert_eq!(export["followers"][0]["username"], "lee");
        assert!(export["events"].as_array().is_some_and(|e| !e.is_empty()));
        assert_eq!(export["counts"]["followers"], json!(1));
        assert_eq!(app.get("/api/users/me/export/", None).await.status(), StatusCode::UNAUTHORIZED);
    }
}

/// A real SMTP server (tests/smtp/server.py, aiosmtpd) for one test, stopped when dropped.
struct SmtpServer {
    child: std::process::Child,
    port: u16,
    dir: tempfile::TempDir,
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn smtp_server() -> Option<SmtpServer> {
    use std::io::{BufRead, Write};
    let have =
        std::process::Command::new("python3").args(["-c", "import aiosmtpd"]).status().is_ok_and(|s| s.success());
    if !have {
        assert!(std::env::var("CI").is_err(), "aiosmtpd is required in CI");
        let _ = writeln!(std::io::stderr(), "NOTICE: aiosmtpd not installed (pip install aiosmtpd): SMTP test skipped");
        return None;
    }
    let dir = tempfile::tempdir().expect("dir");
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/smtp/server.py");
    let mut child = std::process::Command::new("python3")
        .args([script, &dir.path().display().to_string(), "mailer", "s3cret-pass"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("python3 runs");
    let mut line = String::new();
    let stdout = child.stdout.take().expect("stdout");
    std::io::BufReader::new(stdout).read_line(&mut line).expect("ready line");
    let port = line.trim().strip_prefix("ready ").and_then(|p| p.parse().ok()).expect("ready PORT");
    Some(SmtpServer { child, port, dir })
}

async fn mail_goes_through_smtp(backend: Backend) {
    let Some(smtp) = smtp_server() else { return };
    let url = format!("smtp://mailer:s3cret-pass@127.0.0.1:{}", smtp.port);
    let env = [("USERD_SMTP_URL", url.as_str()), ("USERD_MAIL_FROM", "Acme Accounts <accounts@acme.test>")];
    let Some(app) = TestApp::spawn_with(backend, &env).await else { return };
    let (access, _) = app.register_tokens("smtp.user@example.com").await;
    let eml = smtp.dir.path().join("1.eml");
    for _ in 0..400 {
        if eml.exists() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let mail = std::fs::read_to_string(&eml).expect("the SMTP server received the mail");
    let envelope = std::fs::read_to_string(smtp.dir.path().join("1.envelope")).expect("envelope");
    assert_eq!(envelope, "accounts@acme.test\nsmtp.user@example.com\n");
    assert!(mail.contains("Subject: Confirm your e-mail address"), "{mail}");
    assert!(!app.data_dir.join("outbox").exists(), "with SMTP nothing is written to the outbox directory");
    let ok = post(&app, "/api/users/email/verify/", json!({"token": token_in(&mail)}), None).await;
    assert_eq!(ok.status(), StatusCode::OK);
    assert_eq!(me(&app, &access).await["email_verified"], json!(true));
    assert_eq!(app.db.count("SELECT COUNT(*) FROM outbox").await, 0, "a delivered mail leaves the outbox");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mail_goes_through_a_real_smtp_server_with_authentication_sqlite() {
    mail_goes_through_smtp(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mail_goes_through_a_real_smtp_server_with_authentication_postgres() {
    mail_goes_through_smtp(Backend::Postgres).await;
}

/// A refused send (wrong SMTP password) fails nothing: registration answers 201, and the
/// mail stays queued for the outbox to retry.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_smtp_server_never_fails_the_request() {
    let Some(smtp) = smtp_server() else { return };
    let url = format!("smtp://mailer:wrong-pass@127.0.0.1:{}", smtp.port);
    let Some(app) = TestApp::spawn_with(Backend::Sqlite, &[("USERD_SMTP_URL", url.as_str())]).await else { return };
    app.register("unlucky@example.com").await;
    // Give the background delivery time to be refused (a delivered mail's row is deleted).
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(app.db.count("SELECT COUNT(*) FROM outbox WHERE kind = 'mail'").await, 1, "the mail waits for a retry");
    assert!(!smtp.dir.path().join("1.eml").exists());
}

/// Two userd processes on one PostgreSQL database: a password reset and a deactivation
/// made through the first refuse the old credentials on the second within a second.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reset_and_a_deactivation_on_one_process_hold_on_another() {
    let Some(db) = TestDb::new(Backend::Postgres).await else { return };
    let nodes = crate::cli::Nodes::start(&db.url, 2, &[]);
    let (a_url, b_url) = (nodes.urls[0].clone(), nodes.urls[1].clone());
    let client = reqwest::Client::new();
    let post = |url: String, body: Value, token: Option<String>| {
        let mut req = client.post(url).json(&body);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        req.send()
    };
    let register = |email: &'static str| {
        let body = json!({"email": email, "password": PASSWORD, "confirm_password": PASSWORD});
        post(format!("{a_url}/api/users/register/"), body, None)
    };
    let tokens_on_b = |email: &'static str| {
        let body = json!({"email": email, "password": PASSWORD});
        let res = post(format!("{b_url}/api/users/login/"), body, None);
        async move {
            let v: Value = res.await.expect("send").json().await.expect("json");
            let t = &v["data"]["tokens"];
            (t["access"].as_str().expect("access").to_string(), t["refresh"].as_str().expect("refresh").to_string())
        }
    };
    let profile_on_b = |access: String| client.get(format!("{b_url}/api/users/profile/")).bearer_auth(access).send();
    let refused_on_b = |access: String| async move {
        for _ in 0..20 {
            if profile_on_b(access.clone()).await.expect("send").status() == StatusCode::UNAUTHORIZED {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        false
    };

    // A reset through A.
    assert_eq!(register("reset@example.com").await.expect("send").status(), StatusCode::CREATED);
    let (access, refresh) = tokens_on_b("reset@example.com").await;
    assert_eq!(profile_on_b(access.clone()).await.expect("send").status(), StatusCode::OK, "B has cached the login");
    let res = post(format!("{a_url}/api/users/password/reset/"), json!({"email": "reset@example.com"}), None).await;
    assert_eq!(res.expect("send").status(), StatusCode::OK);
    let outbox = nodes.dirs[0].path().join("outbox");
    let mut token = None;
    for _ in 0..200 {
        let texts: Vec<String> = std::fs::read_dir(&outbox)
            .map(|d| d.filter_map(Result::ok).filter_map(|e| std::fs::read_to_string(e.path()).ok()).collect())
            .unwrap_or_default();
        if let Some(mail) = texts.iter().find(|t| t.contains("Subject: Reset your password")) {
            token = Some(token_in(mail));
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let token = token.expect("a reset mail in A's outbox");
    let body = json!({"token": token, "password": "a brand new secret"});
    assert_eq!(
        post(format!("{a_url}/api/users/password/reset/confirm/"), body, None).await.expect("send").status(),
        StatusCode::OK
    );
    assert!(refused_on_b(access).await, "B refuses the old access token within a second");
    let res = post(format!("{b_url}/api/users/refresh-token/"), json!({"refresh": refresh}), None).await;
    assert_eq!(res.expect("send").status(), StatusCode::UNAUTHORIZED, "and the old refresh token");

    // A deactivation through A.
    assert_eq!(register("staff@example.com").await.expect("send").status(), StatusCode::CREATED);
    assert_eq!(register("quits@example.com").await.expect("send").status(), StatusCode::CREATED);
    db.execute("UPDATE users SET is_staff = TRUE WHERE email_key = 'staff@example.com'").await;
    let (staff, _) = tokens_on_b("staff@example.com").await;
    let (access, refresh) = tokens_on_b("quits@example.com").await;
    assert_eq!(profile_on_b(access.clone()).await.expect("send").status(), StatusCode::OK);
    let id = db.count("SELECT id FROM users WHERE email_key = 'quits@example.com'").await;
    let res = post(format!("{a_url}/api/staff/users/{id}/deactivate/"), json!({}), Some(staff)).await;
    assert_eq!(res.expect("send").status(), StatusCode::OK);
    assert!(refused_on_b(access).await, "B refuses the deactivated user's access token");
    let res = post(format!("{b_url}/api/users/refresh-token/"), json!({"refresh": refresh}), None).await;
    assert_eq!(res.expect("send").status(), StatusCode::UNAUTHORIZED);
    let res =
        post(format!("{b_url}/api/users/login/"), json!({"email": "quits@example.com", "password": PASSWORD}), None)
            .await;
    assert_eq!(res.expect("send").status(), StatusCode::UNAUTHORIZED);
}
