//! Request bodies as JSON objects, read field by field so every surface can report
//! missing or mistyped fields in its own shape instead of a generic parse error.

use std::marker::PhantomData;

use axum::{
    extract::{FromRequest, Request, rejection::JsonRejection},
    http::StatusCode,
};
use serde_json::{Map, Value};

use crate::domain::FieldErrors;

/// Why a body could not be read; each surface renders it in its own shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BodyError {
    UnsupportedMediaType(String),
    Malformed,
    TooLarge,
    NotAnObject(&'static str),
}

impl BodyError {
    pub fn status(&self) -> StatusCode {
        match self {
            BodyError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            BodyError::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            BodyError::Malformed | BodyError::NotAnObject(_) => StatusCode::BAD_REQUEST,
        }
    }

    /// The sentence shown to the client (Django REST framework's wording where it has one).
    pub fn message(&self) -> String {
        match self {
            BodyError::UnsupportedMediaType(ct) => {
                format!("Unsupported media type \"{ct}\" in request.")
            }
            BodyError::Malformed => "JSON parse error - the request body is not valid JSON.".into(),
            BodyError::TooLarge => "Request body is too large.".into(),
            BodyError::NotAnObject(kind) => {
                format!("Invalid data. Expected a dictionary, but got {kind}.")
            }
        }
    }
}

/// A JSON object body; `E` is the surface's error type, so a bad body gets its shape.
pub struct JsonObject<E>(pub Fields, pub PhantomData<E>);

impl<E, S> FromRequest<S> for JsonObject<E>
where
    E: From<BodyError> + axum::response::IntoResponse,
    S: Send + Sync,
{
    type Rejection = E;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let content_type =
            req.headers().get(axum::http::header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
        let value = match axum::Json::<Value>::from_request(req, state).await {
            Ok(axum::Json(v)) => v,
            Err(JsonRejection::MissingJsonContentType(_)) => {
                return Err(BodyError::UnsupportedMediaType(content_type).into());
            }
            Err(JsonRejection::BytesRejection(r)) if r.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                return Err(BodyError::TooLarge.into());
            }
            Err(_) => return Err(BodyError::Malformed.into()),
        };
        match value {
            Value::Object(map) => Ok(JsonObject(Fields(map), PhantomData)),
            Value::Array(_) => Err(BodyError::NotAnObject("list").into()),
            Value::String(_) => Err(BodyError::NotAnObject("str").into()),
            Value::Number(_) => Err(BodyError::NotAnObject("number").into()),
            Value::Bool(_) => Err(BodyError::NotAnObject("bool").into()),
            Value::Null => Err(BodyError::NotAnObject("null").into()),
        }
    }
}

/// The fields of a request, read with DRF's rules: numbers are accepted as text,
/// objects, lists and booleans are not.
#[derive(Debug, Default, Clone)]
pub struct Fields(pub Map<String, Value>);

impl Fields {
    pub fn has(&self, name: &str) -> bool {
        self.0.contains_key(name)
    }

    /// `None` when absent or null; a wrong type adds an error.
    pub fn string(&self, name: &str, errors: &mut FieldErrors) -> Option<String> {
        self.nullable_string(name, errors).flatten()
    }

    /// Absent: `None`; null: `Some(None)`; text: `Some(Some(text))`.
    pub fn nullable_string(&self, name: &str, errors: &mut FieldErrors) -> Option<Option<String>> {
        match self.0.get(name)? {
            Value::Null => Some(None),
            Value::String(s) => Some(Some(s.clone())),
            Value::Number(n) => Some(Some(n.to_string())),
            _ => {
                errors.add(name, "Not a valid string.");
                None
            }
        }
    }

    /// Like [`Fields::string`], adding "This field is required." when absent, null or blank.
    pub fn required_string(&self, name: &str, errors: &mut FieldErrors) -> Option<String> {
        match self.0.get(name) {
            None => {
                errors.add(name, "This field is required.");
                None
            }
            Some(Value::Null) => {
                errors.add(name, "This field may not be null.");
                None
            }
            Some(_) => match self.string(name, errors) {
                Some(s) if s.trim().is_empty() => {
                    errors.add(name, "This field may not be blank.");
                    None
                }
                other => other,
            },
        }
    }

    /// A required field turned into a typed value by `parse` (one of the domain's
    /// constructors); its message is added to `errors` when it does not parse.
    pub fn required_parsed<T, M: Into<String>>(
        &self,
        name: &str,
        errors: &mut FieldErrors,
        parse: impl FnOnce(&str) -> Result<T, M>,
    ) -> Option<T> {
        let raw = self.required_string(name, errors)?;
        match parse(&raw) {
            Ok(v) => Some(v),
            Err(m) => {
                errors.add(name, m);
                None
            }
        }
    }

    /// A free-text field (trimmed, at most `max` characters); `None` when absent or null.
    pub fn text(&self, name: &str, max: usize, errors: &mut FieldErrors) -> Option<String> {
        let value = self.string(name, errors)?;
        crate::domain::types::text_field(errors, name, Some(&value), max)
    }
}
