//! Browser sign-in and sign-out (`/api/users/session/`, fixed by the contract).

use axum::{
    Router,
    extract::State,
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    routing::get,
};
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{ApiError, MessageResponse, TAG};
use crate::http::Json;
use crate::{
    domain::{
        AuthFailure, Error, FieldErrors, Invalid,
        accounts::LoginName,
        model::{Password, Via},
        sessions::web::WebSession,
    },
    http::{
        AppState,
        auth::{self, Authed, CSRF_COOKIE, ClientInfo, SESSION_COOKIE},
        body::{Body, Input},
        surfaces::microservice::picture_url,
    },
};

pub fn router() -> Router<AppState> {
    Router::new().route("/api/users/session/", get(current).post(sign_in).delete(sign_out))
}

#[derive(Deserialize, ToSchema)]
pub struct SignInRequest {
    /// The account's e-mail; send this or `username`.
    #[serde(default)]
    #[schema(value_type = Option<String>, example = "user@example.com")]
    email: Input,
    /// The account's username, when `email` is not sent.
    #[serde(default)]
    #[schema(value_type = Option<String>, example = "user")]
    username: Input,
    /// At most 1024 characters.
    #[serde(default)]
    #[schema(required = true, value_type = String, format = Password, example = "securepassword123", min_length = 1, max_length = 1024)]
    password: Input,
}

/// A signed-in browser: the cookies are set too.
#[derive(Serialize, ToSchema)]
pub struct SignInResponse {
    #[schema(example = "ok")]
    message: &'static str,
    /// The CSRF token (also the `csrftoken` cookie): echo it in `X-CSRFToken` on unsafe requests.
    #[schema(example = "q0Xb8n2T6mJ0wZp5RyH4gkq3Xb8n2T6m")]
    csrftoken: String,
    user: SessionUser,
}

/// The signed-in user, as the web app shows them.
#[derive(Serialize, ToSchema)]
pub struct SessionUser {
    #[schema(example = "kq3Xb8n2T6mJ0wZp5RyH4g")]
    external_id: String,
    #[schema(example = "user@example.com", max_length = 254)]
    email: String,
    #[schema(example = "user", max_length = 150)]
    username: String,
    #[schema(example = "John", max_length = 150)]
    first_name: String,
    #[schema(example = "Doe", max_length = 150)]
    last_name: String,
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

/// The signed-in browser's user, as the web app starts from it.
#[derive(Serialize, ToSchema)]
pub struct CurrentSession {
    user: CurrentUser,
}

/// The user of a browser session, with what the web app needs to draw its pages.
#[derive(Serialize, ToSchema)]
pub struct CurrentUser {
    #[schema(example = "kq3Xb8n2T6mJ0wZp5RyH4g")]
    external_id: String,
    /// The numeric id document 003 shows and follows by.
    #[schema(example = 42)]
    id: i64,
    #[schema(example = "user@example.com", max_length = 254)]
    email: String,
    email_verified: bool,
    #[schema(example = "user", max_length = 150)]
    username: String,
    #[schema(example = "John", max_length = 150)]
    first_name: String,
    #[schema(example = "Doe", max_length = 150)]
    last_name: String,
    /// Absolute URL of the profile picture (or the avatar link), `null` without one.
    #[schema(example = "http://127.0.0.1:8000/api/user/media/3q2-7wK1x0yZ9bVfA4mN8g.png")]
    picture: Option<String>,
    /// The IANA time zone, `null` when not set.
    #[schema(example = "Europe/Paris")]
    tz: Option<String>,
    /// The plan Stripe reports the user subscribed to, `null` on the free plan.
    #[schema(example = "pro")]
    plan: Option<String>,
    /// Stripe's subscription status (`active`, `past_due`, `canceled`, …), `null` without one.
    #[schema(example = "active")]
    subscription_status: Option<String>,
    /// Whether the staff endpoints (`/api/staff/`) answer this user.
    is_staff: bool,
}

/// The browser session's user.
///
/// Only the session cookie answers: a bearer token is refused, as on sign-out.
#[utoipa::path(get, path = "/api/users/session/", tag = TAG, operation_id = "account_session_current", security(("session" = [])),
    responses(
        (status = 200, body = CurrentSession, description = "The signed-in user"),
        (status = 401, body = MessageResponse, description = "No live session cookie (`Not authenticated`)"),
    ))]
pub async fn current(
    State(state): State<AppState>,
    Authed(p, ..): Authed<ApiError>,
) -> Result<Json<CurrentSession>, ApiError> {
    if p.via() != Via::Cookie {
        return Err(Error::Unauthenticated(AuthFailure::Missing).into());
    }
    let u = p.user();
    let user = CurrentUser {
        external_id: u.external_id.0.clone(),
        id: u.id.0,
        email: u.email.clone(),
        email_verified: u.email_verified,
        username: u.username.clone(),
        first_name: u.first_name.clone(),
        last_name: u.last_name.clone(),
        picture: picture_url(u.avatar.as_deref(), &state.public_url),
        tz: u.tz.clone(),
        plan: u.plan.clone(),
        subscription_status: u.subscription_status.clone(),
        is_staff: u.is_staff,
    };
    Ok(Json(CurrentSession { user }))
}

