//! A domain error, worded and shaped by a surface. What every surface does alike
//! (statuses, 5xx hiding, `WWW-Authenticate`, `Retry-After`, Django REST framework's
//! field messages) is here once; a surface's `error.rs` only implements [`Dialect`]: its
//! document's sentences and JSON shape.

use std::{fmt, marker::PhantomData};

use axum::{
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde_json::{Map, Value, json};

use super::body::BodyError;
use crate::domain::{
    AuthFailure, Error, FieldErrors, Invalid,
    error::{CsrfFailure, Feature, Provider, UserAttribute},
};
use crate::http::Json;

/// `Retry-After` of a 503 while the database cannot be reached: the pool's bounded wait for a
/// connection, so a client retrying then finds a reconnected node or another 503 soon.
pub const UNAVAILABLE_RETRY_AFTER: u64 = 5;

/// Django REST framework's (and Django's validators') sentence for a refused value.
pub fn drf_message(why: &Invalid) -> String {
    match why {
        Invalid::Required => "This field is required.".into(),
        Invalid::Null => "This field may not be null.".into(),
        Invalid::Blank => "This field may not be blank.".into(),
        Invalid::NotText => "Not a valid string.".into(),
        Invalid::TooLong { max } => format!("Ensure this field has no more than {max} characters."),
        Invalid::ControlCharacters => "This field may not contain control characters.".into(),
        Invalid::Email => "Enter a valid email address.".into(),
        Invalid::Username => {
            "Enter a valid username. This value may contain only letters, numbers, and @/./+/-/_ characters.".into()
        }
        Invalid::ReservedUsername => "This username is reserved.".into(),
        Invalid::PasswordTooShort { min } => {
            format!("This password is too short. It must contain at least {min} characters.")
        }
        Invalid::PasswordTooCommon => "This password is too common.".into(),
        Invalid::PasswordNumeric => "This password is entirely numeric.".into(),
        // userd's own rule, worded as Django's numeric one is.
        Invalid::PasswordWhitespace => "This password is entirely whitespace.".into(),
        // Django's sentence, with its fields' verbose names.
        Invalid::PasswordTooSimilar { attribute } => {
            let name = match attribute {
                UserAttribute::Username => "username",
                UserAttribute::FirstName => "first name",
                UserAttribute::LastName => "last name",
                UserAttribute::Email => "email address",
            };
            format!("The password is too similar to the {name}.")
        }
        Invalid::PasswordMismatch => "Passwords do not match.".into(),
        Invalid::TimeZone { given } => format!("'{given}' is not a known IANA time zone."),
        Invalid::Choice { given } => format!("\"{given}\" is not a valid choice."),
        Invalid::UploadInterrupted => "The upload was interrupted.".into(),
        Invalid::NoFile => "No file was submitted.".into(),
        // Django's ImageField sentence.
        Invalid::NotAnImage => {
            "Upload a valid image. The file you uploaded was either not an image or a corrupted image.".into()
        }
        Invalid::ImageTooLarge { max_bytes } => format!("Ensure this image is at most {max_bytes} bytes."),
        Invalid::ImageDimensions { max } => format!("Ensure this image is at most {max} × {max} pixels."),
        Invalid::Payload => "Invalid payload".into(),
        Invalid::Cursor => "Invalid cursor".into(),
        Invalid::FollowSelf => "You cannot follow yourself.".into(),
        Invalid::AlreadyFollowing => "You are already following this user.".into(),
        Invalid::NotFollowing => "You are not following this user.".into(),
        // Django REST framework's PrimaryKeyRelatedField sentences.
        Invalid::NoSuchUser { given } => format!("Invalid pk \"{given}\" - object does not exist."),
        Invalid::Integer => "A valid integer is required.".into(),
        Invalid::Url => "Enter a valid URL.".into(),
        Invalid::Limit { max } => format!("Ensure this value is between 1 and {max}."),
        Invalid::LinkToken => "This link is invalid or has expired.".into(),
        Invalid::WrongPassword => "The password is incorrect.".into(),
        Invalid::OwnAccount => "You cannot do this to your own account.".into(),
        Invalid::NoPassword => {
            "This account has no password: sign in again through your provider, or set a password first.".into()
        }
    }
}

/// One document's words and shape. Only [`Dialect::body`] and the three credential
/// sentences must be given; the rest defaults to the wording the documents share.
pub trait Dialect: Send + Sync + 'static {
    /// No credentials were sent.
    const CREDENTIALS_MISSING: &'static str;
    /// Credentials were sent but are not valid (or the account is inactive).
    const CREDENTIALS_INVALID: &'static str;
    /// A token in a body (a refresh token) is not valid.
    const TOKEN_INVALID: &'static str;
    /// What is too large, for 413s: "Request" or "File".
    const TOO_LARGE: &'static str = "Request";

    /// The document's JSON body for `problem`.
    fn body(problem: &Problem) -> Value;

    /// Wrong e-mail (or username) or password, without saying which.
    fn invalid_credentials() -> &'static str {
        "Invalid email or password."
    }

    /// A unique value that is taken.
    fn conflict(field: &str) -> String {
        match field {
            "email" => "A user with this email already exists.".into(),
            "username" => "A user with that username already exists.".into(),
            other => format!("This {other} is already taken."),
        }
    }

    /// A refused value of `field`.
    fn invalid(_field: &str, why: &Invalid) -> String {
        drf_message(why)
    }

    /// A sign-in through `provider` that did not work, whatever the reason (only document
    /// 002 has these sign-ins; its sentences override this).
    fn provider_refused(provider: Provider) -> String {
        let name = match provider {
            Provider::Google => "Google",
            Provider::GitHub => "GitHub",
        };
        format!("{name} sign-in failed. Please try again.")
    }

    /// The database cannot be reached for now (Django REST framework's `ServiceUnavailable`).
    fn unavailable() -> &'static str {
        "Service temporarily unavailable, try again later."
    }

    /// The document's name of a domain field.
    fn field_name(field: &'static str) -> &'static str {
        field
    }
}

