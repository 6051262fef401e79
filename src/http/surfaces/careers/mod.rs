//! Document 003 under `/careers/users/`: username registration and login, profiles by
//! username, the user directory and the follow graph (in [`social`]), in Django REST
//! framework's shapes over the same users as every other surface.

mod error;
mod social;

use axum::{
    Router,
    extract::State,
    http::StatusCode,
    routing::{get, patch, post},
};
use serde::{Deserialize, Serialize};
use utoipa::{OpenApi, ToSchema};

pub use self::error::{ApiError, Dialect};
use crate::http::Json;
use crate::{
    domain::{
        Error, FieldErrors, Invalid,
        accounts::{AccountChange, LoginName, Registration},
        model::{Counts, Email, Password, ProfileUpdate, TokenPair, User, Username, types},
    },
    http::{
        AppState,
        auth::{Authed, ClientInfo},
        body::{Body, Input, PathParam},
        surfaces::microservice::picture_url,
    },
};

const TAG: &str = "careers";
const NAME_MAX: usize = 150;
const BIO_MAX: usize = 1000;
const COMPANY_MAX: usize = 255;
const AVATAR_MAX: usize = 500;

type Auth = Authed<ApiError>;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/careers/users/register/", post(register))
        .route("/careers/users/login/", post(login))
        .route("/careers/users/token/refresh/", post(refresh))
        .route("/careers/users/logout/", post(logout))
        .route("/careers/users/me/", get(me))
        .route("/careers/users/me/update/", patch(update).put(update))
        .route("/careers/users/me/stats/", get(stats))
        .route("/careers/users/{username}/", get(profile))
        .merge(social::router())
}

#[derive(OpenApi)]
#[openapi(
    paths(register, login, refresh, logout, me, update, stats, profile,
        social::directory, social::follow, social::unfollow, social::my_following, social::followers, social::following),
    components(schemas(
        CareersRegister, CareersLogin, CareersRefresh, CareersUpdate, RegisteredUser, LoginUser, CareersRegistered, CareersLoggedIn,
        CareersAccess, Profile, MyProfile, UpdatedProfile, Stats, CareersMessage, CareersDetail, CareersFieldErrors,
        social::DirectoryResponse, social::Card, social::BatchInfo, social::FollowRequest, social::FollowOut,
        social::FollowList, social::CardList
    )),
    tags((name = TAG, description = "Document 003: `/careers/users/`, username accounts, profiles, the user directory and the follow graph, in Django REST framework's shapes."))
)]
pub struct Doc;

/// `{"message": …}`.
#[derive(Serialize, ToSchema)]
pub struct CareersMessage {
    #[schema(example = "Successfully logged out")]
    message: String,
}

/// `{"detail": …}`, with `code: token_not_valid` when a token was refused.
#[derive(Serialize, ToSchema)]
#[allow(dead_code, reason = "documentation only: errors are rendered by the dialect")]
pub struct CareersDetail {
    #[schema(example = "Not found.")]
    detail: String,
    #[schema(example = "token_not_valid")]
    code: Option<String>,
}

/// Every refused field with its messages; only refused fields appear.
#[derive(Serialize, ToSchema)]
#[allow(dead_code, reason = "documentation only: errors are rendered by the dialect")]
pub struct CareersFieldErrors {
    username: Option<Vec<String>>,
    email: Option<Vec<String>>,
    password: Option<Vec<String>>,
    password_confirm: Option<Vec<String>>,
    first_name: Option<Vec<String>>,
    last_name: Option<Vec<String>>,
    bio: Option<Vec<String>>,
    avatar: Option<Vec<String>>,
    company_name: Option<Vec<String>>,
    refresh: Option<Vec<String>>,
    following: Option<Vec<String>>,
    batch_size: Option<Vec<String>>,
    batch_number: Option<Vec<String>>,
}

