//! Document 004: the `/api/user/` microservice dialect. Login by e-mail, registration and
//! update with a profile picture (multipart image data, or base64 in JSON), the current
//! user, token refresh and the pictures themselves, in Django REST framework's and
//! simplejwt's shapes. `full_name` is the first and last name of the one user record.

mod error;
mod picture;

use axum::{
    Router,
    extract::{FromRequest, Request, State},
    http::StatusCode,
    routing::{get, post, put},
};
use serde::{Deserialize, Serialize};
use utoipa::{OpenApi, ToSchema};

pub use self::error::{ApiError, Dialect};
use self::picture::{PictureInput, media};
use crate::http::Json;
use crate::{
    domain::{
        Error, FieldErrors,
        accounts::{AccountChange, LoginName, Registration},
        model::{Email, Password, PictureName, ProfileUpdate, TokenPair, User},
    },
    http::{
        AppState,
        auth::{Authed, ClientInfo},
        body::{Body, Input, WithFiles},
        layers::body_limit,
    },
};

const TAG: &str = "microservice";
/// A name part's limit, as the other surfaces store it.
const NAME_MAX: usize = 150;

type Auth = Authed<ApiError>;

pub fn router(max_picture_bytes: u64) -> Router<AppState> {
    // Room for a picture sent as base64 in JSON (4 characters per 3 bytes) and the fields.
    let limit = usize::try_from(max_picture_bytes.saturating_mul(4) / 3 + 1024 * 1024).unwrap_or(usize::MAX);
    Router::new()
        .route("/api/user/login/", post(login))
        .route("/api/user/register/", post(register).layer(body_limit::<Dialect>(limit)))
        .route("/api/user/me/", get(me))
        .route("/api/user/update/", put(update).patch(update).layer(body_limit::<Dialect>(limit)))
        .route("/api/user/refresh/", post(refresh))
        .route("/api/user/media/{name}", get(media))
}

#[derive(OpenApi)]
#[openapi(
    paths(login, register, me, update, refresh, picture::media),
    components(schemas(
        MicroserviceLogin, MicroserviceRegister, MicroserviceRegisterForm, MicroserviceUpdate, MicroserviceUpdateForm, MicroserviceRefresh, MicroserviceUser, MicroserviceTokens,
        MicroserviceLoginResponse, MicroserviceAccess, DetailResponse, TokenError, FieldErrorsResponse, picture::PictureBytes
    )),
    tags((name = TAG, description = "Document 004: the `/api/user/` microservice, with `Authorization: JWT <access>`, multipart registration and update with a profile picture, and Django REST framework's error shapes."))
)]
pub struct Doc;

/// `{"detail": …}`: a wrong method, a body that cannot be read, a throttled request.
#[derive(Serialize, ToSchema)]
pub struct DetailResponse {
    #[schema(example = "Method \"GET\" not allowed.")]
    detail: String,
}

/// A missing, invalid or expired token.
#[derive(Serialize, ToSchema)]
pub struct TokenError {
    #[schema(example = "Given token not valid for any token type")]
    detail: String,
    #[schema(example = "token_not_valid")]
    code: String,
}

/// Every refused field and its messages (only the refused fields appear); wrong
/// credentials are `non_field_errors`.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({"email": ["Enter a valid email address."], "password": ["This field is required."]}))]
#[allow(dead_code, reason = "documentation only: the errors are rendered by the surface's dialect")]
pub struct FieldErrorsResponse {
    email: Option<Vec<String>>,
    full_name: Option<Vec<String>>,
    password: Option<Vec<String>>,
    profile_pic: Option<Vec<String>>,
    refresh: Option<Vec<String>>,
    non_field_errors: Option<Vec<String>>,
}

/// The user as this document shows it.
#[derive(Serialize, ToSchema)]
pub struct MicroserviceUser {
    /// The user's public id (the same on every surface that shows one as text).
    #[schema(example = "kq3Xb8n2T6mJ0wZp5RyH4g")]
    id: String,
    /// First and last name joined by a space.
    #[schema(example = "Ada Lovelace", max_length = 301)]
    full_name: String,
    #[schema(example = "ada@example.com", max_length = 254)]
    email: String,
    /// Absolute URL of the profile picture, or `null` without one.
    #[schema(example = "http://127.0.0.1:8000/api/user/media/3q2-7wK1x0yZ9bVfA4mN8g.png")]
    profile_pic: Option<String>,
}

impl MicroserviceUser {
    fn new(user: &User, public_url: &str) -> Self {
        MicroserviceUser {
            id: user.external_id.0.clone(),
            full_name: user.full_name(),
            email: user.email.clone(),
            profile_pic: picture_url(user.avatar.as_deref(), public_url),
        }
    }
}

