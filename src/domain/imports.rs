//! Moving in from Django (`userd import django`): the rules that turn a legacy user row,
//! read by `crate::import`, into a userd user with the same password hash, API token,
//! provider identities and live refresh tokens, or into a reason it was skipped.

use std::sync::Arc;

use jiff::Timestamp;
use tracing::instrument;

use super::{
    api_tokens,
    clock::Clock,
    crypto::{self, Purpose, Sealer},
    error::{Error, Result},
    legacy_hashes,
    model::{Email, ExternalId, NewUser, Provider, SessionKind, SessionRecord, UserId, Username},
    ports::ImportStore,
    sessions::legacy::legacy_session,
};

/// The `source` of users imported from Django, kept with their legacy ids.
pub const DJANGO: &str = "django";

/// A user as read from a Django database (with `is_active`, `date_joined`, … as Django
/// keeps them; optional columns of custom models empty when absent).
#[derive(Debug, Default)]
pub struct LegacyUser {
    /// Django's primary key, as text (an integer or a UUID).
    pub legacy_id: String,
    pub email: String,
    /// `None` for a custom model without a `username` column: one is made from the e-mail.
    pub username: Option<String>,
    /// Django's encoded password (`pbkdf2_sha256$…`, `!…` for an unusable one).
    pub password: String,
    pub first_name: String,
    pub last_name: String,
    pub company_name: String,
    pub bio: String,
    pub avatar: Option<String>,
    pub is_active: bool,
    pub is_staff: bool,
    pub date_joined: Option<Timestamp>,
    /// The DRF `authtoken_token` key (40 hex characters).
    pub api_token: Option<String>,
    /// allauth's `socialaccount_socialaccount` rows.
    pub identities: Vec<LegacyIdentity>,
    /// simplejwt's outstanding refresh tokens (`token_blacklist_outstandingtoken`).
    pub refresh_tokens: Vec<LegacyRefresh>,
}

#[derive(Debug, Clone)]
pub struct LegacyIdentity {
    /// allauth's provider id (`google`, `github`, …).
    pub provider: String,
    pub uid: String,
    /// The e-mail in allauth's `extra_data`, if any.
    pub email: Option<String>,
    pub linked_at: Option<Timestamp>,
    pub last_login: Option<Timestamp>,
}

#[derive(Debug, Clone)]
pub struct LegacyRefresh {
    pub jti: String,
    pub expires_at: Timestamp,
    pub blacklisted: bool,
}

/// A provider identity to link, checked.
#[derive(Debug, Clone)]
pub struct ImportedIdentity {
    pub provider: Provider,
    pub subject: String,
    pub email: String,
    pub linked_at: Timestamp,
    pub last_login: Timestamp,
}

/// What the store writes for one imported user, all checked.
#[derive(Debug)]
pub struct ImportRecord {
    pub source: &'static str,
    pub legacy_id: String,
    pub user: NewUser,
    pub is_active: bool,
    pub created_at: Timestamp,
    pub now: Timestamp,
    /// SHA-256 of the API token, when the user had one (its sealed copy comes from the
    /// store's callback once the user's id is known).
    pub api_token_hash: Option<Vec<u8>>,
    pub identities: Vec<ImportedIdentity>,
    /// Sessions of the refresh tokens still live and not blacklisted.
    pub sessions: Vec<SessionRecord>,
    /// Blacklisted refresh tokens: `(jti, expires_at)`.
    pub blacklist: Vec<(String, Timestamp)>,
}

/// Why a row was not imported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum SkipReason {
    AlreadyImported,
    InvalidEmail,
    InvalidUsername,
    EmailTaken,
    UsernameTaken,
    ApiTokenTaken,
    IdentityTaken,
}

impl SkipReason {
    pub fn as_str(self) -> &'static str {
        match self {
            SkipReason::AlreadyImported => "already imported",
            SkipReason::InvalidEmail => "invalid e-mail",
            SkipReason::InvalidUsername => "username userd refuses",
            SkipReason::EmailTaken => "e-mail already in userd",
            SkipReason::UsernameTaken => "username already in userd",
            SkipReason::ApiTokenTaken => "API token already in userd",
            SkipReason::IdentityTaken => "provider identity already linked in userd",
        }
    }
}

/// The result of one row.
#[derive(Debug)]
pub enum Outcome {
    /// Imported; `notes` says what of it was left out (an unsupported hash, an identity of
    /// a provider userd does not serve).
    Imported {
        user: UserId,
        notes: Vec<String>,
    },
    Skipped(SkipReason),
}

/// Imports rows one by one; each is whole or absent.
pub struct Importer {
    store: Arc<dyn ImportStore>,
    token_sealer: Arc<Sealer>,
    jwt_sealer: Sealer,
    clock: Arc<dyn Clock>,
}

/// What the API token of `user` is sealed with (the same as `api_tokens`, so the user
/// can be shown it again).
fn seal_token(sealer: &Sealer, user: UserId, token: &str) -> Result<Vec<u8>> {
    Ok(sealer.seal(token.as_bytes(), &api_tokens::context(user))?)
}

impl Importer {
    /// `master`: `USERD_SECRET_KEY`, which seals API tokens and the simplejwt secret.
    pub fn new(store: Arc<dyn ImportStore>, master: &[u8], clock: Arc<dyn Clock>) -> Result<Self> {
        Ok(Importer {
            store,
            token_sealer: Arc::new(Sealer::derive(master, Purpose::ApiTokens)?),
            jwt_sealer: Sealer::derive(master, Purpose::LegacyJwt)?,
            clock,
        })
    }

