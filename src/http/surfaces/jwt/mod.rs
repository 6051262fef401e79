//! Document 002: JWT register / login / logout / refresh, profile and health check under
//! `/api/users/`, in the `{status, message, data}` envelope; Google and GitHub login and
//! the linked providers are in [`social`].

mod error;
mod lifecycle;
mod social;

use axum::{
    Router,
    extract::State,
    http::{HeaderName, HeaderValue, StatusCode, header},
    routing::{get, post},
};
use serde::{Deserialize, Serialize};
use utoipa::{OpenApi, ToSchema};

pub use self::{
    error::{ApiError, Dialect},
    lifecycle::{EventsResponse, delete_me, events_response, time},
};
use crate::http::Json;
use crate::{
    domain::{
        FieldErrors,
        accounts::{LoginName, Registration},
        model::{Email, Password, TokenPair, User, types},
    },
    http::{
        AppState,
        auth::{Authed, ClientInfo},
        body::{Body, Input},
    },
};

type JsonBody<T> = Body<T, ApiError>;

pub(crate) const TAG: &str = "users";
type Auth = Authed<ApiError>;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/users/status/", get(status))
        .route("/api/users/register/", post(register))
        .route("/api/users/login/", post(login))
        .route("/api/users/logout/", post(logout))
        .route("/api/users/refresh-token/", post(refresh))
        .route("/api/users/profile/", get(profile))
        .merge(social::router())
        .merge(lifecycle::router())
}

#[derive(OpenApi)]
#[openapi(
    paths(status, register, login, logout, refresh, profile),
    components(schemas(
        StatusResponse, RegisterRequest, LoginRequest, RefreshRequest, UserOut, TokensOut, AuthData,
        AuthResponse, ProfileResponse, RefreshResponse, ErrorResponse
    )),
    tags((name = TAG, description = "Document 002: accounts signed in with JWT access and refresh tokens, answered in the `{status, message, data}` envelope."))
)]
pub struct Doc;

/// The OpenAPI of this surface, Google and GitHub login and linked providers included.
pub fn openapi() -> utoipa::openapi::OpenApi {
    let mut doc = Doc::openapi();
    doc.merge(social::Doc::openapi());
    doc.merge(lifecycle::Doc::openapi());
    doc
}

/// `{status, message}` without data.
#[derive(Serialize, ToSchema)]
pub struct StatusResponse {
    #[schema(example = "success")]
    status: &'static str,
    #[schema(example = "Service is running")]
    message: &'static str,
}

/// Error shape of document 002.
#[derive(Serialize, ToSchema)]
pub struct ErrorResponse {
    #[schema(example = "failed")]
    status: String,
    #[schema(example = "A user with this email already exists.")]
    message: String,
    /// Per-field messages, on validation errors only.
    #[schema(nullable = false)]
    errors: Option<std::collections::BTreeMap<String, Vec<String>>>,
}

#[derive(Deserialize, ToSchema)]
pub struct RegisterRequest {
    /// Unique, compared case-insensitively and in Unicode's NFKC form (the domain in its
    /// ASCII form); no invisible characters; at most 254 characters.
    #[serde(default)]
    #[schema(required = true, value_type = String, example = "user@example.com", min_length = 1, max_length = 254)]
    email: Input,
    /// At least 8 and at most 1024 characters, not a common password, not only digits or
    /// white space, not too like the e-mail or the names.
    #[serde(default)]
    #[schema(required = true, value_type = String, format = Password, example = "securepassword123", min_length = 8, max_length = 1024)]
    password: Input,
    /// The same password again; at most 1024 characters.
    #[serde(default)]
    #[schema(required = true, value_type = String, format = Password, example = "securepassword123", min_length = 8, max_length = 1024)]
    confirm_password: Input,
    /// At most 255 characters.
    #[serde(default)]
    #[schema(value_type = Option<String>, example = "My Company", max_length = 255)]
    company_name: Input,
    /// At most 150 characters.
    #[serde(default)]
    #[schema(value_type = Option<String>, example = "John", max_length = 150)]
    first_name: Input,
    /// At most 150 characters.
    #[serde(default)]
    #[schema(value_type = Option<String>, example = "Doe", max_length = 150)]
    last_name: Input,
}

