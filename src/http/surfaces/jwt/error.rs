//! Document 002's error shape: `{"status": "failed", "message": …, "errors"?: {field: [msg]}}`.

use axum::{
    http::StatusCode,
    response::{IntoResponse, Response},
};
use serde_json::{Map, Value, json};

use crate::{
    domain::{Error, FieldErrors},
    http::{
        json::BodyError,
        problem::{Problem, Wording},
    },
};

const WORDING: Wording = Wording {
    credentials_missing: "Authentication credentials were not provided.",
    // simplejwt's sentence for an access token that does not verify.
    credentials_invalid: "Given token not valid for any token type",
    token_invalid: "Token is invalid or expired",
    too_large: "Request",
};

#[derive(Debug)]
pub struct ApiError(Problem);

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        ApiError(Problem::new(status, message))
    }

    pub fn fields(errors: FieldErrors) -> Self {
        ApiError(Problem::fields(errors))
    }

    /// Replaces the sentence, keeping the field errors.
    pub fn with_message(self, message: impl Into<String>) -> Self {
        ApiError(self.0.with_message(message))
    }
}

impl From<BodyError> for ApiError {
    fn from(e: BodyError) -> Self {
        ApiError(Problem::from_body(e))
    }
}

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        ApiError(Problem::from_domain(e, &WORDING))
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut body = Map::new();
        body.insert("status".into(), json!("failed"));
        body.insert("message".into(), json!(self.0.message));
        if let Some(errors) = self.0.errors_json() {
            body.insert("errors".into(), errors);
        }
        self.0.respond(Value::Object(body))
    }
}
