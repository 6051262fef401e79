//! The OpenAPI document at `/api/openapi.json` is complete and tells the truth: every
//! operation summarised and named once, every response described, every reference
//! resolved, text limits stated, and each operation's `security` exactly the credentials
//! the server accepts there.

use std::collections::{BTreeMap, BTreeSet};

use reqwest::{Method, StatusCode, header};
use serde_json::{Value, json};
use userd::domain::model::types::{Email, Username};

use crate::helpers::*;

const METHODS: [&str; 8] = ["get", "put", "post", "delete", "options", "head", "patch", "trace"];

/// One operation of the document.
struct Operation<'a> {
    path: &'a str,
    method: &'a str,
    body: &'a Value,
}

impl Operation<'_> {
    fn name(&self) -> String {
        format!("{} {}", self.method.to_uppercase(), self.path)
    }

    /// The names of the security schemes of each alternative; empty for a public operation.
    fn security(&self) -> Vec<BTreeSet<String>> {
        self.body["security"]
            .as_array()
            .map(|alternatives| {
                alternatives
                    .iter()
                    .map(|a| a.as_object().map(|o| o.keys().cloned().collect()).unwrap_or_default())
                    .collect()
            })
            .unwrap_or_default()
    }
}

fn operations(doc: &Value) -> Vec<Operation<'_>> {
    let mut found = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for method in METHODS {
            if let Some(body) = item.get(method) {
                found.push(Operation { path, method, body });
            }
        }
    }
    found
}