/// A problem worded for one dialect: status, sentence and per-field messages.
#[derive(Debug)]
pub struct Problem {
    pub status: StatusCode,
    pub message: String,
    pub errors: Option<Vec<(&'static str, Vec<String>)>>,
    retry_after: Option<u64>,
}

impl Problem {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Problem { status, message: message.into(), errors: None, retry_after: None }
    }

    pub fn internal() -> Self {
        Problem::new(StatusCode::INTERNAL_SERVER_ERROR, "Internal server error.")
    }

    /// 400 with every field's messages; the first message is the sentence.
    pub fn fields<D: Dialect>(errors: &FieldErrors) -> Self {
        let worded: Vec<(&'static str, Vec<String>)> = errors
            .iter()
            .map(|(field, whys)| (D::field_name(field), whys.iter().map(|w| D::invalid(field, w)).collect()))
            .collect();
        let message = worded.first().and_then(|(_, m)| m.first()).cloned().unwrap_or_else(|| "Invalid input.".into());
        Problem { errors: Some(worded), ..Problem::new(StatusCode::BAD_REQUEST, message) }
    }

    pub fn from_body(e: &BodyError) -> Self {
        Problem::new(e.status(), e.message())
    }

    pub fn from_domain<D: Dialect>(e: Error) -> Self {
        match e {
            Error::Validation(errors) => Problem::fields::<D>(&errors),
            Error::Conflict { field } => {
                let message = D::conflict(field);
                Problem {
                    errors: Some(vec![(D::field_name(field), vec![message.clone()])]),
                    ..Problem::new(StatusCode::BAD_REQUEST, message)
                }
            }
            Error::InvalidCredentials => Problem::new(StatusCode::UNAUTHORIZED, D::invalid_credentials()),
            Error::InvalidToken => Problem::new(StatusCode::UNAUTHORIZED, D::TOKEN_INVALID),
            Error::Unauthenticated(AuthFailure::Missing) => {
                Problem::new(StatusCode::UNAUTHORIZED, D::CREDENTIALS_MISSING)
            }
            Error::Unauthenticated(AuthFailure::Invalid) => {
                Problem::new(StatusCode::UNAUTHORIZED, D::CREDENTIALS_INVALID)
            }
            Error::Forbidden => {
                Problem::new(StatusCode::FORBIDDEN, "You do not have permission to perform this action.")
            }
            // Django's CSRF failure reasons.
            Error::Csrf(CsrfFailure::Missing) => {
                Problem::new(StatusCode::FORBIDDEN, "CSRF Failed: CSRF token missing.")
            }
            Error::Csrf(CsrfFailure::Incorrect) => {
                Problem::new(StatusCode::FORBIDDEN, "CSRF Failed: CSRF token incorrect.")
            }
            Error::Csrf(CsrfFailure::Origin(origin)) => Problem::new(
                StatusCode::FORBIDDEN,
                format!("CSRF Failed: Origin checking failed - {origin} does not match any trusted origins."),
            ),
            Error::NotFound => Problem::new(StatusCode::NOT_FOUND, "Not found."),
            Error::InvalidSignature => Problem::new(StatusCode::BAD_REQUEST, "Invalid signature"),
            Error::RateLimited { retry_after } => Problem {
                retry_after: Some(retry_after),
                ..Problem::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    format!("Request was throttled. Expected available in {retry_after} seconds."),
                )
            },
            Error::TooLarge { limit } => Problem::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("{} too large: the limit is {limit} bytes.", D::TOO_LARGE),
            ),
            Error::NotConfigured(Feature::Login(provider)) => {
                let (what, settings) = match provider {
                    Provider::Google => ("Google login", "USERD_GOOGLE_CLIENT_ID"),
                    Provider::GitHub => ("GitHub login", "USERD_GITHUB_CLIENT_ID and USERD_GITHUB_CLIENT_SECRET"),
                };
                // The client gets the documented refusal; the operator learns what to set.
                tracing::warn!("{what} is not configured: set {settings}");
                Problem::new(StatusCode::BAD_REQUEST, D::provider_refused(provider))
            }
            Error::NotConfigured(feature) => {
                let (what, settings, message) = match feature {
                    Feature::Checkout => (
                        "checkout",
                        "USERD_STRIPE_SECRET_KEY and USERD_STRIPE_PRICES",
                        "Stripe checkout is not configured.",
                    ),
                    Feature::PaymentWebhook => {
                        ("the Stripe webhook", "USERD_STRIPE_WEBHOOK_SECRET", "The Stripe webhook is not configured.")
                    }
                    Feature::Login(_) => ("sign-in", "its settings", "Sign-in is not configured."),
                };
                // The client learns only that the feature is off; the operator learns what to set.
                tracing::warn!("{what} is not configured: set {settings}");
                Problem::new(StatusCode::BAD_REQUEST, message)
            }
            Error::Upstream => {
                Problem::new(StatusCode::BAD_REQUEST, "The payment provider could not complete the request.")
            }
            Error::ProviderRefused(provider) => Problem::new(StatusCode::BAD_REQUEST, D::provider_refused(provider)),
            Error::LastSignInMethod => Problem::new(
                StatusCode::BAD_REQUEST,
                "This is the only way left to sign in to this account: set a password or link another provider first.",
            ),
            Error::Unavailable => Problem {
                retry_after: Some(UNAVAILABLE_RETRY_AFTER),
                ..Problem::new(StatusCode::SERVICE_UNAVAILABLE, D::unavailable())
            },
            Error::Internal(e) => {
                // The cause stays in the log (with the request id of the enclosing span).
                tracing::error!(error = ?e, "internal error");
                Problem::internal()
            }
        }
    }

    /// `{field: [messages]}`, when there are field errors.
    pub fn errors_json(&self) -> Option<Value> {
        self.errors
            .as_ref()
            .map(|e| Value::Object(e.iter().map(|(f, m)| (f.to_string(), json!(m))).collect::<Map<_, _>>()))
    }

    /// The response: `body` with this status and the headers the status calls for.
    pub fn respond(&self, body: Value) -> Response {
        let mut res = (self.status, Json(body)).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            res.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer realm=\"api\""));
        }
        if let Some(secs) = self.retry_after
            && let Ok(v) = HeaderValue::from_str(&secs.to_string())
        {
            res.headers_mut().insert(header::RETRY_AFTER, v);
        }
        res
    }
}