impl TryFrom<RegisterRequest> for Registration {
    type Error = FieldErrors;

    fn try_from(r: RegisterRequest) -> Result<Self, FieldErrors> {
        let mut errors = FieldErrors::new();
        let email = r.email.required_as("email", &mut errors, Email::parse);
        let password = r.password.optional("password", &mut errors);
        let confirm = r.confirm_password.optional("confirm_password", &mut errors);
        let password = types::new_password_with_confirmation(
            &mut errors,
            "password",
            password.as_deref(),
            "confirm_password",
            confirm.as_deref(),
        );
        let first_name = r.first_name.text("first_name", 150, &mut errors);
        let last_name = r.last_name.text("last_name", 150, &mut errors);
        let company_name = r.company_name.text("company_name", 255, &mut errors);
        let (email, password) = errors.into_result(email.zip(password))?;
        Ok(Registration {
            first_name: first_name.unwrap_or_default(),
            last_name: last_name.unwrap_or_default(),
            company_name: company_name.unwrap_or_default(),
            ..Registration::new(email, password)
        })
    }
}

#[derive(Deserialize, ToSchema)]
pub struct LoginRequest {
    #[serde(default)]
    #[schema(required = true, value_type = String, example = "user@example.com", min_length = 1)]
    email: Input,
    /// At most 1024 characters.
    #[serde(default)]
    #[schema(required = true, value_type = String, format = Password, example = "securepassword123", min_length = 1, max_length = 1024)]
    password: Input,
}

/// A parsed login of this document: by e-mail.
struct Login(LoginName, Password);

impl TryFrom<LoginRequest> for Login {
    type Error = FieldErrors;

    fn try_from(r: LoginRequest) -> Result<Self, FieldErrors> {
        let mut errors = FieldErrors::new();
        let email = r.email.required("email", &mut errors);
        let password = r.password.required_as("password", &mut errors, Password::for_login);
        let (email, password) = errors.into_result(email.zip(password))?;
        Ok(Login(LoginName::Email(email), password))
    }
}

#[derive(Deserialize, ToSchema)]
pub struct RefreshRequest {
    /// The refresh token of a login (from `data.tokens.refresh`).
    #[serde(default)]
    #[schema(required = true, value_type = String, min_length = 1, example = "eyJhbGciOiJFZERTQSIsImtpZCI6Ii4uLiJ9...")]
    refresh: Input,
}

