//! The account lifecycle under `/api/users/` (paths fixed by the contract), in document
//! 002's `{status, message, data}` envelope: e-mail verification, password reset and
//! change, the security event log, the export, and account deletion (routed with
//! `GET /api/users/me/` in the account surface, which owns that path).

use axum::{
    Router,
    extract::State,
    http::{HeaderValue, header},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use bytes::Bytes;
use futures_util::stream;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::{OpenApi, ToSchema};

use super::{ApiError, ErrorResponse, StatusResponse, TAG};
use crate::http::Json;
use crate::{
    domain::{
        FieldErrors, Invalid,
        export::{ExportPart, ExportStep},
        model::{Email, Page, PageRequest, Password, SecurityEvent, StoredFile, User, UserCard},
        recovery::Resent,
    },
    http::{
        AppState,
        auth::{Authed, ClientInfo},
        body::{Body, Input, QueryParams},
        paging::PageQuery,
        surfaces::microservice::picture_url,
    },
};

type JsonBody<T> = Body<T, ApiError>;
type Auth = Authed<ApiError>;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/users/email/verify/", post(verify_email))
        .route("/api/users/email/resend/", post(resend_verification))
        .route("/api/users/password/reset/", post(request_reset))
        .route("/api/users/password/reset/confirm/", post(confirm_reset))
        .route("/api/users/password/change/", post(change_password))
        .route("/api/users/events/", get(events))
        .route("/api/users/me/export/", get(export))
}

#[derive(OpenApi)]
#[openapi(
    paths(verify_email, resend_verification, request_reset, confirm_reset, change_password, events, export, delete_me),
    components(schemas(
        TokenRequest,
        ResetRequest,
        ResetConfirmRequest,
        ChangePasswordRequest,
        DeleteRequest,
        EventOut,
        EventsData,
        EventsResponse,
        ExportDocument
    ))
)]
pub struct Doc;

/// Whole seconds since the epoch, in RFC 3339 (UTC).
pub fn time(t: jiff::Timestamp) -> String {
    t.strftime("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

fn success(message: &'static str) -> Json<StatusResponse> {
    Json(StatusResponse { status: "success", message })
}

/// A mailed link's token.
#[derive(Deserialize, ToSchema)]
pub struct TokenRequest {
    /// The `token` parameter of the mailed link.
    #[serde(default)]
    #[schema(required = true, value_type = String, min_length = 1, max_length = 128, example = "q3Xb8n2T6mJ0wZp5RyH4gq3Xb8n2T6mJ0wZp5RyH4g0")]
    token: Input,
}

/// The token of a link, or `token`'s problem. Longer than any token userd makes: refused
/// as an invalid link without a lookup.
fn link_token(input: &Input, errors: &mut FieldErrors) -> Option<String> {
    let token = input.required("token", errors)?;
    if token.trim().len() > 128 {
        errors.add("token", Invalid::LinkToken);
        return None;
    }
    Some(token)
}

/// Marks the e-mail verified with the token of a verification mail.
///
/// Public: the link may be opened on another device than the one signed in. The token
/// works once, for 24 hours, and only while the address it was mailed to is the account's.
#[utoipa::path(post, path = "/api/users/email/verify/", tag = TAG, operation_id = "users_email_verify", request_body = TokenRequest,
    responses(
        (status = 200, body = StatusResponse, description = "`Email verified successfully`"),
        (status = 400, body = ErrorResponse, description = "`This link is invalid or has expired.` (unknown, used, expired, or the address changed since)"),
        (status = 413, body = ErrorResponse, description = "Body over 64 KiB"),
    ))]
async fn verify_email(
    State(state): State<AppState>,
    ClientInfo(client): ClientInfo,
    Body(req, ..): JsonBody<TokenRequest>,
) -> Result<Json<StatusResponse>, ApiError> {
    let mut errors = FieldErrors::new();
    let token = link_token(&req.token, &mut errors);
    let token = errors.into_result(token)?;
    state.domain.recovery.verify_email(&token, &client).await?;
    Ok(success("Email verified successfully"))
}