fn time(t: jiff::Timestamp) -> String {
    t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

#[derive(Serialize, ToSchema)]
pub struct RegisteredUser {
    id: i64,
    #[schema(max_length = 150)]
    username: String,
    #[schema(max_length = 254)]
    email: String,
    #[schema(max_length = 150)]
    first_name: String,
    #[schema(max_length = 150)]
    last_name: String,
    #[schema(max_length = 1000)]
    bio: String,
    #[schema(example = "2024-01-15T10:30:00Z")]
    created_at: String,
}

#[derive(Serialize, ToSchema)]
pub struct LoginUser {
    id: i64,
    #[schema(max_length = 150)]
    username: String,
    #[schema(max_length = 254)]
    email: String,
    #[schema(max_length = 150)]
    first_name: String,
    #[schema(max_length = 150)]
    last_name: String,
}

/// The new user and a token pair.
#[derive(Serialize, ToSchema)]
pub struct CareersRegistered {
    user: RegisteredUser,
    access: String,
    refresh: String,
}

/// The user and a new token pair.
#[derive(Serialize, ToSchema)]
pub struct CareersLoggedIn {
    user: LoginUser,
    access: String,
    refresh: String,
}

#[derive(Serialize, ToSchema)]
pub struct CareersAccess {
    access: String,
}

#[derive(Serialize, ToSchema)]
pub struct Profile {
    id: i64,
    username: String,
    first_name: String,
    last_name: String,
    bio: String,
    /// An avatar URL, or `null`.
    avatar: Option<String>,
    created_at: String,
    posts_count: i64,
    followers_count: i64,
    following_count: i64,
}

#[derive(Serialize, ToSchema)]
pub struct MyProfile {
    id: i64,
    username: String,
    email: String,
    first_name: String,
    last_name: String,
    bio: String,
    avatar: Option<String>,
    created_at: String,
    updated_at: String,
    posts_count: i64,
    followers_count: i64,
    following_count: i64,
}

#[derive(Serialize, ToSchema)]
pub struct UpdatedProfile {
    id: i64,
    username: String,
    email: String,
    first_name: String,
    last_name: String,
    bio: String,
    avatar: Option<String>,
    updated_at: String,
}

#[derive(Serialize, ToSchema)]
pub struct Stats {
    posts_count: i64,
    followers_count: i64,
    following_count: i64,
    likes_received: i64,
    comments_received: i64,
}

#[derive(Deserialize, ToSchema)]
pub struct CareersRegister {
    /// Letters, digits and `@.+-_` (after NFKC: full-width letters are their plain ones), at
    /// most 150 characters, unique case-insensitively.
    #[serde(default)]
    #[schema(required = true, value_type = String, example = "alice", max_length = 150)]
    username: Input,
    #[serde(default)]
    #[schema(required = true, value_type = String, example = "alice@example.com", max_length = 254)]
    email: Input,
    /// At least 8 characters, not a common password, not only digits or white space, not too
    /// like the username, names or e-mail; at most 1024 characters.
    #[serde(default)]
    #[schema(required = true, value_type = String, min_length = 8, max_length = 1024)]
    password: Input,
    #[serde(default)]
    #[schema(required = true, value_type = String, min_length = 8, max_length = 1024)]
    password_confirm: Input,
    #[serde(default)]
    #[schema(value_type = Option<String>, example = "Alice", max_length = 150)]
    first_name: Input,
    #[serde(default)]
    #[schema(value_type = Option<String>, example = "Smith", max_length = 150)]
    last_name: Input,
    #[serde(default)]
    #[schema(value_type = Option<String>, example = "Software developer passionate about APIs", max_length = 1000)]
    bio: Input,
}

impl TryFrom<CareersRegister> for Registration {
    type Error = FieldErrors;

    fn try_from(r: CareersRegister) -> Result<Self, FieldErrors> {
        let mut errors = FieldErrors::new();
        let username = r.username.required_as("username", &mut errors, Username::parse);
        let email = r.email.required_as("email", &mut errors, Email::parse);
        let password = r.password.optional("password", &mut errors);
        let confirm = r.password_confirm.optional("password_confirm", &mut errors);
        let password = types::new_password_with_confirmation(
            &mut errors,
            "password",
            password.as_deref(),
            "password_confirm",
            confirm.as_deref(),
        );
        let first_name = r.first_name.text("first_name", NAME_MAX, &mut errors);
        let last_name = r.last_name.text("last_name", NAME_MAX, &mut errors);
        let bio = r.bio.text("bio", BIO_MAX, &mut errors);
        let ((username, email), password) = errors.into_result(username.zip(email).zip(password))?;
        Ok(Registration {
            username: Some(username),
            first_name: first_name.unwrap_or_default(),
            last_name: last_name.unwrap_or_default(),
            bio: bio.unwrap_or_default(),
            ..Registration::new(email, password)
        })
    }
}

#[derive(Deserialize, ToSchema)]
pub struct CareersLogin {
    #[serde(default)]
    #[schema(required = true, value_type = String, example = "alice", min_length = 1)]
    username: Input,
    #[serde(default)]
    #[schema(required = true, value_type = String, min_length = 1, max_length = 1024)]
    password: Input,
}

#[derive(Deserialize, ToSchema)]
pub struct CareersRefresh {
    #[serde(default)]
    #[schema(required = true, value_type = String, min_length = 1)]
    refresh: Input,
}

impl CareersRefresh {
    fn token(&self) -> Result<String, FieldErrors> {
        let mut errors = FieldErrors::new();
        let token = self.refresh.required("refresh", &mut errors);
        errors.into_result(token.map(|t| t.trim().to_string()))
    }
}

/// Any subset of the fields; `avatar` is an `http(s)` URL, `null` or `""` to clear it.
#[derive(Deserialize, ToSchema)]
pub struct CareersUpdate {
    #[serde(default)]
    #[schema(value_type = Option<String>, max_length = 150)]
    first_name: Input,
    #[serde(default)]
    #[schema(value_type = Option<String>, max_length = 150)]
    last_name: Input,
    #[serde(default)]
    #[schema(value_type = Option<String>, max_length = 1000)]
    bio: Input,
    #[serde(default)]
    #[schema(value_type = Option<String>, example = "https://example.com/new-avatar.jpg", max_length = 500)]
    avatar: Input,
    /// A new e-mail must be free; it becomes unverified.
    #[serde(default)]
    #[schema(value_type = Option<String>, max_length = 254)]
    email: Input,
    /// Document 002's company, which only its registration sets; the web app edits it here.
    #[serde(default)]
    #[schema(value_type = Option<String>, max_length = 255)]
    company_name: Input,
}

impl TryFrom<CareersUpdate> for ProfileUpdate {
    type Error = FieldErrors;

    fn try_from(r: CareersUpdate) -> Result<Self, FieldErrors> {
        let mut errors = FieldErrors::new();
        let email = r.email.optional("email", &mut errors).and_then(|raw| errors.check("email", Email::parse(&raw)));
        let first_name = r.first_name.text("first_name", NAME_MAX, &mut errors);
        let last_name = r.last_name.text("last_name", NAME_MAX, &mut errors);
        let bio = r.bio.text("bio", BIO_MAX, &mut errors);
        let company_name = r.company_name.text("company_name", COMPANY_MAX, &mut errors);
        let avatar = match r.avatar.nullable("avatar", &mut errors) {
            None => None,
            Some(None) => Some(None),
            Some(Some(url)) if url.trim().is_empty() => Some(None),
            Some(Some(url)) => errors.check("avatar", avatar_url(&url)).map(Some),
        };
        errors.into_result(Some(ProfileUpdate {
            email,
            first_name,
            last_name,
            bio,
            avatar,
            company_name,
            ..ProfileUpdate::default()
        }))
    }
}

/// An avatar given as a link: `http(s)://…`, at most 500 characters, no spaces or controls.
fn avatar_url(raw: &str) -> Result<String, Invalid> {
    let url = raw.trim();
    if url.chars().count() > AVATAR_MAX {
        return Err(Invalid::TooLong { max: AVATAR_MAX });
    }
    let scheme_ok = url.starts_with("https://") || url.starts_with("http://");
    if !scheme_ok || url.len() < 10 || url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(Invalid::Url);
    }
    Ok(url.to_string())
}

