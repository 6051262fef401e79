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
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::{OpenApi, ToSchema};

pub use self::error::{ApiError, Dialect, Unauthorized, UnauthorizedDialect};
use crate::{
    domain::{
        FieldErrors,
        model::{TimeZoneName, User},
    },
    http::{
        AppState,
        auth::Authed,
        body::{Body, Input},
    },
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

#[derive(Deserialize, ToSchema)]
pub struct SettingsRequest {
    /// IANA time zone such as `America/New_York` or `UTC`; `null` clears it.
    #[serde(default)]
    #[schema(value_type = Option<String>, min_length = 1, max_length = 64, example = "America/New_York")]
    tz: Input,
}

/// The settings a request changes: `None` leaves one as it is.
struct SettingsChange {
    /// `Some(None)` clears the time zone.
    tz: Option<Option<TimeZoneName>>,
}

impl TryFrom<SettingsRequest> for SettingsChange {
    type Error = FieldErrors;

    fn try_from(r: SettingsRequest) -> Result<Self, FieldErrors> {
        let mut errors = FieldErrors::new();
        let tz = match r.tz.nullable("tz", &mut errors) {
            None => None,
            Some(None) => Some(None),
            Some(Some(name)) => errors.check("tz", TimeZoneName::parse(&name)).map(Some),
        };
        errors.into_result(Some(SettingsChange { tz }))
    }
}

/// The current user and their personal API token.
#[utoipa::path(get, path = "/api/users/me/", tag = TAG, security(("bearer" = []), ("session" = [])),
    responses((status = 200, body = MeResponse), (status = 401, body = MessageResponse, description = "`Not authenticated`")))]
async fn me(State(state): State<AppState>, Authed(p, ..): Authed<ApiError>) -> Result<Json<MeResponse>, ApiError> {
    let token = state.domain.api_tokens.token(p.user_id()).await?;
    Ok(Json(MeResponse::new(p.user(), token.expose_secret().to_string())))
}

/// The personal API token only.
#[utoipa::path(get, path = "/api/users/me/token/", tag = TAG, security(("bearer" = []), ("session" = [])),
    responses((status = 200, body = TokenResponse), (status = 401, body = MessageResponse, description = "`Not authenticated`")))]
async fn token(
    State(state): State<AppState>,
    Authed(p, ..): Authed<ApiError>,
) -> Result<Json<TokenResponse>, ApiError> {
    let token = state.domain.api_tokens.token(p.user_id()).await?;
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
    let token = state.domain.api_tokens.regenerate(p.user_id()).await?;
    Ok(Json(TokenResponse { access_token: token.expose_secret().to_string() }))
}

/// Total size and number of the user's files that finished uploading.
#[utoipa::path(get, path = "/api/users/storage/", tag = TAG, security(("bearer" = []), ("session" = [])),
    responses((status = 200, body = StorageResponse), (status = 401, body = MessageResponse, description = "`Not authenticated`")))]
async fn storage(
    State(state): State<AppState>,
    Authed(p, ..): Authed<ApiError>,
) -> Result<Json<StorageResponse>, ApiError> {
    let s = state.domain.files.summary(p.user_id()).await?;
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
    Body(req, ..): Body<SettingsRequest, Unauthorized>,
) -> Result<Json<Value>, Unauthorized> {
    let change = SettingsChange::try_from(req).map_err(|e| error::unexpected(e.into()))?;
    let mut updated = serde_json::Map::new();
    if let Some(tz) = change.tz
        && let Some(new) = state.domain.accounts.update_time_zone(p.user(), tz).await.map_err(error::unexpected)?
    {
        updated.insert("tz".into(), json!(new));
    }
    if updated.is_empty() {
        Ok(Json(json!({"message": "ok"})))
    } else {
        Ok(Json(json!({"message": "ok", "details": {"updated_fields": updated}})))
    }
}
