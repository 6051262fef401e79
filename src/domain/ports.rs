//! What the domain needs from the outside, sliced by capability. `store::SqlStore`
//! implements the storage traits on SQLite and on PostgreSQL, `blob::ObjectBlobs` the
//! byte storage and `stripe::StripeGateway` the payment provider; nothing else in the
//! crate sees a pool or a client.
//!
//! Reads and single-row writes are methods of the area's store trait. A use case that
//! writes several rows opens a [`Tx`] through [`UnitOfWork`], writes through it, queues
//! its after-commit effects in it, and commits once.

use async_trait::async_trait;
use bytes::Bytes;
use futures_util::stream::BoxStream;
use jiff::Timestamp;

use super::{
    error::Result,
    model::{
        CounterKey, CountersUpdate, Counts, DirectoryChange, DirectoryCount, DirectoryFilter, DirectoryQuery,
        DirectoryRead, DirectoryState, Effect, FileId, Follow, LinkedIdentity, ListPage, Mail, MailPurpose, MailToken,
        NewUser, OutboxItem, Page, PageRequest, ProfileUpdate, Provider, ProviderIdentity, RedeemedToken, Revocation,
        SecurityEvent, Seek, SessionId, SessionRecord, SignInMethods, StorageSummary, StoredFile, StoredIdentity,
        StoredKey, Unlinked, User, UserCard, UserId, UserSearch,
        billing::{BillingChange, CheckoutSession, CustomerId, NewCheckout, NewCustomer, PaymentEvent},
    },
};

/// Document 003's directory: searches and pages over active users, by username, and the
/// counters a posts service keeps.
#[async_trait]
pub trait DirectoryStore: Send + Sync {
    /// The active users matching `query`, in its order, with `is_following` false (the
    /// viewer's follows are read apart), their positions and the version read at;
    /// `offset`/`limit` are already worked out by the caller (which may have reversed the
    /// order to read from the far end), and count from `seek` when given. `matching` is how
    /// many match in all, of `active` users, which the store may use to choose how to read
    /// (walk the ordering and test each user, or collect the matches and sort them).
    async fn search(
        &self,
        query: &DirectoryQuery,
        seek: Option<&Seek>,
        offset: u64,
        limit: u32,
        matching: u64,
        active: u64,
    ) -> Result<DirectoryRead>;
    /// How many active users match `query`'s filters (without filters: kept, not counted),
    /// with the directory's version read in the same snapshot.
    async fn count(&self, query: &DirectoryQuery) -> Result<DirectoryCount>;
    /// `query`'s filters folded exactly as this store's SQL folds them, so that
    /// [`DirectoryChange::delta`] agrees with [`DirectoryStore::count`].
    async fn filter(&self, query: &DirectoryQuery) -> Result<DirectoryFilter>;
    /// The logged changes of the versions after `after` up to `upto`, in order; `None`
    /// when the log no longer holds every one of them (pruned, or a bulk statement that
    /// moved the version without logging its rows): count again.
    async fn changes(&self, after: u64, upto: u64) -> Result<Option<Vec<DirectoryChange>>>;
    /// Forgets the logged changes but those of the last `keep` versions; how many went.
    async fn prune_changes(&self, keep: u64) -> Result<u64>;
    /// The active users and the directory's version (one row read).
    async fn state(&self) -> Result<DirectoryState>;
    /// An active user by case-insensitive username.
    async fn active_by_username(&self, username_key: &str) -> Result<Option<User>>;
    async fn counts(&self, user: UserId) -> Result<Counts>;
    async fn set_counters(&self, user: UserId, update: &CountersUpdate, now: Timestamp) -> Result<Counts>;
}