/// Every `$ref` anywhere in `value`.
fn references<'a>(value: &'a Value, found: &mut Vec<&'a str>) {
    match value {
        Value::Object(map) => {
            for (key, v) in map {
                match (key.as_str(), v) {
                    ("$ref", Value::String(target)) => found.push(target),
                    _ => references(v, found),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| references(v, found)),
        _ => {}
    }
}

fn non_empty(v: &Value) -> bool {
    v.as_str().is_some_and(|s| !s.trim().is_empty())
}

async fn document(app: &TestApp) -> Value {
    json_of(app.get("/api/openapi.json", None).await, StatusCode::OK).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_operation_and_response_is_described_and_every_reference_resolves() {
    let app = TestApp::spawn_with(Backend::Sqlite, &[]).await.expect("SQLite is always available");
    let doc = document(&app).await;
    let mut problems = Vec::new();

    assert_eq!(doc["info"]["version"], env!("CARGO_PKG_VERSION"), "the version is Cargo's");
    assert_eq!(doc["info"]["license"]["identifier"], "Apache-2.0");
    assert!(non_empty(&doc["info"]["description"]), "the document describes itself");

    let declared_tags: BTreeMap<&str, &Value> = doc["tags"]
        .as_array()
        .expect("tags")
        .iter()
        .filter_map(|t| Some((t["name"].as_str()?, &t["description"])))
        .collect();
    let schemes = doc["components"]["securitySchemes"].as_object().expect("security schemes");
    for (name, scheme) in schemes {
        if !non_empty(&scheme["description"]) {
            problems.push(format!("security scheme {name} has no description"));
        }
    }

    let mut ids = BTreeMap::new();
    for op in operations(&doc) {
        let name = op.name();
        if !non_empty(&op.body["summary"]) && !non_empty(&op.body["description"]) {
            problems.push(format!("{name}: neither summary nor description"));
        }
        match op.body["operationId"].as_str() {
            Some(id)
                if id.starts_with(|c: char| c.is_ascii_lowercase())
                    && id.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_') =>
            {
                if let Some(other) = ids.insert(id.to_string(), name.clone()) {
                    problems.push(format!("{name}: operationId {id} is also {other}'s"));
                }
            }
            other => problems.push(format!("{name}: operationId {other:?} is not a snake_case name")),
        }
        for tag in op.body["tags"].as_array().into_iter().flatten() {
            match tag.as_str().and_then(|t| declared_tags.get(t)) {
                Some(description) if non_empty(description) => {}
                _ => problems.push(format!("{name}: tag {tag} is not declared with a description")),
            }
        }
        let responses = op.body["responses"].as_object().expect("responses");
        if responses.is_empty() {
            problems.push(format!("{name}: no responses"));
        }
        for (status, response) in responses {
            if !non_empty(&response["description"]) {
                problems.push(format!("{name} → {status}: no description"));
            }
        }
        for alternative in op.security() {
            for scheme in alternative {
                if !schemes.contains_key(&scheme) {
                    problems.push(format!("{name}: security scheme {scheme} is not declared"));
                }
            }
        }
    }

    let mut refs = Vec::new();
    references(&doc, &mut refs);
    assert!(!refs.is_empty(), "schemas are referenced");
    for target in refs {
        let resolved = target.strip_prefix('#').and_then(|pointer| doc.pointer(pointer));
        if resolved.is_none() {
            problems.push(format!("$ref {target} does not resolve"));
        }
    }
    assert!(problems.is_empty(), "the OpenAPI document is incomplete:\n{}", problems.join("\n"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_are_described_as_bytes_and_bodies_as_named_schemas() {
    let app = TestApp::spawn_with(Backend::Sqlite, &[]).await.expect("SQLite is always available");
    let doc = document(&app).await;
    let schema = |pointer: &str| -> Value {
        let found = doc.pointer(pointer).unwrap_or_else(|| panic!("{pointer} is in the document"));
        match found["$ref"].as_str() {
            Some(target) => doc.pointer(&target[1..]).cloned().unwrap_or_else(|| panic!("{target} resolves")),
            None => found.clone(),
        }
    };

    let download =
        schema("/paths/~1api~1files~1{id}~1content~1/get/responses/200/content/application~1octet-stream/schema");
    assert_eq!((&download["type"], &download["format"]), (&json!("string"), &json!("binary")), "{download}");
    let upload = schema("/paths/~1api~1files~1/post/requestBody/content/multipart~1form-data/schema");
    assert_eq!(upload["required"], json!(["file"]), "{upload}");
    assert_eq!(
        (&upload["properties"]["file"]["type"], &upload["properties"]["file"]["format"]),
        (&json!("string"), &json!("binary"))
    );

    // Every JSON body is a schema with named properties: no bare `object`.
    let mut bare = Vec::new();
    for op in operations(&doc) {
        let bodies = op.body["responses"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(status, r)| (status.clone(), r))
            .chain(op.body.get("requestBody").map(|r| ("request".to_string(), r)));
        for (which, body) in bodies {
            let Some(json_schema) = body.pointer("/content/application~1json/schema") else { continue };
            let resolved = match json_schema["$ref"].as_str() {
                Some(target) => doc.pointer(&target[1..]).cloned().unwrap_or(Value::Null),
                None => json_schema.clone(),
            };
            if resolved["properties"].as_object().is_none_or(|p| p.is_empty()) {
                bare.push(format!("{} → {which}: {json_schema}", op.name()));
            }
        }
    }
    assert!(bare.is_empty(), "bodies without a named shape:\n{}", bare.join("\n"));

    let sign_in = schema("/paths/~1api~1users~1session~1/post/responses/200/content/application~1json/schema");
    assert_eq!(sign_in["required"], json!(["message", "csrftoken", "user"]), "{sign_in}");
    let settings = schema("/paths/~1api~1users~1settings~1/patch/responses/200/content/application~1json/schema");
    assert!(settings["properties"]["details"].is_object(), "{settings}");
    let jwks = schema("/paths/~1.well-known~1jwks.json/get/responses/200/content/application~1json/schema");
    assert_eq!(jwks["properties"]["keys"]["type"], "array", "{jwks}");
}

/// The text fields of request bodies and the longest value the server accepts in each
/// (characters); `None` for those it does not limit (credentials looked up, not stored).
const REQUEST_TEXT_LIMITS: &[(&str, &str, Option<usize>)] = &[
    ("RegisterRequest", "email", Some(Email::MAX_LEN)),
    ("RegisterRequest", "password", Some(1024)),
    ("RegisterRequest", "confirm_password", Some(1024)),
    ("RegisterRequest", "first_name", Some(150)),
    ("RegisterRequest", "last_name", Some(150)),
    ("RegisterRequest", "company_name", Some(255)),
    ("LoginRequest", "email", None),
    ("LoginRequest", "password", Some(1024)),
    ("SignInRequest", "email", None),
    ("SignInRequest", "username", None),
    ("SignInRequest", "password", Some(1024)),
    ("RefreshRequest", "refresh", None),
    ("GoogleLoginRequest", "token", Some(8192)),
    ("GitHubLoginRequest", "code", Some(512)),
    ("GoogleSessionRequest", "token", Some(8192)),
    ("GitHubSessionRequest", "code", Some(512)),
    ("SettingsRequest", "tz", Some(64)),
    ("CheckoutRequest", "plan", None),
    ("StripeEvent", "id", None),
    ("StripeEvent", "type", None),
    ("MicroserviceLogin", "email", None),
    ("MicroserviceLogin", "password", Some(1024)),
    ("MicroserviceRefresh", "refresh", None),
    // `full_name` is split on its first space into two parts of at most 150 characters.
    ("MicroserviceRegister", "email", Some(Email::MAX_LEN)),
    ("MicroserviceRegister", "full_name", Some(301)),
    ("MicroserviceRegister", "password", Some(1024)),
    // Base64 image data: its limit is on the decoded picture (5 MiB).
    ("MicroserviceRegister", "profile_pic", None),
    ("MicroserviceUpdate", "email", Some(Email::MAX_LEN)),
    ("MicroserviceUpdate", "full_name", Some(301)),
    ("MicroserviceUpdate", "password", Some(1024)),
    ("MicroserviceUpdate", "profile_pic", None),
    ("CareersRegister", "username", Some(Username::MAX_LEN)),
    ("CareersRegister", "email", Some(Email::MAX_LEN)),
    ("CareersRegister", "password", Some(1024)),
    ("CareersRegister", "password_confirm", Some(1024)),
    ("CareersRegister", "first_name", Some(150)),
    ("CareersRegister", "last_name", Some(150)),
    ("CareersRegister", "bio", Some(1000)),
    ("TokenRequest", "token", Some(128)),
    ("ResetRequest", "email", Some(Email::MAX_LEN)),
    ("ResetConfirmRequest", "token", Some(128)),
    ("ResetConfirmRequest", "password", Some(1024)),
    ("ResetConfirmRequest", "confirm_password", Some(1024)),
    ("ChangePasswordRequest", "current_password", Some(1024)),
    ("ChangePasswordRequest", "password", Some(1024)),
    ("ChangePasswordRequest", "confirm_password", Some(1024)),
    ("DeleteRequest", "password", Some(1024)),
    ("CareersLogin", "username", None),
    ("CareersLogin", "password", Some(1024)),
    ("CareersRefresh", "refresh", None),
    ("CareersUpdate", "first_name", Some(150)),
    ("CareersUpdate", "last_name", Some(150)),
    ("CareersUpdate", "bio", Some(1000)),
    ("CareersUpdate", "avatar", Some(500)),
    ("CareersUpdate", "email", Some(Email::MAX_LEN)),
    ("CareersUpdate", "company_name", Some(255)),
];

/// Stored values shown in answers, with the limit they were stored under.
const RESPONSE_TEXT_LIMITS: &[(&str, &str, usize)] = &[
    ("UserOut", "email", Email::MAX_LEN),
    ("UserOut", "first_name", 150),
    ("UserOut", "last_name", 150),
    ("UserOut", "company_name", 255),
    ("MeResponse", "email", Email::MAX_LEN),
    ("MeResponse", "username", Username::MAX_LEN),
    ("MeResponse", "first_name", 150),
    ("MeResponse", "last_name", 150),
    ("SessionUser", "email", Email::MAX_LEN),
    ("SessionUser", "username", Username::MAX_LEN),
    ("SessionUser", "first_name", 150),
    ("SessionUser", "last_name", 150),
    ("MicroserviceUser", "email", Email::MAX_LEN),
    ("MicroserviceUser", "full_name", 301),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn text_fields_carry_the_servers_limits() {
    let app = TestApp::spawn_with(Backend::Sqlite, &[]).await.expect("SQLite is always available");
    let doc = document(&app).await;
    let schemas = &doc["components"]["schemas"];
    let mut problems = Vec::new();
    let expected = REQUEST_TEXT_LIMITS
        .iter()
        .map(|&(s, f, max)| ((s, f), max))
        .chain(RESPONSE_TEXT_LIMITS.iter().map(|&(s, f, max)| ((s, f), Some(max))));
    for ((schema, field), max) in expected {
        let property = &schemas[schema]["properties"][field];
        if !property.is_object() {
            problems.push(format!("{schema}.{field} is not described"));
            continue;
        }
        let stated = property["maxLength"].as_u64().and_then(|m| usize::try_from(m).ok());
        if stated != max {
            problems.push(format!("{schema}.{field}: maxLength {stated:?}, the server's limit is {max:?}"));
        }
    }
    // A new text field in a request body must be added to the table above.
    for op in operations(&doc) {
        let Some(target) =
            op.body.pointer("/requestBody/content/application~1json/schema/$ref").and_then(Value::as_str)
        else {
            continue;
        };
        let schema = target.rsplit('/').next().unwrap_or(target);
        for (field, property) in schemas[schema]["properties"].as_object().into_iter().flatten() {
            let is_text = property["type"] == "string"
                || property["type"].as_array().is_some_and(|t| t.contains(&json!("string")));
            if is_text && !REQUEST_TEXT_LIMITS.iter().any(|&(s, f, _)| s == schema && f == field) {
                problems.push(format!("{}: {schema}.{field} is not in REQUEST_TEXT_LIMITS", op.name()));
            }
        }
    }
    let password = &schemas["RegisterRequest"]["properties"]["password"]["description"];
    assert!(password.as_str().is_some_and(|d| d.contains("1024 characters")), "{password}");
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// A concrete path for a templated one.
fn concrete(path: &str) -> String {
    path.replace("{id}", "no-such-file").replace("{name}", "no-such-picture.png").replace("{provider}", "github")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_operation_lists_exactly_the_credentials_the_server_accepts() {
    let app = TestApp::spawn_with(Backend::Sqlite, &[]).await.expect("SQLite is always available");
    let doc = document(&app).await;
    let (access, _) = app.register_tokens("user@example.com").await;
    let signed_in =
        app.post_json("/api/users/session/", &json!({"email": "user@example.com", "password": PASSWORD}), None).await;
    assert_eq!(signed_in.status(), StatusCode::OK);
    let cookies: Vec<String> = signed_in
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok()?.split(';').next().map(str::to_string))
        .collect();
    let csrf: Value = signed_in.json().await.expect("json");
    let csrf = csrf["csrftoken"].as_str().expect("csrftoken").to_string();
    let cookie_header = cookies.join("; ");

    let mut ops = operations(&doc);
    // Signing the browser out ends the session the other checks use: it goes last.
    ops.sort_by_key(|op| op.path == "/api/users/session/" && op.method == "delete");
    let bearer_and_session = vec![BTreeSet::from(["bearer".to_string()]), BTreeSet::from(["session".to_string()])];
    let mut problems = Vec::new();
    for op in &ops {
        let name = op.name();
        let method = Method::from_bytes(op.method.to_uppercase().as_bytes()).expect("method");
        let request = || app.client.request(method.clone(), app.url(&concrete(op.path)));
        let anonymous = request().send().await.expect("send").status();
        let with_bearer = request().bearer_auth(&access).send().await.expect("send").status();
        let with_session = request()
            .header(header::COOKIE, &cookie_header)
            .header("x-csrftoken", &csrf)
            .send()
            .await
            .expect("send")
            .status();
        let security = op.security();
        let accepted = |status: StatusCode| status != StatusCode::UNAUTHORIZED;
        let public = accepted(anonymous);
        match (public, security.is_empty()) {
            (true, true) => continue,
            (true, false) => problems.push(format!("{name}: public (answered {anonymous}) but lists {security:?}")),
            (false, true) => {
                problems.push(format!("{name}: answered {anonymous} without credentials but lists no security"))
            }
            (false, false) => {}
        }
        let works: Vec<BTreeSet<String>> = [("bearer", with_bearer), ("session", with_session)]
            .into_iter()
            .filter(|(_, status)| accepted(*status))
            .map(|(scheme, _)| BTreeSet::from([scheme.to_string()]))
            .collect();
        if works != security {
            problems.push(format!(
                "{name}: lists {security:?}, the server accepts {works:?} (bearer {with_bearer}, session {with_session})"
            ));
        }
        if op.path != "/api/users/session/" && security != bearer_and_session {
            problems.push(format!("{name}: every credential should work, lists {security:?}"));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
