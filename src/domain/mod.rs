//! The domain: users, credentials, sessions, files and billing. It knows no HTTP and no
//! SQL; the outside sits behind the traits in [`ports`].
//!
//! Each area is a small service holding only the ports it uses ([`accounts::Accounts`],
//! [`sessions::Sessions`], [`identities::Identities`], [`api_tokens::ApiTokens`],
//! [`files::Files`], [`billing::Billing`]); the values they share live in [`model`], which imports no
//! service. [`Domain`] is the set of services a surface calls.

pub mod accounts;
pub mod api_tokens;
pub mod billing;
pub mod clock;
pub mod crypto;
pub mod error;
pub mod events;
pub mod export;
pub mod files;
pub mod identities;
pub mod imports;
pub mod legacy_hashes;
pub mod lookup_keys;
pub mod mail;
pub mod model;
pub mod outbox;
pub mod passwords;
pub mod pictures;
pub mod ports;
pub mod recovery;
pub mod sessions;
pub mod social;
pub mod staff;
pub mod throttle;

use std::{sync::Arc, time::Duration};

use secrecy::{ExposeSecret, SecretString};

pub use self::error::{AuthFailure, CsrfFailure, Error, FieldErrors, Invalid, Result};
use self::{
    accounts::Accounts,
    api_tokens::ApiTokens,
    billing::{Billing, BillingSettings},
    clock::Clock,
    crypto::{Purpose, Sealer},
    events::Events,
    export::Export,
    files::Files,
    identities::Identities,
    mail::Mails,
    outbox::{Outbox, Postman},
    passwords::PasswordHasher,
    pictures::{PictureLimits, Pictures},
    ports::{
        ApiTokenStore, BillingStore, BlobStore, DirectoryStore, EventStore, FileStore, FollowStore, Health,
        IdentityProvider, IdentityStore, ImportStore, KeyStore, LifecycleStore, Mailer, OutboxStore, RevocationBus,
        SessionStore, ThrottleStore, UnitOfWork, UserStore,
    },
    recovery::Recovery,
    sessions::{
        Sessions,
        cache::SessionCache,
        legacy::LegacyJwt,
        tokens::{TokenSettings, Tokens},
    },
    social::Social,
    staff::Staff,
    throttle::Throttle,
};

/// How long `/readyz` waits for the database before it answers "not ready".
pub const READY_WITHIN: Duration = Duration::from_secs(2);

/// Everything outside the domain that it runs on; one SQL store usually fills every
/// storage slot.
#[derive(Clone)]
pub struct Ports {
    pub users: Arc<dyn UserStore>,
    pub sessions: Arc<dyn SessionStore>,
    pub keys: Arc<dyn KeyStore>,
    pub api_tokens: Arc<dyn ApiTokenStore>,
    pub files: Arc<dyn FileStore>,
    pub blobs: Arc<dyn BlobStore>,
    pub billing: Arc<dyn BillingStore>,
    pub directory: Arc<dyn DirectoryStore>,
    pub follows: Arc<dyn FollowStore>,
    pub outbox: Arc<dyn OutboxStore>,
    pub identities: Arc<dyn IdentityStore>,
    pub events: Arc<dyn EventStore>,
    pub lifecycle: Arc<dyn LifecycleStore>,
    pub throttle: Arc<dyn ThrottleStore>,
    /// What `userd import` wrote (legacy ids, the simplejwt secret).
    pub imports: Arc<dyn ImportStore>,
    pub uow: Arc<dyn UnitOfWork>,
    pub bus: Arc<dyn RevocationBus>,
    pub health: Arc<dyn Health>,
    /// Sign-in providers (`crate::social`).
    pub google: Arc<dyn IdentityProvider>,
    pub github: Arc<dyn IdentityProvider>,
    /// Where mails leave (`crate::mail`).
    pub mailer: Arc<dyn Mailer>,
}

/// The settings the domain's rules need.
pub struct Settings {
    /// Master secret: keys sealing signing keys and API tokens are derived from it.
    pub master_key: SecretString,
    pub tokens: TokenSettings,
    pub billing: BillingSettings,
    pub max_upload_bytes: u64,
    /// How long an upload may stay pending before it is taken for abandoned.
    pub pending_upload_ttl: Duration,
    pub pictures: PictureLimits,
    pub rate_limit: bool,
    /// The limits when `rate_limit` is on.
    pub throttle: throttle::Limits,
    /// Threads that run argon2 (one per core is the sensible bound).
    pub hashing_threads: usize,
    /// `USERD_PUBLIC_URL`: the base of links in mails.
    pub public_url: String,
    /// How long security events are kept.
    pub event_retention: Duration,
}

/// The services of every area.
#[derive(Clone)]
pub struct Domain {
    pub accounts: Accounts,
    pub sessions: Sessions,
    pub identities: Identities,
    pub api_tokens: ApiTokens,
    pub files: Files,
    pub billing: Billing,
    pub outbox: Outbox,
    pub pictures: Pictures,
    pub social: Social,
    pub throttle: Throttle,
    pub recovery: Recovery,
    pub staff: Staff,
    pub events: Events,
    pub export: Export,
    health: Arc<dyn Health>,
}

