//! Documents 000 and 001 under `/api/users/`: the current user with its personal API token,
//! token display and regeneration, settings, and the browser session the web app signs in
//! with. Files, the storage summary and Stripe checkout have their own modules.

mod error;
mod session;
mod stripe;

use axum::{
    Json, Router,
    extract::State,
    routing::{get, patch, post},
};
use secrecy::ExposeSecret;
use serde::Serialize;
use serde_json::{Value, json};
use utoipa::{OpenApi, ToSchema};

pub use self::error::{ApiError, Unauthorized};
use crate::{
    domain::{FieldErrors, types::TimeZoneName, user::User},
    http::{AppState, auth::Authed, json::JsonObject},
};

pub const TAG: &str = "000/001 · account";

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/users/me/", get(me))
        .route("/api/users/me/token/", get(token))
        .route("/api/users/me/token/regenerate/", post(regenerate))
        .route("/api/users/settings/", patch(settings))
        .route("/api/users/storage/", get(storage))
        .merge(session::router())
        .merge(stripe::router())
}

#[derive(OpenApi)]
#[openapi(
    paths(me, token, regenerate, storage, settings, session::sign_in, session::sign_out, stripe::checkout, stripe::webhook),
    components(schemas(
        MeResponse, TokenResponse, StorageResponse, SettingsRequest, MessageResponse, session::SignInRequest,
        stripe::CheckoutRequest, stripe::CheckoutResponse, stripe::WebhookResponse
    )),
    tags((name = "000/001 · account", description = "Documents 000 and 001: the current user, personal API tokens, storage, settings, the browser session and Stripe checkout."))
)]
pub struct Doc;

/// `{"message": …}`: the shape of every error of these documents.
#[derive(Serialize, ToSchema)]
pub struct MessageResponse {
    #[schema(example = "Not authenticated")]
    message: String,
}

#[derive(Serialize, ToSchema)]
pub struct MeResponse {
    #[schema(example = "kq3Xb8n2T6mJ0wZp5RyH4g")]
    external_id: String,
    email: String,
    email_verified: bool,
    username: String,
    first_name: String,
    last_name: String,
    is_authenticated: bool,
    /// The personal API token, for `Authorization: Bearer`.
    #[schema(example = "userd_NhqPaZgfmRLxcBvYS...")]
    access_token: String,
}

impl MeResponse {
    fn new(user: &User, access_token: String) -> Self {
        MeResponse {
            external_id: user.external_id.0.clone(),
            email: user.email.clone(),
            email_verified: user.email_verified,
            username: user.username.clone(),
            first_name: user.first_name.clone(),
            last_name: user.last_name.clone(),
            is_authenticated: true,
            access_token,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct TokenResponse {
    #[schema(example = "userd_NhqPaZgfmRLxcBvYS...")]
    access_token: String,
}

#[derive(Serialize, ToSchema)]
pub struct StorageResponse {
    /// Sum of the sizes of the user's available files, in bytes.
    #[schema(example = 15728640)]
    total_bytes: i64,
    /// Number of the user's available files (uploads in progress do not count).
    #[schema(example = 12)]
    file_count: i64,
}

#[derive(ToSchema)]
#[allow(dead_code)]
pub struct SettingsRequest {
    /// IANA time zone such as `America/New_York` or `UTC`; `null` clears it.
    #[schema(min_length = 1, max_length = 64, example = "America/New_York")]
    tz: Option<String>,
}

/// The current user and their personal API token.
#[utoipa::path(get, path = "/api/users/me/", tag = TAG, security(("bearer" = []), ("session" = [])),
    responses((status = 200, body = MeResponse), (status = 401, body = MessageResponse, description = "`Not authenticated`")))]
async fn me(State(state): State<AppState>, Authed(p, ..): Authed<ApiError>) -> Result<Json<MeResponse>, ApiError> {
    let user = state.svc.current_user(&p).await?;
    let token = state.svc.api_token(user.id).await?;
    Ok(Json(MeResponse::new(&user, token.expose_secret().to_string())))
}

/// The personal API token only.
#[utoipa::path(get, path = "/api/users/me/token/", tag = TAG, security(("bearer" = []), ("session" = [])),
    responses((status = 200, body = TokenResponse), (status = 401, body = MessageResponse, description = "`Not authenticated`")))]