/// The follow graph. Lists and counts leave out inactive users.
#[async_trait]
pub trait FollowStore: Send + Sync {
    /// `Error::Conflict { field: "following" }` when it exists already.
    async fn follow(&self, follower: UserId, following: UserId, now: Timestamp) -> Result<Follow>;
    /// Whether there was such a follow.
    async fn unfollow(&self, follower: UserId, following: UserId) -> Result<bool>;
    /// Which of `users` `viewer` follows.
    async fn followed_among(&self, viewer: UserId, users: &[UserId]) -> Result<Vec<UserId>>;
    /// The follows `follower` made (as follow records), newest first, and how many.
    async fn follows_of(&self, follower: UserId, page: ListPage) -> Result<(Vec<Follow>, u64)>;
    /// Who follows `user` (`followers`) or whom `user` follows, as cards seen by `viewer`.
    async fn connections(
        &self,
        user: UserId,
        followers: bool,
        viewer: Option<UserId>,
        page: ListPage,
    ) -> Result<(Vec<UserCard>, u64)>;
}

#[async_trait]
pub trait UserStore: Send + Sync {
    async fn user_by_id(&self, id: UserId) -> Result<Option<User>>;
    /// The user and their password hash (if any), by case-insensitive e-mail.
    async fn credentials_by_email(&self, email_key: &str) -> Result<Option<(User, Option<String>)>>;
    async fn credentials_by_username(&self, username_key: &str) -> Result<Option<(User, Option<String>)>>;
    /// Sets the password hash to `new` if it is still `old`; returns whether it was.
    async fn replace_password_hash(&self, user: UserId, old: &str, new: &str, now: Timestamp) -> Result<bool>;
    /// Users whose stored e-mail or username holds a character outside ASCII, oldest
    /// first: the only ones whose keys the Unicode normalisation can change.
    async fn non_ascii_identities(&self) -> Result<Vec<StoredIdentity>>;
    /// Replaces a user's look-up keys; `false` (and nothing changed) when another user
    /// holds one of them already.
    async fn set_identity_keys(&self, user: UserId, email_key: &str, username_key: &str) -> Result<bool>;
}

#[async_trait]
pub trait SessionStore: Send + Sync {
    async fn session(&self, id: &SessionId) -> Result<Option<SessionRecord>>;
    async fn is_refresh_blacklisted(&self, jti: &str) -> Result<bool>;
    /// Removes expired sessions and blacklist rows; returns how many rows went.
    async fn purge_expired(&self, now: Timestamp) -> Result<u64>;
}

/// Revocations between nodes sharing a database.
#[async_trait]
pub trait RevocationBus: Send + Sync {
    /// Tells every node (this one included, where the backend echoes) about a revocation.
    async fn announce(&self, revocation: &Revocation) -> Result<()>;
    /// Revocations announced by any node, if the backend can carry them.
    async fn feed(&self) -> Option<tokio::sync::mpsc::Receiver<Revocation>>;
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
    async fn insert_api_token(&self, user: UserId, hash: &[u8], sealed: &[u8], now: Timestamp) -> Result<bool>;
    /// Replaces the user's token, so the old one stops working at once.
    async fn replace_api_token(&self, user: UserId, hash: &[u8], sealed: &[u8], now: Timestamp) -> Result<()>;
    /// The owner of the token with this hash.
    async fn api_token_owner(&self, hash: &[u8]) -> Result<Option<User>>;
}

#[async_trait]
pub trait FileStore: Send + Sync {
    async fn create_file(&self, file: &StoredFile) -> Result<()>;
    async fn mark_available(&self, id: &FileId, size: i64, sha256: &str, now: Timestamp) -> Result<()>;
    /// Removes the row; `false` when there was none.
    async fn delete_file(&self, id: &FileId) -> Result<bool>;
    async fn file(&self, owner: UserId, id: &FileId) -> Result<Option<StoredFile>>;
    /// A page of a user's files, newest first.
    async fn files(&self, owner: UserId, page: &PageRequest) -> Result<Page<StoredFile>>;
    /// Sum and count of the user's available files.
    async fn storage_summary(&self, owner: UserId) -> Result<StorageSummary>;
    /// Pending files created before `before` (uploads a crash cut off).
    async fn stale_pending(&self, before: Timestamp) -> Result<Vec<StoredFile>>;
}