/// A stored picture's URL under `/api/user/media/`; an avatar URL set through document
/// 003 is shown as it is.
pub fn picture_url(avatar: Option<&str>, public_url: &str) -> Option<String> {
    let avatar = avatar?;
    if let Some(name) = PictureName::parse(avatar) {
        return Some(format!("{public_url}/api/user/media/{name}"));
    }
    (avatar.starts_with("https://") || avatar.starts_with("http://")).then(|| avatar.to_string())
}

#[derive(Serialize, ToSchema)]
pub struct MicroserviceTokens {
    refresh: String,
    access: String,
}

#[derive(Serialize, ToSchema)]
pub struct MicroserviceLoginResponse {
    tokens: MicroserviceTokens,
    data: MicroserviceUser,
}

#[derive(Serialize, ToSchema)]
pub struct MicroserviceAccess {
    access: String,
}

#[derive(Deserialize, ToSchema)]
pub struct MicroserviceLogin {
    #[serde(default)]
    #[schema(required = true, value_type = String, example = "ada@example.com", min_length = 1)]
    email: Input,
    #[serde(default)]
    #[schema(required = true, value_type = String, example = "securepassword123", min_length = 1, max_length = 1024)]
    password: Input,
}

/// Registration as JSON; `profile_pic` is base64 image data (a `data:` URL is fine) or `null`.
#[derive(Deserialize, ToSchema)]
pub struct MicroserviceRegister {
    #[serde(default)]
    #[schema(required = true, value_type = String, example = "ada@example.com", max_length = 254)]
    email: Input,
    /// First and last name: written, it is split on the first space, and each part may
    /// have at most 150 characters.
    #[serde(default)]
    #[schema(value_type = Option<String>, example = "Ada Lovelace", max_length = 301)]
    full_name: Input,
    /// At least 8 characters, not a common password, not only digits or white space, not too
    /// like the e-mail or the name; at most 1024 characters.
    #[serde(default)]
    #[schema(required = true, value_type = String, example = "securepassword123", min_length = 8, max_length = 1024)]
    password: Input,
    /// A PNG, JPEG, WebP or GIF picture as base64 (a `data:` URL is fine), or `null`; at
    /// most 5 MiB and 8192 pixels a side once decoded.
    #[serde(default)]
    #[schema(value_type = Option<String>, content_encoding = "base64")]
    profile_pic: Input,
}

/// Registration as `multipart/form-data`, the picture as a file part.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct MicroserviceRegisterForm {
    #[schema(example = "ada@example.com", max_length = 254)]
    email: String,
    #[schema(example = "Ada Lovelace", max_length = 301)]
    full_name: Option<String>,
    #[schema(min_length = 8, max_length = 1024)]
    password: String,
    /// PNG, JPEG, WebP or GIF; at most 5 MiB and 8192 pixels a side.
    #[schema(value_type = Option<String>, format = Binary, content_media_type = "application/octet-stream")]
    profile_pic: Option<Vec<u8>>,
}

/// An update as JSON: absent fields stay as they are; `profile_pic: null` deletes the picture.
#[derive(Deserialize, ToSchema)]
pub struct MicroserviceUpdate {
    #[serde(default)]
    #[schema(value_type = Option<String>, example = "ada@example.com", max_length = 254)]
    email: Input,
    #[serde(default)]
    #[schema(value_type = Option<String>, example = "Ada Lovelace", max_length = 301)]
    full_name: Input,
    /// A new password (same rules as registration); every other session of the user ends.
    #[serde(default)]
    #[schema(value_type = Option<String>, min_length = 8, max_length = 1024)]
    password: Input,
    /// A new picture as base64, or `null` to delete it; at most 5 MiB and 8192 pixels a
    /// side once decoded.
    #[serde(default)]
    #[schema(value_type = Option<String>, content_encoding = "base64")]
    profile_pic: Input,
}

/// An update as `multipart/form-data`: the picture as a file part; an empty `profile_pic`
/// text part deletes it.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct MicroserviceUpdateForm {
    #[schema(max_length = 254)]
    email: Option<String>,
    #[schema(max_length = 301)]
    full_name: Option<String>,
    #[schema(min_length = 8, max_length = 1024)]
    password: Option<String>,
    #[schema(value_type = Option<String>, format = Binary, content_media_type = "application/octet-stream")]
    profile_pic: Option<Vec<u8>>,
}

#[derive(Deserialize, ToSchema)]
pub struct MicroserviceRefresh {
    #[serde(default)]
    #[schema(required = true, value_type = String, min_length = 1)]
    refresh: Input,
}