async fn token(
    State(state): State<AppState>,
    Authed(p, ..): Authed<ApiError>,
) -> Result<Json<TokenResponse>, ApiError> {
    let user = state.svc.current_user(&p).await?;
    let token = state.svc.api_token(user.id).await?;
    Ok(Json(TokenResponse { access_token: token.expose_secret().to_string() }))
}

/// Issues a new personal API token; the old one stops working immediately.
#[utoipa::path(post, path = "/api/users/me/token/regenerate/", tag = TAG, security(("bearer" = []), ("session" = [])),
    responses(
        (status = 200, body = TokenResponse),
        (status = 401, body = MessageResponse, description = "`Not authenticated`"),
        (status = 403, body = MessageResponse, description = "Session cookie without a matching `X-CSRFToken`"),
    ))]
async fn regenerate(
    State(state): State<AppState>,
    Authed(p, ..): Authed<ApiError>,
) -> Result<Json<TokenResponse>, ApiError> {
    let user = state.svc.current_user(&p).await?;
    let token = state.svc.regenerate_api_token(user.id).await?;
    Ok(Json(TokenResponse { access_token: token.expose_secret().to_string() }))
}

/// Total size and number of the user's files that finished uploading.
#[utoipa::path(get, path = "/api/users/storage/", tag = TAG, security(("bearer" = []), ("session" = [])),
    responses((status = 200, body = StorageResponse), (status = 401, body = MessageResponse, description = "`Not authenticated`")))]
async fn storage(
    State(state): State<AppState>,
    Authed(p, ..): Authed<ApiError>,
) -> Result<Json<StorageResponse>, ApiError> {
    let user = state.svc.current_user(&p).await?;
    let s = state.svc.storage_summary(user.id).await?;
    Ok(Json(StorageResponse { total_bytes: s.total_bytes, file_count: s.file_count }))
}

/// Updates settings; `details.updated_fields` lists what actually changed.
#[utoipa::path(patch, path = "/api/users/settings/", tag = TAG, request_body = SettingsRequest,
    security(("bearer" = []), ("session" = [])),
    responses(
        (status = 200, body = Object, example = json!({"message": "ok", "details": {"updated_fields": {"tz": "America/New_York"}}})),
        (status = 400, body = MessageResponse, description = "`Unexpected error` (with `errors.tz` saying why)"),
        (status = 401, body = MessageResponse, description = "`Unauthorized`"),
        (status = 403, body = MessageResponse, description = "Session cookie without a matching `X-CSRFToken`"),
        (status = 413, body = MessageResponse, description = "Body over 64 KiB"),
        (status = 415, body = MessageResponse, description = "Body is not `application/json`"),
    ))]
async fn settings(
    State(state): State<AppState>,
    Authed(p, ..): Authed<Unauthorized>,
    JsonObject(f, ..): JsonObject<ApiError>,
) -> Result<Json<Value>, ApiError> {
    let user = state.svc.current_user(&p).await?;
    let mut errors = FieldErrors::new();
    let tz = match f.nullable_string("tz", &mut errors) {
        None => None,
        Some(None) => Some(None),
        Some(Some(name)) => match TimeZoneName::parse(&name) {
            Ok(tz) => Some(Some(tz)),
            Err(m) => {
                errors.add("tz", m);
                None
            }
        },
    };
    if !errors.is_empty() {
        return Err(ApiError::fields(errors).with_message("Unexpected error"));
    }
    let mut updated = serde_json::Map::new();
    if let Some(tz) = tz
        && let Some(new) = state.svc.update_time_zone(user.id, tz).await.map_err(ApiError::unexpected)?
    {
        updated.insert("tz".into(), json!(new));
    }
    if updated.is_empty() {
        Ok(Json(json!({"message": "ok"})))
    } else {
        Ok(Json(json!({"message": "ok", "details": {"updated_fields": updated}})))
    }
}
