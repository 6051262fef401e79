//! Parsed values: each has one fallible constructor that normalises, so the rest of the
//! code never handles an unchecked email, username or password.

use std::{collections::HashSet, fmt, sync::LazyLock};

use secrecy::{ExposeSecret, SecretString};
use unicode_normalization::UnicodeNormalization;

use crate::domain::error::{FieldErrors, Invalid};

/// Internal numeric id; documents 002 and 003 show it as a number, 004 as a string.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct UserId(pub i64);

impl fmt::Display for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// Public, unguessable id of a user (document 000's `external_id`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ExternalId(pub String);

/// Id of a stored file.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FileId(pub String);

impl fmt::Display for FileId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Id of a login session: every JWT pair and every browser session belongs to one.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SessionId(pub String);

impl fmt::Display for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An e-mail address as given (trimmed, domain lower-cased); `key()` is the
/// case-insensitive form uniqueness is checked on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    pub const MAX_LEN: usize = 254;

    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        let v = raw.trim();
        if v.is_empty() {
            return Err(Invalid::Blank);
        }
        let invalid = Invalid::Email;
        if v.chars().count() > Self::MAX_LEN || v.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(invalid);
        }
        let Some((local, domain)) = v.rsplit_once('@') else { return Err(invalid) };
        let domain_ok = domain.contains('.')
            && !domain.starts_with('.')
            && !domain.ends_with('.')
            && !domain.contains("..")
            && domain.split('.').all(|label| {
                !label.is_empty()
                    && !label.starts_with('-')
                    && !label.ends_with('-')
                    && label.chars().all(|c| c.is_alphanumeric() || c == '-')
            });
        let local_ok = !local.is_empty()
            && local.chars().count() <= 64
            && !local.contains('@')
            && !local.starts_with('.')
            && !local.ends_with('.')
            && !local.contains("..")
            && !local.contains(['"', '(', ')', ',', ':', ';', '<', '>', '[', '\\', ']']);
        if !domain_ok || !local_ok {
            return Err(invalid);
        }
        Ok(Email(format!("{local}@{}", domain.to_lowercase())))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Case-insensitive identity of the address.
    pub fn key(&self) -> String {
        self.0.to_lowercase()
    }

    /// Part before the `@`, the seed of a generated username.
    pub fn local_part(&self) -> &str {
        self.0.rsplit_once('@').map_or(&self.0, |(l, _)| l)
    }
}

/// Path words of `/careers/users/…` and other names a username may not take.
const RESERVED_USERNAMES: &[&str] = &[
    "me",
    "follow",
    "following",
    "followers",
    "unfollow",
    "login",
    "logout",
    "register",
    "token",
    "refresh",
    "update",
    "stats",
    "search",
    "settings",
    "profile",
    "status",
    "session",
    "storage",
    "stripe",
    "admin",
];

/// A username: 1 to 150 of letters, digits and `@ . + - _` (Django's rule), unique case-insensitively.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Username(String);

impl Username {
    pub const MAX_LEN: usize = 150;

    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        let v = raw.trim();
        if v.is_empty() {
            return Err(Invalid::Blank);
        }
        if v.chars().count() > Self::MAX_LEN {
            return Err(Invalid::TooLong { max: Self::MAX_LEN });
        }
        if !v.chars().all(|c| c.is_ascii_alphanumeric() || "@.+-_".contains(c)) {
            return Err(Invalid::Username);
        }
        if Self::is_reserved(v) {
            return Err(Invalid::ReservedUsername);
        }
        Ok(Username(v.to_string()))
    }

    pub fn is_reserved(v: &str) -> bool {
        RESERVED_USERNAMES.iter().any(|r| r.eq_ignore_ascii_case(v))
    }

    /// A valid username built from an e-mail's local part; the store adds a suffix when taken.
    pub fn from_email(email: &Email) -> Self {
        let mut base: String = email
            .local_part()
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || ".+-_".contains(*c))
            .take(Self::MAX_LEN - 8)
            .collect();
        if base.is_empty() {
            base.push_str("user");
        }
        if Self::is_reserved(&base) {
            base.push('1');
        }
        Username(base)
    }

    /// The same name with a numeric suffix, for when the plain one is taken.
    pub fn with_suffix(&self, n: u32) -> Self {
        Username(format!("{}{n}", self.0))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn key(&self) -> String {
        self.0.to_lowercase()
    }
}