/// Mails the caller a new verification link.
///
/// At most one a minute (429 with `Retry-After` before that). An address that is
/// verified already gets no mail.
#[utoipa::path(post, path = "/api/users/email/resend/", tag = TAG, operation_id = "users_email_resend",
    security(("bearer" = []), ("session" = [])),
    responses(
        (status = 200, body = StatusResponse, description = "`Verification email sent`, or `Email is already verified`"),
        (status = 401, body = ErrorResponse, description = "Missing or invalid credentials"),
        (status = 403, body = ErrorResponse, description = "Session cookie without a matching `X-CSRFToken`"),
        (status = 429, body = ErrorResponse, description = "A mail was sent less than a minute ago; `Retry-After` says when to ask again"),
    ))]
async fn resend_verification(
    State(state): State<AppState>,
    ClientInfo(client): ClientInfo,
    Authed(p, ..): Auth,
) -> Result<Json<StatusResponse>, ApiError> {
    Ok(match state.domain.recovery.resend_verification(&p, &client).await? {
        Resent::Sent => success("Verification email sent"),
        Resent::AlreadyVerified => success("Email is already verified"),
    })
}

#[derive(Deserialize, ToSchema)]
pub struct ResetRequest {
    /// The account's e-mail; at most 254 characters.
    #[serde(default)]
    #[schema(required = true, value_type = String, example = "user@example.com", min_length = 1, max_length = 254)]
    email: Input,
}

/// Mails a password reset link if an account has this address.
///
/// Public. The answer is the same, and as fast, whether or not the account exists; the
/// link works once, for 1 hour. One mail a minute per account at most.
#[utoipa::path(post, path = "/api/users/password/reset/", tag = TAG, operation_id = "users_password_reset", request_body = ResetRequest,
    responses(
        (status = 200, body = StatusResponse, description = "`If an account exists for this email, a reset link has been sent.`"),
        (status = 400, body = ErrorResponse, description = "`email` missing or not an e-mail address"),
        (status = 413, body = ErrorResponse, description = "Body over 64 KiB"),
        (status = 429, body = ErrorResponse, description = "Too many requests from this address; `Retry-After` says when to try again"),
    ))]
async fn request_reset(
    State(state): State<AppState>,
    ClientInfo(client): ClientInfo,
    Body(req, ..): JsonBody<ResetRequest>,
) -> Result<Json<StatusResponse>, ApiError> {
    let mut errors = FieldErrors::new();
    let email = req.email.required_as("email", &mut errors, Email::parse);
    let email = errors.into_result(email)?;
    state.domain.recovery.request_reset(&email, &client).await?;
    Ok(success("If an account exists for this email, a reset link has been sent."))
}

/// A new password: the registration policy, and the confirmation when one is sent.
fn new_password(password: &Input, confirm: &Input, errors: &mut FieldErrors) -> Option<Password> {
    let raw = password.new_password("password", errors)?;
    let parsed = match Password::new_password(&raw) {
        Ok(p) => Some(p),
        Err(problems) => {
            for why in problems {
                errors.add("password", why);
            }
            None
        }
    };
    if let Some(c) = confirm.optional("confirm_password", errors)
        && c != raw
    {
        errors.add("confirm_password", Invalid::PasswordMismatch);
    }
    parsed
}

#[derive(Deserialize, ToSchema)]
pub struct ResetConfirmRequest {
    /// The `token` parameter of the mailed link.
    #[serde(default)]
    #[schema(required = true, value_type = String, min_length = 1, max_length = 128)]
    token: Input,
    /// The new password: at least 8 and at most 1024 characters, not a common password, not
    /// only digits or white space, not too like the account's username, names or e-mail.
    #[serde(default)]
    #[schema(required = true, value_type = String, format = Password, min_length = 8, max_length = 1024, example = "a new secret phrase")]
    password: Input,
    /// The same password again (checked when sent).
    #[serde(default)]
    #[schema(value_type = Option<String>, format = Password, max_length = 1024)]
    confirm_password: Input,
}

