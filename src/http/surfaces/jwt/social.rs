//! Document 002's Google and GitHub login (`/api/users/login/google/`, `…/github/`), and
//! the caller's linked providers (`/api/users/identities/`, fixed by the contract), in the
//! `{status, message, data}` envelope.

use axum::{
    Router,
    extract::State,
    routing::{delete, get, post},
};
use serde::{Deserialize, Serialize};
use utoipa::{OpenApi, ToSchema};

use super::{ApiError, Auth, AuthResponse, Dialect, ErrorResponse, JsonBody, StatusResponse, TAG, auth_response};
use crate::http::Json;
use crate::{
    domain::{
        Error, FieldErrors, Invalid,
        model::{LinkedIdentity, Provider},
    },
    http::{
        AppState,
        auth::{Authed, ClientInfo},
        body::{Body, Input, PathParam},
        problem::Dialect as _,
    },
};

/// Longest Google ID token accepted (Google's are about 1,200 characters).
const MAX_TOKEN_CHARS: usize = 8192;
/// Longest GitHub authorization code accepted (GitHub's have 20).
const MAX_CODE_CHARS: usize = 512;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/users/login/google/", post(google_login))
        .route("/api/users/login/github/", post(github_login))
        .route("/api/users/identities/", get(identities))
        .route("/api/users/identities/{provider}/", delete(unlink))
}

#[derive(OpenApi)]
#[openapi(
    paths(google_login, github_login, identities, unlink),
    components(schemas(GoogleLoginRequest, GitHubLoginRequest, IdentityOut, IdentitiesData, IdentitiesResponse))
)]
pub struct Doc;

#[derive(Deserialize, ToSchema)]
pub struct GoogleLoginRequest {
    /// The ID token Google Sign-In gave the client (a JWT signed by Google for this
    /// deployment's client id); at most 8192 characters.
    #[serde(default)]
    #[schema(required = true, value_type = String, min_length = 1, max_length = 8192, example = "eyJhbGciOiJSUzI1NiIsImtpZCI6Ii4uLiJ9...")]
    token: Input,
}

#[derive(Deserialize, ToSchema)]
pub struct GitHubLoginRequest {
    /// The authorization code GitHub gave the client on its redirect back (single use,
    /// valid for ten minutes); at most 512 characters.
    #[serde(default)]
    #[schema(required = true, value_type = String, min_length = 1, max_length = 512, example = "0123456789abcdef0123")]
    code: Input,
}

/// The credential in `input`, or the provider's documented 400 with the field's reason.
fn credential(input: &Input, field: &'static str, max: usize, provider: Provider) -> Result<String, ApiError> {
    let mut errors = FieldErrors::new();
    let value = input.required_as(field, &mut errors, |raw| {
        if raw.chars().count() > max { Err(Invalid::TooLong { max }) } else { Ok(raw.trim().to_string()) }
    });
    errors.into_result(value).map_err(|e| ApiError::fields(&e).with_message(Dialect::provider_refused(provider)))
}

/// One linked provider.
#[derive(Serialize, ToSchema)]
pub struct IdentityOut {
    /// `google` or `github`: the name to unlink it by.
    #[schema(example = "google")]
    provider: &'static str,
    /// The provider's verified e-mail at the last sign-in through it.
    #[schema(example = "user@example.com")]
    email: String,
    /// When it was linked (RFC 3339).
    #[schema(format = DateTime, example = "2026-01-31T12:00:00Z")]
    linked_at: String,
    /// The last sign-in through it (RFC 3339).
    #[schema(format = DateTime, example = "2026-02-01T08:30:00Z")]
    last_login_at: String,
}