static COMMON_PASSWORDS: LazyLock<HashSet<&'static str>> =
    LazyLock::new(|| include_str!("../../../assets/common-passwords.txt").lines().map(str::trim).collect());

/// A password as typed, NFKC-normalised; never printed (`SecretString`).
pub struct Password(SecretString);

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(***)")
    }
}

impl Password {
    pub const MIN_CHARS: usize = 8;
    /// Longer input is refused before any hashing work is done. Counted in characters, as
    /// every other limit and the OpenAPI `maxLength` are; 1024 characters are at most 4 KiB.
    pub const MAX_CHARS: usize = 1024;

    /// A password offered for a login: only the size is checked, so an old password that
    /// predates a rule still works.
    pub fn for_login(raw: &str) -> Result<Self, Invalid> {
        if raw.is_empty() {
            return Err(Invalid::Blank);
        }
        if raw.chars().count() > Self::MAX_CHARS {
            return Err(Invalid::TooLong { max: Self::MAX_CHARS });
        }
        Ok(Password(SecretString::from(raw.nfkc().collect::<String>())))
    }

    /// A new password: every rule applies (Django's validators), each problem reported.
    pub fn new_password(raw: &str) -> Result<Self, Vec<Invalid>> {
        let p = Self::for_login(raw).map_err(|e| vec![e])?;
        let v = p.0.expose_secret();
        let mut problems = Vec::new();
        if v.chars().count() < Self::MIN_CHARS {
            problems.push(Invalid::PasswordTooShort { min: Self::MIN_CHARS });
        }
        if COMMON_PASSWORDS.contains(v.to_lowercase().trim()) {
            problems.push(Invalid::PasswordTooCommon);
        }
        if v.chars().all(|c| c.is_ascii_digit()) {
            problems.push(Invalid::PasswordNumeric);
        }
        if problems.is_empty() { Ok(p) } else { Err(problems) }
    }

    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }
}

/// Validates a new password and its confirmation into `errors` under `field` / `confirm_field`.
/// `None` for either means the field was not sent (or was refused already).
pub fn new_password_with_confirmation(
    errors: &mut FieldErrors,
    field: &'static str,
    password: Option<&str>,
    confirm_field: &'static str,
    confirmation: Option<&str>,
) -> Option<Password> {
    let Some(raw) = password else {
        errors.add(field, Invalid::Required);
        return None;
    };
    let parsed = match Password::new_password(raw) {
        Ok(p) => Some(p),
        Err(problems) => {
            for why in problems {
                errors.add(field, why);
            }
            None
        }
    };
    match confirmation {
        None => errors.add(confirm_field, Invalid::Required),
        Some(c) if c != raw => errors.add(confirm_field, Invalid::PasswordMismatch),
        Some(_) => {}
    }
    parsed
}

/// An IANA time zone name (document 001's `tz`), stored in its canonical spelling.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimeZoneName(String);

