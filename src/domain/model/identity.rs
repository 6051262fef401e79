//! Sign-ins through a provider (Google, GitHub): what a provider vouches for, and the
//! links between provider identities and users.

use jiff::Timestamp;

pub use crate::domain::error::Provider;
use crate::domain::model::{Email, UserId};

/// What a provider vouched for after checking a credential.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderIdentity {
    pub provider: Provider,
    /// The provider's stable id of the person (Google's `sub`, GitHub's numeric user id):
    /// it survives a change of e-mail on either side.
    pub subject: String,
    /// The e-mail the provider says it has verified; `None` when it has verified none,
    /// and such an identity is never linked to a user nor creates one.
    pub verified_email: Option<Email>,
    /// Names as the provider has them (trimmed, empty when it has none).
    pub first_name: String,
    pub last_name: String,
}

/// A provider identity linked to a user, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkedIdentity {
    pub provider: Provider,
    pub subject: String,
    pub user_id: UserId,
    /// The provider's verified e-mail at the last sign-in.
    pub email: String,
    pub created_at: Timestamp,
    pub last_login_at: Timestamp,
}

/// The ways a user can sign in, for deciding whether one may go.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SignInMethods {
    pub has_password: bool,
    pub identities: Vec<LinkedIdentity>,
}

/// What unlinking a provider did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unlinked {
    Removed,
    /// The user has no identity of that provider.
    NotLinked,
    /// It is the user's last way to sign in: nothing was removed.
    LastSignInMethod,
}

/// Keeps at most `max` characters of a provider's name field, without control characters.
pub fn provider_name(raw: &str, max: usize) -> String {
    raw.trim().chars().filter(|c| !c.is_control()).take(max).collect::<String>().trim().to_string()
}

/// `Ada King Lovelace` → (`Ada`, `King Lovelace`): a full name split on its first space,
/// as document 004's `full_name` is.
pub fn split_full_name(full: &str, max: usize) -> (String, String) {
    let full = full.trim();
    match full.split_once(char::is_whitespace) {
        Some((first, last)) => (provider_name(first, max), provider_name(last, max)),
        None => (provider_name(full, max), String::new()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn provider_names_are_trimmed_bounded_and_clean() {
        assert_eq!(provider_name("  Ada\u{0}  ", 150), "Ada");
        assert_eq!(provider_name(&"é".repeat(200), 150).chars().count(), 150);
        assert_eq!(split_full_name("Ada King Lovelace", 150), ("Ada".into(), "King Lovelace".into()));
        assert_eq!(split_full_name(" Octocat ", 150), ("Octocat".into(), String::new()));
        assert_eq!(split_full_name("", 150), (String::new(), String::new()));
    }

    #[test]
    fn providers_are_named_exactly() {
        for p in Provider::ALL {
            assert_eq!(Provider::parse(p.as_str()), Some(p));
        }
        assert_eq!(Provider::parse("Google"), None);
        assert_eq!(Provider::parse("gitlab"), None);
    }
}