/// Sets a new password with a reset link's token.
///
/// Public. Every session, refresh token and browser session of the user is revoked on
/// every node; other reset links stop working; the address counts as verified. Signing in
/// with the new password starts afresh. A user created through Google or GitHub sets a
/// first password this way.
#[utoipa::path(post, path = "/api/users/password/reset/confirm/", tag = TAG, operation_id = "users_password_reset_confirm", request_body = ResetConfirmRequest,
    responses(
        (status = 200, body = StatusResponse, description = "`Password has been reset`"),
        (status = 400, body = ErrorResponse, description = "`This link is invalid or has expired.`, or the password's problems"),
        (status = 413, body = ErrorResponse, description = "Body over 64 KiB"),
    ))]
async fn confirm_reset(
    State(state): State<AppState>,
    ClientInfo(client): ClientInfo,
    Body(req, ..): JsonBody<ResetConfirmRequest>,
) -> Result<Json<StatusResponse>, ApiError> {
    let mut errors = FieldErrors::new();
    let token = link_token(&req.token, &mut errors);
    let password = new_password(&req.password, &req.confirm_password, &mut errors);
    let (token, password) = errors.into_result(token.zip(password))?;
    state.domain.recovery.confirm_reset(&token, &password, &client).await?;
    Ok(success("Password has been reset"))
}

#[derive(Deserialize, ToSchema)]
pub struct ChangePasswordRequest {
    /// The password now; at most 1024 characters.
    #[serde(default)]
    #[schema(required = true, value_type = String, format = Password, min_length = 1, max_length = 1024)]
    current_password: Input,
    /// The new password: at least 8 and at most 1024 characters, not a common password, not
    /// only digits or white space, not too like the account's username, names or e-mail.
    #[serde(default)]
    #[schema(required = true, value_type = String, format = Password, min_length = 8, max_length = 1024)]
    password: Input,
    /// The same password again (checked when sent).
    #[serde(default)]
    #[schema(value_type = Option<String>, format = Password, max_length = 1024)]
    confirm_password: Input,
}

/// Changes the caller's password.
///
/// Every other session and refresh token of the user is revoked on every node; the
/// credential making the request keeps working. Wrong current passwords are throttled as
/// logins are.
#[utoipa::path(post, path = "/api/users/password/change/", tag = TAG, operation_id = "users_password_change", request_body = ChangePasswordRequest,
    security(("bearer" = []), ("session" = [])),
    responses(
        (status = 200, body = StatusResponse, description = "`Password changed successfully`"),
        (status = 400, body = ErrorResponse, description = "`The password is incorrect.` (`current_password`), an account without a password, or the new password's problems"),
        (status = 413, body = ErrorResponse, description = "Body over 64 KiB"),
        (status = 401, body = ErrorResponse, description = "Missing or invalid credentials"),
        (status = 403, body = ErrorResponse, description = "Session cookie without a matching `X-CSRFToken`"),
        (status = 429, body = ErrorResponse, description = "Too many attempts; `Retry-After` says when to try again"),
    ))]
async fn change_password(
    State(state): State<AppState>,
    ClientInfo(client): ClientInfo,
    Authed(p, ..): Auth,
    Body(req, ..): JsonBody<ChangePasswordRequest>,
) -> Result<Json<StatusResponse>, ApiError> {
    let mut errors = FieldErrors::new();
    let current = req.current_password.required_as("current_password", &mut errors, Password::for_login);
    let password = new_password(&req.password, &req.confirm_password, &mut errors);
    let (current, password) = errors.into_result(current.zip(password))?;
    state.domain.accounts.change_own_password(&p, &current, &password, &client).await?;
    Ok(success("Password changed successfully"))
}

