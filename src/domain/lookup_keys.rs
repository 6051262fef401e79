//! Accounts stored before e-mails and usernames were normalised (NFKC, IDNA, invisible
//! characters refused) carry keys made by lower-casing alone: `josé` typed with a
//! combining accent, or a Unicode domain, would be missed by a look-up that normalises.
//! At start, each such key is made again as a look-up makes it, so every look-alike
//! spelling finds the account and a look-alike registration is refused as taken.

use super::{
    error::Result,
    model::{Email, StoredIdentity, Username},
    ports::UserStore,
};

/// What [`normalise`] did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Rekeyed {
    /// Keys replaced.
    pub changed: usize,
    /// Keys left as they were because an older account has the normal form already: two
    /// look-alike accounts registered before the rules. The later one keeps signing in with
    /// its exact old spelling (and by its other name) until an operator merges or renames it.
    pub conflicts: usize,
}

/// Re-keys the accounts whose stored e-mail or username holds a character outside ASCII
/// (only those can change), oldest first, so the first of two look-alikes keeps the key.
pub async fn normalise(users: &dyn UserStore) -> Result<Rekeyed> {
    let mut done = Rekeyed::default();
    for row in users.non_ascii_identities().await? {
        let StoredIdentity { id, email, username, email_key, username_key } = row;
        let (new_email, new_username) = (Email::lookup_key(&email), Username::lookup_key(&username));
        let mut kept_email = email_key.clone();
        if new_email != email_key {
            if users.set_identity_keys(id, &new_email, &username_key).await? {
                kept_email = new_email;
                done.changed += 1;
            } else {
                done.conflicts += 1;
                tracing::warn!(user_id = %id, "another account has this account's e-mail in its normal form; its key is left as it was");
            }
        }
        if new_username != username_key {
            if users.set_identity_keys(id, &kept_email, &new_username).await? {
                done.changed += 1;
            } else {
                done.conflicts += 1;
                tracing::warn!(user_id = %id, "another account has this account's username in its normal form; its key is left as it was");
            }
        }
    }
    Ok(done)
}
