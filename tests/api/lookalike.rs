//! Look-alike accounts and weak passwords (issue 10): e-mails and usernames that look the
//! same are one account on every surface, invisible characters are refused, and a new
//! password may be neither the user's own details nor white space, wherever it is set.

use reqwest::StatusCode;
use serde_json::{Value, json};
use userd::{
    domain::{model::Password, passwords::PasswordHasher},
    store::SqlStore,
};

use crate::{both_backends, helpers::*};

/// `josé` with the accent as one character (U+00E9) and as `e` + U+0301.
const PRECOMPOSED: &str = "jos\u{00E9}@example.com";
const DECOMPOSED: &str = "jose\u{0301}@example.com";

const TOO_SIMILAR_EMAIL: &str = "The password is too similar to the email address.";
const TOO_SIMILAR_USERNAME: &str = "The password is too similar to the username.";
const WHITESPACE: &str = "This password is entirely whitespace.";
const INVALID_EMAIL: &str = "Enter a valid email address.";

async fn register_002(app: &TestApp, email: &str, password: &str) -> reqwest::Response {
    let body = json!({"email": email, "password": password, "confirm_password": password});
    app.post_json("/api/users/register/", &body, None).await
}

async fn register_003(app: &TestApp, username: &str, email: &str, password: &str) -> reqwest::Response {
    let body = json!({"username": username, "email": email, "password": password, "password_confirm": password});
    app.post_json("/careers/users/register/", &body, None).await
}

async fn register_004(app: &TestApp, email: &str, password: &str) -> reqwest::Response {
    app.post_json("/api/user/register/", &json!({"email": email, "password": password}), None).await
}

fn user_id(login: &Value) -> &Value {
    &login["data"]["user"]["id"]
}

both_backends! {
    async fn both_spellings_of_jose_are_one_account_on_document_002(app) {
        let first = json_of(register_002(&app, PRECOMPOSED, PASSWORD).await, StatusCode::CREATED).await;
        assert_eq!(first["data"]["user"]["email"], PRECOMPOSED);
        let duplicate = json!({"status": "failed", "message": "A user with this email already exists.",
                               "errors": {"email": ["A user with this email already exists."]}});
        for (spelling, why) in [
            (DECOMPOSED, "decomposed accent"),
            ("JOSE\u{0301}@EXAMPLE.COM", "decomposed, in capitals"),
            ("jos\u{00E9}@ｅｘａｍｐｌｅ.com", "full-width domain"),
            ("jos\u{00E9}＠example．com", "full-width at sign and dot"),
        ] {
            let res = register_002(&app, spelling, PASSWORD).await;
            assert_eq!(json_of(res, StatusCode::BAD_REQUEST).await, duplicate, "{why}");
        }
        for spelling in [PRECOMPOSED, DECOMPOSED, "JOSÉ@ｅｘａｍｐｌｅ.com", "jo\u{200B}se\u{0301}@example.com"] {
            let login = json_of(app.login(spelling, PASSWORD).await, StatusCode::OK).await;
            assert_eq!(user_id(&login), user_id(&first), "login as {spelling:?}");
        }
        // The other surfaces' logins find the same account.
        let res = app.post_json("/api/user/login/", &json!({"email": DECOMPOSED, "password": PASSWORD}), None).await;
        assert_eq!(json_of(res, StatusCode::OK).await["data"]["email"], PRECOMPOSED);
        let res = app.post_json("/api/users/session/", &json!({"email": DECOMPOSED, "password": PASSWORD}), None).await;
        assert_eq!(json_of(res, StatusCode::OK).await["user"]["email"], PRECOMPOSED);
        assert_eq!(app.db.count("SELECT COUNT(*) FROM users").await, 1);
    }
}

both_backends! {
    async fn a_decomposed_first_registration_is_stored_composed_and_found_by_either_form(app) {
        let first = json_of(register_002(&app, DECOMPOSED, PASSWORD).await, StatusCode::CREATED).await;
        assert_eq!(first["data"]["user"]["email"], PRECOMPOSED, "stored in NFKC");
        assert_eq!(register_002(&app, PRECOMPOSED, PASSWORD).await.status(), StatusCode::BAD_REQUEST);
        for spelling in [PRECOMPOSED, DECOMPOSED] {
            let login = json_of(app.login(spelling, PASSWORD).await, StatusCode::OK).await;
            assert_eq!(user_id(&login), user_id(&first));
        }
    }
}