#[derive(Deserialize, ToSchema)]
pub struct DeleteRequest {
    /// The account's password; required when it has one.
    #[serde(default)]
    #[schema(value_type = Option<String>, format = Password, max_length = 1024)]
    password: Input,
}

/// Deletes the caller's account and everything userd holds about them.
///
/// Sessions, refresh tokens and the API token stop working on every node at once; files,
/// the profile picture, follows, linked providers and events are removed. An account with
/// a password confirms with it; one without (created through Google or GitHub) must have
/// signed in within the last 10 minutes. Nothing can be undone.
#[utoipa::path(delete, path = "/api/users/me/", tag = TAG, operation_id = "users_me_delete", request_body = DeleteRequest,
    security(("bearer" = []), ("session" = [])),
    responses(
        (status = 200, body = StatusResponse, description = "`Account deleted`"),
        (status = 400, body = ErrorResponse, description = "`password` missing or incorrect, or (without a password) no sign-in within 10 minutes"),
        (status = 413, body = ErrorResponse, description = "Body over 64 KiB"),
        (status = 401, body = ErrorResponse, description = "Missing or invalid credentials"),
        (status = 403, body = ErrorResponse, description = "Session cookie without a matching `X-CSRFToken`"),
        (status = 429, body = ErrorResponse, description = "Too many wrong passwords; `Retry-After` says when to try again"),
    ))]
pub async fn delete_me(
    State(state): State<AppState>,
    Authed(p, ..): Auth,
    Body(req, ..): JsonBody<DeleteRequest>,
) -> Result<Json<StatusResponse>, ApiError> {
    let mut errors = FieldErrors::new();
    let password = req.password.optional("password", &mut errors);
    errors.into_result(Some(()))?;
    let password = match password {
        Some(raw) => Some(Password::for_login(&raw).map_err(|why| FieldErrors::single("password", why))?),
        None => None,
    };
    state.domain.accounts.delete_account(&p, password.as_ref()).await?;
    Ok(success("Account deleted"))
}

/// One security event.
#[derive(Serialize, ToSchema)]
pub struct EventOut {
    id: i64,
    /// `account_created`, `login_succeeded`, `login_failed`, `login_throttled`, `logout`,
    /// `password_changed`, `password_reset_requested`, `password_reset`,
    /// `email_verification_sent`, `email_verified`, `email_changed`,
    /// `api_token_regenerated`, `provider_linked`, `provider_unlinked`, `deactivated`,
    /// `reactivated`.
    #[schema(example = "login_succeeded")]
    kind: String,
    #[schema(example = "203.0.113.7")]
    ip: Option<String>,
    #[schema(example = "Mozilla/5.0")]
    user_agent: Option<String>,
    /// The sign-in method, the provider, or the staff user who acted.
    #[schema(example = "password")]
    detail: Option<String>,
    #[schema(example = "2026-12-02T18:15:12.000000Z")]
    created_at: String,
}

