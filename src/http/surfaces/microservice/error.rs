//! Document 004's error shapes, which are Django REST framework's and simplejwt's:
//! `{"field": ["message", …]}` for refused input (wrong credentials as
//! `non_field_errors`), `{"detail": …, "code": "token_not_valid"}` for a missing or bad
//! token, and `{"detail": …}` for everything else.

use axum::http::StatusCode;
use serde_json::{Map, Value, json};

use crate::http::problem::{self, Problem};

pub struct Dialect;

pub type ApiError = problem::ApiError<Dialect>;

/// simplejwt's code for every token it refuses.
const TOKEN_NOT_VALID: &str = "token_not_valid";

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
        if p.status == StatusCode::UNAUTHORIZED {
            body.insert("code".into(), json!(TOKEN_NOT_VALID));
        }
        Value::Object(body)
    }

    /// The serializer's sentence for a wrong e-mail or password (also an unknown or
    /// inactive account), reported as `non_field_errors` by the login endpoint.
    fn invalid_credentials() -> &'static str {
        "Unable to log in with provided credentials."
    }

    fn conflict(field: &str) -> String {
        match field {
            "email" => "user with this email already exists.".into(),
            other => format!("user with this {other} already exists."),
        }
    }

    /// `full_name` is one field here; the domain keeps it as first and last name.
    fn field_name(field: &'static str) -> &'static str {
        match field {
            "first_name" | "last_name" => "full_name",
            other => other,
        }
    }
}

/// Wrong credentials at login: 400 `{"non_field_errors": [...]}`, the same whether or not
/// the account exists.
pub fn invalid_credentials() -> ApiError {
    use problem::Dialect as _;
    ApiError::field(StatusCode::BAD_REQUEST, "non_field_errors", Dialect::invalid_credentials())
}