both_backends! {
    async fn full_width_and_unicode_domains_are_their_ascii_domain(app) {
        let first = json_of(register_002(&app, "mia@ｅｘａｍｐｌｅ.com", PASSWORD).await, StatusCode::CREATED).await;
        assert_eq!(first["data"]["user"]["email"], "mia@example.com");
        assert_eq!(register_002(&app, "mia@example.com", PASSWORD).await.status(), StatusCode::BAD_REQUEST);
        let login = json_of(app.login("MIA@EXAMPLE.COM", PASSWORD).await, StatusCode::OK).await;
        assert_eq!(user_id(&login), user_id(&first));

        // An internationalised domain is kept in its Punycode form, whichever way it is typed.
        let anna = json_of(register_002(&app, "anna@Bücher.de", PASSWORD).await, StatusCode::CREATED).await;
        assert_eq!(anna["data"]["user"]["email"], "anna@xn--bcher-kva.de");
        assert_eq!(register_002(&app, "anna@xn--bcher-kva.de", PASSWORD).await.status(), StatusCode::BAD_REQUEST);
        assert_eq!(register_002(&app, "anna@bu\u{0308}cher.de", PASSWORD).await.status(), StatusCode::BAD_REQUEST);
        for spelling in ["anna@bücher.de", "anna@BÜCHER.DE", "anna@xn--bcher-kva.de"] {
            let login = json_of(app.login(spelling, PASSWORD).await, StatusCode::OK).await;
            assert_eq!(user_id(&login), user_id(&anna), "{spelling}");
        }
    }
}

both_backends! {
    async fn invisible_characters_are_refused_as_invalid_addresses_on_every_surface(app) {
        // (character, why)
        let cases = [
            ('\u{200B}', "zero-width space"),
            ('\u{200C}', "zero-width non-joiner"),
            ('\u{200D}', "zero-width joiner"),
            ('\u{2060}', "word joiner"),
            ('\u{FEFF}', "zero-width no-break space"),
            ('\u{00AD}', "soft hyphen"),
            ('\u{202E}', "right-to-left override"),
            ('\u{2066}', "left-to-right isolate"),
            ('\u{180E}', "Mongolian vowel separator"),
            ('\u{3164}', "Hangul filler"),
        ];
        for (c, why) in cases {
            let email = format!("jo{c}se@example.com");
            let body = json_of(register_002(&app, &email, PASSWORD).await, StatusCode::BAD_REQUEST).await;
            assert_eq!(body["errors"]["email"], json!([INVALID_EMAIL]), "002, {why}");
            let body = json_of(register_003(&app, "jose", &email, PASSWORD).await, StatusCode::BAD_REQUEST).await;
            assert_eq!(body, json!({"email": [INVALID_EMAIL]}), "003, {why}");
            let body = json_of(register_004(&app, &email, PASSWORD).await, StatusCode::BAD_REQUEST).await;
            assert_eq!(body, json!({"email": [INVALID_EMAIL]}), "004, {why}");
            let domain = format!("jose@exam{c}ple.com");
            let body = json_of(register_002(&app, &domain, PASSWORD).await, StatusCode::BAD_REQUEST).await;
            assert_eq!(body["errors"]["email"], json!([INVALID_EMAIL]), "002, {why} in the domain");
            let username = format!("jo{c}se");
            let body = json_of(register_003(&app, &username, "jose@example.com", PASSWORD).await, StatusCode::BAD_REQUEST).await;
            assert_eq!(
                body,
                json!({"username": ["Enter a valid username. This value may contain only letters, numbers, and @/./+/-/_ characters."]}),
                "003 username, {why}"
            );
        }
        // A new address on an update is refused alike.
        let (access, _) = app.register_tokens("kim@example.com").await;
        let res = app.client.patch(app.url("/careers/users/me/update/")).bearer_auth(&access)
            .json(&json!({"email": "k\u{200B}im2@example.com"})).send().await.expect("send");
        assert_eq!(json_of(res, StatusCode::BAD_REQUEST).await, json!({"email": [INVALID_EMAIL]}));
        assert_eq!(app.db.count("SELECT COUNT(*) FROM users").await, 1);
    }
}

