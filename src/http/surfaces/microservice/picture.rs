//! The profile picture of document 004: read from a multipart file part or from base64 in
//! JSON, checked by the domain, and served back under `/api/user/media/<name>`.

use std::collections::HashMap;

use axum::{
    body::Body as ResponseBody,
    extract::State,
    http::{HeaderValue, header},
    response::{IntoResponse, Response},
};
use base64::{Engine, engine::general_purpose::STANDARD};
use bytes::Bytes;

use super::{ApiError, DetailResponse, TAG};
use crate::{
    domain::{Error, FieldErrors, Invalid, model::PictureName, pictures::Prepared},
    http::{
        AppState,
        body::{FilePart, Input, PathParam},
    },
};

/// What a request says about the picture.
pub enum PictureInput {
    /// Not mentioned: the picture stays as it is.
    Unchanged,
    /// `null` (or an empty text part): no picture.
    Delete,
    /// A picture the domain has checked and re-encoded.
    Upload(Prepared),
    /// Refused; the reason is in the field errors.
    Refused,
}

impl PictureInput {
    /// Reads `profile_pic` from the file parts first, then from the JSON or form field,
    /// and has the domain check it; a refusal is added to `errors`.
    pub async fn read(
        field: &Input,
        files: &HashMap<String, FilePart>,
        state: &AppState,
        errors: &mut FieldErrors,
    ) -> PictureInput {
        let bytes = match files.get("profile_pic") {
            Some(FilePart::Bytes(b)) if b.is_empty() => return PictureInput::Delete,
            Some(FilePart::Bytes(b)) => b.clone(),
            Some(FilePart::TooLarge) => {
                let max_bytes = state.domain.pictures.limits().max_bytes;
                errors.add("profile_pic", Invalid::ImageTooLarge { max_bytes });
                return PictureInput::Refused;
            }
            None => match field {
                Input::Absent => return PictureInput::Unchanged,
                Input::Null => return PictureInput::Delete,
                Input::Text(t) if t.trim().is_empty() => return PictureInput::Delete,
                Input::Text(t) => match decode_base64(t) {
                    Some(b) => b,
                    None => {
                        errors.add("profile_pic", Invalid::NotAnImage);
                        return PictureInput::Refused;
                    }
                },
                Input::NotText => {
                    errors.add("profile_pic", Invalid::NotAnImage);
                    return PictureInput::Refused;
                }
            },
        };
        match state.domain.pictures.prepare(bytes).await {
            Ok(p) => PictureInput::Upload(p),
            Err(why) => {
                errors.add("profile_pic", why);
                PictureInput::Refused
            }
        }
    }

    /// For a registration: the picture to keep, if any.
    pub fn into_upload(self) -> Option<Prepared> {
        match self {
            PictureInput::Upload(p) => Some(p),
            _ => None,
        }
    }

    /// For an update: `None` leaves the picture, `Some(None)` deletes it.
    pub fn into_change(self) -> Option<Option<Prepared>> {
        match self {
            PictureInput::Upload(p) => Some(Some(p)),
            PictureInput::Delete => Some(None),
            PictureInput::Unchanged | PictureInput::Refused => None,
        }
    }
}

/// Base64 image data, bare or as a `data:image/…;base64,` URL.
fn decode_base64(text: &str) -> Option<Bytes> {
    let text = text.trim();
    let data = match text.strip_prefix("data:") {
        Some(rest) => rest.split_once(";base64,")?.1,
        None => text,
    };
    let compact: String = data.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    STANDARD.decode(compact.as_bytes()).ok().map(Bytes::from)
}

/// A picture's bytes, as kept.
#[derive(utoipa::ToSchema)]
#[schema(value_type = String, format = Binary, content_media_type = "image/png")]
#[allow(dead_code, reason = "documentation only: the bytes are streamed from storage")]
pub struct PictureBytes(Vec<u8>);

/// A profile picture's bytes.
///
/// Public, as a media URL is: names are 128 random bits, so only those shown a picture's
/// URL can fetch it. A name userd did not generate is 404 without any lookup.
#[utoipa::path(get, path = "/api/user/media/{name}", tag = TAG, operation_id = "microservice_media",
    params(("name" = String, Path, description = "The picture's name, as in a `profile_pic` URL")),
    responses(
        (status = 200, description = "The picture, `image/png` or `image/jpeg` as its name says; cacheable for a year",
            content((PictureBytes = "image/png"), (PictureBytes = "image/jpeg"))),
        (status = 404, body = DetailResponse, description = "`Not found.`"),
    ))]
pub async fn media(
    State(state): State<AppState>,
    PathParam(name, ..): PathParam<ApiError>,
) -> Result<Response, ApiError> {
    let name = PictureName::parse(&name).ok_or(Error::NotFound)?;
    let stream = state.domain.pictures.content(&name).await?;
    let mut res = ResponseBody::from_stream(stream).into_response();
    let headers = res.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(name.format().content_type()));
    // A new picture gets a new name, so a name's bytes never change.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=31536000, immutable"));
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static("sandbox; default-src 'none'"));
    Ok(res)
}
