//! `/api/files/` (fixed by the contract): upload, list, metadata, download, delete. Errors
//! use the `{"message": …}` shape of documents 000 and 001, whose storage summary counts
//! these files.

use axum::{
    Router,
    body::Body,
    extract::{
        Multipart, State,
        multipart::{Field, MultipartRejection},
    },
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
    routing::get,
};
use futures_util::StreamExt;
use serde::Serialize;
use utoipa::{OpenApi, ToSchema};

use super::account::{ApiError, MessageResponse};
use crate::http::Json;
use crate::{
    domain::{
        Error, Invalid,
        model::{FileId, PageRequest, StoredFile},
    },
    http::{
        AppState,
        auth::Authed,
        body::{self, BodyError, Format, PathParam, QueryParams},
        layers::body_limit,
        paging::PageQuery,
    },
};

const TAG: &str = "files";

pub fn router(max_upload_bytes: u64) -> Router<AppState> {
    // Room for the multipart framing around the file itself; the exact limit is the domain's.
    let limit = usize::try_from(max_upload_bytes.saturating_add(1024 * 1024)).unwrap_or(usize::MAX);
    Router::new()
        .route("/api/files/", get(list).post(upload).layer(body_limit::<super::account::Dialect>(limit)))
        .route("/api/files/{id}/", get(metadata).delete(delete))
        .route("/api/files/{id}/content/", get(content))
}

#[derive(OpenApi)]
#[openapi(
    paths(upload, list, metadata, content, delete),
    components(schemas(FileOut, FileList, UploadForm<'_>, FileBytes)),
    tags((name = TAG, description = "A user's files: upload (multipart), list, metadata, download, delete. `GET /api/users/storage/` sums the available ones. Errors are `{\"message\"}` as in documents 000 and 001."))
)]
pub struct Doc;

#[derive(Serialize, ToSchema)]
pub struct FileOut {
    #[schema(example = "3q2-7wK1x0yZ9bVfA4mN8g")]
    id: String,
    /// The upload's file name (its last path segment).
    #[schema(example = "report.pdf")]
    name: String,
    /// Bytes stored.
    #[schema(example = 48213)]
    size: i64,
    /// `type/subtype` as uploaded, or `application/octet-stream`.
    #[schema(example = "application/pdf")]
    content_type: String,
    /// Hex SHA-256 of the bytes, once available.
    #[schema(example = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08")]
    sha256: Option<String>,
    /// `pending` while uploading, `available` once stored.
    #[schema(example = "available")]
    status: String,
    /// When the upload started (RFC 3339).
    #[schema(format = DateTime, example = "2026-01-31T12:00:00Z")]
    created_at: String,
}

impl From<&StoredFile> for FileOut {
    fn from(f: &StoredFile) -> Self {
        FileOut {
            id: f.id.0.clone(),
            name: f.name.clone(),
            size: f.size,
            content_type: f.content_type.clone(),
            sha256: f.sha256.clone(),
            status: f.status.as_str().to_string(),
            created_at: f.created_at.to_string(),
        }
    }
}

/// A page of files, newest first.
#[derive(Serialize, ToSchema)]
pub struct FileList {
    /// How many files the caller has in all (uploads in progress included).
    count: i64,
    /// The next page's URL, or `null` on the last page.
    next: Option<String>,
    results: Vec<FileOut>,
}

/// The upload form: the part named `file`, streamed as it arrives; other parts are ignored.
#[derive(ToSchema)]
pub struct UploadForm<'a> {
    /// The file's bytes; the part's file name and content type are kept.
    #[schema(value_type = String, format = Binary, content_media_type = "application/octet-stream")]
    file: Field<'a>,
}

/// A file's bytes, as stored.
#[derive(ToSchema)]
#[schema(value_type = String, format = Binary, content_media_type = "application/octet-stream")]
#[allow(dead_code, reason = "documentation only: the bytes are streamed from storage")]
pub struct FileBytes(Vec<u8>);