both_backends! {
    async fn look_alike_usernames_are_one_account_on_document_003(app) {
        let first = json_of(register_003(&app, "ｊｏｓｅ_ｄｅｖ", PRECOMPOSED, PASSWORD).await, StatusCode::CREATED).await;
        assert_eq!(first["user"]["username"], "jose_dev", "stored in NFKC");
        let res = register_003(&app, "JOSE_DEV", "other@example.com", PASSWORD).await;
        assert_eq!(json_of(res, StatusCode::BAD_REQUEST).await, json!({"username": ["A user with that username already exists."]}));
        let res = register_003(&app, "jose_other", DECOMPOSED, PASSWORD).await;
        assert_eq!(json_of(res, StatusCode::BAD_REQUEST).await, json!({"email": ["user with this email already exists."]}));
        for name in ["jose_dev", "ＪＯＳＥ_ＤＥＶ", "jose\u{200B}_dev"] {
            let res = app.post_json("/careers/users/login/", &json!({"username": name, "password": PASSWORD}), None).await;
            assert_eq!(json_of(res, StatusCode::OK).await["user"]["id"], first["user"]["id"], "{name:?}");
        }
        let res = app.post_json("/api/users/session/", &json!({"username": "ｊｏｓｅ_ｄｅｖ", "password": PASSWORD}), None).await;
        assert_eq!(json_of(res, StatusCode::OK).await["user"]["username"], "jose_dev");
        let res = app.get("/careers/users/ＪＯＳＥ_ＤＥＶ/", None).await;
        assert_eq!(json_of(res, StatusCode::OK).await["username"], "jose_dev", "profiles by any spelling");
    }
}

both_backends! {
    async fn registration_refuses_passwords_like_the_user_or_only_whitespace_on_every_surface(app) {
        let spaces = " ".repeat(8);
        // Document 002: the `{status, message, errors}` envelope.
        // (email, password, message, why)
        // The username made from the e-mail counts as Django's `username` does: it is public
        // (profiles, the directory), so a password like it is guessed as easily.
        let cases = [
            ("lena.moreau@example.com", "lena.moreau@example.com", TOO_SIMILAR_EMAIL, "the e-mail itself"),
            ("lena.moreau@example.com", "LENA.MOREAU@EXAMPLE.COM", TOO_SIMILAR_EMAIL, "the e-mail in capitals"),
            ("lena.moreau@example.com", "moreau-lena", TOO_SIMILAR_USERNAME, "the generated username's words"),
            ("lena.moreau@example.com", &spaces, WHITESPACE, "eight spaces"),
            ("lena.moreau@example.com", "\u{3000}\u{3000}\t\t\u{00A0}\u{00A0}  ", WHITESPACE, "other white space"),
        ];
        for (email, password, message, why) in cases {
            let body = json_of(register_002(&app, email, password).await, StatusCode::BAD_REQUEST).await;
            assert_eq!(body, json!({"status": "failed", "message": message, "errors": {"password": [message]}}), "002, {why}");
        }
        let body = json!({"email": "ig@example.com", "password": "GARCÍA1987", "confirm_password": "GARCÍA1987",
                          "first_name": "Inés", "last_name": "García"});
        let res = app.post_json("/api/users/register/", &body, None).await;
        assert_eq!(json_of(res, StatusCode::BAD_REQUEST).await["errors"]["password"], json!(["The password is too similar to the last name."]));

        // Document 003: DRF's `{field: [messages]}`; the username counts too.
        let res = register_003(&app, "margaret_hamilton", "mh@example.com", "margarethamilton").await;
        assert_eq!(json_of(res, StatusCode::BAD_REQUEST).await, json!({"password": [TOO_SIMILAR_USERNAME]}));
        let res = register_003(&app, "lena", "lena.moreau@example.com", "lena.moreau@example.com").await;
        assert_eq!(json_of(res, StatusCode::BAD_REQUEST).await, json!({"password": [TOO_SIMILAR_EMAIL]}));
        let res = register_003(&app, "lena", "lena.moreau@example.com", &spaces).await;
        assert_eq!(json_of(res, StatusCode::BAD_REQUEST).await, json!({"password": [WHITESPACE]}));

        // Document 004, without and with a full name.
        let res = register_004(&app, "lena.moreau@example.com", "lena.moreau@example.com").await;
        assert_eq!(json_of(res, StatusCode::BAD_REQUEST).await, json!({"password": [TOO_SIMILAR_EMAIL]}));
        let res = register_004(&app, "lena.moreau@example.com", &spaces).await;
        assert_eq!(json_of(res, StatusCode::BAD_REQUEST).await, json!({"password": [WHITESPACE]}));
        let body = json!({"email": "x7@example.com", "password": "rosalind1920", "full_name": "Rosalind Franklin"});
        let res = app.post_json("/api/user/register/", &body, None).await;
        assert_eq!(json_of(res, StatusCode::BAD_REQUEST).await, json!({"password": ["The password is too similar to the first name."]}));

        // None of them was stored; a password unlike the user is taken.
        assert_eq!(app.db.count("SELECT COUNT(*) FROM users").await, 0);
        assert_eq!(register_002(&app, "lena.moreau@example.com", PASSWORD).await.status(), StatusCode::CREATED);
    }
}