impl From<&LinkedIdentity> for IdentityOut {
    fn from(i: &LinkedIdentity) -> Self {
        IdentityOut {
            provider: i.provider.as_str(),
            email: i.email.clone(),
            linked_at: i.created_at.to_string(),
            last_login_at: i.last_login_at.to_string(),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct IdentitiesData {
    /// Whether the account has a password (else it signs in only through its providers).
    has_password: bool,
    /// Oldest link first.
    identities: Vec<IdentityOut>,
}

#[derive(Serialize, ToSchema)]
pub struct IdentitiesResponse {
    #[schema(example = "success")]
    status: &'static str,
    #[schema(example = "Identities retrieved successfully")]
    message: &'static str,
    data: IdentitiesData,
}

/// Signs in (or up) with a Google ID token.
///
/// Public. The token is verified by userd against Google's published keys (RS256, issuer
/// `accounts.google.com`, audience `USERD_GOOGLE_CLIENT_ID`, not expired, `email_verified`
/// true). The user linked to the Google account signs in; else the user with the same
/// e-mail, which Google has verified, is linked and signs in; else a user is created with
/// that e-mail (verified), no password and Google's names. Each login is a session of its
/// own with a new token pair.
#[utoipa::path(post, path = "/api/users/login/google/", tag = TAG, operation_id = "users_login_google", request_body = GoogleLoginRequest,
    responses(
        (status = 200, body = AuthResponse, description = "The user and a new token pair (`Google login successful`)",
            example = json!({"status": "success", "message": "Google login successful", "data": {"user": {"id": 1, "email": "user@example.com", "first_name": "John", "last_name": "Doe", "company_name": ""}, "tokens": {"refresh": "eyJ...", "access": "eyJ..."}}})),
        (status = 400, body = ErrorResponse, description = "`Invalid Google token. Please try again.`: a missing, malformed, forged, expired or foreign token, an unverified e-mail, Google's keys unreachable, an inactive account, or Google login not configured"),
        (status = 413, body = ErrorResponse, description = "Body over 64 KiB"),
        (status = 415, body = ErrorResponse, description = "Body is not JSON, a URL-encoded form or multipart"),
        (status = 429, body = ErrorResponse, description = "Too many attempts from this address; `Retry-After` says when to try again"),
    ))]
async fn google_login(
    State(state): State<AppState>,
    ClientInfo(client): ClientInfo,
    Body(req, ..): JsonBody<GoogleLoginRequest>,
) -> Result<Json<AuthResponse>, ApiError> {
    let token = credential(&req.token, "token", MAX_TOKEN_CHARS, Provider::Google)?;
    let (user, pair) = state.domain.identities.login(&client, Provider::Google, &token).await?;
    Ok(Json(auth_response("Google login successful", user, pair)))
}

/// Signs in (or up) with a GitHub authorization code.
///
/// Public. The code is exchanged with GitHub for an access token (with the OAuth app's id
/// and secret), which reads the GitHub user and their primary verified e-mail; then as
/// Google login: the linked user, else the user with that e-mail (now linked), else a new
/// user without a password.
#[utoipa::path(post, path = "/api/users/login/github/", tag = TAG, operation_id = "users_login_github", request_body = GitHubLoginRequest,
    responses(
        (status = 200, body = AuthResponse, description = "The user and a new token pair (`GitHub login successful`)"),
        (status = 400, body = ErrorResponse, description = "`Failed to obtain access token from GitHub. Please try again.`: a missing, invalid or used code, GitHub failing or unreachable, no verified primary e-mail, an inactive account, or GitHub login not configured"),
        (status = 413, body = ErrorResponse, description = "Body over 64 KiB"),
        (status = 415, body = ErrorResponse, description = "Body is not JSON, a URL-encoded form or multipart"),
        (status = 429, body = ErrorResponse, description = "Too many attempts from this address; `Retry-After` says when to try again"),
    ))]
async fn github_login(
    State(state): State<AppState>,
    ClientInfo(client): ClientInfo,
    Body(req, ..): JsonBody<GitHubLoginRequest>,
) -> Result<Json<AuthResponse>, ApiError> {
    let code = credential(&req.code, "code", MAX_CODE_CHARS, Provider::GitHub)?;
    let (user, pair) = state.domain.identities.login(&client, Provider::GitHub, &code).await?;
    Ok(Json(auth_response("GitHub login successful", user, pair)))
}

/// The caller's linked Google and GitHub sign-ins.
#[utoipa::path(get, path = "/api/users/identities/", tag = TAG, operation_id = "users_identities_list",
    security(("bearer" = []), ("session" = [])),
    responses(
        (status = 200, body = IdentitiesResponse, description = "The linked providers and whether the account has a password (`Identities retrieved successfully`)"),
        (status = 401, body = ErrorResponse, description = "Missing or invalid credentials"),
    ))]
async fn identities(
    State(state): State<AppState>,
    Authed(principal, ..): Auth,
) -> Result<Json<IdentitiesResponse>, ApiError> {
    let methods = state.domain.identities.sign_in_methods(&principal).await?;
    Ok(Json(IdentitiesResponse {
        status: "success",
        message: "Identities retrieved successfully",
        data: IdentitiesData {
            has_password: methods.has_password,
            identities: methods.identities.iter().map(IdentityOut::from).collect(),
        },
    }))
}

/// Unlinks one of the caller's providers.
///
/// Refused while it is the only way left to sign in (no password and no other provider).
#[utoipa::path(delete, path = "/api/users/identities/{provider}/", tag = TAG, operation_id = "users_identities_unlink",
    params(("provider" = String, Path, description = "`google` or `github`")),
    security(("bearer" = []), ("session" = [])),
    responses(
        (status = 200, body = StatusResponse, description = "Unlinked (`Identity unlinked successfully`); signing in through that provider creates or links anew"),
        (status = 400, body = ErrorResponse, description = "It is the account's only way left to sign in: set a password or link another provider first"),
        (status = 401, body = ErrorResponse, description = "Missing or invalid credentials"),
        (status = 403, body = ErrorResponse, description = "Session cookie without a matching `X-CSRFToken`"),
        (status = 404, body = ErrorResponse, description = "No such provider, or none of it is linked (`Not found.`)"),
    ))]
async fn unlink(
    State(state): State<AppState>,
    ClientInfo(client): ClientInfo,
    Authed(principal, ..): Auth,
    PathParam(provider, ..): PathParam<ApiError>,
) -> Result<Json<StatusResponse>, ApiError> {
    let provider = Provider::parse(&provider).ok_or(Error::NotFound)?;
    state.domain.identities.unlink(&principal, provider, &client).await?;
    Ok(Json(StatusResponse { status: "success", message: "Identity unlinked successfully" }))
}