    /// Imports one user with everything that comes with it, or says why not.
    #[instrument(skip_all)]
    pub async fn import(&self, legacy: LegacyUser) -> Result<Outcome> {
        if self.store.imported_user(DJANGO, &legacy.legacy_id).await?.is_some() {
            return Ok(Outcome::Skipped(SkipReason::AlreadyImported));
        }
        let (record, token) = match self.record(legacy)? {
            Ok(r) => r,
            Err(reason) => return Ok(Outcome::Skipped(reason)),
        };
        let notes = record.1;
        let record = record.0;
        let sealer = Arc::clone(&self.token_sealer);
        let seal = move |user: UserId| match &token {
            Some(t) => seal_token(&sealer, user, t),
            None => Ok(Vec::new()),
        };
        match self.store.import_user(&record, &seal).await {
            Ok(user) => Ok(Outcome::Imported { user, notes }),
            Err(Error::Conflict { field }) => Ok(Outcome::Skipped(match field {
                "email" => SkipReason::EmailTaken,
                "username" => SkipReason::UsernameTaken,
                "api_token" => SkipReason::ApiTokenTaken,
                "identity" => SkipReason::IdentityTaken,
                "legacy_id" => SkipReason::AlreadyImported,
                _ => return Err(Error::Conflict { field }),
            })),
            Err(e) => Err(e),
        }
    }

    /// The checked record and its notes, and the API token to seal; or why the row is skipped.
    #[allow(clippy::type_complexity)]
    fn record(
        &self,
        legacy: LegacyUser,
    ) -> Result<std::result::Result<((ImportRecord, Vec<String>), Option<String>), SkipReason>> {
        let now = self.clock.now();
        let Ok(email) = Email::parse(&legacy.email) else { return Ok(Err(SkipReason::InvalidEmail)) };
        let (username, generated) = match legacy.username.as_deref() {
            Some(raw) => match Username::parse(raw) {
                Ok(u) => (u, false),
                Err(_) => return Ok(Err(SkipReason::InvalidUsername)),
            },
            None => (Username::from_email(&email), true),
        };
        let mut notes = Vec::new();
        // Django's unusable password is userd's "no password": sign-in through a provider
        // or a password reset, as for a user a provider created.
        let password_hash = if legacy.password.starts_with('!') || legacy.password.is_empty() {
            None
        } else if legacy_hashes::is_django_hash(&legacy.password) {
            Some(legacy.password.clone())
        } else {
            let algorithm = legacy.password.split('$').next().unwrap_or_default();
            notes.push(format!("password hash `{algorithm}` is not supported: imported without a password"));
            None
        };
        let token = legacy.api_token.filter(|k| {
            let ok = api_tokens::is_drf_key(k);
            if !ok {
                notes.push("authtoken key is not 40 hex characters: not imported".into());
            }
            ok
        });
        let mut identities = Vec::new();
        for i in &legacy.identities {
            let Some(provider) = Provider::parse(&i.provider) else {
                notes.push(format!("identity of provider `{}` is not served by userd: not imported", i.provider));
                continue;
            };
            identities.push(ImportedIdentity {
                provider,
                subject: i.uid.clone(),
                email: i.email.clone().unwrap_or_else(|| email.as_str().to_string()),
                linked_at: i.linked_at.unwrap_or(now),
                last_login: i.last_login.or(i.linked_at).unwrap_or(now),
            });
        }
        let (mut sessions, mut blacklist) = (Vec::new(), Vec::new());
        for t in legacy.refresh_tokens.into_iter().filter(|t| t.expires_at > now) {
            if t.blacklisted {
                blacklist.push((t.jti, t.expires_at));
            } else {
                sessions.push(SessionRecord {
                    id: legacy_session(&t.jti),
                    user_id: UserId(0),
                    kind: SessionKind::Jwt,
                    secret_hash: None,
                    created_at: now,
                    expires_at: t.expires_at,
                    revoked: false,
                });
            }
        }
        let record = ImportRecord {
            source: DJANGO,
            legacy_id: legacy.legacy_id,
            user: NewUser {
                external_id: ExternalId(crypto::random_token(16)?),
                email,
                username,
                generated_username: generated,
                password_hash,
                email_verified: false,
                first_name: legacy.first_name,
                last_name: legacy.last_name,
                company_name: legacy.company_name,
                bio: legacy.bio,
                avatar: legacy.avatar.filter(|a| !a.is_empty()),
                is_staff: legacy.is_staff,
            },
            is_active: legacy.is_active,
            created_at: legacy.date_joined.unwrap_or(now),
            now,
            api_token_hash: token.as_ref().map(|t| crypto::sha256(t.as_bytes())),
            identities,
            sessions,
            blacklist,
        };
        Ok(Ok(((record, notes), token)))
    }

    /// Keeps Django's `SECRET_KEY` (simplejwt's HS256 key), sealed, so every node sharing
    /// the database accepts the tokens Django issued until they expire.
    /// `tracks_outstanding`: the refresh tokens Django issued were imported, so one that
    /// was not is refused.
    pub async fn keep_simplejwt_secret(&self, secret: &[u8], tracks_outstanding: bool) -> Result<()> {
        let sealed = self.jwt_sealer.seal(secret, b"simplejwt")?;
        self.store.set_legacy_jwt_secret(&sealed, tracks_outstanding, self.clock.now()).await
    }
}