/// An error response of the surface whose dialect is `D`.
pub struct ApiError<D>(Problem, PhantomData<fn() -> D>);

impl<D: Dialect> ApiError<D> {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        ApiError(Problem::new(status, message), PhantomData)
    }

    pub fn fields(errors: &FieldErrors) -> Self {
        ApiError(Problem::fields::<D>(errors), PhantomData)
    }

    /// One field's message, already worded (`non_field_errors` and the like).
    pub fn field(status: StatusCode, field: &'static str, message: &str) -> Self {
        let problem =
            Problem { errors: Some(vec![(field, vec![message.to_string()])]), ..Problem::new(status, message) };
        ApiError(problem, PhantomData)
    }

    pub fn internal() -> Self {
        ApiError(Problem::internal(), PhantomData)
    }

    /// Replaces the sentence, keeping the field errors.
    pub fn with_message(mut self, message: impl Into<String>) -> Self {
        self.0.message = message.into();
        self
    }

    pub fn status(&self) -> StatusCode {
        self.0.status
    }
}

impl<D> fmt::Debug for ApiError<D> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl<D: Dialect> From<Error> for ApiError<D> {
    fn from(e: Error) -> Self {
        ApiError(Problem::from_domain::<D>(e), PhantomData)
    }
}

impl<D: Dialect> From<FieldErrors> for ApiError<D> {
    fn from(e: FieldErrors) -> Self {
        ApiError::fields(&e)
    }
}

impl<D: Dialect> From<BodyError> for ApiError<D> {
    fn from(e: BodyError) -> Self {
        ApiError(Problem::from_body(&e), PhantomData)
    }
}

impl<D: Dialect> IntoResponse for ApiError<D> {
    fn into_response(self) -> Response {
        self.0.respond(D::body(&self.0))
    }
}

/// What a panic inside a surface answers: its dialect's 500, nothing of the cause.
pub fn internal_error<D: Dialect>() -> Response {
    ApiError::<D>::internal().into_response()
}

/// A surface's [`internal_error`].
pub type InternalError = fn() -> Response;

/// `{"detail": …}`: Django REST framework's default shape, used by the operational
/// endpoints and for routes no surface has.
pub struct Detail;

impl Dialect for Detail {
    const CREDENTIALS_MISSING: &'static str = "Authentication credentials were not provided.";
    const CREDENTIALS_INVALID: &'static str = "Given token not valid for any token type";
    const TOKEN_INVALID: &'static str = "Token is invalid or expired";

    fn body(problem: &Problem) -> Value {
        json!({"detail": problem.message})
    }
}
