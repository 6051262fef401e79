//! Document 002's error shape: `{"status": "failed", "message": …, "errors"?: {field: [msg]}}`.

use serde_json::{Map, Value, json};

use crate::{
    domain::error::Provider,
    http::problem::{self, Problem},
};

pub struct Dialect;

/// Every error of this surface.
pub type ApiError = problem::ApiError<Dialect>;

impl problem::Dialect for Dialect {
    const CREDENTIALS_MISSING: &'static str = "Authentication credentials were not provided.";
    // simplejwt's sentence for an access token that does not verify.
    const CREDENTIALS_INVALID: &'static str = "Given token not valid for any token type";
    const TOKEN_INVALID: &'static str = "Token is invalid or expired";

    /// Document 002's two sentences, whatever the reason (invalid, expired or used
    /// credential, provider down, no verified e-mail, inactive account, not configured).
    fn provider_refused(provider: Provider) -> String {
        match provider {
            Provider::Google => "Invalid Google token. Please try again.".into(),
            Provider::GitHub => "Failed to obtain access token from GitHub. Please try again.".into(),
        }
    }

    fn body(p: &Problem) -> Value {
        let mut body = Map::new();
        body.insert("status".into(), json!("failed"));
        body.insert("message".into(), json!(p.message));
        if let Some(errors) = p.errors_json() {
            body.insert("errors".into(), errors);
        }
        Value::Object(body)
    }
}
