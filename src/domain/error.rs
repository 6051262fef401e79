//! The one error type of the domain; each surface maps it to its wire shape in its own `error.rs`.

/// Field-level validation messages, in the order they were found.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct FieldErrors(Vec<(String, Vec<String>)>);

impl FieldErrors {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn single(field: &str, message: impl Into<String>) -> Self {
        let mut e = Self::new();
        e.add(field, message);
        e
    }

    pub fn add(&mut self, field: &str, message: impl Into<String>) {
        let message = message.into();
        match self.0.iter_mut().find(|(f, _)| f == field) {
            Some((_, msgs)) => msgs.push(message),
            None => self.0.push((field.to_string(), vec![message])),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The first message found, used where a dialect shows one sentence.
    pub fn first_message(&self) -> &str {
        self.0.first().and_then(|(_, m)| m.first()).map_or("Invalid input.", String::as_str)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &[String])> {
        self.0.iter().map(|(f, m)| (f.as_str(), m.as_slice()))
    }
}

/// Why a request could not be authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthFailure {
    /// No credentials were sent.
    Missing,
    /// Credentials were sent but are invalid, expired or revoked.
    Invalid,
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("validation failed")]
    Validation(FieldErrors),
    #[error("conflict on {field}")]
    Conflict { field: &'static str, message: String },
    #[error("invalid credentials")]
    InvalidCredentials,
    #[error("invalid token")]
    InvalidToken,
    #[error("not authenticated")]
    Unauthenticated(AuthFailure),
    #[error("forbidden")]
    Forbidden,
    /// An unsafe request authenticated by the session cookie without the matching `X-CSRFToken`.
    #[error("CSRF check failed")]
    CsrfFailed(&'static str),
    #[error("not found")]
    NotFound,
    /// A signed payload (a payment provider's webhook) whose signature is missing, wrong or stale.
    #[error("invalid signature")]
    InvalidSignature,
    #[error("rate limited")]
    RateLimited { retry_after: u64 },
    #[error("too large")]
    TooLarge { limit: u64 },
    #[error("not configured: {0}")]
    NotConfigured(&'static str),
    #[error("upstream service failed")]
    Upstream(String),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl Error {
    pub fn validation(field: &str, message: impl Into<String>) -> Self {
        Error::Validation(FieldErrors::single(field, message))
    }

    pub fn internal(e: impl Into<anyhow::Error>) -> Self {
        Error::Internal(e.into())
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