/// Where file bytes live (local disk or S3-compatible storage).
#[async_trait]
pub trait BlobStore: Send + Sync {
    async fn writer(&self, key: &str) -> Result<Box<dyn BlobWriter>>;
    async fn read(&self, key: &str) -> Result<BoxStream<'static, std::io::Result<Bytes>>>;
    /// Deletes the bytes, and those of an unfinished upload to `key`; a missing object is
    /// not an error.
    async fn delete(&self, key: &str) -> Result<()>;
    /// The bytes of uploads that never finished and that the store keeps out of sight: on
    /// local disk, the `<key>#<n>` staging files a killed process leaves behind. Empty for
    /// S3, whose incomplete multipart uploads the bucket's lifecycle rule removes.
    async fn unfinished(&self) -> Result<Vec<Unfinished>>;
    /// Removes one of [`BlobStore::unfinished`]'s; one already gone is not an error.
    async fn remove_unfinished(&self, unfinished: &Unfinished) -> Result<()>;
}

/// The bytes of an upload that never finished.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unfinished {
    /// The key the upload was writing to.
    pub key: String,
    /// When its bytes were last written.
    pub modified: Timestamp,
    /// Where the store keeps them (opaque to the domain).
    pub location: String,
}

#[async_trait]
pub trait BlobWriter: Send {
    async fn write(&mut self, chunk: Bytes) -> Result<()>;
    async fn finish(self: Box<Self>) -> Result<()>;
    async fn abort(self: Box<Self>);
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
    async fn create_checkout_session(&self, checkout: &NewCheckout) -> Result<CheckoutSession>;
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
    async fn link_customer(&self, user: UserId, customer: &CustomerId, now: Timestamp) -> Result<CustomerId>;
    /// In one transaction: records the event id and, when it was not recorded before,
    /// applies `change`. Returns whether the event was new.
    async fn record_event(&self, id: &str, kind: &str, change: Option<&BillingChange>, now: Timestamp) -> Result<bool>;
}

/// A sign-in provider: turns what a client got from it (Google's ID token, GitHub's
/// authorization code) into the identity it vouches for. Implemented by `crate::social`.
#[async_trait]
pub trait IdentityProvider: Send + Sync {
    /// `Error::NotConfigured(Feature::Login(_))` without its settings;
    /// `Error::ProviderRefused` when the credential is invalid, expired or used, or the
    /// provider fails, times out or cannot be reached (logged, never shown). An identity
    /// without a verified e-mail is returned with `verified_email: None`; what to do with
    /// it is the domain's decision. `now` is the domain's clock.
    async fn identify(&self, credential: &str, now: Timestamp) -> Result<ProviderIdentity>;
}

/// Provider identities linked to users.
#[async_trait]
pub trait IdentityStore: Send + Sync {
    /// The link of a provider identity, if there is one.
    async fn identity(&self, provider: Provider, subject: &str) -> Result<Option<LinkedIdentity>>;
    /// Whether the user has a password, and their linked identities (oldest first).
    async fn sign_in_methods(&self, user: UserId) -> Result<SignInMethods>;
    /// Removes the user's identity of `provider` unless it is their last way to sign in (no
    /// password, no other identity), deciding in one transaction that holds the user's row,
    /// so two concurrent unlinks cannot both remove the last two ways.
    async fn unlink_identity(&self, user: UserId, provider: Provider) -> Result<Unlinked>;
}

/// Where mails leave: an SMTP server, or `.eml` files in the data directory (`crate::mail`).
#[async_trait]
pub trait Mailer: Send + Sync {
    /// Hands the mail over; an error is retried by the outbox.
    async fn send(&self, mail: &Mail) -> Result<()>;
}

/// The security event log (events written inside a use case go through [`Tx::insert_event`]).
#[async_trait]
pub trait EventStore: Send + Sync {
    async fn insert_event(&self, event: &SecurityEvent) -> Result<()>;
    /// A page of the user's events, newest first.
    async fn events(&self, user: UserId, page: &PageRequest) -> Result<Page<SecurityEvent>>;
    /// Removes events older than `before`; returns how many went.
    async fn purge_events(&self, before: Timestamp) -> Result<u64>;
}