impl From<SecurityEvent> for EventOut {
    fn from(e: SecurityEvent) -> Self {
        EventOut {
            id: e.id,
            kind: e.kind,
            ip: e.ip,
            user_agent: e.user_agent,
            detail: e.detail,
            created_at: time(e.created_at),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct EventsData {
    events: Vec<EventOut>,
    /// The `cursor` of the next page; `null` on the last.
    next: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct EventsResponse {
    #[schema(example = "success")]
    status: &'static str,
    #[schema(example = "Security events")]
    message: &'static str,
    data: EventsData,
}

pub fn events_response(page: Page<SecurityEvent>) -> Json<EventsResponse> {
    Json(EventsResponse {
        status: "success",
        message: "Security events",
        data: EventsData {
            next: page.next.map(|c| c.encode()),
            events: page.items.into_iter().map(Into::into).collect(),
        },
    })
}

/// The caller's security events, newest first.
///
/// Sign-ins (and failed and throttled ones), sign-outs, password changes and resets,
/// verification, API token regeneration, linked providers, deactivation. Kept 90 days
/// (`USERD_EVENT_RETENTION`).
#[utoipa::path(get, path = "/api/users/events/", tag = TAG, operation_id = "users_events", params(PageQuery),
    security(("bearer" = []), ("session" = [])),
    responses(
        (status = 200, body = EventsResponse, description = "A page of events"),
        (status = 400, body = ErrorResponse, description = "`limit` outside 1–1000 or a `cursor` this server did not hand out"),
        (status = 401, body = ErrorResponse, description = "Missing or invalid credentials"),
    ))]
async fn events(
    State(state): State<AppState>,
    Authed(p, ..): Auth,
    QueryParams(q, ..): QueryParams<PageQuery, ApiError>,
) -> Result<Json<EventsResponse>, ApiError> {
    let page = PageRequest::try_from(q)?;
    Ok(events_response(state.domain.events.list(p.user_id(), &page).await?))
}

/// The export's shape (`format` names its version).
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct ExportDocument {
    #[schema(example = "userd-export/1")]
    format: String,
    exported_at: String,
    /// Every profile field, `picture_url` included.
    #[schema(value_type = Object)]
    account: Value,
    /// `has_password` and `providers` (provider, e-mail, linked_at, last_login_at).
    #[schema(value_type = Object)]
    sign_in: Value,
    /// `issued`: whether a personal API token exists (the token itself is not exported).
    #[schema(value_type = Object)]
    api_token: Value,
    /// Followers, following, posts, likes and comments received.
    #[schema(value_type = Object)]
    counts: Value,
    /// Each file's metadata and `download_url`.
    #[schema(value_type = Vec<Object>)]
    files: Vec<Value>,
    /// The users the caller follows (id, username, names).
    #[schema(value_type = Vec<Object>)]
    following: Vec<Value>,
    /// The users who follow the caller.
    #[schema(value_type = Vec<Object>)]
    followers: Vec<Value>,
    events: Vec<EventOut>,
}

/// Everything userd holds about the caller, as one JSON download.
///
/// The profile, sign-in methods and linked providers, whether an API token exists (not
/// the token), the plan, counts, the picture's URL, every file's metadata with its
/// download URL, who the caller follows and who follows them, and the security events.
/// Streamed as it is read, however large.
#[utoipa::path(get, path = "/api/users/me/export/", tag = TAG, operation_id = "users_me_export",
    security(("bearer" = []), ("session" = [])),
    responses(
        (status = 200, description = "`userd-export-<username>.json`, an attachment", content_type = "application/json", body = ExportDocument),
        (status = 401, body = ErrorResponse, description = "Missing or invalid credentials"),
    ))]
async fn export(State(state): State<AppState>, Authed(p, ..): Auth) -> Response {
    let safe = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.');
    let filename = format!("userd-export-{}.json", p.user().username.replace(|c: char| !safe(c), "_"));
    let started = jiff::Timestamp::now();
    let body = stream::unfold(Some((ExportStep::Account, Renderer::default())), move |at| {
        let (state, p) = (state.clone(), p.clone());
        async move {
            let (step, mut renderer) = at?;
            match state.domain.export.read(&p, step).await {
                Ok((part, next)) => {
                    let mut chunk = renderer.part(&part, &state.public_url, started);
                    let next = match next {
                        Some(step) => Some((step, renderer)),
                        None => {
                            chunk.push_str(&renderer.finish());
                            None
                        }
                    };
                    Some((Ok::<Bytes, std::io::Error>(Bytes::from(chunk)), next))
                }
                Err(e) => {
                    // Headers are gone: cutting the body short is what tells the client.
                    tracing::error!(error = %e, "reading an export failed; the download is cut short");
                    Some((Err(std::io::Error::other("export failed")), None))
                }
            }
        }
    });
    let mut res = axum::body::Body::from_stream(body).into_response();
    let headers = res.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{filename}\"")) {
        headers.insert(header::CONTENT_DISPOSITION, v);
    }
    res
}

