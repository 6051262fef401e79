//! A domain error resolved to a status, a sentence and field errors. Each surface picks its
//! [`Wording`] and renders a `Problem` in its own JSON shape (its `error.rs`); what every
//! surface does alike (statuses, 5xx hiding, `WWW-Authenticate`, `Retry-After`) is here once.

use axum::{
    Json,
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde_json::{Map, Value, json};

use super::json::BodyError;
use crate::domain::{AuthFailure, Error, FieldErrors};

/// The sentences that differ between dialects.
pub struct Wording {
    /// No credentials were sent.
    pub credentials_missing: &'static str,
    /// Credentials were sent but are not valid.
    pub credentials_invalid: &'static str,
    /// A refresh token (or other token in a body) is not valid.
    pub token_invalid: &'static str,
    /// What is too large: "Request" or "File".
    pub too_large: &'static str,
}

#[derive(Debug)]
pub struct Problem {
    pub status: StatusCode,
    pub message: String,
    pub errors: Option<FieldErrors>,
    retry_after: Option<u64>,
}

impl Problem {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Problem { status, message: message.into(), errors: None, retry_after: None }
    }

    /// 400 with the first message as the sentence.
    pub fn fields(errors: FieldErrors) -> Self {
        Problem::new(StatusCode::BAD_REQUEST, errors.first_message()).with_errors(errors)
    }

    pub fn with_errors(mut self, errors: FieldErrors) -> Self {
        self.errors = Some(errors);
        self
    }

    pub fn with_message(mut self, message: impl Into<String>) -> Self {
        self.message = message.into();
        self
    }

    pub fn from_body(e: BodyError) -> Self {
        Problem::new(e.status(), e.message())
    }

    pub fn from_domain(e: Error, w: &Wording) -> Self {
        match e {
            Error::Validation(errors) => Problem::fields(errors),
            Error::Conflict { field, message } => {
                Problem::new(StatusCode::BAD_REQUEST, message.clone()).with_errors(FieldErrors::single(field, message))
            }
            Error::InvalidCredentials => Problem::new(StatusCode::UNAUTHORIZED, "Invalid email or password."),
            Error::InvalidToken => Problem::new(StatusCode::UNAUTHORIZED, w.token_invalid),
            Error::Unauthenticated(AuthFailure::Missing) => {
                Problem::new(StatusCode::UNAUTHORIZED, w.credentials_missing)
            }
            Error::Unauthenticated(AuthFailure::Invalid) => {
                Problem::new(StatusCode::UNAUTHORIZED, w.credentials_invalid)
            }
            Error::Forbidden => {
                Problem::new(StatusCode::FORBIDDEN, "You do not have permission to perform this action.")
            }
            Error::CsrfFailed(message) => Problem::new(StatusCode::FORBIDDEN, message),
            Error::NotFound => Problem::new(StatusCode::NOT_FOUND, "Not found."),
            Error::InvalidSignature => Problem::new(StatusCode::BAD_REQUEST, "Invalid signature"),
            Error::RateLimited { retry_after } => Problem {
                retry_after: Some(retry_after),
                ..Problem::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    format!("Request was throttled. Expected available in {retry_after} seconds."),
                )
            },
            Error::TooLarge { limit } => Problem::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("{} too large: the limit is {limit} bytes.", w.too_large),
            ),
            Error::NotConfigured(what) => Problem::new(StatusCode::BAD_REQUEST, format!("{what} is not configured.")),
            Error::Upstream(message) => Problem::new(StatusCode::BAD_REQUEST, message),
            Error::Internal(e) => {
                // The cause stays in the log (with the request id of the enclosing span).
                tracing::error!(error = ?e, "internal error");
                Problem::new(StatusCode::INTERNAL_SERVER_ERROR, "Internal server error.")
            }
        }
    }

    /// `{field: [messages]}`, when there are field errors.
    pub fn errors_json(&self) -> Option<Value> {
        self.errors
            .as_ref()
            .map(|e| Value::Object(e.iter().map(|(f, m)| (f.to_string(), json!(m))).collect::<Map<_, _>>()))
    }

    /// The response: `body` with this status and the headers the status calls for.
    pub fn respond(&self, body: Value) -> Response {
        let mut res = (self.status, Json(body)).into_response();
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
