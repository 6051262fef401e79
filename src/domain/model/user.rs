//! The user: one record for all five documents; each surface shows its own slice of it.

use jiff::Timestamp;

use super::types::{Email, ExternalId, UserId, Username};
use crate::domain::error::UserAttribute;

#[derive(Debug, Clone, PartialEq)]
pub struct User {
    pub id: UserId,
    pub external_id: ExternalId,
    pub email: String,
    pub email_verified: bool,
    pub username: String,
    pub first_name: String,
    pub last_name: String,
    pub company_name: String,
    pub bio: String,
    /// URL of the avatar (document 003) or stored name of the profile picture (document 004).
    pub avatar: Option<String>,
    /// IANA time zone name (document 001's `tz`).
    pub tz: Option<String>,
    pub plan: Option<String>,
    pub subscription_status: Option<String>,
    pub is_staff: bool,
    pub is_active: bool,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl User {
    /// What a new password of this user may not resemble, in Django's order.
    pub fn personal_attributes(&self) -> [(UserAttribute, &str); 4] {
        [
            (UserAttribute::Username, &self.username),
            (UserAttribute::FirstName, &self.first_name),
            (UserAttribute::LastName, &self.last_name),
            (UserAttribute::Email, &self.email),
        ]
    }

    /// `first last`, as document 004's `full_name`.
    pub fn full_name(&self) -> String {
        match (self.first_name.is_empty(), self.last_name.is_empty()) {
            (false, false) => format!("{} {}", self.first_name, self.last_name),
            (false, true) => self.first_name.clone(),
            (true, false) => self.last_name.clone(),
            (true, true) => String::new(),
        }
    }
}

/// What registration stores; the password is already hashed.
#[derive(Clone)]
pub struct NewUser {
    pub external_id: ExternalId,
    pub email: Email,
    pub username: Username,
    /// The username was made from the e-mail, so a taken one may get a suffix.
    pub generated_username: bool,
    /// `None`: the user signs in only through a provider until they set a password.
    pub password_hash: Option<String>,
    /// A provider vouched for the address (a first sign-in through Google or GitHub).
    pub email_verified: bool,
    pub first_name: String,
    pub last_name: String,
    pub company_name: String,
    pub bio: String,
    pub avatar: Option<String>,
    pub is_staff: bool,
}

/// Leaves the password hash out, so a logged record cannot be attacked offline.
impl std::fmt::Debug for NewUser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewUser")
            .field("external_id", &self.external_id)
            .field("email", &self.email)
            .field("username", &self.username)
            .field("password_hash", &self.password_hash.as_ref().map(|_| "***"))
            .field("is_staff", &self.is_staff)
            .finish_non_exhaustive()
    }
}

/// A user's e-mail and username as stored, with the keys they are looked up by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredIdentity {
    pub id: UserId,
    pub email: String,
    pub username: String,
    pub email_key: String,
    pub username_key: String,
}

/// Fields a profile update may change; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct ProfileUpdate {
    pub email: Option<Email>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub company_name: Option<String>,
    pub bio: Option<String>,
    /// `Some(None)` clears the avatar.
    pub avatar: Option<Option<String>>,
    /// `Some(None)` clears the time zone.
    pub tz: Option<Option<String>>,
}

impl ProfileUpdate {
    pub fn is_empty(&self) -> bool {
        self.email.is_none()
            && self.first_name.is_none()
            && self.last_name.is_none()
            && self.company_name.is_none()
            && self.bio.is_none()
            && self.avatar.is_none()
            && self.tz.is_none()
    }
}
