//! Parsed values: each has one fallible constructor that normalises, so the rest of the
//! code never handles an unchecked email, username or password.

use std::{collections::HashSet, fmt, sync::LazyLock};

use secrecy::{ExposeSecret, SecretString};
use unicode_normalization::UnicodeNormalization;

use super::{similarity, unicode};
use crate::domain::error::{FieldErrors, Invalid, UserAttribute};

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

/// An e-mail address in its one stored form: NFKC-normalised as a whole, the domain in
/// its ASCII form (IDNA, UTS 46: lower-cased, full-width and other compatibility forms
/// folded, Punycode for non-ASCII labels), the local part's case kept. `key()` is the
/// case-insensitive form uniqueness and look-ups compare.
///
/// Invisible characters, controls and white space are refused, not dropped: they are how
/// an address is made to look like someone else's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    pub const MAX_LEN: usize = 254;

    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        let v = raw.trim();
        if v.is_empty() {
            return Err(Invalid::Blank);
        }
        if v.chars().count() > Self::MAX_LEN || unicode::has_invisible_or_space(v) {
            return Err(Invalid::Email);
        }
        // A compatibility form (U+FF20 FULLWIDTH COMMERCIAL AT included) is its plain one.
        let v = unicode::nfkc(v);
        if unicode::has_invisible_or_space(&v) {
            return Err(Invalid::Email);
        }
        let Some((local, domain)) = v.rsplit_once('@') else { return Err(Invalid::Email) };
        let local_ok = !local.is_empty()
            && local.chars().count() <= 64
            && !local.contains('@')
            && !local.starts_with('.')
            && !local.ends_with('.')
            && !local.contains("..")
            && !local.contains(['"', '(', ')', ',', ':', ';', '<', '>', '[', '\\', ']']);
        if !local_ok {
            return Err(Invalid::Email);
        }
        let domain = Self::ascii_domain(domain).ok_or(Invalid::Email)?;
        // Punycode is longer than the Unicode it encodes: the stored form must fit too.
        let email = format!("{local}@{domain}");
        if email.chars().count() > Self::MAX_LEN {
            return Err(Invalid::Email);
        }
        Ok(Email(email))
    }

    /// The domain's ASCII form, or `None` when it is not a host name with a dot.
    fn ascii_domain(domain: &str) -> Option<String> {
        // UTS 46 without the STD3 deny list; the label rule below is the stricter check.
        let ascii = idna::domain_to_ascii(domain).ok()?;
        let ok = ascii.contains('.')
            && !ascii.starts_with('.')
            && !ascii.ends_with('.')
            && !ascii.contains("..")
            && ascii.split('.').all(|label| {
                !label.is_empty()
                    && !label.starts_with('-')
                    && !label.ends_with('-')
                    && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            });
        ok.then_some(ascii)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Case-insensitive identity of the address.
    pub fn key(&self) -> String {
        unicode::nfkc(&self.0.to_lowercase())
    }

    /// The key an address given at login, or stored before these rules, is looked up by:
    /// [`Email::key`] of the address once its invisible characters are dropped, or (for
    /// text that is no valid address) its normalised, lower-cased self. Every look-alike
    /// spelling of an address gives the same key.
    pub fn lookup_key(raw: &str) -> String {
        let visible = unicode::lookup_form(raw);
        Email::parse(&visible).map_or(visible, |e| e.key())
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

    /// NFKC-normalised first (Django's `normalize_username`), so a full-width or otherwise
    /// compatible spelling is the plain name; invisible characters are refused before that.
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        let v = raw.trim();
        if v.is_empty() {
            return Err(Invalid::Blank);
        }
        if unicode::has_invisible_or_space(v) {
            return Err(Invalid::Username);
        }
        let v = unicode::nfkc(v);
        if v.chars().count() > Self::MAX_LEN {
            return Err(Invalid::TooLong { max: Self::MAX_LEN });
        }
        if !v.chars().all(|c| c.is_ascii_alphanumeric() || "@.+-_".contains(c)) {
            return Err(Invalid::Username);
        }
        if Self::is_reserved(&v) {
            return Err(Invalid::ReservedUsername);
        }
        Ok(Username(v))
    }

    /// The key a username given at login or in a path is looked up by: invisible
    /// characters dropped, NFKC, lower-cased, as [`Username::key`] of a parsed one.
    pub fn lookup_key(raw: &str) -> String {
        unicode::lookup_form(raw)
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
        // Eight spaces pass every rule above; white space and invisible characters alone are
        // no secret (Django has no such validator; the sentence is userd's, in its style).
        if v.chars().all(|c| c.is_whitespace() || unicode::is_invisible(c)) {
            problems.push(Invalid::PasswordWhitespace);
        }
        if problems.is_empty() { Ok(p) } else { Err(problems) }
    }

    /// Django's `UserAttributeSimilarityValidator` (max similarity 0.7): refused when too
    /// similar to one of `attributes` (the user's username, first name, last name and
    /// e-mail, in Django's order), or to one of its parts; the first such attribute is
    /// named. Checked where the user's attributes are known: in the domain, not by the
    /// surfaces, so every path that sets a new password applies it.
    pub fn check_similarity(&self, attributes: &[(UserAttribute, &str)]) -> Result<(), Invalid> {
        let password = self.expose();
        match attributes.iter().find(|(_, value)| similarity::too_similar(password, value, similarity::MAX_SIMILARITY))
        {
            Some((attribute, _)) => Err(Invalid::PasswordTooSimilar { attribute: *attribute }),
            None => Ok(()),
        }
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
    fn look_alike_emails_are_one_address() {
        let key = |raw: &str| Email::parse(raw).map(|e| e.key());
        let precomposed = key("jos\u{00E9}@example.com").expect("valid");
        assert_eq!(key("jose\u{0301}@example.com").as_ref(), Ok(&precomposed), "decomposed accent");
        assert_eq!(key("JOSÉ@Example.com").as_ref(), Ok(&precomposed), "case");
        assert_eq!(key("josé＠ｅｘａｍｐｌｅ.com").as_ref(), Ok(&precomposed), "full-width at sign and domain");
        assert_eq!(key("josé@example。com").as_ref(), Ok(&precomposed), "ideographic full stop");
        assert_eq!(Email::parse("jose\u{0301}@EXAMPLE.com").map(|e| e.0), Ok("jos\u{00E9}@example.com".into()));
        // Domains are kept and compared in their ASCII form.
        assert_eq!(Email::parse("anna@Bücher.DE").map(|e| e.0), Ok("anna@xn--bcher-kva.de".into()));
        assert_eq!(key("anna@xn--bcher-kva.de"), key("anna@bücher.de"));
        assert_eq!(Email::parse("user@ｅｘａｍｐｌｅ.com").map(|e| e.0), Ok("user@example.com".into()));
    }

    #[test]
    fn invisible_characters_make_no_address_and_no_username() {
        for c in [
            '\u{200B}',
            '\u{200C}',
            '\u{200D}',
            '\u{2060}',
            '\u{FEFF}',
            '\u{00AD}',
            '\u{202E}',
            '\u{2067}',
            '\u{E0020}',
        ] {
            let local = format!("jo{c}se@example.com");
            assert_eq!(Email::parse(&local), Err(Invalid::Email), "U+{:04X} in the local part", c as u32);
            let domain = format!("jose@exa{c}mple.com");
            assert_eq!(Email::parse(&domain), Err(Invalid::Email), "U+{:04X} in the domain", c as u32);
            assert_eq!(Username::parse(&format!("jo{c}se")), Err(Invalid::Username), "U+{:04X}", c as u32);
            // A look-up ignores them, so the account is found whatever was pasted.
            assert_eq!(Email::lookup_key(&local), "jose@example.com");
            assert_eq!(Username::lookup_key(&format!("Jo{c}se")), "jose");
        }
        assert_eq!(Email::parse("jose@example.com\u{00A0}x"), Err(Invalid::Email), "no-break space");
    }

    #[test]
    fn usernames_are_nfkc_normalised() {
        assert_eq!(Username::parse("ａｌｉｃｅ").map(|u| u.0), Ok("alice".into()));
        assert_eq!(Username::parse("ﬁona").map(|u| u.0), Ok("fiona".into()));
        assert_eq!(Username::parse("Ａｌｉｃｅ").map(|u| u.key()), Username::parse("alice").map(|u| u.key()));
        assert_eq!(Username::parse("ｍｅ"), Err(Invalid::ReservedUsername), "reserved once normalised");
        assert_eq!(Username::lookup_key(" ＡＬＩＣＥ "), "alice");
    }

    #[test]
    fn lookup_keys_equal_the_stored_keys() {
        for raw in ["alice@example.com", "José@Bücher.de", "jose\u{0301}@ｅｘａｍｐｌｅ.com", "A.B+c@Sub.Example.ORG"]
        {
            let parsed = Email::parse(raw).expect("valid");
            assert_eq!(Email::lookup_key(raw), parsed.key(), "{raw}");
            assert_eq!(Email::lookup_key(parsed.as_str()), parsed.key(), "{raw} as stored");
        }
        assert_eq!(Email::lookup_key("not an address"), "not an address");
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
        assert_eq!(Password::new_password("        ").err(), Some(vec![Invalid::PasswordWhitespace]), "eight spaces");
        assert_eq!(
            Password::new_password("\u{3000}\t \u{200B}\u{00A0}   ").err(),
            Some(vec![Invalid::PasswordWhitespace]),
            "any white space or invisible character"
        );
        assert!(Password::new_password(" a secret phrase ").is_ok(), "spaces around words are kept");
        assert!(Password::for_login(&"a".repeat(1025)).is_err(), "over 1024 characters refused at once");
        assert!(Password::for_login(&"é".repeat(1024)).is_ok(), "the limit counts characters, not bytes");
    }

    #[test]
    fn new_passwords_may_not_resemble_the_user() {
        let attributes = [
            (UserAttribute::Username, "jsmith"),
            (UserAttribute::FirstName, "Johanna"),
            (UserAttribute::LastName, "Smithson"),
            (UserAttribute::Email, "johanna.smithson@example.com"),
        ];
        let check = |p: &str| Password::for_login(p).expect("valid").check_similarity(&attributes);
        for (password, attribute, why) in [
            ("johanna.smithson@example.com", UserAttribute::Email, "the e-mail itself"),
            ("JOHANNA.SMITHSON@EXAMPLE.COM", UserAttribute::Email, "in capitals"),
            ("smithson2024", UserAttribute::LastName, "a name and a year"),
            ("examples.com", UserAttribute::Email, "the domain"),
            ("jsmith99", UserAttribute::Username, "the username"),
        ] {
            assert_eq!(check(password), Err(Invalid::PasswordTooSimilar { attribute }), "{why}");
        }
        assert_eq!(check("correct horse battery staple"), Ok(()));
        assert_eq!(check("Tr0ub4dor&3"), Ok(()));
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
