//! Login sessions, their revocation, and the signing keys of their tokens.

use std::fmt;

use jiff::Timestamp;

use super::types::{SessionId, UserId};

/// A login session: the JWT pairs of one login, or one browser session.
#[derive(Debug, Clone)]
pub struct SessionRecord {
    pub id: SessionId,
    pub user_id: UserId,
    pub kind: SessionKind,
    /// SHA-256 of the browser session's secret; `None` for JWT sessions.
    pub secret_hash: Option<Vec<u8>>,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
    pub revoked: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionKind {
    Jwt,
    Web,
}

impl SessionKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SessionKind::Jwt => "jwt",
            SessionKind::Web => "web",
        }
    }
}

/// A revocation every node must apply to what it caches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Revocation {
    Session(SessionId),
    User(UserId),
    /// Announcements may have been missed (a feed reconnected): forget everything cached.
    All,
}

impl Revocation {
    /// A short text form, for announcements between nodes and the outbox.
    pub fn encode(&self) -> String {
        match self {
            Revocation::Session(id) => format!("s:{}", id.0),
            Revocation::User(id) => format!("u:{}", id.0),
            Revocation::All => "all".into(),
        }
    }

    /// Reads [`Revocation::encode`]'s form; anything unreadable is taken as `All`, the safe side.
    pub fn decode(text: &str) -> Revocation {
        match text.split_once(':') {
            Some(("s", id)) if !id.is_empty() => Revocation::Session(SessionId(id.to_string())),
            Some(("u", id)) => id.parse().map(|n| Revocation::User(UserId(n))).unwrap_or(Revocation::All),
            _ => Revocation::All,
        }
    }
}

/// An access and a refresh token of one login session.
#[derive(Clone)]
pub struct TokenPair {
    pub access: String,
    pub refresh: String,
}

impl fmt::Debug for TokenPair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TokenPair { access: ***, refresh: *** }")
    }
}

/// Algorithm of the access and refresh tokens (`USERD_JWT_ALG`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JwtAlg {
    EdDsa,
    Hs256,
}

/// A signing key as stored: the private half encrypted with the master secret.
#[derive(Clone)]
pub struct StoredKey {
    pub kid: String,
    pub alg: String,
    pub private_enc: Vec<u8>,
    pub public: Vec<u8>,
    pub created_at: Timestamp,
}

impl fmt::Debug for StoredKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoredKey").field("kid", &self.kid).field("alg", &self.alg).finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn revocations_round_trip_through_their_text_form() {
        for r in [Revocation::Session(SessionId("abc".into())), Revocation::User(UserId(42)), Revocation::All] {
            assert_eq!(Revocation::decode(&r.encode()), r);
        }
        for garbage in ["garbage", "s:", "u:x", ""] {
            assert_eq!(Revocation::decode(garbage), Revocation::All, "{garbage}");
        }
    }

    #[test]
    fn token_pairs_do_not_print_their_tokens() {
        let pair = TokenPair { access: "secret-access".into(), refresh: "secret-refresh".into() };
        let shown = format!("{pair:?}");
        assert!(!shown.contains("secret"), "{shown}");
    }
}
