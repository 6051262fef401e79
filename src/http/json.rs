//! Request bodies: a JSON object read into the endpoint's request type, whose fields are
//! [`Input`]s, so every surface reports missing or mistyped fields in its own shape
//! instead of a generic parse error.

use std::marker::PhantomData;

use axum::{
    extract::{FromRequest, Request, rejection::JsonRejection},
    http::StatusCode,
};
use serde::{Deserialize, de::DeserializeOwned};
use serde_json::Value;

use crate::domain::{FieldErrors, Invalid, model::types};

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

/// A JSON object body read into the request type `T`; `E` is the surface's error type,
/// so a body that is not a JSON object gets that surface's shape.
pub struct Body<T, E>(pub T, pub PhantomData<E>);

impl<T, E, S> FromRequest<S> for Body<T, E>
where
    T: DeserializeOwned,
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
        let kind = match &value {
            Value::Object(_) => None,
            Value::Array(_) => Some("list"),
            Value::String(_) => Some("str"),
            Value::Number(_) => Some("number"),
            Value::Bool(_) => Some("bool"),
            Value::Null => Some("null"),
        };
        if let Some(kind) = kind {
            return Err(BodyError::NotAnObject(kind).into());
        }
        // Request types are made of `Input`s, which accept any JSON value, so this fails
        // only for a type that asks for more.
        serde_json::from_value(value).map(|t| Body(t, PhantomData)).map_err(|_| BodyError::Malformed.into())
    }
}

/// One field of a request as sent, read with Django REST framework's rules: numbers are
/// accepted as text; objects, lists and booleans are not text. Request types hold these
/// and convert into domain commands with `TryFrom`, so every field's problem is reported,
/// not only the first.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub enum Input {
    #[default]
    Absent,
    Null,
    Text(String),
    NotText,
}

impl<'de> Deserialize<'de> for Input {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(match Value::deserialize(d)? {
            Value::Null => Input::Null,
            Value::String(s) => Input::Text(s),
            Value::Number(n) => Input::Text(n.to_string()),
            _ => Input::NotText,
        })
    }
}

impl Input {
    /// The text; `None` when absent or null. A value that is not text is refused.
    pub fn optional(&self, field: &'static str, errors: &mut FieldErrors) -> Option<String> {
        self.nullable(field, errors).flatten()
    }

    /// Absent: `None`; null: `Some(None)`; text: `Some(Some(text))`.
    pub fn nullable(&self, field: &'static str, errors: &mut FieldErrors) -> Option<Option<String>> {
        match self {
            Input::Absent => None,
            Input::Null => Some(None),
            Input::Text(s) => Some(Some(s.clone())),
            Input::NotText => {
                errors.add(field, Invalid::NotText);
                None
            }
        }
    }

    /// The text, which must be there, not null and not blank.
    pub fn required(&self, field: &'static str, errors: &mut FieldErrors) -> Option<String> {
        let why = match self {
            Input::Text(s) if !s.trim().is_empty() => return Some(s.clone()),
            Input::Text(_) => Invalid::Blank,
            Input::Absent => Invalid::Required,
            Input::Null => Invalid::Null,
            Input::NotText => Invalid::NotText,
        };
        errors.add(field, why);
        None
    }

    /// A required field turned into a typed value by `parse` (one of the domain's constructors).
    pub fn required_as<T>(
        &self,
        field: &'static str,
        errors: &mut FieldErrors,
        parse: impl FnOnce(&str) -> Result<T, Invalid>,
    ) -> Option<T> {
        let raw = self.required(field, errors)?;
        errors.check(field, parse(&raw))
    }

    /// A free-text field (trimmed, at most `max` characters); `None` when absent or null.
    pub fn text(&self, field: &'static str, max: usize, errors: &mut FieldErrors) -> Option<String> {
        let value = self.optional(field, errors)?;
        errors.check(field, types::text(&value, max))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn inputs_follow_drf_rules() {
        let read = |v: Value| serde_json::from_value::<Input>(v).expect("any value reads");
        assert_eq!(read(json!("a")), Input::Text("a".into()));
        assert_eq!(read(json!(12)), Input::Text("12".into()), "numbers are text");
        assert_eq!(read(json!(null)), Input::Null);
        for v in [json!(true), json!([1]), json!({"a": 1})] {
            assert_eq!(read(v), Input::NotText);
        }
        let cases = [
            (Input::Absent, Invalid::Required, "absent"),
            (Input::Null, Invalid::Null, "null"),
            (Input::Text("  ".into()), Invalid::Blank, "blank"),
            (Input::NotText, Invalid::NotText, "not text"),
        ];
        for (input, why, case) in cases {
            let mut errors = FieldErrors::new();
            assert_eq!(input.required("f", &mut errors), None, "{case}");
            assert_eq!(errors, FieldErrors::single("f", why), "{case}");
        }
    }
}