fn avatar(user: &User, state: &AppState) -> Option<String> {
    picture_url(user.avatar.as_deref(), &state.public_url)
}

fn registered(user: &User) -> RegisteredUser {
    RegisteredUser {
        id: user.id.0,
        username: user.username.clone(),
        email: user.email.clone(),
        first_name: user.first_name.clone(),
        last_name: user.last_name.clone(),
        bio: user.bio.clone(),
        created_at: time(user.created_at),
    }
}

fn my_profile(user: &User, counts: Counts, state: &AppState) -> MyProfile {
    MyProfile {
        id: user.id.0,
        username: user.username.clone(),
        email: user.email.clone(),
        first_name: user.first_name.clone(),
        last_name: user.last_name.clone(),
        bio: user.bio.clone(),
        avatar: avatar(user, state),
        created_at: time(user.created_at),
        updated_at: time(user.updated_at),
        posts_count: counts.posts,
        followers_count: counts.followers,
        following_count: counts.following,
    }
}

/// Registers a user with a username and signs them in.
///
/// Public. Answers the user and a token pair; the same user signs in through every other
/// surface (by e-mail or username).
#[utoipa::path(post, path = "/careers/users/register/", tag = TAG, operation_id = "careers_register",
    request_body = CareersRegister,
    responses(
        (status = 201, body = CareersRegistered, description = "The new user and a token pair"),
        (status = 400, body = CareersFieldErrors, description = "Every refused field with its messages, a taken username or e-mail included"),
        (status = 413, body = CareersDetail, description = "Body over 64 KiB"),
        (status = 415, body = CareersDetail, description = "Body is not JSON, a URL-encoded form or multipart"),
        (status = 429, body = CareersDetail, description = "Too many registrations from this address"),
    ))]
