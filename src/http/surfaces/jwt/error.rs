//! Document 002's error shape: `{"status": "failed", "message": …, "errors"?: {field: [msg]}}`.

use axum::{
    Json,
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde_json::{Map, Value, json};

use crate::{
    domain::{AuthFailure, Error, FieldErrors},
    http::json::BodyError,
};

#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    message: String,
    errors: Option<FieldErrors>,
    retry_after: Option<u64>,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        ApiError { status, message: message.into(), errors: None, retry_after: None }
    }

    pub fn fields(errors: FieldErrors) -> Self {
        ApiError {
            status: StatusCode::BAD_REQUEST,
            message: errors.first_message().to_string(),
            errors: Some(errors),
            retry_after: None,
        }
    }

    /// Replaces the sentence, keeping the field errors.
    pub fn with_message(mut self, message: impl Into<String>) -> Self {
        self.message = message.into();
        self
    }
}

impl From<BodyError> for ApiError {
    fn from(e: BodyError) -> Self {
        ApiError::new(e.status(), e.message())
    }
}

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        match e {
            Error::Validation(errors) => ApiError::fields(errors),
            Error::Conflict { field, message } => {
                ApiError::fields(FieldErrors::single(field, message.clone())).with_message(message)
            }
            Error::InvalidCredentials => ApiError::new(StatusCode::UNAUTHORIZED, "Invalid email or password."),
            Error::InvalidToken => ApiError::new(StatusCode::UNAUTHORIZED, "Token is invalid or expired"),
            Error::Unauthenticated(AuthFailure::Missing) => {
                ApiError::new(StatusCode::UNAUTHORIZED, "Authentication credentials were not provided.")
            }
            Error::Unauthenticated(AuthFailure::Invalid) => {
                ApiError::new(StatusCode::UNAUTHORIZED, "Given token not valid for any token type")
            }
            Error::Forbidden => {
                ApiError::new(StatusCode::FORBIDDEN, "You do not have permission to perform this action.")
            }
            Error::CsrfFailed(message) => ApiError::new(StatusCode::FORBIDDEN, message),
            Error::NotFound => ApiError::new(StatusCode::NOT_FOUND, "Not found."),
            Error::InvalidSignature => ApiError::new(StatusCode::BAD_REQUEST, "Invalid signature"),
            Error::RateLimited { retry_after } => ApiError {
                retry_after: Some(retry_after),
                ..ApiError::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    format!("Request was throttled. Expected available in {retry_after} seconds."),
                )
            },
            Error::TooLarge { limit } => {
                ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, format!("Request too large: the limit is {limit} bytes."))
            }
            Error::NotConfigured(what) => ApiError::new(StatusCode::BAD_REQUEST, format!("{what} is not configured.")),
            Error::Upstream(message) => ApiError::new(StatusCode::BAD_REQUEST, message),
            Error::Internal(e) => {
                tracing::error!(error = ?e, "internal error");
                ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "Internal server error.")
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut body = Map::new();
        body.insert("status".into(), json!("failed"));
        body.insert("message".into(), json!(self.message));
        if let Some(errors) = &self.errors {
            let map: Map<String, Value> = errors.iter().map(|(f, m)| (f.to_string(), json!(m))).collect();
            body.insert("errors".into(), Value::Object(map));
        }
        let mut res = (self.status, Json(Value::Object(body))).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            res.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer realm=\"api\""));
        }
        if let Some(secs) = self.retry_after
            && let Ok(v) = HeaderValue::from_str(&secs.to_string())
        {
            res.headers_mut().insert(header::RETRY_AFTER, v);
        }
        res
    }
}
