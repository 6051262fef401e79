//! Throttling's values: what is limited, by how much, and the shared counters.

use std::time::Duration;

use jiff::Timestamp;

/// What a limit counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    Login,
    Register,
    /// Password reset requests.
    PasswordReset,
    /// Verification mails asked for again.
    VerificationMail,
    /// Google and GitHub sign-ins.
    ProviderLogin,
}

impl Action {
    pub const ALL: [Action; 5] =
        [Action::Login, Action::Register, Action::PasswordReset, Action::VerificationMail, Action::ProviderLogin];

    /// The name in counter keys and in `/metrics`.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Login => "login",
            Action::Register => "register",
            Action::PasswordReset => "password_reset",
            Action::VerificationMail => "verification_mail",
            Action::ProviderLogin => "provider_login",
        }
    }
}

/// At most `hits` in each `window`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    pub hits: u64,
    pub window: Duration,
}

impl Limit {
    pub const fn new(hits: u64, secs: u64) -> Self {
        Limit { hits, window: Duration::from_secs(secs) }
    }
}

/// One shared counter in its current window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CounterKey {
    /// `action:scope:digest`; the digest hides the address or account it counts.
    pub key: String,
    pub window_start: Timestamp,
    /// When the row may be purged (the window's end).
    pub expires_at: Timestamp,
}