async fn register(
    State(state): State<AppState>,
    ClientInfo(client): ClientInfo,
    Body(req, ..): Body<CareersRegister, ApiError>,
) -> Result<(StatusCode, Json<CareersRegistered>), ApiError> {
    let (user, TokenPair { access, refresh }) = state.domain.accounts.register(&client, req.try_into()?).await?;
    Ok((StatusCode::CREATED, Json(CareersRegistered { user: registered(&user), access, refresh })))
}

/// Signs in with username and password.
#[utoipa::path(post, path = "/careers/users/login/", tag = TAG, operation_id = "careers_login",
    request_body = CareersLogin,
    responses(
        (status = 200, body = CareersLoggedIn, description = "The user and a new token pair"),
        (status = 400, body = CareersFieldErrors, description = "A field is missing or blank"),
        (status = 401, body = CareersDetail, description = "`No active account found with the given credentials` (also unknown and inactive accounts)"),
        (status = 413, body = CareersDetail, description = "Body over 64 KiB"),
        (status = 415, body = CareersDetail, description = "Body is not JSON, a URL-encoded form or multipart"),
        (status = 429, body = CareersDetail, description = "Too many attempts; `Retry-After` says when to try again"),
    ))]
async fn login(
    State(state): State<AppState>,
    ClientInfo(client): ClientInfo,
    Body(req, ..): Body<CareersLogin, ApiError>,
) -> Result<Json<CareersLoggedIn>, ApiError> {
    let mut errors = FieldErrors::new();
    let username = req.username.required("username", &mut errors);
    let password = req.password.required_as("password", &mut errors, Password::for_login);
    let (username, password) = errors.into_result(username.zip(password))?;
    let (user, TokenPair { access, refresh }) =
        state.domain.accounts.login(&client, &LoginName::Username(username), &password).await?;
    let user = LoginUser {
        id: user.id.0,
        username: user.username,
        email: user.email,
        first_name: user.first_name,
        last_name: user.last_name,
    };
    Ok(Json(CareersLoggedIn { user, access, refresh }))
}

/// A new access token for a refresh token.
#[utoipa::path(post, path = "/careers/users/token/refresh/", tag = TAG, operation_id = "careers_token_refresh",
    request_body = CareersRefresh,
    responses(
        (status = 200, body = CareersAccess, description = "A new access token"),
        (status = 400, body = CareersFieldErrors, description = "`{\"refresh\": [\"This field is required.\"]}`"),
        (status = 401, body = CareersDetail, description = "`Token is invalid or expired` (also logged out), `code`: `token_not_valid`"),
        (status = 413, body = CareersDetail, description = "Body over 64 KiB"),
        (status = 415, body = CareersDetail, description = "Body is not JSON, a URL-encoded form or multipart"),
    ))]
async fn refresh(
    State(state): State<AppState>,
    Body(req, ..): Body<CareersRefresh, ApiError>,
) -> Result<Json<CareersAccess>, ApiError> {
    let access = state.domain.sessions.refresh(&req.token()?).await?;
    Ok(Json(CareersAccess { access }))
}

/// Blacklists the refresh token; the access tokens of that login stop working too.
#[utoipa::path(post, path = "/careers/users/logout/", tag = TAG, operation_id = "careers_logout",
    request_body = CareersRefresh,
    security(("bearer" = []), ("session" = [])),
    responses(
        (status = 200, body = CareersMessage, description = "`Successfully logged out`"),
        (status = 400, body = CareersFieldErrors, description = "`refresh` missing, or `{\"detail\": \"Token is invalid or expired\"}`"),
        (status = 401, body = CareersDetail, description = "Missing or invalid credentials"),
        (status = 403, body = CareersDetail, description = "Session cookie without a matching `X-CSRFToken`"),
        (status = 413, body = CareersDetail, description = "Body over 64 KiB"),
        (status = 415, body = CareersDetail, description = "Body is not JSON, a URL-encoded form or multipart"),
    ))]