impl RefreshRequest {
    /// The token, or this document's 400 `Refresh token is required` (with the field's reason).
    fn token(&self) -> Result<String, ApiError> {
        let mut errors = FieldErrors::new();
        match self.refresh.required("refresh", &mut errors) {
            Some(t) => Ok(t.trim().to_string()),
            None => Err(ApiError::fields(&errors).with_message("Refresh token is required")),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct UserOut {
    #[schema(example = 1)]
    id: i64,
    #[schema(example = "user@example.com", max_length = 254)]
    email: String,
    #[schema(example = "John", max_length = 150)]
    first_name: String,
    #[schema(example = "Doe", max_length = 150)]
    last_name: String,
    #[schema(example = "My Company", max_length = 255)]
    company_name: String,
}

impl From<User> for UserOut {
    fn from(u: User) -> Self {
        UserOut {
            id: u.id.0,
            email: u.email,
            first_name: u.first_name,
            last_name: u.last_name,
            company_name: u.company_name,
        }
    }
}

/// A JWT pair: `access` authenticates requests, `refresh` obtains new access tokens.
#[derive(Serialize, ToSchema)]
pub struct TokensOut {
    refresh: String,
    access: String,
}

impl From<TokenPair> for TokensOut {
    fn from(p: TokenPair) -> Self {
        TokensOut { refresh: p.refresh, access: p.access }
    }
}

#[derive(Serialize, ToSchema)]
pub struct AuthData {
    user: UserOut,
    tokens: TokensOut,
}

#[derive(Serialize, ToSchema)]
pub struct AuthResponse {
    #[schema(example = "success")]
    status: &'static str,
    #[schema(example = "Login successful")]
    message: &'static str,
    data: AuthData,
}

#[derive(Serialize, ToSchema)]
pub struct ProfileResponse {
    #[schema(example = "success")]
    status: &'static str,
    #[schema(example = "Profile retrieved successfully")]
    message: &'static str,
    data: UserOut,
}

#[derive(Serialize, ToSchema)]
pub struct RefreshResponse {
    /// A new access token; the refresh token stays the same.
    access: String,
}

fn auth_response(message: &'static str, user: User, pair: TokenPair) -> AuthResponse {
    AuthResponse { status: "success", message, data: AuthData { user: user.into(), tokens: pair.into() } }
}

/// Health check.
///
/// Public: says the service answers.
#[utoipa::path(get, path = "/api/users/status/", tag = TAG, operation_id = "users_status",
    responses((status = 200, body = StatusResponse, description = "The service is running",
        example = json!({"status": "success", "message": "Service is running"}))))]
async fn status() -> ([(HeaderName, HeaderValue); 1], &'static str) {
    // The same answer every time: its JSON is written once, here (a test holds it to
    // `StatusResponse`'s serialisation).
    ([(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))], STATUS_BODY)
}

/// What `GET /api/users/status/` answers.
const STATUS_BODY: &str = r#"{"status":"success","message":"Service is running"}"#;

/// Registers a user with e-mail and password and signs them in.
///
/// Public. Answers the new user and the first token pair of their login.
#[utoipa::path(post, path = "/api/users/register/", tag = TAG, operation_id = "users_register", request_body = RegisterRequest,
    responses(
        (status = 201, body = AuthResponse, description = "The user and a new token pair (`User registered successfully`)"),
        (status = 400, body = ErrorResponse, description = "Validation failed: `message` is the first problem, `errors` every field's messages; also `A user with this email already exists.`"),
        (status = 413, body = ErrorResponse, description = "Body over 64 KiB"),
        (status = 415, body = ErrorResponse, description = "Body is not JSON, a URL-encoded form or multipart"),
        (status = 429, body = ErrorResponse, description = "Too many registrations from this address; `Retry-After` says when to try again"),
    ))]
async fn register(
    State(state): State<AppState>,
    ClientInfo(client): ClientInfo,
    Body(req, ..): JsonBody<RegisterRequest>,
) -> Result<(StatusCode, Json<AuthResponse>), ApiError> {
    let (user, pair) = state.domain.accounts.register(&client, req.try_into()?).await?;
    Ok((StatusCode::CREATED, Json(auth_response("User registered successfully", user, pair))))
}

/// Signs in with e-mail and password.
///
/// Public. Each login is a session of its own with a new token pair.
#[utoipa::path(post, path = "/api/users/login/", tag = TAG, operation_id = "users_login", request_body = LoginRequest,
    responses(
        (status = 200, body = AuthResponse, description = "The user and a new token pair (`Login successful`)"),
        (status = 400, body = ErrorResponse, description = "Validation failed: a field is missing, blank or not text; `errors` says which"),
        (status = 401, body = ErrorResponse, description = "`Invalid email or password.` (also for unknown and inactive accounts)"),
        (status = 413, body = ErrorResponse, description = "Body over 64 KiB"),
        (status = 415, body = ErrorResponse, description = "Body is not JSON, a URL-encoded form or multipart"),
        (status = 429, body = ErrorResponse, description = "Too many attempts; `Retry-After` says when to try again"),
    ))]
async fn login(
    State(state): State<AppState>,
    ClientInfo(client): ClientInfo,
    Body(req, ..): JsonBody<LoginRequest>,
) -> Result<Json<AuthResponse>, ApiError> {
    let Login(name, password) = req.try_into()?;
    let (user, pair) = state.domain.accounts.login(&client, &name, &password).await?;
    Ok(Json(auth_response("Login successful", user, pair)))
}