impl TimeZoneName {
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        let v = raw.trim();
        let invalid = || Invalid::TimeZone { given: v.chars().take(64).collect() };
        if v.is_empty() || v.len() > 64 {
            return Err(invalid());
        }
        let tz = jiff::tz::TimeZone::get(v).map_err(|_| invalid())?;
        Ok(TimeZoneName(tz.iana_name().unwrap_or(v).to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A name-like free-text field: trimmed, at most `max` characters, no control characters
/// but newlines and tabs.
pub fn text(raw: &str, max: usize) -> Result<String, Invalid> {
    let v = raw.trim();
    if v.chars().count() > max {
        return Err(Invalid::TooLong { max });
    }
    if v.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
        return Err(Invalid::ControlCharacters);
    }
    Ok(v.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_normalised_and_checked() {
        let e = Email::parse("  Alice.Smith@Example.COM ").expect("valid");
        assert_eq!(e.as_str(), "Alice.Smith@example.com");
        assert_eq!(e.key(), "alice.smith@example.com");
        // The limits count characters, as OpenAPI's maxLength does.
        let longest = format!("{}@{}.com", "é".repeat(64), "d".repeat(185));
        assert!(Email::parse(&longest).is_ok(), "254 characters, more bytes");
        let too_long = format!("{}@{}.com", "é".repeat(64), "d".repeat(186));
        assert!(Email::parse(&too_long).is_err(), "255 characters");
        for (bad, why) in [
            ("", "blank"),
            ("alice", "no at sign"),
            ("alice@example", "no dot in domain"),
            ("al ice@example.com", "space"),
            ("@example.com", "empty local part"),
            ("alice@.example.com", "domain starts with a dot"),
            ("alice@exa..mple.com", "double dot"),
            ("a<b@example.com", "special character"),
        ] {
            assert!(Email::parse(bad).is_err(), "{why}: {bad}");
        }
    }

    #[test]
    fn usernames_refuse_route_words_and_odd_characters() {
        assert!(Username::parse("alice_01").is_ok());
        for (bad, why) in [
            ("me", "route word"),
            ("Following", "route word, any case"),
            ("a b", "space"),
            ("", "blank"),
            ("al/ice", "slash"),
        ] {
            assert!(Username::parse(bad).is_err(), "{why}: {bad}");
        }
        assert!(Username::parse(&"a".repeat(151)).is_err());
    }

    #[test]
    fn generated_usernames_are_valid() {
        assert_eq!(Username::from_email(&Email::parse("user@example.com").expect("valid")).as_str(), "user");
        for email in ["me@example.com", "john.doe+tag@example.com", "ünï@example.com"] {
            let e = Email::parse(email).expect("valid email");
            let u = Username::from_email(&e);
            assert!(Username::parse(u.as_str()).is_ok(), "{email} -> {}", u.as_str());
        }
    }

    #[test]
    fn new_passwords_follow_the_rules() {
        assert!(Password::new_password("securepassword123").is_ok());
        assert!(Password::new_password(&"x7".repeat(32)).is_ok(), "64 characters are accepted");
        for (bad, why) in
            [("short1", "too short"), ("password123", "common"), ("1234567890123", "numeric"), ("", "blank")]
        {
            assert!(Password::new_password(bad).is_err(), "{why}");
        }
        assert!(Password::for_login(&"a".repeat(1025)).is_err(), "over 1024 characters refused at once");
        assert!(Password::for_login(&"é".repeat(1024)).is_ok(), "the limit counts characters, not bytes");
    }

    #[test]
    fn time_zones_are_real_iana_names() {
        assert_eq!(TimeZoneName::parse("America/New_York").map(|t| t.0), Ok("America/New_York".into()));
        assert_eq!(TimeZoneName::parse("UTC").map(|t| t.0), Ok("UTC".into()));
        assert_eq!(TimeZoneName::parse(" Mars/Base "), Err(Invalid::TimeZone { given: "Mars/Base".into() }));
        for bad in ["Mars/Olympus_Mons", "", "../../etc/passwd", "+05:00"] {
            assert!(TimeZoneName::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn passwords_are_nfkc_normalised() {
        let a = Password::for_login("ﬁancé-Ⅻ").expect("valid");
        let b = Password::for_login("fiancé-XII").expect("valid");
        assert_eq!(a.expose(), b.expose());
    }
}
