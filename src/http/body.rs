//! Request bodies, read as Django REST framework reads them: JSON, a URL-encoded form or a
//! multipart form, into the endpoint's request type, whose fields are [`Input`]s, so every
//! surface reports missing or mistyped fields in its own shape instead of a generic parse
//! error.

use std::marker::PhantomData;

use axum::{
    extract::{FromRequest, Multipart, Request},
    http::{HeaderMap, StatusCode, header::CONTENT_TYPE},
};
use bytes::Bytes;
use serde::{Deserialize, de::DeserializeOwned};
use serde_json::{Map, Value};

use crate::domain::{FieldErrors, Invalid, model::types};

/// Why a body could not be read; each surface renders it in its own shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BodyError {
    /// The `Content-Type` as sent (empty when there was none).
    UnsupportedMediaType(String),
    Malformed(Format),
    TooLarge,
    NotAnObject(&'static str),
}

/// The body formats userd reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    Form,
    Multipart,
}

impl Format {
    /// The format a `Content-Type` names, or `None` for one userd does not read.
    pub fn of(content_type: &str) -> Option<Format> {
        let essence = content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
        match essence.as_str() {
            "application/json" => Some(Format::Json),
            "application/x-www-form-urlencoded" => Some(Format::Form),
            "multipart/form-data" => Some(Format::Multipart),
            e if e.starts_with("application/") && e.ends_with("+json") => Some(Format::Json),
            _ => None,
        }
    }
}

/// The request's `Content-Type`, as sent (empty when absent or not text).
pub fn content_type(headers: &HeaderMap) -> &str {
    headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("")
}

impl BodyError {
    pub fn status(&self) -> StatusCode {
        match self {
            BodyError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            BodyError::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            BodyError::Malformed(_) | BodyError::NotAnObject(_) => StatusCode::BAD_REQUEST,
        }
    }

    /// The sentence shown to the client (Django REST framework's wording where it has one).
    pub fn message(&self) -> String {
        match self {
            BodyError::UnsupportedMediaType(ct) => format!("Unsupported media type \"{ct}\" in request."),
            BodyError::Malformed(Format::Json) => "JSON parse error - the request body is not valid JSON.".into(),
            BodyError::Malformed(Format::Form) => "Form parse error - the request body is not a valid form.".into(),
            BodyError::Malformed(Format::Multipart) => {
                "Multipart form parse error - the request body is not valid multipart/form-data.".into()
            }
            BodyError::TooLarge => "Request body is too large.".into(),
            BodyError::NotAnObject(kind) => format!("Invalid data. Expected a dictionary, but got {kind}."),
        }
    }
}

/// A request body read into the request type `T`; `E` is the surface's error type, so a
/// body that cannot be read gets that surface's shape.
///
/// As in Django REST framework: `application/json` must hold an object;
/// `application/x-www-form-urlencoded` and `multipart/form-data` give text fields (the
/// last value of a repeated name wins; file parts are not fields and are skipped); an
/// empty body is an empty object whatever its type, so a missing field is reported as
/// missing; any other type is 415.
pub struct Body<T, E>(pub T, pub PhantomData<E>);

impl<T, E, S> FromRequest<S> for Body<T, E>
where
    T: DeserializeOwned,
    E: From<BodyError> + axum::response::IntoResponse,
    S: Send + Sync,
{
    type Rejection = E;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let fields = read_fields(req, state).await?;
        // Request types are made of `Input`s, which accept any JSON value, so this fails
        // only for a type that asks for more.
        serde_json::from_value(Value::Object(fields))
            .map(|t| Body(t, PhantomData))
            .map_err(|_| BodyError::Malformed(Format::Json).into())
    }
}

/// The body's fields as a JSON object.
pub async fn read_fields<S: Send + Sync>(req: Request, state: &S) -> Result<Map<String, Value>, BodyError> {
    let sent = content_type(req.headers()).to_string();
    let format = Format::of(&sent);
    if format == Some(Format::Multipart) {
        return read_multipart(req, state).await;
    }
    let bytes = Bytes::from_request(req, state).await.map_err(|r| {
        if r.status() == StatusCode::PAYLOAD_TOO_LARGE {
            BodyError::TooLarge
        } else {
            BodyError::Malformed(Format::Json)
        }
    })?;
    if bytes.is_empty() {
        return Ok(Map::new());
    }
    match format {
        Some(Format::Json) => json_object(&bytes),
        Some(Format::Form) => Ok(form_fields(&bytes)),
        _ => Err(BodyError::UnsupportedMediaType(sent)),
    }
}

