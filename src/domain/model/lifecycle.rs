//! The account lifecycle's values: who is asking (address and user agent), the security
//! event log, the single-use tokens mailed to users, and the mails themselves.

use std::{fmt, net::IpAddr};

use jiff::Timestamp;

use super::types::UserId;

/// Where a request came from, as recorded in security events.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Client {
    pub ip: Option<IpAddr>,
    /// At most [`Client::MAX_USER_AGENT`] characters of the `User-Agent` header.
    pub user_agent: Option<String>,
}

impl Client {
    pub const MAX_USER_AGENT: usize = 256;

    /// A client with this address and user agent (cut to [`Client::MAX_USER_AGENT`]
    /// characters, control characters dropped).
    pub fn new(ip: Option<IpAddr>, user_agent: Option<&str>) -> Self {
        let user_agent = user_agent
            .map(|ua| ua.chars().filter(|c| !c.is_control()).take(Self::MAX_USER_AGENT).collect::<String>())
            .filter(|ua| !ua.is_empty());
        Client { ip, user_agent }
    }

    /// A client known only by its address.
    pub fn at(ip: Option<IpAddr>) -> Self {
        Client { ip, user_agent: None }
    }
}

/// What happened to an account; stored as [`EventKind::as_str`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    AccountCreated,
    LoginSucceeded,
    LoginFailed,
    LoginThrottled,
    Logout,
    PasswordChanged,
    PasswordResetRequested,
    PasswordReset,
    EmailVerificationSent,
    EmailVerified,
    EmailChanged,
    ApiTokenRegenerated,
    ProviderLinked,
    ProviderUnlinked,
    Deactivated,
    Reactivated,
}

impl EventKind {
    pub const ALL: [EventKind; 16] = [
        EventKind::AccountCreated,
        EventKind::LoginSucceeded,
        EventKind::LoginFailed,
        EventKind::LoginThrottled,
        EventKind::Logout,
        EventKind::PasswordChanged,
        EventKind::PasswordResetRequested,
        EventKind::PasswordReset,
        EventKind::EmailVerificationSent,
        EventKind::EmailVerified,
        EventKind::EmailChanged,
        EventKind::ApiTokenRegenerated,
        EventKind::ProviderLinked,
        EventKind::ProviderUnlinked,
        EventKind::Deactivated,
        EventKind::Reactivated,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::AccountCreated => "account_created",
            EventKind::LoginSucceeded => "login_succeeded",
            EventKind::LoginFailed => "login_failed",
            EventKind::LoginThrottled => "login_throttled",
            EventKind::Logout => "logout",
            EventKind::PasswordChanged => "password_changed",
            EventKind::PasswordResetRequested => "password_reset_requested",
            EventKind::PasswordReset => "password_reset",
            EventKind::EmailVerificationSent => "email_verification_sent",
            EventKind::EmailVerified => "email_verified",
            EventKind::EmailChanged => "email_changed",
            EventKind::ApiTokenRegenerated => "api_token_regenerated",
            EventKind::ProviderLinked => "provider_linked",
            EventKind::ProviderUnlinked => "provider_unlinked",
            EventKind::Deactivated => "deactivated",
            EventKind::Reactivated => "reactivated",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == text)
    }
}

/// One entry of a user's security event log. Never holds a password or a token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecurityEvent {
    /// 0 until stored.
    pub id: i64,
    pub user: UserId,
    /// The stored name; [`EventKind::parse`] reads it (a newer node may have written one
    /// this version does not know).
    pub kind: String,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    /// What else is worth knowing: the surface or provider, the staff user who acted.
    pub detail: Option<String>,
    pub created_at: Timestamp,
}

impl SecurityEvent {
    pub fn new(user: UserId, kind: EventKind, client: &Client, detail: Option<String>, at: Timestamp) -> Self {
        SecurityEvent {
            id: 0,
            user,
            kind: kind.as_str().to_string(),
            ip: client.ip.map(|ip| ip.to_string()),
            user_agent: client.user_agent.clone(),
            detail,
            created_at: at,
        }
    }
}

/// What a mailed single-use token is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MailPurpose {
    /// Confirms the address (24 hours).
    VerifyEmail,
    /// Sets a new password (1 hour).
    ResetPassword,
}

impl MailPurpose {
    pub fn as_str(self) -> &'static str {
        match self {
            MailPurpose::VerifyEmail => "verify",
            MailPurpose::ResetPassword => "reset",
        }
    }
}

/// A mailed token as stored: only its SHA-256 hash.
#[derive(Debug, Clone)]
pub struct MailToken {
    pub hash: Vec<u8>,
    pub user: UserId,
    pub purpose: MailPurpose,
    /// The address it was mailed to (its key).
    pub email_key: String,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
}

/// A used token: whose it was and where it was mailed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedeemedToken {
    pub user: UserId,
    pub email_key: String,
}

/// A plain-text mail.
#[derive(Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Mail {
    pub to: String,
    pub subject: String,
    pub text: String,
}

/// Mails carry tokens: their text is never printed.
impl fmt::Debug for Mail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Mail").field("subject", &self.subject).finish_non_exhaustive()
    }
}

/// What staff search users by.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserSearch {
    /// Part of the e-mail, username or name, case-insensitive; `None` lists everyone.
    pub text: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_kinds_round_trip() {
        for k in EventKind::ALL {
            assert_eq!(EventKind::parse(k.as_str()), Some(k));
        }
        assert_eq!(EventKind::parse("nonsense"), None);
    }

    #[test]
    fn user_agents_are_cut_and_cleaned() {
        let long = "x".repeat(1000);
        assert_eq!(Client::new(None, Some(&long)).user_agent.map(|u| u.len()), Some(Client::MAX_USER_AGENT));
        assert_eq!(Client::new(None, Some("a\nb\r\tc")).user_agent.as_deref(), Some("abc"));
        assert_eq!(Client::new(None, Some("\n")).user_agent, None);
    }

    #[test]
    fn mails_do_not_print_their_text() {
        let m = Mail { to: "a@b.c".into(), subject: "s".into(), text: "token=secret".into() };
        assert!(!format!("{m:?}").contains("secret"));
    }
}