async fn logout(
    State(state): State<AppState>,
    ClientInfo(client): ClientInfo,
    Authed(principal, ..): Auth,
    Body(req, ..): Body<CareersRefresh, ApiError>,
) -> Result<Json<CareersMessage>, ApiError> {
    let refresh = req.token()?;
    state.domain.sessions.logout(&principal, &refresh, &client).await.map_err(|e| match e {
        Error::InvalidToken => ApiError::new(StatusCode::BAD_REQUEST, "Token is invalid or expired"),
        other => other.into(),
    })?;
    Ok(Json(CareersMessage { message: "Successfully logged out".into() }))
}

/// The caller's own profile, e-mail included.
#[utoipa::path(get, path = "/careers/users/me/", tag = TAG, operation_id = "careers_me",
    security(("bearer" = []), ("session" = [])),
    responses(
        (status = 200, body = MyProfile, description = "The caller's profile with counts"),
        (status = 401, body = CareersDetail, description = "Missing or invalid credentials"),
    ))]
async fn me(State(state): State<AppState>, Authed(p, ..): Auth) -> Result<Json<MyProfile>, ApiError> {
    let counts = state.domain.social.counts(p.user_id()).await?;
    Ok(Json(my_profile(p.user(), counts, &state)))
}

/// Updates any subset of the caller's names, bio, avatar URL and e-mail.
#[utoipa::path(patch, path = "/careers/users/me/update/", tag = TAG, operation_id = "careers_me_update",
    request_body = CareersUpdate,
    security(("bearer" = []), ("session" = [])),
    responses(
        (status = 200, body = UpdatedProfile, description = "The updated profile; `updated_at` moves"),
        (status = 400, body = CareersFieldErrors, description = "Every refused field; `user with this email already exists.`"),
        (status = 401, body = CareersDetail, description = "Missing or invalid credentials"),
        (status = 403, body = CareersDetail, description = "Session cookie without a matching `X-CSRFToken`"),
        (status = 413, body = CareersDetail, description = "Body over 64 KiB"),
        (status = 415, body = CareersDetail, description = "Body is not JSON, a URL-encoded form or multipart"),
    ))]
async fn update(
    State(state): State<AppState>,
    ClientInfo(client): ClientInfo,
    Authed(p, ..): Auth,
    Body(req, ..): Body<CareersUpdate, ApiError>,
) -> Result<Json<UpdatedProfile>, ApiError> {
    let profile = ProfileUpdate::try_from(req)?;
    let change = AccountChange { profile, ..AccountChange::default() };
    let user = state.domain.accounts.update_account(&p, change, &client).await?;
    Ok(Json(UpdatedProfile {
        id: user.id.0,
        avatar: avatar(&user, &state),
        updated_at: time(user.updated_at),
        username: user.username,
        email: user.email,
        first_name: user.first_name,
        last_name: user.last_name,
        bio: user.bio,
    }))
}

/// The caller's counts.
#[utoipa::path(get, path = "/careers/users/me/stats/", tag = TAG, operation_id = "careers_me_stats",
    security(("bearer" = []), ("session" = [])),
    responses(
        (status = 200, body = Stats, description = "Follows among active users, and the counters a posts service keeps"),
        (status = 401, body = CareersDetail, description = "Missing or invalid credentials"),
    ))]
async fn stats(State(state): State<AppState>, Authed(p, ..): Auth) -> Result<Json<Stats>, ApiError> {
    let c = state.domain.social.counts(p.user_id()).await?;
    Ok(Json(Stats {
        posts_count: c.posts,
        followers_count: c.followers,
        following_count: c.following,
        likes_received: c.likes_received,
        comments_received: c.comments_received,
    }))
}

/// An active user's public profile.
#[utoipa::path(get, path = "/careers/users/{username}/", tag = TAG, operation_id = "careers_profile",
    params(("username" = String, Path, description = "Case-insensitive")),
    responses(
        (status = 200, body = Profile, description = "The profile with counts"),
        (status = 404, body = CareersDetail, description = "`Not found.` (also inactive users)"),
    ))]
async fn profile(
    State(state): State<AppState>,
    PathParam(username, ..): PathParam<ApiError>,
) -> Result<Json<Profile>, ApiError> {
    let (user, counts) = state.domain.social.profile(&username).await?;
    Ok(Json(Profile {
        id: user.id.0,
        avatar: avatar(&user, &state),
        created_at: time(user.created_at),
        username: user.username,
        first_name: user.first_name,
        last_name: user.last_name,
        bio: user.bio,
        posts_count: counts.posts,
        followers_count: counts.followers,
        following_count: counts.following,
    }))
}
