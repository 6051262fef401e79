//! The error shape of documents 000 and 001 (and of `/api/files/`): `{"message": …}`, with
//! `errors: {field: [msg]}` added on validation failures.

use axum::http::StatusCode;
use serde_json::{Map, Value, json};

use crate::{
    domain::Error,
    http::problem::{self, Problem},
};

fn body(p: &Problem) -> Value {
    let mut body = Map::new();
    body.insert("message".into(), json!(p.message));
    if let Some(errors) = p.errors_json() {
        body.insert("errors".into(), errors);
    }
    Value::Object(body)
}

/// Documents 000 and 001, whose missing or bad credential reads `Not authenticated`.
pub struct Dialect;

impl problem::Dialect for Dialect {
    const CREDENTIALS_MISSING: &'static str = "Not authenticated";
    const CREDENTIALS_INVALID: &'static str = "Not authenticated";
    const TOKEN_INVALID: &'static str = "Not authenticated";
    const TOO_LARGE: &'static str = "File";

    fn body(p: &Problem) -> Value {
        body(p)
    }
}

/// Document 001's checkout and settings, whose missing or bad credential reads `Unauthorized`.
pub struct UnauthorizedDialect;

impl problem::Dialect for UnauthorizedDialect {
    const CREDENTIALS_MISSING: &'static str = "Unauthorized";
    const CREDENTIALS_INVALID: &'static str = "Unauthorized";
    const TOKEN_INVALID: &'static str = "Unauthorized";
    const TOO_LARGE: &'static str = "File";

    fn body(p: &Problem) -> Value {
        body(p)
    }
}

pub type ApiError = problem::ApiError<Dialect>;
pub type Unauthorized = problem::ApiError<UnauthorizedDialect>;

/// Document 001's answer for a failed settings update or checkout: `Unexpected error`, with
/// the field errors kept so a client can tell what to fix. A credential that went bad
/// (an account deactivated meanwhile) keeps the document's 401.
pub fn unexpected(e: Error) -> Unauthorized {
    let mapped = Unauthorized::from(e);
    if mapped.status() == StatusCode::BAD_REQUEST { mapped.with_message("Unexpected error") } else { mapped }
}
