//! The one error type of the domain. It carries kinds and field names, never sentences:
//! each surface's `error.rs` words them in its document's dialect.

/// Why one field's value was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Invalid {
    Required,
    Null,
    Blank,
    /// Not text (an object, a list or a boolean where text is expected).
    NotText,
    TooLong {
        max: usize,
    },
    ControlCharacters,
    Email,
    Username,
    ReservedUsername,
    PasswordTooShort {
        min: usize,
    },
    PasswordTooCommon,
    PasswordNumeric,
    /// Only white space (or invisible characters).
    PasswordWhitespace,
    /// Too similar to one of the user's attributes (Django's `UserAttributeSimilarityValidator`).
    PasswordTooSimilar {
        attribute: UserAttribute,
    },
    PasswordMismatch,
    TimeZone {
        given: String,
    },
    /// Not one of the offered choices (a plan name).
    Choice {
        given: String,
    },
    UploadInterrupted,
    NoFile,
    /// Not a picture userd keeps (PNG, JPEG, WebP or GIF that decodes), or a corrupt one.
    NotAnImage,
    /// A picture over the size limit, in bytes.
    ImageTooLarge {
        max_bytes: u64,
    },
    /// A picture wider or taller than the limit, in pixels.
    ImageDimensions {
        max: u32,
    },
    /// A signed payload that is not what it should be (a webhook event).
    Payload,
    /// A page cursor that this server did not hand out.
    Cursor,
    /// Following oneself.
    FollowSelf,
    AlreadyFollowing,
    NotFollowing,
    /// No active user has this id.
    NoSuchUser {
        given: String,
    },
    /// Not a whole number.
    Integer,
    /// Not an `http(s)` URL.
    Url,
    /// A page size outside 1..=max.
    Limit {
        max: u32,
    },
    /// A mailed link's token that is unknown, used or expired.
    LinkToken,
    /// The current password given to confirm a change is not the account's.
    WrongPassword,
    /// The account has no password; it signs in through a provider.
    NoPassword,
    /// Staff acting on their own account where they may not (deactivation).
    OwnAccount,
}

/// A user attribute a new password is compared with; each surface names it as Django's
/// `verbose_name` does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserAttribute {
    Username,
    FirstName,
    LastName,
    Email,
}

/// Field-level problems, in the order they were found. Field names are the domain's; a
/// surface whose document names a field differently renames it when it renders.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct FieldErrors(Vec<(&'static str, Vec<Invalid>)>);

impl FieldErrors {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn single(field: &'static str, why: Invalid) -> Self {
        let mut e = Self::new();
        e.add(field, why);
        e
    }

    pub fn add(&mut self, field: &'static str, why: Invalid) {
        match self.0.iter_mut().find(|(f, _)| *f == field) {
            Some((_, all)) => all.push(why),
            None => self.0.push((field, vec![why])),
        }
    }

    /// Records `result`'s problem under `field`, returning the value when there is one.
    pub fn check<T>(&mut self, field: &'static str, result: Result<T, Invalid>) -> Option<T> {
        result.map_err(|why| self.add(field, why)).ok()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&'static str, &[Invalid])> {
        self.0.iter().map(|(f, m)| (*f, m.as_slice()))
    }

    /// `Ok(value)` when nothing was refused and the value is there.
    pub fn into_result<T>(self, value: Option<T>) -> Result<T, FieldErrors> {
        match value {
            Some(v) if self.is_empty() => Ok(v),
            _ => Err(self),
        }
    }
}

/// Why a request could not be authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthFailure {
    /// No credentials were sent.
    Missing,
    /// Credentials were sent but are invalid, expired or revoked, or the account is inactive.
    Invalid,
}

/// Why the CSRF check of a cookie-authenticated unsafe request failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CsrfFailure {
    Missing,
    Incorrect,
    /// The request came from this origin (`Origin`), which is not userd's nor trusted.
    Origin(String),
}

/// A sign-in provider whose users may sign in to userd (documents 002's Google and GitHub
/// login). Here rather than in `model` so this module stays a leaf; `model` re-exports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Provider {
    Google,
    GitHub,
}

impl Provider {
    pub const ALL: [Provider; 2] = [Provider::Google, Provider::GitHub];

    /// The name stored and shown in paths and answers: `google`, `github`.
    pub fn as_str(self) -> &'static str {
        match self {
            Provider::Google => "google",
            Provider::GitHub => "github",
        }
    }

    /// The provider of a stored or requested name (exactly as [`Provider::as_str`] spells it).
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.as_str() == name)
    }
}

/// Optional features that need settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Feature {
    Checkout,
    PaymentWebhook,
    /// Signing in with a provider's credential.
    Login(Provider),
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("validation failed")]
    Validation(FieldErrors),
    /// A unique value (e-mail, username) is taken.
    #[error("conflict on {field}")]
    Conflict { field: &'static str },
    #[error("invalid credentials")]
    InvalidCredentials,
    /// A token given in a body (a refresh token) is invalid, expired or revoked.
    #[error("invalid token")]
    InvalidToken,
    #[error("not authenticated")]
    Unauthenticated(AuthFailure),
    #[error("forbidden")]
    Forbidden,
    /// An unsafe request authenticated by the session cookie without the matching `X-CSRFToken`.
    #[error("CSRF check failed")]
    Csrf(CsrfFailure),
    #[error("not found")]
    NotFound,
    /// A signed payload (a payment provider's webhook) whose signature is missing, wrong or stale.
    #[error("invalid signature")]
    InvalidSignature,
    #[error("rate limited")]
    RateLimited { retry_after: u64 },
    #[error("too large")]
    TooLarge { limit: u64 },
    #[error("not configured: {0:?}")]
    NotConfigured(Feature),
    /// An outside service (the payment provider) failed; the details are in the log.
    #[error("upstream service failed")]
    Upstream,
    /// A sign-in provider vouched for no usable identity: the credential is invalid, expired
    /// or used, the provider failed or could not be reached, it has no verified e-mail, or
    /// the account is inactive. The reason is in the log, never in the answer.
    #[error("{0:?} did not vouch for an identity")]
    ProviderRefused(Provider),
    /// Unlinking would leave the account without any way to sign in (no password, no other
    /// provider).
    #[error("last way to sign in")]
    LastSignInMethod,
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl Error {
    pub fn invalid(field: &'static str, why: Invalid) -> Self {
        Error::Validation(FieldErrors::single(field, why))
    }

    pub fn internal(e: impl Into<anyhow::Error>) -> Self {
        Error::Internal(e.into())
    }
}

impl From<FieldErrors> for Error {
    fn from(e: FieldErrors) -> Self {
        Error::Validation(e)
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