/// Writes an export's parts as one JSON object: the account's fields, then the lists
/// `files`, `following`, `followers` and `events`, each continued by later parts.
#[derive(Default)]
struct Renderer {
    /// The list being written, and how many items it has.
    list: Option<(&'static str, usize)>,
}

impl Renderer {
    fn part(&mut self, part: &ExportPart, public_url: &str, started: jiff::Timestamp) -> String {
        let (name, values): (&'static str, Vec<Value>) = match part {
            ExportPart::Account { user, methods, has_api_token, counts } => {
                let head = json!({
                    "format": "userd-export/1",
                    "exported_at": time(started),
                    "account": user_json(user, public_url),
                    "sign_in": {
                        "has_password": methods.has_password,
                        "providers": methods.identities.iter().map(|i| json!({
                            "provider": i.provider.as_str(),
                            "email": i.email,
                            "linked_at": time(i.created_at),
                            "last_login_at": time(i.last_login_at),
                        })).collect::<Vec<_>>(),
                    },
                    "api_token": {"issued": has_api_token},
                    "counts": {
                        "followers": counts.followers,
                        "following": counts.following,
                        "posts": counts.posts,
                        "likes_received": counts.likes_received,
                        "comments_received": counts.comments_received,
                    },
                })
                .to_string();
                // The object stays open: the lists follow.
                return head.strip_suffix('}').unwrap_or(&head).to_string();
            }
            ExportPart::Files(files) => ("files", files.iter().map(|f| file_json(f, public_url)).collect()),
            ExportPart::Following(cards) => ("following", cards.iter().map(card_json).collect()),
            ExportPart::Followers(cards) => ("followers", cards.iter().map(card_json).collect()),
            ExportPart::Events(events) => (
                "events",
                events.iter().map(|e| serde_json::to_value(EventOut::from(e.clone())).unwrap_or(Value::Null)).collect(),
            ),
        };
        let mut out = String::new();
        let count = match self.list {
            Some((open, n)) if open == name => n,
            open => {
                if open.is_some() {
                    out.push(']');
                }
                out.push_str(&format!(",\"{name}\":["));
                0
            }
        };
        for (i, v) in values.iter().enumerate() {
            if count + i > 0 {
                out.push(',');
            }
            out.push_str(&v.to_string());
        }
        self.list = Some((name, count + values.len()));
        out
    }

    /// Closes the last list and the object.
    fn finish(&mut self) -> String {
        let out = if self.list.is_some() { "]}\n" } else { "}\n" };
        self.list = None;
        out.to_string()
    }
}

fn user_json(u: &User, public_url: &str) -> Value {
    json!({
        "id": u.id.0,
        "external_id": u.external_id.0,
        "email": u.email,
        "email_verified": u.email_verified,
        "username": u.username,
        "first_name": u.first_name,
        "last_name": u.last_name,
        "company_name": u.company_name,
        "bio": u.bio,
        "picture_url": picture_url(u.avatar.as_deref(), public_url),
        "tz": u.tz,
        "plan": u.plan,
        "subscription_status": u.subscription_status,
        "is_staff": u.is_staff,
        "created_at": time(u.created_at),
        "updated_at": time(u.updated_at),
    })
}

fn file_json(f: &StoredFile, public_url: &str) -> Value {
    json!({
        "id": f.id.0,
        "name": f.name,
        "content_type": f.content_type,
        "size": f.size,
        "sha256": f.sha256,
        "status": f.status.as_str(),
        "created_at": time(f.created_at),
        "download_url": format!("{public_url}/api/files/{}/content/", f.id.0),
    })
}

fn card_json(c: &UserCard) -> Value {
    json!({"id": c.id.0, "username": c.username, "first_name": c.first_name, "last_name": c.last_name})
}