/// What the account lifecycle reads outside its transactions.
#[async_trait]
pub trait LifecycleStore: Send + Sync {
    /// When the user was last mailed a token for `purpose`.
    async fn last_mail_token_at(&self, user: UserId, purpose: MailPurpose) -> Result<Option<Timestamp>>;
    /// Whose an unused, unexpired token of `purpose` is, without using it.
    async fn mail_token(&self, hash: &[u8], purpose: MailPurpose, now: Timestamp) -> Result<Option<RedeemedToken>>;
    /// Removes used and expired tokens; returns how many went.
    async fn purge_mail_tokens(&self, now: Timestamp) -> Result<u64>;
    /// The user's password hash; `None` when they sign in only through providers.
    async fn password_hash(&self, user: UserId) -> Result<Option<String>>;
    /// A page of every user (active or not) matching `search`, newest first (staff).
    async fn users(&self, search: &UserSearch, page: &PageRequest) -> Result<Page<User>>;
}

/// Throttling counters shared by every node on the database: one row per key and window.
#[async_trait]
pub trait ThrottleStore: Send + Sync {
    /// Each key's count in its current window (0 when it has none).
    async fn counts(&self, keys: &[CounterKey]) -> Result<Vec<u64>>;
    /// Adds one to each key's count in its window (a new window starts at 1), in one
    /// statement; returns the new counts in `keys`' order.
    async fn hit(&self, keys: &[CounterKey]) -> Result<Vec<u64>>;
    /// Forgets these keys' counts.
    async fn clear(&self, keys: &[String]) -> Result<()>;
    /// Removes counters whose window has ended; returns how many went.
    async fn purge_counters(&self, now: Timestamp) -> Result<u64>;
}

#[async_trait]
pub trait Health: Send + Sync {
    async fn ping(&self) -> Result<()>;
}

/// The effects queued by committed transactions and not yet known to be delivered.
#[async_trait]
pub trait OutboxStore: Send + Sync {
    /// Takes up to `limit` effects due at `now` and hides them from other claimers until
    /// `until` (should this node die while delivering, another takes them then).
    async fn claim_due(&self, now: Timestamp, until: Timestamp, limit: u32) -> Result<Vec<OutboxItem>>;
    /// The effect was delivered: forget it.
    async fn complete(&self, id: i64) -> Result<()>;
}

/// Opens transactions.
#[async_trait]
pub trait UnitOfWork: Send + Sync {
    async fn begin(&self) -> Result<Box<dyn Tx>>;
}

