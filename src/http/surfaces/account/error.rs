//! The error shape of documents 000 and 001 (and of `/api/files/`): `{"message": …}`, with
//! `errors: {field: [msg]}` added on validation failures.

use axum::{
    Json,
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde_json::{Map, Value, json};

use crate::{
    domain::{Error, FieldErrors},
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
        ApiError::new(StatusCode::BAD_REQUEST, errors.first_message().to_string()).with_errors(errors)
    }

    pub fn with_errors(mut self, errors: FieldErrors) -> Self {
        self.errors = Some(errors);
        self
    }

    pub fn with_message(mut self, message: impl Into<String>) -> Self {
        self.message = message.into();
        self
    }

    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// Document 001's answer for a failed settings update or checkout: `Unexpected error`,
    /// with the field errors kept so a client can tell what to fix.
    pub fn unexpected(e: Error) -> Self {
        let mapped = ApiError::from(e);
        if mapped.status == StatusCode::BAD_REQUEST { mapped.with_message("Unexpected error") } else { mapped }
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
                ApiError::new(StatusCode::BAD_REQUEST, message.clone()).with_errors(FieldErrors::single(field, message))
            }
            Error::InvalidCredentials => ApiError::new(StatusCode::UNAUTHORIZED, "Invalid email or password."),
            Error::InvalidToken | Error::Unauthenticated(_) => {
                ApiError::new(StatusCode::UNAUTHORIZED, "Not authenticated")
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
                ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, format!("File too large: the limit is {limit} bytes."))
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

/// Like [`ApiError`], but a missing or invalid credential reads `Unauthorized`, as document
/// 001 writes it for checkout and settings.
#[derive(Debug)]
pub struct Unauthorized(pub ApiError);

impl From<Error> for Unauthorized {
    fn from(e: Error) -> Self {
        match e {
            Error::Unauthenticated(_) | Error::InvalidToken => {
                Unauthorized(ApiError::new(StatusCode::UNAUTHORIZED, "Unauthorized"))
            }
            other => Unauthorized(other.into()),
        }
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