both_backends! {
    async fn password_change_and_update_refuse_passwords_like_the_user(app) {
        let body = json!({"username": "oskar_l", "email": "oskar.lindqvist@example.com", "password": PASSWORD,
                          "password_confirm": PASSWORD, "first_name": "Oskar", "last_name": "Lindqvist"});
        let registered = json_of(app.post_json("/careers/users/register/", &body, None).await, StatusCode::CREATED).await;
        let access = registered["access"].as_str().expect("access").to_string();
        let change = |password: &str| {
            json!({"current_password": PASSWORD, "password": password, "confirm_password": password})
        };
        // (new password, message, why)
        let cases = [
            ("oskar.lindqvist@example.com", TOO_SIMILAR_EMAIL, "the e-mail"),
            ("lindqvist2024", "The password is too similar to the last name.", "the last name"),
            ("        ", WHITESPACE, "eight spaces"),
        ];
        for (password, message, why) in cases {
            let res = app.post_json("/api/users/password/change/", &change(password), Some(&access)).await;
            assert_eq!(json_of(res, StatusCode::BAD_REQUEST).await,
                json!({"status": "failed", "message": message, "errors": {"password": [message]}}), "002 change, {why}");
        }
        // A wrong current password is still reported when the new one is fine.
        let wrong = json!({"current_password": "not-it-at-all", "password": "a brand new secret"});
        let res = app.post_json("/api/users/password/change/", &wrong, Some(&access)).await;
        assert_eq!(json_of(res, StatusCode::BAD_REQUEST).await["errors"], json!({"current_password": ["The password is incorrect."]}));

        // Document 004's update compares with the account as it is and as the update leaves it.
        let update = |body: Value| app.client.put(app.url("/api/user/update/")).bearer_auth(&access).json(&body).send();
        let res = update(json!({"password": "oskar.lindqvist@example.com"})).await.expect("send");
        assert_eq!(json_of(res, StatusCode::BAD_REQUEST).await, json!({"password": [TOO_SIMILAR_EMAIL]}));
        let res = update(json!({"password": "wilhelmina-zeta", "full_name": "Wilhelmina Zeta"})).await.expect("send");
        assert_eq!(json_of(res, StatusCode::BAD_REQUEST).await, json!({"password": ["The password is too similar to the first name."]}));
        let res = update(json!({"password": "          "})).await.expect("send");
        assert_eq!(json_of(res, StatusCode::BAD_REQUEST).await, json!({"password": [WHITESPACE]}));
        assert_eq!(app.login("oskar.lindqvist@example.com", PASSWORD).await.status(), StatusCode::OK, "nothing changed");
        let res = app.post_json("/api/users/password/change/", &change("a brand new secret"), Some(&access)).await;
        assert_eq!(res.status(), StatusCode::OK);
    }
}

both_backends! {
    async fn password_reset_refuses_passwords_like_the_user_and_the_link_still_works(app) {
        let body = json!({"email": "pia.nowak@example.com", "password": PASSWORD, "confirm_password": PASSWORD,
                          "first_name": "Pia", "last_name": "Nowak"});
        assert_eq!(app.post_json("/api/users/register/", &body, None).await.status(), StatusCode::CREATED);
        let res = app.post_json("/api/users/password/reset/", &json!({"email": "PIA.NOWAK@example.com"}), None).await;
        assert_eq!(res.status(), StatusCode::OK);
        crate::lifecycle::nth_mail(&app, "pia.nowak@example.com", 2).await;
        let mails = crate::lifecycle::mails_to(&app, "pia.nowak@example.com");
        let mail = mails.iter().find(|m| m.contains("Subject: Reset your password")).expect("a reset mail");
        let token = crate::lifecycle::token_in(mail);
        // (new password, message, why)
        let cases = [
            ("pia.nowak@example.com", TOO_SIMILAR_EMAIL, "the e-mail"),
            ("nowak.pia", TOO_SIMILAR_USERNAME, "the username made from the e-mail"),
            ("        ", WHITESPACE, "eight spaces"),
        ];
        for (password, message, why) in cases {
            let res = app.post_json("/api/users/password/reset/confirm/", &json!({"token": token, "password": password}), None).await;
            assert_eq!(json_of(res, StatusCode::BAD_REQUEST).await,
                json!({"status": "failed", "message": message, "errors": {"password": [message]}}), "{why}");
        }
        let res = app.post_json("/api/users/password/reset/confirm/", &json!({"token": token, "password": "a brand new secret"}), None).await;
        assert_eq!(json_of(res, StatusCode::OK).await["message"], "Password has been reset", "a refused password leaves the link usable");
        assert_eq!(app.login("pia.nowak@example.com", "a brand new secret").await.status(), StatusCode::OK);
    }
}

