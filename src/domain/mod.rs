//! The domain: users, credentials and sessions. It knows no HTTP and no SQL; storage sits
//! behind the traits in [`ports`], and every surface calls the methods of [`Service`].

pub mod api_tokens;
pub mod auth;
pub mod billing;
pub mod crypto;
pub mod error;
pub mod files;
pub mod passwords;
pub mod ports;
pub mod profile;
pub mod sessions;
pub mod throttle;
pub mod tokens;
pub mod types;
pub mod user;
pub mod web_sessions;

use std::{sync::Arc, time::Duration};

pub use error::{AuthFailure, Error, FieldErrors, Result};

use self::{
    billing::Billing,
    crypto::Sealer,
    files::{BlobStore, FileStore},
    passwords::PasswordHasher,
    ports::{ApiTokenStore, BillingStore, Health, KeyStore, SessionStore, UserStore},
    sessions::SessionCache,
    throttle::Throttle,
    tokens::Tokens,
};

/// The current time at the precision stored (microseconds), so a value returned at
/// creation equals the value read back later.
pub fn now() -> jiff::Timestamp {
    let t = jiff::Timestamp::now();
    jiff::Timestamp::from_microsecond(t.as_microsecond()).unwrap_or(t)
}

/// The stores the domain runs on; one SQL store usually fills every slot.
#[derive(Clone)]
pub struct Stores {
    pub users: Arc<dyn UserStore>,
    pub sessions: Arc<dyn SessionStore>,
    pub keys: Arc<dyn KeyStore>,
    pub api_tokens: Arc<dyn ApiTokenStore>,
    pub files: Arc<dyn FileStore>,
    pub blobs: Arc<dyn BlobStore>,
    pub billing: Arc<dyn BillingStore>,
    pub health: Arc<dyn Health>,
}

/// Entry point of every use case.
#[derive(Clone)]
pub struct Service {
    pub(crate) users: Arc<dyn UserStore>,
    pub(crate) sessions: Arc<dyn SessionStore>,
    pub(crate) api_tokens: Arc<dyn ApiTokenStore>,
    pub(crate) files: Arc<dyn FileStore>,
    pub(crate) blobs: Arc<dyn BlobStore>,
    pub(crate) max_upload_bytes: u64,
    pub(crate) billing_store: Arc<dyn BillingStore>,
    pub(crate) health: Arc<dyn Health>,
    /// The payment provider and the plans it sells.
    pub(crate) billing: Arc<Billing>,
    /// Seals personal API tokens at rest.
    pub(crate) token_sealer: Arc<Sealer>,
    pub(crate) hasher: PasswordHasher,
    pub(crate) tokens: Tokens,
    pub(crate) throttle: Throttle,
    pub(crate) session_cache: Arc<SessionCache>,
}

impl Service {
    pub fn new(
        stores: Stores,
        billing: Billing,
        token_sealer: Sealer,
        hasher: PasswordHasher,
        tokens: Tokens,
        throttle: Throttle,
    ) -> Self {
        Service {
            users: stores.users,
            sessions: stores.sessions,
            api_tokens: stores.api_tokens,
            files: stores.files,
            blobs: stores.blobs,
            max_upload_bytes: u64::MAX,
            billing_store: stores.billing,
            health: stores.health,
            billing: Arc::new(billing),
            token_sealer: Arc::new(token_sealer),
            hasher,
            tokens,
            throttle,
            session_cache: Arc::new(SessionCache::default()),
        }
    }

    /// Largest upload accepted, in bytes.
    pub fn with_max_upload_bytes(mut self, max: u64) -> Self {
        self.max_upload_bytes = max;
        self
    }

    pub fn tokens(&self) -> &Tokens {
        &self.tokens
    }

    /// Whether the database answers (`/readyz`).
    pub async fn ready(&self) -> bool {
        self.health.ping().await.is_ok()
    }

    /// Starts the background work of a serving node: revocations announced by other nodes,
    /// purging of expired sessions, key reloads and throttle housekeeping.
    pub fn spawn_background(&self) {
        let svc = self.clone();
        tokio::spawn(async move {
            if let Some(mut feed) = svc.sessions.revocation_feed().await {
                while let Some(revocation) = feed.recv().await {
                    svc.session_cache.apply(&revocation);
                }
            }
        });
        let svc = self.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(60));
            let mut rounds: u64 = 0;
            loop {
                tick.tick().await;
                if rounds % 10 == 0
                    && let Err(e) = svc.purge_abandoned_uploads().await
                {
                    tracing::warn!(error = %e, "purging abandoned uploads failed");
                }
                rounds += 1;
                svc.throttle.housekeeping();
                if let Err(e) = svc.tokens.reload().await {
                    tracing::warn!(error = %e, "reloading signing keys failed");
                }
                if let Err(e) = svc.sessions.purge_expired(jiff::Timestamp::now()).await {
                    tracing::warn!(error = %e, "purging expired sessions failed");
                }
            }
        });
    }
}
