//! Tokens whose signature this node has already checked, so a client that sends the same
//! access (or refresh) token on every request pays for one Ed25519 verification per token,
//! not one per request.
//!
//! Entries are keyed by the SHA-256 of the whole token (header, claims and signature), so
//! a hit is only ever the very token that was verified, and hold the claims it carried. An
//! entry is served only until the token's `exp` (with the same leeway as a full check) and
//! only by the key ring it was verified under: a ring whose keys change starts with an
//! empty memo. Nothing here decides whether the login is still valid: every request still
//! checks its session (and account) after this, and revocations drop the session's entries
//! here too.

use std::{collections::HashMap, sync::Mutex};

use aws_lc_rs::digest;

use super::tokens::{Claims, TokenType};
use crate::domain::model::Revocation;

/// Tokens kept before the memo starts afresh (~250 bytes each).
const CAPACITY: usize = 32_768;

type Key = [u8; 32];

#[derive(Default)]
pub(super) struct Verified {
    entries: Mutex<HashMap<Key, Claims>>,
}

pub(super) fn key(token: &str) -> Key {
    let mut key = [0u8; 32];
    key.copy_from_slice(digest::digest(&digest::SHA256, token.as_bytes()).as_ref());
    key
}

impl Verified {
    fn with<T>(&self, f: impl FnOnce(&mut HashMap<Key, Claims>) -> T) -> T {
        let mut guard = match self.entries.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        f(&mut guard)
    }

    /// The claims of an already verified token of type `expected`, while `valid` says so.
    pub(super) fn get(&self, key: &Key, expected: TokenType, valid: impl Fn(&Claims) -> bool) -> Option<Claims> {
        self.with(|m| match m.get(key) {
            Some(c) if c.token_type == expected && valid(c) => Some(c.clone()),
            Some(_) => {
                m.remove(key);
                None
            }
            None => None,
        })
    }

    pub(super) fn insert(&self, key: Key, claims: &Claims) {
        self.with(|m| {
            if m.len() >= CAPACITY {
                m.clear();
            }
            m.insert(key, claims.clone());
        });
    }

    /// Drops the tokens of revoked sessions (they would be refused anyway, by the session
    /// check that follows every lookup).
    pub(super) fn apply(&self, revocation: &Revocation) {
        self.with(|m| match revocation {
            Revocation::Session(id) => m.retain(|_, c| c.sid != id.0),
            Revocation::User(user) => m.retain(|_, c| c.user_id != user.0),
            Revocation::All => m.clear(),
        });
    }
}