/// A database holding accounts stored before the normalisation: their keys are the
/// lower-cased address as it was typed. userd makes them again at start.
async fn database_with_old_keys(backend: Backend) -> Option<TestDb> {
    let db = TestDb::new(backend).await?;
    let store = SqlStore::connect(&db.url).await.expect("connect");
    store.migrate().await.expect("migrate");
    store.close().await;
    let hasher = PasswordHasher::new(1).expect("hasher");
    let hash = hasher.hash(&Password::for_login(PASSWORD).expect("password")).await.expect("hash");
    // (external id, e-mail as stored, username), in the order they registered
    let rows = [
        (1, DECOMPOSED, "jose"),
        (2, "anna@bücher.de", "anna"),
        (3, "Mia@ｅｘａｍｐｌｅ.com", "mia"),
        // A look-alike of the first, registered before the rules: its key is the normal form
        // already, so the first cannot take it.
        (4, PRECOMPOSED, "jose2"),
    ];
    for (id, email, username) in rows {
        db.execute(&format!(
            "INSERT INTO users (external_id, email, email_key, username, username_key, password_hash, created_at, updated_at) \
             VALUES ('ext-{id}', '{email}', '{}', '{username}', '{username}', '{hash}', {id}, {id})",
            email.to_lowercase()
        ))
        .await;
    }
    Some(db)
}

async fn accounts_stored_before_normalisation_are_found_by_every_spelling(backend: Backend) {
    let Some(db) = database_with_old_keys(backend).await else { return };
    let app = TestApp::spawn_on(db, &[]).await;
    // (spelling typed at login, the account it must find)
    let cases = [
        (PRECOMPOSED, "ext-4"),
        ("anna@bücher.de", "ext-2"),
        ("anna@xn--bcher-kva.de", "ext-2"),
        ("ANNA@BU\u{0308}CHER.DE", "ext-2"),
        ("mia@example.com", "ext-3"),
        ("Mia@ｅｘａｍｐｌｅ.com", "ext-3"),
    ];
    for (spelling, external_id) in cases {
        let res = app.post_json("/api/users/session/", &json!({"email": spelling, "password": PASSWORD}), None).await;
        assert_eq!(json_of(res, StatusCode::OK).await["user"]["external_id"], external_id, "{spelling:?}");
    }
    for taken in ["anna@xn--bcher-kva.de", "mia@example.com", DECOMPOSED] {
        let res = register_002(&app, taken, PASSWORD).await;
        assert_eq!(
            json_of(res, StatusCode::BAD_REQUEST).await["errors"]["email"],
            json!(["A user with this email already exists."]),
            "{taken}"
        );
    }
    // The older look-alike keeps its old key (the account with the normal form has it) and
    // still signs in by its username.
    let old_key = app
        .db
        .count(&format!(
            "SELECT COUNT(*) FROM users WHERE external_id = 'ext-1' AND email_key = '{}'",
            DECOMPOSED.to_lowercase()
        ))
        .await;
    assert_eq!(old_key, 1);
    let res = app.post_json("/api/users/session/", &json!({"username": "jose", "password": PASSWORD}), None).await;
    assert_eq!(json_of(res, StatusCode::OK).await["user"]["external_id"], "ext-1");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accounts_stored_before_normalisation_are_found_by_every_spelling_sqlite() {
    accounts_stored_before_normalisation_are_found_by_every_spelling(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accounts_stored_before_normalisation_are_found_by_every_spelling_postgres() {
    accounts_stored_before_normalisation_are_found_by_every_spelling(Backend::Postgres).await;
}