/// Uploads a file.
///
/// A multipart/form-data body whose part `file` is streamed to storage.
#[utoipa::path(post, path = "/api/files/", tag = TAG, operation_id = "files_upload", security(("bearer" = []), ("session" = [])),
    request_body(content = UploadForm, content_type = "multipart/form-data"),
    responses(
        (status = 201, body = FileOut, description = "Stored: the new file's metadata"),
        (status = 400, body = MessageResponse, description = "No `file` part, or a malformed or cut-off multipart body"),
        (status = 401, body = MessageResponse, description = "Missing or invalid credentials (`Not authenticated`)"),
        (status = 403, body = MessageResponse, description = "Session cookie without a matching `X-CSRFToken`"),
        (status = 413, body = MessageResponse, description = "Larger than `USERD_MAX_UPLOAD_BYTES`"),
        (status = 415, body = MessageResponse, description = "Not multipart/form-data"),
    ))]
async fn upload(
    State(state): State<AppState>,
    Authed(p, ..): Authed<ApiError>,
    headers: HeaderMap,
    multipart: Result<Multipart, MultipartRejection>,
) -> Result<(StatusCode, Json<FileOut>), ApiError> {
    let sent = body::content_type(&headers);
    let mut multipart = multipart.map_err(|_| {
        ApiError::from(match Format::of(sent) {
            // Multipart without a usable boundary.
            Some(Format::Multipart) => BodyError::Malformed(Format::Multipart),
            _ => BodyError::UnsupportedMediaType(sent.to_string()),
        })
    })?;
    let malformed = || ApiError::from(BodyError::Malformed(Format::Multipart));
    while let Some(field) = multipart.next_field().await.map_err(|_| malformed())? {
        if field.name() != Some("file") {
            continue;
        }
        let form = UploadForm { file: field };
        let name = form.file.file_name().unwrap_or("file").to_string();
        let content_type = form.file.content_type().map(str::to_string);
        let stream = Box::pin(form.file.map(|chunk| chunk.map_err(std::io::Error::other)));
        let file = state.domain.files.upload(p.user_id(), &name, content_type.as_deref(), stream).await?;
        return Ok((StatusCode::CREATED, Json((&file).into())));
    }
    Err(Error::invalid("file", Invalid::NoFile).into())
}

/// A page of the caller's files, newest first.
///
/// Keyset pages: follow `next` until it is `null`.
#[utoipa::path(get, path = "/api/files/", tag = TAG, operation_id = "files_list", security(("bearer" = []), ("session" = [])),
    params(PageQuery),
    responses(
        (status = 200, body = FileList, description = "One page of the caller's files"),
        (status = 400, body = MessageResponse, description = "`limit` outside 1–1000, or a `cursor` not handed out by userd (`errors` says which)"),
        (status = 401, body = MessageResponse, description = "Missing or invalid credentials (`Not authenticated`)"),
    ))]
async fn list(
    State(state): State<AppState>,
    Authed(p, ..): Authed<ApiError>,
    QueryParams(query, ..): QueryParams<PageQuery, ApiError>,
) -> Result<Json<FileList>, ApiError> {
    let page = PageRequest::try_from(query)?;
    let found = state.domain.files.list(p.user_id(), &page).await?;
    let next =
        found.next.map(|c| format!("{}/api/files/?limit={}&cursor={}", state.public_url, page.limit, c.encode()));
    Ok(Json(FileList {
        count: found.total.unwrap_or(found.items.len() as i64),
        next,
        results: found.items.iter().map(Into::into).collect(),
    }))
}

/// One file's metadata.
#[utoipa::path(get, path = "/api/files/{id}/", tag = TAG, operation_id = "files_get", security(("bearer" = []), ("session" = [])),
    params(("id" = String, Path, description = "The file's `id`")),
    responses(
        (status = 200, body = FileOut, description = "The file's metadata"),
        (status = 401, body = MessageResponse, description = "Missing or invalid credentials (`Not authenticated`)"),
        (status = 404, body = MessageResponse, description = "No such file among the caller's (another user's file is 404 too)"),
    ))]