fn secure(state: &AppState) -> bool {
    state.public_url.starts_with("https://")
}

/// Signs in a browser with e-mail or username and password.
///
/// Public. Sets the `sessionid` (HttpOnly) and `csrftoken` cookies.
#[utoipa::path(post, path = "/api/users/session/", tag = TAG, operation_id = "account_session_sign_in", request_body = SignInRequest,
    responses(
        (status = 200, body = SignInResponse, description = "Signed in: the user and the CSRF token; `Set-Cookie` carries `sessionid` and `csrftoken`"),
        (status = 400, body = MessageResponse, description = "Validation failed: a field is missing, blank or not text; `errors` says which"),
        (status = 401, body = MessageResponse, description = "`Invalid email or password.` (also for unknown and inactive accounts)"),
        (status = 403, body = MessageResponse, description = "`CSRF Failed: Origin checking failed - … does not match any trusted origins.`: sent by a page of another origin"),
        (status = 413, body = MessageResponse, description = "Body over 64 KiB"),
        (status = 415, body = MessageResponse, description = "Body is not JSON, a URL-encoded form or multipart"),
        (status = 429, body = MessageResponse, description = "Too many attempts; `Retry-After` says when to try again"),
    ))]
pub async fn sign_in(
    State(state): State<AppState>,
    ClientInfo(client): ClientInfo,
    jar: CookieJar,
    headers: HeaderMap,
    Body(req, ..): Body<SignInRequest, ApiError>,
) -> Result<Response, ApiError> {
    // A page elsewhere must not sign the browser in to an account of its choosing.
    auth::check_origin(&state, &headers)?;
    let SignIn(name, password) = req.try_into()?;
    let session = state.domain.accounts.sign_in_browser(&client, &name, &password).await?;
    Ok(signed_in(&state, jar, session))
}

/// The answer of every browser sign-in: the session and CSRF cookies, and the user.
pub(super) fn signed_in(state: &AppState, jar: CookieJar, session: WebSession) -> Response {
    let max_age = cookie::time::Duration::seconds(i64::try_from(session.lifetime.as_secs()).unwrap_or(i64::MAX));
    let sid = Cookie::build((SESSION_COOKIE, session.cookie_value().to_string()))
        .path("/")
        .http_only(true)
        .secure(secure(state))
        .same_site(SameSite::Lax)
        .max_age(max_age)
        .build();
    // Readable by the web app's JavaScript, which echoes it in `X-CSRFToken`.
    let csrf = Cookie::build((CSRF_COOKIE, session.csrf_token.clone()))
        .path("/")
        .secure(secure(state))
        .same_site(SameSite::Lax)
        .max_age(max_age)
        .build();
    let user = &session.user;
    let body = SignInResponse {
        message: "ok",
        csrftoken: session.csrf_token,
        user: SessionUser {
            external_id: user.external_id.0.clone(),
            email: user.email.clone(),
            username: user.username.clone(),
            first_name: user.first_name.clone(),
            last_name: user.last_name.clone(),
        },
    };
    (jar.add(sid).add(csrf), Json(body)).into_response()
}

/// Signs the browser out.
///
/// Ends the session server-side and clears the cookies. Only the session cookie (with
/// `X-CSRFToken`) signs out; a bearer token is refused: JWT logins end with `POST
/// /api/users/logout/`.
#[utoipa::path(delete, path = "/api/users/session/", tag = TAG, operation_id = "account_session_sign_out", security(("session" = [])),
    responses(
        (status = 204, description = "Signed out; `Set-Cookie` clears `sessionid` and `csrftoken`"),
        (status = 401, body = MessageResponse, description = "No live session cookie (`Not authenticated`)"),
        (status = 403, body = MessageResponse, description = "Missing or wrong `X-CSRFToken`"),
    ))]
pub async fn sign_out(
    State(state): State<AppState>,
    jar: CookieJar,
    ClientInfo(client): ClientInfo,
    Authed(p, ..): Authed<ApiError>,
) -> Result<Response, ApiError> {
    if p.via() == Via::Cookie {
        state.domain.sessions.end_session(&p, &client).await?;
    } else {
        // This ends a browser session; JWT logins end through their own logout.
        return Err(Error::Unauthenticated(AuthFailure::Missing).into());
    }
    let jar = jar.remove(Cookie::build(SESSION_COOKIE).path("/")).remove(Cookie::build(CSRF_COOKIE).path("/"));
    Ok((StatusCode::NO_CONTENT, jar).into_response())
}
