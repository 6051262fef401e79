//! Browser sign-in and sign-out (`/api/users/session/`, fixed by the contract).

use axum::{
    Json, Router,
    extract::State,
    http::StatusCode,
    response::{IntoResponse, Response},
    routing::post,
};
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
use serde::Deserialize;
use serde_json::json;
use utoipa::ToSchema;

use super::{ApiError, MessageResponse, TAG};
use crate::{
    domain::{
        AuthFailure, Error, FieldErrors, Invalid,
        accounts::LoginName,
        model::{Password, Via},
    },
    http::{
        AppState,
        auth::{Authed, CSRF_COOKIE, ClientIp, SESSION_COOKIE},
        body::{Body, Input},
    },
};

pub fn router() -> Router<AppState> {
    Router::new().route("/api/users/session/", post(sign_in).delete(sign_out))
}

#[derive(Deserialize, ToSchema)]
pub struct SignInRequest {
    /// E-mail or username (one of them).
    #[serde(default)]
    #[schema(value_type = Option<String>, example = "user@example.com")]
    email: Input,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    username: Input,
    #[serde(default)]
    #[schema(required = true, value_type = String, min_length = 1, max_length = 4096)]
    password: Input,
}

struct SignIn(LoginName, Password);

impl TryFrom<SignInRequest> for SignIn {
    type Error = FieldErrors;

    fn try_from(r: SignInRequest) -> Result<Self, FieldErrors> {
        let mut errors = FieldErrors::new();
        let name = match (r.email.optional("email", &mut errors), r.username.optional("username", &mut errors)) {
            (Some(e), _) if !e.trim().is_empty() => Some(LoginName::Email(e)),
            (_, Some(u)) if !u.trim().is_empty() => Some(LoginName::Username(u)),
            _ => {
                errors.add("email", Invalid::Required);
                None
            }
        };
        let password = r.password.required_as("password", &mut errors, Password::for_login);
        let (name, password) = errors.into_result(name.zip(password))?;
        Ok(SignIn(name, password))
    }
}

fn secure(state: &AppState) -> bool {
    state.public_url.starts_with("https://")
}

/// Signs in a browser: sets `sessionid` (HttpOnly) and `csrftoken` cookies.
#[utoipa::path(post, path = "/api/users/session/", tag = TAG, request_body = SignInRequest,
    responses(
        (status = 200, body = Object, description = "Signed in; cookies set", example = json!({"message": "ok", "csrftoken": "…", "user": {"external_id": "…", "email": "user@example.com", "username": "user"}})),
        (status = 400, body = MessageResponse, description = "A field is missing"),
        (status = 401, body = MessageResponse, description = "`Invalid email or password.`"),
        (status = 413, body = MessageResponse, description = "Body over 64 KiB"),
        (status = 415, body = MessageResponse, description = "Body is not `application/json`"),
    ))]
pub async fn sign_in(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    jar: CookieJar,
    Body(req, ..): Body<SignInRequest, ApiError>,
) -> Result<Response, ApiError> {
    let SignIn(name, password) = req.try_into()?;
    let session = state.domain.accounts.sign_in_browser(ip, &name, &password).await?;
    let max_age = cookie::time::Duration::seconds(i64::try_from(session.lifetime.as_secs()).unwrap_or(i64::MAX));
    let sid = Cookie::build((SESSION_COOKIE, session.cookie_value().to_string()))
        .path("/")
        .http_only(true)
        .secure(secure(&state))
        .same_site(SameSite::Lax)
        .max_age(max_age)
        .build();
    // Readable by the web app's JavaScript, which echoes it in `X-CSRFToken`.
    let csrf = Cookie::build((CSRF_COOKIE, session.csrf_token.clone()))
        .path("/")
        .secure(secure(&state))
        .same_site(SameSite::Lax)
        .max_age(max_age)
        .build();
    let user = &session.user;
    let body = json!({
        "message": "ok",
        "csrftoken": session.csrf_token,
        "user": {"external_id": user.external_id.0, "email": user.email, "username": user.username,
                 "first_name": user.first_name, "last_name": user.last_name},
    });
    Ok((jar.add(sid).add(csrf), Json(body)).into_response())
}

/// Signs the browser out: ends the session server-side and clears the cookies.
#[utoipa::path(delete, path = "/api/users/session/", tag = TAG, security(("session" = [])),
    responses(
        (status = 204, description = "Signed out"),
        (status = 401, body = MessageResponse, description = "`Not authenticated`"),
        (status = 403, body = MessageResponse, description = "Missing or wrong `X-CSRFToken`"),
    ))]
pub async fn sign_out(
    State(state): State<AppState>,
    jar: CookieJar,
    Authed(p, ..): Authed<ApiError>,
) -> Result<Response, ApiError> {
    if p.via() == Via::Cookie {
        state.domain.sessions.end_session(&p).await?;
    } else {
        // This ends a browser session; JWT logins end through their own logout.
        return Err(Error::Unauthenticated(AuthFailure::Missing).into());
    }
    let jar = jar.remove(Cookie::build(SESSION_COOKIE).path("/")).remove(Cookie::build(CSRF_COOKIE).path("/"));
    Ok((StatusCode::NO_CONTENT, jar).into_response())
}