/// `full_name` split on its first space into first and last name, each at most 150
/// characters (reported on `full_name`).
fn split_full_name(input: &Input, errors: &mut FieldErrors) -> Option<(String, String)> {
    let raw = input.optional("full_name", errors)?;
    let trimmed = raw.trim();
    let (first, last) = trimmed.split_once(' ').unwrap_or((trimmed, ""));
    let first = errors.check("full_name", crate::domain::model::types::text(first, NAME_MAX))?;
    let last = errors.check("full_name", crate::domain::model::types::text(last.trim(), NAME_MAX))?;
    Some((first, last))
}

/// A new password with every rule's problem reported.
fn new_password(raw: &str, errors: &mut FieldErrors) -> Option<Password> {
    match Password::new_password(raw) {
        Ok(p) => Some(p),
        Err(whys) => {
            for why in whys {
                errors.add("password", why);
            }
            None
        }
    }
}

/// The body of register and update: fields, and the picture as a file part when multipart.
pub struct PictureBody<T>(WithFiles<T>);

impl<T: serde::de::DeserializeOwned> FromRequest<AppState> for PictureBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let max = state.domain.pictures.limits().max_bytes;
        Ok(PictureBody(WithFiles::read(req, state, max).await?))
    }
}

/// Signs in with e-mail and password.
///
/// Public. Answers a new token pair and the user.
#[utoipa::path(post, path = "/api/user/login/", tag = TAG, operation_id = "microservice_login",
    request_body = MicroserviceLogin,
    responses(
        (status = 200, body = MicroserviceLoginResponse, description = "A new token pair and the user"),
        (status = 400, body = FieldErrorsResponse, description = "A field is missing or blank, or `non_field_errors`: `Unable to log in with provided credentials.` (also for unknown and inactive accounts)"),
        (status = 413, body = DetailResponse, description = "Body over 64 KiB"),
        (status = 415, body = DetailResponse, description = "Body is not JSON, a URL-encoded form or multipart"),
        (status = 429, body = DetailResponse, description = "Too many attempts; `Retry-After` says when to try again"),
    ))]
async fn login(
    State(state): State<AppState>,
    ClientInfo(client): ClientInfo,
    Body(req, ..): Body<MicroserviceLogin, ApiError>,
) -> Result<Json<MicroserviceLoginResponse>, ApiError> {
    let mut errors = FieldErrors::new();
    let email = req.email.required("email", &mut errors);
    let password = req.password.required_as("password", &mut errors, Password::for_login);
    let (email, password) = errors.into_result(email.zip(password))?;
    let (user, pair) =
        state.domain.accounts.login(&client, &LoginName::Email(email), &password).await.map_err(|e| match e {
            Error::InvalidCredentials => error::invalid_credentials(),
            other => other.into(),
        })?;
    let TokenPair { refresh, access } = pair;
    Ok(Json(MicroserviceLoginResponse {
        tokens: MicroserviceTokens { refresh, access },
        data: MicroserviceUser::new(&user, &state.public_url),
    }))
}

/// Registers a user, with a profile picture if one is sent.
///
/// Public. Answers the user; sign in through `login/` for tokens.
#[utoipa::path(post, path = "/api/user/register/", tag = TAG, operation_id = "microservice_register",
    request_body(content((MicroserviceRegister = "application/json"), (MicroserviceRegisterForm = "multipart/form-data"))),
    responses(
        (status = 201, body = MicroserviceUser, description = "The new user"),
        (status = 400, body = FieldErrorsResponse, description = "Every refused field with its messages, `profile_pic` included; `user with this email already exists.`"),
        (status = 413, body = DetailResponse, description = "Body over the picture limit"),
        (status = 415, body = DetailResponse, description = "Body is not JSON, a URL-encoded form or multipart"),
        (status = 429, body = DetailResponse, description = "Too many registrations from this address"),
    ))]
async fn register(
    State(state): State<AppState>,
    ClientInfo(client): ClientInfo,
    PictureBody(body): PictureBody<MicroserviceRegister>,
) -> Result<(StatusCode, Json<MicroserviceUser>), ApiError> {
    let req = &body.fields;
    let mut errors = FieldErrors::new();
    let email = req.email.required_as("email", &mut errors, Email::parse);
    let names = split_full_name(&req.full_name, &mut errors);
    let password = req.password.new_password("password", &mut errors).and_then(|raw| new_password(&raw, &mut errors));
    let picture = PictureInput::read(&req.profile_pic, &body.files, &state, &mut errors).await;
    let (email, password) = errors.into_result(email.zip(password))?;
    let (first_name, last_name) = names.unwrap_or_default();
    let registration =
        Registration { first_name, last_name, picture: picture.into_upload(), ..Registration::new(email, password) };
    let user = state.domain.accounts.create_account(&client, registration).await?;
    Ok((StatusCode::CREATED, Json(MicroserviceUser::new(&user, &state.public_url))))
}

