//! Documents 000 and 001 under `/api/users/`: the current user with its personal API token,
//! token display and regeneration, settings, and the browser session the web app signs in
//! with. Files, the storage summary and Stripe checkout have their own modules.

mod error;
mod provider_session;
mod session;
mod stripe;

use axum::{
    Router,
    extract::State,
    routing::{get, patch, post},
};
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use utoipa::{OpenApi, ToSchema};

pub use self::error::{ApiError, Dialect, Unauthorized, UnauthorizedDialect};
use crate::http::Json;
use crate::{
    domain::{
        FieldErrors,
        model::{TimeZoneName, User},
    },
    http::{
        AppState,
        auth::{Authed, ClientInfo},
        body::{Body, Input},
    },
};

pub const TAG: &str = "account";

pub fn router() -> Router<AppState> {
    Router::new()
        // Deleting the account is the lifecycle's (document 002's envelope, beside its other
        // endpoints); the path is this surface's, and one path has one owner.
        .route("/api/users/me/", get(me).delete(super::jwt::delete_me))
        .route("/api/users/me/token/", get(token))
        .route("/api/users/me/token/regenerate/", post(regenerate))
        .route("/api/users/settings/", patch(settings))
        .route("/api/users/storage/", get(storage))
        .merge(session::router())
        .merge(provider_session::router())
        .merge(stripe::router())
}

#[derive(OpenApi)]
#[openapi(
    paths(me, token, regenerate, storage, settings, session::current, session::sign_in, session::sign_out, provider_session::google, provider_session::github, stripe::checkout, stripe::webhook),
    components(schemas(
        MeResponse, TokenResponse, StorageResponse, SettingsRequest, SettingsResponse, SettingsDetails,
        UpdatedSettings, MessageResponse, session::SignInRequest, session::SignInResponse, session::SessionUser,
        session::CurrentSession, session::CurrentUser, provider_session::GoogleSessionRequest,
        provider_session::GitHubSessionRequest,
        stripe::CheckoutRequest, stripe::CheckoutResponse, stripe::StripeEvent, stripe::StripeEventData,
        stripe::WebhookResponse
    )),
    tags((name = TAG, description = "Documents 000 and 001: the current user and their personal API token, storage, settings, the browser session (cookie and CSRF token) and Stripe checkout. Errors are `{\"message\"}`."))
)]
pub struct Doc;

/// `{"message": …}`: the shape of every error of these documents; validation errors add
/// `errors`, each field's messages.
#[derive(Serialize, ToSchema)]
pub struct MessageResponse {
    #[schema(example = "Not authenticated")]
    message: String,
    /// Per-field messages, on validation errors only.
    #[schema(nullable = false, example = json!({"tz": ["'Mars/Base' is not a known IANA time zone."]}))]
    errors: Option<std::collections::BTreeMap<String, Vec<String>>>,
}

#[derive(Serialize, ToSchema)]
pub struct MeResponse {
    #[schema(example = "kq3Xb8n2T6mJ0wZp5RyH4g")]
    external_id: String,
    #[schema(example = "user@example.com", max_length = 254)]
    email: String,
    email_verified: bool,
    #[schema(example = "user", max_length = 150)]
    username: String,
    #[schema(example = "John", max_length = 150)]
    first_name: String,
    #[schema(example = "Doe", max_length = 150)]
    last_name: String,
    /// Always `true`: the caller is signed in.
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
    /// The personal API token, for `Authorization: Bearer`.
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
    /// IANA time zone such as `America/New_York` or `UTC`, at most 64 characters; `null`
    /// clears it; absent leaves it as it is.
    #[serde(default)]
    #[schema(value_type = Option<String>, min_length = 1, max_length = 64, example = "America/New_York")]
    tz: Input,
}

/// What a settings update answers: `details` only when a setting actually changed.
#[derive(Serialize, ToSchema)]
pub struct SettingsResponse {
    #[schema(example = "ok")]
    message: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    details: Option<SettingsDetails>,
}

#[derive(Serialize, ToSchema)]
pub struct SettingsDetails {
    updated_fields: UpdatedSettings,
}

/// The settings that changed, each with its new value; unchanged ones are left out.
#[derive(Serialize, ToSchema)]
pub struct UpdatedSettings {
    /// The new time zone; `null` when it was cleared.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, max_length = 64, example = "America/New_York")]
    tz: Option<Option<String>>,
}

impl UpdatedSettings {
    fn is_empty(&self) -> bool {
        self.tz.is_none()
    }
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
///
/// Every field of document 000 (a superset of document 001's).
#[utoipa::path(get, path = "/api/users/me/", tag = TAG, operation_id = "account_me", security(("bearer" = []), ("session" = [])),
    responses(
        (status = 200, body = MeResponse, description = "The caller and their personal API token"),
        (status = 401, body = MessageResponse, description = "Missing or invalid credentials (`Not authenticated`)"),
    ))]
