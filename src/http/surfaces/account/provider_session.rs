//! Browser sign-in through Google or GitHub (`/api/users/session/google/`, `…/github/`):
//! what document 002's `login/google/` and `login/github/` do, answered with the session
//! and CSRF cookies the web app signs in with instead of a token pair, so no token ever
//! reaches the page.

use axum::{Router, extract::State, http::HeaderMap, response::Response, routing::post};
use axum_extra::extract::cookie::CookieJar;
use serde::Deserialize;
use utoipa::ToSchema;

use super::{ApiError, MessageResponse, TAG, session::signed_in};
use crate::{
    domain::{FieldErrors, Invalid, model::Provider},
    http::{
        AppState,
        auth::{self, ClientInfo},
        body::{Body, Input},
    },
};

/// Longest Google ID token accepted (Google's are about 1,200 characters).
const MAX_TOKEN_CHARS: usize = 8192;
/// Longest GitHub authorization code accepted (GitHub's have 20).
const MAX_CODE_CHARS: usize = 512;

pub fn router() -> Router<AppState> {
    Router::new().route("/api/users/session/google/", post(google)).route("/api/users/session/github/", post(github))
}

#[derive(Deserialize, ToSchema)]
pub struct GoogleSessionRequest {
    /// The ID token Google gave the browser for this deployment's client id; at most 8192 characters.
    #[serde(default)]
    #[schema(required = true, value_type = String, min_length = 1, max_length = 8192, example = "eyJhbGciOiJSUzI1NiIsImtpZCI6Ii4uLiJ9...")]
    token: Input,
}

#[derive(Deserialize, ToSchema)]
pub struct GitHubSessionRequest {
    /// The authorization code GitHub gave the browser on its redirect back; at most 512 characters.
    #[serde(default)]
    #[schema(required = true, value_type = String, min_length = 1, max_length = 512, example = "0123456789abcdef0123")]
    code: Input,
}

fn credential(input: &Input, field: &'static str, max: usize) -> Result<String, FieldErrors> {
    let mut errors = FieldErrors::new();
    let value = input.required_as(field, &mut errors, |raw| {
        if raw.chars().count() > max { Err(Invalid::TooLong { max }) } else { Ok(raw.trim().to_string()) }
    });
    errors.into_result(value)
}

async fn start(
    state: &AppState,
    client: &crate::domain::model::Client,
    jar: CookieJar,
    headers: &HeaderMap,
    provider: Provider,
    credential: &str,
) -> Result<Response, ApiError> {
    // As with the password sign-in: a page elsewhere must not sign the browser in.
    auth::check_origin(state, headers)?;
    let session = state.domain.identities.sign_in_browser(client, provider, credential).await?;
    Ok(signed_in(state, jar, session))
}

/// Signs in a browser with a Google ID token.
///
/// Public. Links or creates the account as `POST /api/users/login/google/` does; sets the
/// `sessionid` (HttpOnly) and `csrftoken` cookies.
#[utoipa::path(post, path = "/api/users/session/google/", tag = TAG, operation_id = "account_session_google", request_body = GoogleSessionRequest,
    responses(
        (status = 200, body = super::session::SignInResponse, description = "Signed in: the user and the CSRF token; `Set-Cookie` carries `sessionid` and `csrftoken`"),
        (status = 400, body = MessageResponse, description = "`Google sign-in failed. Please try again.`: a missing, malformed, expired or foreign token, an unverified e-mail, an inactive account, or Google login not configured"),
        (status = 403, body = MessageResponse, description = "Sent by a page of another origin"),
        (status = 413, body = MessageResponse, description = "Body over 64 KiB"),
        (status = 429, body = MessageResponse, description = "Too many attempts; `Retry-After` says when to try again"),
    ))]
pub async fn google(
    State(state): State<AppState>,
    ClientInfo(client): ClientInfo,
    jar: CookieJar,
    headers: HeaderMap,
    Body(req, ..): Body<GoogleSessionRequest, ApiError>,
) -> Result<Response, ApiError> {
    let token = credential(&req.token, "token", MAX_TOKEN_CHARS)?;
    start(&state, &client, jar, &headers, Provider::Google, &token).await
}

/// Signs in a browser with a GitHub authorization code.
///
/// Public. Links or creates the account as `POST /api/users/login/github/` does; sets the
/// `sessionid` (HttpOnly) and `csrftoken` cookies. The browser's `state` check is the web
/// app's, before it sends the code.
#[utoipa::path(post, path = "/api/users/session/github/", tag = TAG, operation_id = "account_session_github", request_body = GitHubSessionRequest,
    responses(
        (status = 200, body = super::session::SignInResponse, description = "Signed in: the user and the CSRF token; `Set-Cookie` carries `sessionid` and `csrftoken`"),
        (status = 400, body = MessageResponse, description = "`GitHub sign-in failed. Please try again.`: a missing, bad, expired or used code, no verified primary e-mail, an inactive account, or GitHub login not configured"),
        (status = 403, body = MessageResponse, description = "Sent by a page of another origin"),
        (status = 413, body = MessageResponse, description = "Body over 64 KiB"),
        (status = 429, body = MessageResponse, description = "Too many attempts; `Retry-After` says when to try again"),
    ))]
pub async fn github(
    State(state): State<AppState>,
    ClientInfo(client): ClientInfo,
    jar: CookieJar,
    headers: HeaderMap,
    Body(req, ..): Body<GitHubSessionRequest, ApiError>,
) -> Result<Response, ApiError> {
    let code = credential(&req.code, "code", MAX_CODE_CHARS)?;
    start(&state, &client, jar, &headers, Provider::GitHub, &code).await
}