/// The user the access token belongs to.
#[utoipa::path(get, path = "/api/user/me/", tag = TAG, operation_id = "microservice_me",
    security(("bearer" = []), ("session" = [])),
    responses(
        (status = 200, body = MicroserviceUser, description = "The authenticated user"),
        (status = 401, body = TokenError, description = "Missing, invalid or expired token (`code`: `token_not_valid`)"),
    ))]
async fn me(State(state): State<AppState>, Authed(principal, ..): Auth) -> Json<MicroserviceUser> {
    Json(MicroserviceUser::new(principal.user(), &state.public_url))
}

/// Updates the user: fields sent are replaced, fields left out stay.
///
/// `profile_pic: null` (or an empty `profile_pic` part) deletes the picture. A new
/// `password` ends every other session and refresh token of the user on every node; the
/// token making the change keeps working.
#[utoipa::path(put, path = "/api/user/update/", tag = TAG, operation_id = "microservice_update",
    request_body(content((MicroserviceUpdate = "application/json"), (MicroserviceUpdateForm = "multipart/form-data"))),
    security(("bearer" = []), ("session" = [])),
    responses(
        (status = 200, body = MicroserviceUser, description = "The updated user"),
        (status = 400, body = FieldErrorsResponse, description = "Every refused field with its messages; `user with this email already exists.`"),
        (status = 401, body = TokenError, description = "Missing, invalid or expired token (`code`: `token_not_valid`)"),
        (status = 403, body = DetailResponse, description = "Session cookie without a matching `X-CSRFToken`"),
        (status = 413, body = DetailResponse, description = "Body over the picture limit"),
        (status = 415, body = DetailResponse, description = "Body is not JSON, a URL-encoded form or multipart"),
    ))]
async fn update(
    State(state): State<AppState>,
    ClientInfo(client): ClientInfo,
    Authed(principal, ..): Auth,
    PictureBody(body): PictureBody<MicroserviceUpdate>,
) -> Result<Json<MicroserviceUser>, ApiError> {
    let req = &body.fields;
    let mut errors = FieldErrors::new();
    let email = req.email.optional("email", &mut errors).and_then(|raw| errors.check("email", Email::parse(&raw)));
    let names = split_full_name(&req.full_name, &mut errors);
    let password = req.password.optional("password", &mut errors).and_then(|raw| new_password(&raw, &mut errors));
    let picture = PictureInput::read(&req.profile_pic, &body.files, &state, &mut errors).await;
    errors.into_result(Some(()))?;
    let (first_name, last_name) = names.map_or((None, None), |(f, l)| (Some(f), Some(l)));
    let change = AccountChange {
        profile: ProfileUpdate { email, first_name, last_name, ..ProfileUpdate::default() },
        password,
        picture: picture.into_change(),
    };
    let user = state.domain.accounts.update_account(&principal, change, &client).await?;
    Ok(Json(MicroserviceUser::new(&user, &state.public_url)))
}

/// A new access token for a refresh token.
#[utoipa::path(post, path = "/api/user/refresh/", tag = TAG, operation_id = "microservice_refresh",
    request_body = MicroserviceRefresh,
    responses(
        (status = 200, body = MicroserviceAccess, description = "A new access token"),
        (status = 400, body = FieldErrorsResponse, description = "`{\"refresh\": [\"This field is required.\"]}`"),
        (status = 401, body = TokenError, description = "`Token is invalid or expired` (also blacklisted or logged out), `code`: `token_not_valid`"),
        (status = 405, body = DetailResponse, description = "A method other than POST: `Method \"GET\" not allowed.`"),
        (status = 413, body = DetailResponse, description = "Body over 64 KiB"),
        (status = 415, body = DetailResponse, description = "Body is not JSON, a URL-encoded form or multipart"),
    ))]
async fn refresh(
    State(state): State<AppState>,
    Body(req, ..): Body<MicroserviceRefresh, ApiError>,
) -> Result<Json<MicroserviceAccess>, ApiError> {
    let mut errors = FieldErrors::new();
    let token = req.refresh.required("refresh", &mut errors);
    let token = errors.into_result(token)?;
    let access = state.domain.sessions.refresh(token.trim()).await?;
    Ok(Json(MicroserviceAccess { access }))
}