impl Domain {
    /// Wires the services; loads (or creates, on a new database) the signing keys.
    pub async fn build(ports: Ports, settings: Settings, clock: Arc<dyn Clock>) -> Result<Self> {
        let master = settings.master_key.expose_secret().as_bytes();
        let key_sealer = Arc::new(Sealer::derive(master, Purpose::SigningKeys)?);
        let token_sealer = Sealer::derive(master, Purpose::ApiTokens)?;
        let tokens = Tokens::load(ports.keys.clone(), key_sealer, settings.tokens, clock.clone()).await?;
        let postman = Arc::new(Postman::new(Sealer::derive(master, Purpose::Mail)?, ports.mailer.clone()));
        let outbox = Outbox::new(ports.outbox.clone(), ports.bus.clone(), ports.blobs.clone(), postman, clock.clone());
        let events = Events::new(ports.events.clone(), clock.clone(), settings.event_retention);
        let mails = Mails::new(outbox.clone(), &settings.public_url, clock.clone());
        let hasher = PasswordHasher::new(settings.hashing_threads)?;
        let pictures = Pictures::new(ports.blobs.clone(), settings.pictures);
        let sessions = Sessions {
            users: ports.users.clone(),
            store: ports.sessions.clone(),
            uow: ports.uow.clone(),
            bus: ports.bus.clone(),
            outbox: outbox.clone(),
            tokens,
            cache: Arc::new(SessionCache::default()),
            events: events.clone(),
            clock: clock.clone(),
            legacy: LegacyJwt::new(ports.imports.clone(), Sealer::derive(master, Purpose::LegacyJwt)?),
        };
        match lookup_keys::normalise(ports.users.as_ref()).await {
            Ok(done) if done.changed + done.conflicts > 0 => tracing::info!(
                changed = done.changed,
                conflicts = done.conflicts,
                "e-mail and username keys made again in their normal form"
            ),
            Ok(_) => {}
            // Logins of such accounts by a look-alike spelling fail until the next start; the
            // node serves meanwhile.
            Err(e) => tracing::warn!(error = %e, "normalising stored e-mail and username keys failed"),
        }
        let shared = settings.rate_limit.then(|| ports.throttle.clone());
        let throttle = Throttle::new(shared, settings.throttle, clock.clone());
        let accounts = Accounts {
            users: ports.users.clone(),
            uow: ports.uow.clone(),
            sessions: sessions.clone(),
            hasher: hasher.clone(),
            throttle: throttle.clone(),
            pictures: pictures.clone(),
            outbox: outbox.clone(),
            mails: mails.clone(),
            events: events.clone(),
            lifecycle: ports.lifecycle.clone(),
            clock: clock.clone(),
        };
        let identities = Identities {
            store: ports.identities.clone(),
            users: ports.users.clone(),
            uow: ports.uow.clone(),
            accounts: accounts.clone(),
            sessions: sessions.clone(),
            google: ports.google.clone(),
            github: ports.github.clone(),
            throttle: throttle.clone(),
            events: events.clone(),
            clock: clock.clone(),
        };
        let throttle_handle = throttle.clone();
        let recovery = Recovery {
            users: ports.users.clone(),
            store: ports.lifecycle.clone(),
            uow: ports.uow.clone(),
            hasher,
            sessions: sessions.clone(),
            mails,
            events: events.clone(),
            throttle,
            clock: clock.clone(),
        };
        let staff = Staff {
            lifecycle: ports.lifecycle.clone(),
            users: ports.users.clone(),
            uow: ports.uow.clone(),
            sessions: sessions.clone(),
            events: events.clone(),
            clock: clock.clone(),
        };
        let export = Export {
            identities: ports.identities.clone(),
            api_tokens: ports.api_tokens.clone(),
            files: ports.files.clone(),
            follows: ports.follows.clone(),
            directory: ports.directory.clone(),
            events: ports.events.clone(),
        };
        Ok(Domain {
            accounts,
            sessions,
            identities,
            api_tokens: ApiTokens::new(ports.api_tokens.clone(), token_sealer, events.clone(), clock.clone()),
            files: Files::new(
                ports.files.clone(),
                ports.blobs.clone(),
                settings.max_upload_bytes,
                settings.pending_upload_ttl,
                clock.clone(),
            ),
            billing: Billing::new(ports.billing.clone(), settings.billing, clock.clone()),
            outbox,
            pictures,
            throttle: throttle_handle,
            social: Social::new(ports.directory, ports.follows, ports.users.clone(), clock.clone()),
            recovery,
            staff,
            events,
            export,
            health: ports.health,
        })
    }

    /// Whether the database answers (`/readyz`) within [`READY_WITHIN`]: a probe learns of
    /// an outage sooner than a request, which waits for the pool's whole acquire timeout.
    pub async fn ready(&self) -> bool {
        matches!(tokio::time::timeout(READY_WITHIN, self.health.ping()).await, Ok(Ok(())))
    }

    /// Starts the background work of a serving node: revocations announced by other nodes,
    /// expired sessions, key reloads, throttle housekeeping, abandoned uploads, and the
    /// outbox effects a crash or a failure left behind.
    pub fn spawn_background(&self) {
        self.sessions.spawn_background();
        self.files.spawn_background();
        self.accounts.spawn_background();
        self.social.spawn_background();
        let (events, recovery) = (self.events.clone(), self.recovery.clone());
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(3600));
            loop {
                tick.tick().await;
                match events.purge().await {
                    Ok(n) if n > 0 => tracing::info!(events = n, "purged security events past their retention"),
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = %e, "purging old security events failed"),
                }
                if let Err(e) = recovery.purge().await {
                    tracing::warn!(error = %e, "purging used and expired mail tokens failed");
                }
            }
        });
        let outbox = self.outbox.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(10));
            loop {
                tick.tick().await;
                if let Err(e) = outbox.sweep().await {
                    tracing::warn!(error = %e, "delivering outbox effects failed");
                }
            }
        });
    }
}
