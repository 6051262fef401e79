//! Document 003's error shapes, Django REST framework's and simplejwt's (the document shows
//! none): `{"field": ["message", …]}` for refused input, `{"detail": …}` otherwise, with
//! `"code": "token_not_valid"` when a token is refused.

use axum::http::StatusCode;
use serde_json::{Map, Value, json};

use crate::http::problem::{self, Problem};

pub struct Dialect;

pub type ApiError = problem::ApiError<Dialect>;

impl problem::Dialect for Dialect {
    const CREDENTIALS_MISSING: &'static str = "Authentication credentials were not provided.";
    const CREDENTIALS_INVALID: &'static str = "Given token not valid for any token type";
    const TOKEN_INVALID: &'static str = "Token is invalid or expired";

    fn body(p: &Problem) -> Value {
        if let Some(errors) = p.errors_json() {
            return errors;
        }
        let mut body = Map::new();
        body.insert("detail".into(), json!(p.message));
        if p.status == StatusCode::UNAUTHORIZED
            && (p.message == Self::CREDENTIALS_INVALID || p.message == Self::TOKEN_INVALID)
        {
            body.insert("code".into(), json!("token_not_valid"));
        }
        Value::Object(body)
    }

    /// simplejwt's sentence for a wrong username or password (and an unknown or inactive account).
    fn invalid_credentials() -> &'static str {
        "No active account found with the given credentials"
    }

    fn conflict(field: &str) -> String {
        match field {
            "email" => "user with this email already exists.".into(),
            "username" => "A user with that username already exists.".into(),
            other => format!("user with this {other} already exists."),
        }
    }
}