async fn metadata(
    State(state): State<AppState>,
    Authed(p, ..): Authed<ApiError>,
    PathParam(id, ..): PathParam<ApiError>,
) -> Result<Json<FileOut>, ApiError> {
    Ok(Json((&state.domain.files.file(p.user_id(), &FileId(id)).await?).into()))
}

/// Downloads the file's bytes.
///
/// Always an attachment; `Content-Type` is the file's `content_type`.
#[utoipa::path(get, path = "/api/files/{id}/content/", tag = TAG, operation_id = "files_download", security(("bearer" = []), ("session" = [])),
    params(("id" = String, Path, description = "The file's `id`")),
    responses(
        (status = 200, content_type = "application/octet-stream", body = FileBytes,
            description = "The bytes, with `Content-Disposition: attachment` and the stored `Content-Type`"),
        (status = 401, body = MessageResponse, description = "Missing or invalid credentials (`Not authenticated`)"),
        (status = 404, body = MessageResponse, description = "No such file among the caller's, or still uploading"),
    ))]
async fn content(
    State(state): State<AppState>,
    Authed(p, ..): Authed<ApiError>,
    PathParam(id, ..): PathParam<ApiError>,
) -> Result<Response, ApiError> {
    let (file, stream) = state.domain.files.file_content(p.user_id(), &FileId(id)).await?;
    let mut res = Body::from_stream(stream).into_response();
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_str(&file.content_type).unwrap_or(HeaderValue::from_static("application/octet-stream")),
    );
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(file.size.max(0) as u64));
    if let Ok(v) = HeaderValue::from_str(&content_disposition(&file.name)) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    // Served bytes are the user's, never the app's: no scripts, no framing.
    h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static("sandbox; default-src 'none'"));
    if let Some(sha) = &file.sha256
        && let Ok(v) = HeaderValue::from_str(&format!("\"{sha}\""))
    {
        h.insert(header::ETAG, v);
    }
    Ok(res)
}

/// `attachment` with an ASCII fallback name and the exact UTF-8 name (RFC 6266).
fn content_disposition(name: &str) -> String {
    let ascii: String =
        name.chars().map(|c| if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' { c } else { '_' }).collect();
    let encoded: String = name
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    format!("attachment; filename=\"{ascii}\"; filename*=UTF-8''{encoded}")
}

/// Deletes a file.
///
/// It stops counting in the storage summary at once.
#[utoipa::path(delete, path = "/api/files/{id}/", tag = TAG, operation_id = "files_delete", security(("bearer" = []), ("session" = [])),
    params(("id" = String, Path, description = "The file's `id`")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, body = MessageResponse, description = "Missing or invalid credentials (`Not authenticated`)"),
        (status = 403, body = MessageResponse, description = "Session cookie without a matching `X-CSRFToken`"),
        (status = 404, body = MessageResponse, description = "No such file among the caller's"),
    ))]
async fn delete(
    State(state): State<AppState>,
    Authed(p, ..): Authed<ApiError>,
    PathParam(id, ..): PathParam<ApiError>,
) -> Result<StatusCode, ApiError> {
    state.domain.files.delete(p.user_id(), &FileId(id)).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dispositions_are_safe_header_values() {
        assert_eq!(
            content_disposition("report.pdf"),
            "attachment; filename=\"report.pdf\"; filename*=UTF-8''report.pdf"
        );
        let d = content_disposition("naïve \"quote\".txt");
        assert!(d.starts_with("attachment; filename=\"na_ve _quote_.txt\""), "{d}");
        assert!(d.contains("filename*=UTF-8''na%C3%AFve%20%22quote%22.txt"), "{d}");
    }
}
