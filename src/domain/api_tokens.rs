//! Personal API tokens (documents 000 and 001): one long-lived token per user, shown again
//! on request, replaced on demand. Stored as a SHA-256 for lookup plus an AES-256-GCM
//! ciphertext, so a database leak alone reveals no usable token.

use std::sync::Arc;

use secrecy::{ExposeSecret, SecretString};
use tracing::instrument;

use super::{
    clock::Clock,
    crypto::{self, Sealer},
    error::{AuthFailure, Error, Result},
    events::Events,
    model::{Client, EventKind, Principal, UserId, Via},
    ports::ApiTokenStore,
};

/// Recognisable prefix, so secret scanners can spot a leaked token.
pub const PREFIX: &str = "userd_";

/// Whether `token` is a Django REST framework `authtoken` key (40 hex characters): an
/// imported user's token keeps working as their personal API token.
pub fn is_drf_key(token: &str) -> bool {
    token.len() == 40 && token.bytes().all(|b| b.is_ascii_hexdigit())
}

pub(in crate::domain) fn context(user: UserId) -> Vec<u8> {
    format!("api-token:{}", user.0).into_bytes()
}

#[derive(Clone)]
pub struct ApiTokens {
    store: Arc<dyn ApiTokenStore>,
    /// Seals tokens at rest.
    sealer: Arc<Sealer>,
    events: Events,
    clock: Arc<dyn Clock>,
}

impl ApiTokens {
    pub fn new(store: Arc<dyn ApiTokenStore>, sealer: Sealer, events: Events, clock: Arc<dyn Clock>) -> Self {
        ApiTokens { store, sealer: Arc::new(sealer), events, clock }
    }

    fn new_token(&self, user: UserId) -> Result<(SecretString, Vec<u8>, Vec<u8>)> {
        let token = format!("{PREFIX}{}", crypto::random_token(32)?);
        let hash = crypto::sha256(token.as_bytes());
        let sealed = self.sealer.seal(token.as_bytes(), &context(user))?;
        Ok((SecretString::from(token), hash, sealed))
    }

    /// The user's token, issuing the first one on first use.
    #[instrument(skip_all)]
    pub async fn token(&self, user: UserId) -> Result<SecretString> {
        for _ in 0..2 {
            if let Some(sealed) = self.store.sealed_api_token(user).await? {
                let plain = self.sealer.open(&sealed, &context(user))?;
                let token = String::from_utf8(plain).map_err(anyhow::Error::from)?;
                return Ok(SecretString::from(token));
            }
            let (token, hash, sealed) = self.new_token(user)?;
            if self.store.insert_api_token(user, &hash, &sealed, self.clock.now()).await? {
                return Ok(token);
            }
            // A concurrent request issued one first: show that one.
        }
        Err(anyhow::anyhow!("API token could not be issued").into())
    }

    /// Issues a new token; the old one is refused from the very next request on.
    #[instrument(skip_all)]
    pub async fn regenerate(&self, user: UserId, client: &Client) -> Result<SecretString> {
        let (token, hash, sealed) = self.new_token(user)?;
        self.store.replace_api_token(user, &hash, &sealed, self.clock.now()).await?;
        self.events.record(user, EventKind::ApiTokenRegenerated, client, None).await;
        Ok(token)
    }

    /// Authenticates a personal API token. Looked up by its hash on every request (no
    /// cache), so a regenerated token stops working at once on every node.
    pub async fn authenticate(&self, token: &SecretString) -> Result<Principal> {
        let token = token.expose_secret();
        if !(token.starts_with(PREFIX) || is_drf_key(token)) || token.len() > 128 {
            return Err(Error::Unauthenticated(AuthFailure::Invalid));
        }
        let owner = self.store.api_token_owner(&crypto::sha256(token.as_bytes())).await?;
        let user = owner.ok_or(Error::Unauthenticated(AuthFailure::Invalid))?;
        Principal::new(user, None, Via::ApiToken)
    }
}
