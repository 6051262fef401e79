//! The error shape of documents 000 and 001 (and of `/api/files/`): `{"message": …}`, with
//! `errors: {field: [msg]}` added on validation failures.

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
    credentials_missing: "Not authenticated",
    credentials_invalid: "Not authenticated",
    token_invalid: "Not authenticated",
    too_large: "File",
};

/// Document 001's sentence for checkout and settings.
const UNAUTHORIZED: Wording = Wording {
    credentials_missing: "Unauthorized",
    credentials_invalid: "Unauthorized",
    token_invalid: "Unauthorized",
    too_large: "File",
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

    pub fn with_errors(self, errors: FieldErrors) -> Self {
        ApiError(self.0.with_errors(errors))
    }

    pub fn with_message(self, message: impl Into<String>) -> Self {
        ApiError(self.0.with_message(message))
    }

    pub fn status(&self) -> StatusCode {
        self.0.status
    }

    /// Document 001's answer for a failed settings update or checkout: `Unexpected error`,
    /// with the field errors kept so a client can tell what to fix.
    pub fn unexpected(e: Error) -> Self {
        let mapped = ApiError::from(e);
        if mapped.status() == StatusCode::BAD_REQUEST { mapped.with_message("Unexpected error") } else { mapped }
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

/// Like [`ApiError`], but a missing or invalid credential reads `Unauthorized`, as document
/// 001 writes it for checkout and settings.
#[derive(Debug)]
pub struct Unauthorized(pub ApiError);

impl From<Error> for Unauthorized {
    fn from(e: Error) -> Self {
        Unauthorized(ApiError(Problem::from_domain(e, &UNAUTHORIZED)))
    }
}

impl IntoResponse for Unauthorized {
    fn into_response(self) -> Response {
        self.0.into_response()
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut body = Map::new();
        body.insert("message".into(), json!(self.0.message));
        if let Some(errors) = self.0.errors_json() {
            body.insert("errors".into(), errors);
        }
        self.0.respond(Value::Object(body))
    }
}
