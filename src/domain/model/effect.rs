//! What a use case must make happen after its transaction commits. Effects are written to
//! the outbox in the same transaction as the change that causes them, so an effect exists
//! exactly when its change does, and survives a crash between the commit and the delivery.

use super::session::Revocation;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// Tell every node to drop what it caches about these sessions.
    Announce(Revocation),
    /// Remove bytes nothing refers to any more (a replaced profile picture).
    DeleteBlob(String),
    /// Send a mail. The payload is the mail sealed with the master secret (it carries a
    /// single-use token), so the outbox table never holds a usable link.
    Mail(String),
}

impl Effect {
    /// `(kind, payload)` as stored in the outbox.
    pub fn encode(&self) -> (&'static str, String) {
        match self {
            Effect::Announce(r) => ("announce", r.encode()),
            Effect::DeleteBlob(key) => ("delete_blob", key.clone()),
            Effect::Mail(sealed) => ("mail", sealed.clone()),
        }
    }

    /// `None` for a kind this version does not know (written by a newer node).
    pub fn decode(kind: &str, payload: &str) -> Option<Effect> {
        match kind {
            "announce" => Some(Effect::Announce(Revocation::decode(payload))),
            "delete_blob" => Some(Effect::DeleteBlob(payload.to_string())),
            "mail" => Some(Effect::Mail(payload.to_string())),
            _ => None,
        }
    }
}

/// An effect as the outbox holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxItem {
    pub id: i64,
    pub effect: Option<Effect>,
    pub attempts: i32,
}