/// Logs out: blacklists the refresh token.
///
/// The access tokens of that login stop working too, on every node.
#[utoipa::path(post, path = "/api/users/logout/", tag = TAG, operation_id = "users_logout", request_body = RefreshRequest,
    security(("bearer" = []), ("session" = [])),
    responses(
        (status = 200, body = StatusResponse, description = "The login is over (`User logged out successfully`)"),
        (status = 400, body = ErrorResponse, description = "`Refresh token is required`, or `Token is invalid or expired` (malformed, expired, already blacklisted or another user's)"),
        (status = 401, body = ErrorResponse, description = "Missing or invalid credentials"),
        (status = 403, body = ErrorResponse, description = "Session cookie without a matching `X-CSRFToken`"),
        (status = 413, body = ErrorResponse, description = "Body over 64 KiB"),
        (status = 415, body = ErrorResponse, description = "Body is not JSON, a URL-encoded form or multipart"),
    ))]
async fn logout(
    State(state): State<AppState>,
    ClientInfo(client): ClientInfo,
    Authed(principal, ..): Auth,
    Body(req, ..): JsonBody<RefreshRequest>,
) -> Result<Json<StatusResponse>, ApiError> {
    // Document 002 answers a missing token with the sentence alone, without field errors.
    let refresh = req.token().map_err(|_| ApiError::new(StatusCode::BAD_REQUEST, "Refresh token is required"))?;
    state.domain.sessions.logout(&principal, &refresh, &client).await.map_err(|e| match e {
        crate::domain::Error::InvalidToken => ApiError::new(StatusCode::BAD_REQUEST, "Token is invalid or expired"),
        other => other.into(),
    })?;
    Ok(Json(StatusResponse { status: "success", message: "User logged out successfully" }))
}

/// Exchanges a refresh token for a new access token.
///
/// Public (the refresh token is the credential). The refresh token is not rotated.
#[utoipa::path(post, path = "/api/users/refresh-token/", tag = TAG, operation_id = "users_refresh_token", request_body = RefreshRequest,
    responses(
        (status = 200, body = RefreshResponse, description = "A new access token"),
        (status = 400, body = ErrorResponse, description = "`Refresh token is required`"),
        (status = 401, body = ErrorResponse, description = "`Token is invalid or expired` (also blacklisted or logged out)"),
        (status = 413, body = ErrorResponse, description = "Body over 64 KiB"),
        (status = 415, body = ErrorResponse, description = "Body is not JSON, a URL-encoded form or multipart"),
    ))]
async fn refresh(
    State(state): State<AppState>,
    Body(req, ..): JsonBody<RefreshRequest>,
) -> Result<Json<RefreshResponse>, ApiError> {
    let access = state.domain.sessions.refresh(&req.token()?).await?;
    Ok(Json(RefreshResponse { access }))
}

/// The authenticated user's profile.
#[utoipa::path(get, path = "/api/users/profile/", tag = TAG, operation_id = "users_profile", security(("bearer" = []), ("session" = [])),
    responses(
        (status = 200, body = ProfileResponse, description = "The caller's profile (`Profile retrieved successfully`)"),
        (status = 401, body = ErrorResponse, description = "Missing or invalid credentials: `Authentication credentials were not provided.` or `Given token not valid for any token type`"),
    ))]
async fn profile(Authed(principal, ..): Auth) -> Json<ProfileResponse> {
    Json(ProfileResponse {
        status: "success",
        message: "Profile retrieved successfully",
        data: principal.into_user().into(),
    })
}

#[cfg(test)]
mod status_tests {
    use super::*;

    #[test]
    fn the_status_answer_is_its_response_type_serialised() {
        let typed = serde_json::to_string(&StatusResponse { status: "success", message: "Service is running" });
        assert_eq!(typed.expect("json"), STATUS_BODY);
    }
}