fn json_object(bytes: &[u8]) -> Result<Map<String, Value>, BodyError> {
    match serde_json::from_slice::<Value>(bytes) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(other) => Err(BodyError::NotAnObject(match other {
            Value::Array(_) => "list",
            Value::String(_) => "str",
            Value::Number(_) => "number",
            Value::Bool(_) => "bool",
            _ => "null",
        })),
        Err(_) => Err(BodyError::Malformed(Format::Json)),
    }
}

/// A URL-encoded form; invalid escapes and UTF-8 are replaced, as browsers and Django do.
fn form_fields(bytes: &[u8]) -> Map<String, Value> {
    form_urlencoded::parse(bytes).map(|(k, v)| (k.into_owned(), Value::String(v.into_owned()))).collect()
}

/// A file part of a multipart body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FilePart {
    Bytes(Bytes),
    /// Larger than the endpoint's limit; reading stopped there.
    TooLarge,
}

/// A request body read into `T`, with the multipart file parts kept (up to `max_file`
/// bytes each, by name); for endpoints that take a file beside their fields, such as a
/// profile picture. JSON and forms carry no file parts.
pub struct WithFiles<T> {
    pub fields: T,
    pub files: std::collections::HashMap<String, FilePart>,
}

impl<T: DeserializeOwned> WithFiles<T> {
    pub async fn read<S: Send + Sync>(req: Request, state: &S, max_file: u64) -> Result<Self, BodyError> {
        let (fields, files) = if Format::of(content_type(req.headers())) == Some(Format::Multipart) {
            read_multipart_with(req, state, Some(max_file)).await?
        } else {
            (read_fields(req, state).await?, std::collections::HashMap::new())
        };
        let fields = serde_json::from_value(Value::Object(fields)).map_err(|_| BodyError::Malformed(Format::Json))?;
        Ok(WithFiles { fields, files })
    }
}

async fn read_multipart<S: Send + Sync>(req: Request, state: &S) -> Result<Map<String, Value>, BodyError> {
    read_multipart_with(req, state, None).await.map(|(fields, _)| fields)
}

type FieldsAndFiles = (Map<String, Value>, std::collections::HashMap<String, FilePart>);

/// Text parts become fields; file parts are kept when `max_file` is given, else skipped.
async fn read_multipart_with<S: Send + Sync>(
    req: Request,
    state: &S,
    max_file: Option<u64>,
) -> Result<FieldsAndFiles, BodyError> {
    let declared_empty = req
        .headers()
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim() == "0");
    let mut files = std::collections::HashMap::new();
    if declared_empty {
        return Ok((Map::new(), files));
    }
    let mut multipart =
        Multipart::from_request(req, state).await.map_err(|_| BodyError::Malformed(Format::Multipart))?;
    let failed = |e: axum::extract::multipart::MultipartError| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            BodyError::TooLarge
        } else {
            BodyError::Malformed(Format::Multipart)
        }
    };
    let mut fields = Map::new();
    while let Some(mut field) = multipart.next_field().await.map_err(failed)? {
        let Some(name) = field.name().map(str::to_string) else { continue };
        if field.file_name().is_some() {
            let Some(max) = max_file else { continue };
            let mut kept = bytes::BytesMut::new();
            let mut part = FilePart::Bytes(Bytes::new());
            while let Some(chunk) = field.chunk().await.map_err(failed)? {
                if (kept.len() + chunk.len()) as u64 > max {
                    part = FilePart::TooLarge;
                    break;
                }
                kept.extend_from_slice(&chunk);
            }
            if part != FilePart::TooLarge {
                part = FilePart::Bytes(kept.freeze());
            }
            files.insert(name, part);
            continue;
        }
        let text = field.text().await.map_err(failed)?;
        fields.insert(name, Value::String(text));
    }
    Ok((fields, files))
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

    /// A new password: there, not null and not empty. White space is kept and is not
    /// blank (Django's password fields do not strip), so a password of spaces meets the
    /// password rules, which say what is wrong with it.
    pub fn new_password(&self, field: &'static str, errors: &mut FieldErrors) -> Option<String> {
        match self {
            Input::Text(s) if !s.is_empty() => Some(s.clone()),
            _ => self.required(field, errors),
        }
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
