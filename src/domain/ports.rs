//! What the domain needs from storage, sliced by capability. `store::SqlStore` implements
//! every trait on SQLite and on PostgreSQL; nothing else in the crate sees a pool.

use async_trait::async_trait;
use jiff::Timestamp;

use super::{
    billing::{BillingChange, CheckoutSessionId, CustomerId, NewCheckout, NewCustomer, PaymentEvent},
    error::Result,
    types::{SessionId, UserId},
    user::{NewUser, ProfileUpdate, User},
};

#[async_trait]
pub trait UserStore: Send + Sync {
    /// Inserts a user; `Error::Conflict { field: "email" | "username" }` when either is taken.
    async fn create_user(&self, new: &NewUser) -> Result<User>;
    async fn user_by_id(&self, id: UserId) -> Result<Option<User>>;
    /// The user and their password hash (if any), by case-insensitive e-mail.
    async fn credentials_by_email(&self, email_key: &str) -> Result<Option<(User, Option<String>)>>;
    async fn credentials_by_username(&self, username_key: &str) -> Result<Option<(User, Option<String>)>>;
    async fn username_taken(&self, username_key: &str) -> Result<bool>;
    /// Applies the update; `Error::Conflict { field: "email" }` when the new e-mail is taken.
    async fn update_profile(&self, id: UserId, update: &ProfileUpdate) -> Result<User>;
    /// Stores a new password hash and revokes every session of the user, in one transaction.
    async fn set_password(&self, id: UserId, hash: &str) -> Result<()>;
    async fn set_staff(&self, id: UserId, is_staff: bool) -> Result<()>;
}

/// A login session: the JWT pairs of one login, or one browser session.
#[derive(Debug, Clone)]
pub struct SessionRecord {
    pub id: SessionId,
    pub user_id: UserId,
    pub kind: SessionKind,
    /// SHA-256 of the browser session's secret; `None` for JWT sessions.
    pub secret_hash: Option<Vec<u8>>,
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

#[async_trait]
pub trait SessionStore: Send + Sync {
    async fn create_session(&self, session: &SessionRecord) -> Result<()>;
    async fn session(&self, id: &SessionId) -> Result<Option<SessionRecord>>;
    async fn revoke_session(&self, id: &SessionId) -> Result<()>;
    /// Blacklists a refresh token and revokes its session, in one transaction.
    async fn blacklist_refresh(
        &self,
        jti: &str,
        user: UserId,
        expires_at: Timestamp,
        session: &SessionId,
    ) -> Result<()>;
    async fn is_refresh_blacklisted(&self, jti: &str) -> Result<bool>;
    /// Removes expired sessions and blacklist rows; returns how many rows went.
    async fn purge_expired(&self, now: Timestamp) -> Result<u64>;
    /// Revocations made by other nodes sharing the database, if the backend can announce them.
    async fn revocation_feed(&self) -> Option<tokio::sync::mpsc::Receiver<Revocation>>;
}

/// A revocation announced to every node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Revocation {
    Session(SessionId),
    User(UserId),
    /// Notifications may have been missed (the feed reconnected): forget everything cached.
    All,
}

/// A signing key as stored: the private half encrypted with the master secret.
#[derive(Debug, Clone)]
pub struct StoredKey {
    pub kid: String,
    pub alg: String,
    pub private_enc: Vec<u8>,
    pub public: Vec<u8>,
    pub created_at: Timestamp,
}

#[async_trait]
pub trait KeyStore: Send + Sync {
    async fn signing_keys(&self) -> Result<Vec<StoredKey>>;
    async fn insert_signing_key(&self, key: &StoredKey) -> Result<()>;
}

#[async_trait]
pub trait ApiTokenStore: Send + Sync {
    /// The sealed token of a user, if one was ever issued.
    async fn sealed_api_token(&self, user: UserId) -> Result<Option<Vec<u8>>>;
    /// Stores a token unless the user already has one; returns whether it was stored.
    async fn insert_api_token(&self, user: UserId, hash: &[u8], sealed: &[u8]) -> Result<bool>;
    /// Replaces the user's token, so the old one stops working at once.
    async fn replace_api_token(&self, user: UserId, hash: &[u8], sealed: &[u8]) -> Result<()>;
    async fn api_token_owner(&self, hash: &[u8]) -> Result<Option<UserId>>;
}

/// A payment provider: customers and checkout sessions through its API, and the events it
/// delivers to the webhook. Implemented over Stripe's REST API by `crate::stripe`.
#[async_trait]
pub trait PaymentGateway: Send + Sync {
    /// Whether API calls can be made at all (a secret key is configured).
    fn checkout_enabled(&self) -> bool;
    /// Creates a customer; `Error::Upstream` when the provider fails or cannot be reached.
    async fn create_customer(&self, customer: &NewCustomer) -> Result<CustomerId>;
    /// Opens a subscription checkout; `Error::Upstream` when the provider fails or cannot be reached.
    async fn create_checkout_session(&self, checkout: &NewCheckout) -> Result<CheckoutSessionId>;
    /// Checks a webhook delivery's signature against the raw payload, then reads the event.
    /// `Error::NotConfigured` without a signing secret, `Error::InvalidSignature` for a missing,
    /// wrong or stale signature, `Error::Validation` for a signed payload that is no event.
    fn verify_event(&self, signature: Option<&str>, payload: &[u8], now: Timestamp) -> Result<PaymentEvent>;
}

#[async_trait]
pub trait BillingStore: Send + Sync {
    /// The user's customer at the payment provider, if one was created.
    async fn customer_id(&self, user: UserId) -> Result<Option<CustomerId>>;
    /// Stores the user's customer unless one is stored already; returns the stored one.
    async fn link_customer(&self, user: UserId, customer: &CustomerId) -> Result<CustomerId>;
    /// In one transaction: records the event id and, when it was not recorded before,
    /// applies `change`. Returns whether the event was new.
    async fn record_event(&self, id: &str, kind: &str, change: Option<&BillingChange>) -> Result<bool>;
}

#[async_trait]
pub trait Health: Send + Sync {
    async fn ping(&self) -> Result<()>;
}