/// One open transaction: every write of a use case that writes several rows, and the
/// effects to carry out once it has committed. Dropped without `commit`, it rolls back.
#[async_trait]
pub trait Tx: Send {
    /// Inserts a user; `Error::Conflict { field: "email" | "username" }` when either is
    /// taken (the transaction stays usable).
    async fn insert_user(&mut self, new: &NewUser, now: Timestamp) -> Result<User>;
    async fn insert_session(&mut self, session: &SessionRecord) -> Result<()>;
    async fn set_password_hash(&mut self, user: UserId, hash: &str, now: Timestamp) -> Result<()>;
    /// Leaves the user without a password (they sign in through a provider or set one by reset).
    async fn clear_password(&mut self, user: UserId, now: Timestamp) -> Result<()>;
    async fn set_staff(&mut self, user: UserId, is_staff: bool, now: Timestamp) -> Result<()>;
    async fn revoke_session(&mut self, id: &SessionId, now: Timestamp) -> Result<()>;
    /// Revokes every live session of the user but `except` (the one making the change).
    async fn revoke_user_sessions(&mut self, user: UserId, except: Option<&SessionId>, now: Timestamp) -> Result<()>;
    /// Applies the fields that are set; `Error::Conflict { field: "email" }` when the new
    /// e-mail is taken. A new e-mail is unverified.
    async fn update_profile(&mut self, user: UserId, update: &ProfileUpdate, now: Timestamp) -> Result<User>;
    /// Blacklists one refresh token (its `jti`) until it would have expired anyway.
    async fn blacklist_refresh(&mut self, jti: &str, user: UserId, expires_at: Timestamp, now: Timestamp)
    -> Result<()>;
    /// Links a provider identity to a user; `Error::Conflict { field: "identity" }` when it
    /// is linked already (the transaction stays usable).
    async fn insert_identity(&mut self, identity: &ProviderIdentity, user: UserId, now: Timestamp) -> Result<()>;
    /// Records a sign-in through a linked identity and the provider's e-mail at that time.
    async fn touch_identity(&mut self, provider: Provider, subject: &str, email: &str, now: Timestamp) -> Result<()>;
    /// Marks the user's e-mail verified (a provider vouched for the same address).
    async fn mark_email_verified(&mut self, user: UserId, now: Timestamp) -> Result<()>;
    /// Stores a mailed token (its hash).
    async fn insert_mail_token(&mut self, token: &MailToken) -> Result<()>;
    /// Marks the unused, unexpired token of `purpose` with this hash used, and says whose
    /// it was; `None` when there is no such token (unknown, used, expired, other purpose).
    async fn redeem_mail_token(
        &mut self,
        hash: &[u8],
        purpose: MailPurpose,
        now: Timestamp,
    ) -> Result<Option<RedeemedToken>>;
    /// Marks every unused token of the user for `purpose` used.
    async fn void_mail_tokens(&mut self, user: UserId, purpose: MailPurpose, now: Timestamp) -> Result<()>;
    async fn insert_event(&mut self, event: &SecurityEvent) -> Result<()>;
    /// Activates or deactivates the account; `Error::NotFound` when there is no such user.
    async fn set_active(&mut self, user: UserId, active: bool, now: Timestamp) -> Result<()>;
    /// Removes the user's personal API token, if any.
    async fn delete_api_token(&mut self, user: UserId) -> Result<()>;
    /// Deletes the user and, through the foreign keys, every row of theirs; returns the
    /// storage keys of their files, whose bytes the caller removes after the commit.
    async fn delete_user(&mut self, user: UserId) -> Result<Vec<String>>;
    /// Queues `effect`; it becomes visible to outbox claimers at `due`. Returns its id.
    async fn enqueue(&mut self, effect: &Effect, now: Timestamp, due: Timestamp) -> Result<i64>;
    async fn commit(self: Box<Self>) -> Result<()>;
}

/// What `userd import` writes, and what the legacy tokens it keeps are checked against
/// (`domain::imports`, `sessions::legacy`).
#[async_trait]
pub trait ImportStore: Send + Sync {
    /// The userd user made from the legacy user `legacy_id` of `source`, if imported.
    async fn imported_user(&self, source: &str, legacy_id: &str) -> Result<Option<UserId>>;
    /// Writes the user and everything that comes with it in one transaction: the user row
    /// (`Error::Conflict { field: "email" | "username" }` when taken), its link to the
    /// legacy id, its API token (sealed by `seal_token` once the id is known;
    /// `Conflict { field: "api_token" }`), its provider identities (`Conflict { field:
    /// "identity" }`), its legacy refresh tokens' sessions and blacklist rows. Nothing is
    /// written when anything fails.
    async fn import_user(
        &self,
        user: &super::imports::ImportRecord,
        seal_token: &(dyn Fn(UserId) -> Result<Vec<u8>> + Send + Sync),
    ) -> Result<UserId>;
    /// Keeps the sealed signing secret of a source's legacy JWTs (one source: replaces).
    async fn set_legacy_jwt_secret(&self, sealed: &[u8], tracks_outstanding: bool, now: Timestamp) -> Result<()>;
    /// The sealed secret, and whether the source's outstanding refresh tokens were imported
    /// (then an unknown one is refused).
    async fn legacy_jwt_secret(&self) -> Result<Option<(Vec<u8>, bool)>>;
}