async fn me(State(state): State<AppState>, Authed(p, ..): Authed<ApiError>) -> Result<Json<MeResponse>, ApiError> {
    let token = state.domain.api_tokens.token(p.user_id()).await?;
    Ok(Json(MeResponse::new(p.user(), token.expose_secret().to_string())))
}

/// The personal API token only.
///
/// Issued on first use and shown again on every request.
#[utoipa::path(get, path = "/api/users/me/token/", tag = TAG, operation_id = "account_token", security(("bearer" = []), ("session" = [])),
    responses(
        (status = 200, body = TokenResponse, description = "The caller's personal API token"),
        (status = 401, body = MessageResponse, description = "Missing or invalid credentials (`Not authenticated`)"),
    ))]
async fn token(
    State(state): State<AppState>,
    Authed(p, ..): Authed<ApiError>,
) -> Result<Json<TokenResponse>, ApiError> {
    let token = state.domain.api_tokens.token(p.user_id()).await?;
    Ok(Json(TokenResponse { access_token: token.expose_secret().to_string() }))
}

/// Issues a new personal API token.
///
/// The old one stops working immediately, on every node.
#[utoipa::path(post, path = "/api/users/me/token/regenerate/", tag = TAG, operation_id = "account_token_regenerate", security(("bearer" = []), ("session" = [])),
    responses(
        (status = 200, body = TokenResponse, description = "The new personal API token"),
        (status = 401, body = MessageResponse, description = "Missing or invalid credentials (`Not authenticated`)"),
        (status = 403, body = MessageResponse, description = "Session cookie without a matching `X-CSRFToken`"),
    ))]
async fn regenerate(
    State(state): State<AppState>,
    ClientInfo(client): ClientInfo,
    Authed(p, ..): Authed<ApiError>,
) -> Result<Json<TokenResponse>, ApiError> {
    let token = state.domain.api_tokens.regenerate(p.user_id(), &client).await?;
    Ok(Json(TokenResponse { access_token: token.expose_secret().to_string() }))
}

/// Total size and number of the user's files.
///
/// Only files that finished uploading count.
#[utoipa::path(get, path = "/api/users/storage/", tag = TAG, operation_id = "account_storage", security(("bearer" = []), ("session" = [])),
    responses(
        (status = 200, body = StorageResponse, description = "The caller's storage summary"),
        (status = 401, body = MessageResponse, description = "Missing or invalid credentials (`Not authenticated`)"),
    ))]
async fn storage(
    State(state): State<AppState>,
    Authed(p, ..): Authed<ApiError>,
) -> Result<Json<StorageResponse>, ApiError> {
    let s = state.domain.files.summary(p.user_id()).await?;
    Ok(Json(StorageResponse { total_bytes: s.total_bytes, file_count: s.file_count }))
}

/// Updates settings (today the time zone).
///
/// `details.updated_fields` lists what actually changed.
#[utoipa::path(patch, path = "/api/users/settings/", tag = TAG, operation_id = "account_settings_update", request_body = SettingsRequest,
    security(("bearer" = []), ("session" = [])),
    responses(
        (status = 200, body = SettingsResponse, description = "Saved; `details` lists the settings that changed",
            example = json!({"message": "ok", "details": {"updated_fields": {"tz": "America/New_York"}}})),
        (status = 400, body = MessageResponse, description = "Validation failed: `Unexpected error`, with `errors.tz` saying why"),
        (status = 401, body = MessageResponse, description = "Missing or invalid credentials (`Unauthorized`)"),
        (status = 403, body = MessageResponse, description = "Session cookie without a matching `X-CSRFToken`"),
        (status = 413, body = MessageResponse, description = "Body over 64 KiB"),
        (status = 415, body = MessageResponse, description = "Body is not JSON, a URL-encoded form or multipart"),
    ))]
async fn settings(
    State(state): State<AppState>,
    Authed(p, ..): Authed<Unauthorized>,
    Body(req, ..): Body<SettingsRequest, Unauthorized>,
) -> Result<Json<SettingsResponse>, Unauthorized> {
    let change = SettingsChange::try_from(req).map_err(|e| error::unexpected(e.into()))?;
    let mut updated = UpdatedSettings { tz: None };
    if let Some(tz) = change.tz
        && let Some(new) = state.domain.accounts.update_time_zone(p.user(), tz).await.map_err(error::unexpected)?
    {
        updated.tz = Some(new);
    }
    let details = (!updated.is_empty()).then_some(SettingsDetails { updated_fields: updated });
    Ok(Json(SettingsResponse { message: "ok", details }))
}
