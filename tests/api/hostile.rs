//! What schemathesis and hand probing found, kept as regression tests: every such request
//! gets an answer in its surface's shape (JSON, the documented status), never a plain-text
//! rejection of the framework's and never a 500 (PostgreSQL refuses U+0000 in text).

use reqwest::{Method, StatusCode, header};
use serde_json::{Value, json};

use crate::{both_backends, helpers::*};

/// (method, path, JSON body, expected status, expected body, why)
type Case = (Method, &'static str, Option<Value>, StatusCode, Value, &'static str);

fn cases() -> Vec<Case> {
    vec![
        (
            Method::GET,
            "/api/users/events/?limit=null&limit=2",
            None,
            StatusCode::OK,
            Value::Null,
            "a repeated query name: the last wins, as in Django (schemathesis: was a text/plain 400)",
        ),
        (
            Method::GET,
            "/api/users/events/?limit=2&limit=zero",
            None,
            StatusCode::BAD_REQUEST,
            json!({"status": "failed", "message": "Ensure this value is between 1 and 1000.",
                   "errors": {"limit": ["Ensure this value is between 1 and 1000."]}}),
            "the last value is the one checked",
        ),
        (
            Method::GET,
            "/api/files/?cursor=%FF%FE",
            None,
            StatusCode::BAD_REQUEST,
            json!({"message": "Invalid cursor", "errors": {"cursor": ["Invalid cursor"]}}),
            "invalid UTF-8 in a query value is replaced, then refused as a value",
        ),
        (
            Method::GET,
            "/api/files/%FF/",
            None,
            StatusCode::NOT_FOUND,
            json!({"message": "Not found."}),
            "invalid UTF-8 in a path parameter names nothing (was a text/plain 400)",
        ),
        (
            Method::GET,
            "/careers/users/%C3%28/",
            None,
            StatusCode::NOT_FOUND,
            json!({"detail": "Not found."}),
            "invalid UTF-8 in a username",
        ),
        (
            Method::GET,
            "/api/user/media/%FF.png",
            None,
            StatusCode::NOT_FOUND,
            json!({"detail": "Not found."}),
            "invalid UTF-8 in a picture name",
        ),
        (
            Method::GET,
            "/careers/users/a%00b/",
            None,
            StatusCode::NOT_FOUND,
            json!({"detail": "Not found."}),
            "U+0000 in a path parameter (was a 500 on PostgreSQL)",
        ),
        (
            Method::GET,
            "/api/files/a%00b/",
            None,
            StatusCode::NOT_FOUND,
            json!({"message": "Not found."}),
            "U+0000 in a file id (was a 500 on PostgreSQL)",
        ),
        (
            Method::GET,
            "/api/staff/users/?search=a%00b",
            None,
            StatusCode::BAD_REQUEST,
            json!({"status": "failed", "message": null}),
            "U+0000 in a staff search (was a 500 on PostgreSQL)",
        ),
        (
            Method::GET,
            "/careers/users/?search=ab%00cd",
            None,
            StatusCode::BAD_REQUEST,
            json!({"detail": null}),
            "U+0000 in a query parameter (was a 500 on PostgreSQL)",
        ),
        (
            Method::POST,
            "/api/users/login/",
            Some(json!({"email": "a\u{0}b@example.com", "password": "x"})),
            StatusCode::BAD_REQUEST,
            json!({"status": "failed", "message": null}),
            "U+0000 in a JSON field (was a 500 on PostgreSQL)",
        ),
        (
            Method::POST,
            "/api/user/login/",
            Some(json!({"email": "user@example.com", "password": "x\u{0}"})),
            StatusCode::BAD_REQUEST,
            json!({"detail": null}),
            "U+0000 in document 004's login",
        ),
        (
            Method::POST,
            "/careers/users/register/",
            Some(json!({"username": "nul\u{0}l", "email": "n@example.com", "password": PASSWORD})),
            StatusCode::BAD_REQUEST,
            json!({"detail": null}),
            "U+0000 in document 003's registration",
        ),
    ]
}

both_backends! {
    async fn hostile_requests_get_their_surfaces_shape_and_never_a_500(app) {
        let (access, _) = app.register_tokens("user@example.com").await;
        for (method, path, body, status, expected, why) in cases() {
            let mut req = app.client.request(method.clone(), app.url(path)).bearer_auth(&access);
            if let Some(body) = &body {
                req = req.json(body);
            }
            let res = req.send().await.expect("request");
            let what = format!("{method} {path}: {why}");
            assert_eq!(res.status(), status, "{what}");
            let content_type = res.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
            assert!(content_type.starts_with("application/json"), "{what}: {content_type}");
            let got: Value = res.json().await.expect("JSON");
            match expected {
                Value::Null => {}
                Value::Object(fields) => {
                    for (k, v) in fields {
                        // `null` stands for the null-character sentence in that field.
                        let v = if v.is_null() { json!("Null characters are not allowed.") } else { v };
                        assert_eq!(got[&k], v, "{what}: {got}");
                    }
                }
                other => panic!("bad case {other}"),
            }
        }
    }
}

both_backends! {
    async fn null_characters_in_forms_and_multipart_fields_are_refused(app) {
        let res = app
            .client
            .post(app.url("/api/users/register/"))
            .form(&[("email", "a\u{0}@example.com"), ("password", PASSWORD), ("confirm_password", PASSWORD)])
            .send()
            .await
            .expect("send");
        let body = json_of(res, StatusCode::BAD_REQUEST).await;
        assert_eq!(body, json!({"status": "failed", "message": "Null characters are not allowed."}));
        let form = reqwest::multipart::Form::new()
            .text("email", "m@example.com")
            .text("full_name", "Nul\u{0}Name")
            .text("password", PASSWORD);
        let res = app.client.post(app.url("/api/user/register/")).multipart(form).send().await.expect("send");
        let body = json_of(res, StatusCode::BAD_REQUEST).await;
        assert_eq!(body, json!({"detail": "Null characters are not allowed."}));
        assert_eq!(app.db.count("SELECT COUNT(*) FROM users").await, 0, "nothing was stored");
    }
}
