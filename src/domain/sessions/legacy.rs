//! The JWTs Django's simplejwt issued before the move (`userd import django
//! --simplejwt-secret-file`): HS256 with Django's `SECRET_KEY`, no `kid`, claims
//! `token_type`, `jti`, `exp`, `iat` and `user_id` (an integer, or a string since
//! simplejwt 5.5), Django's primary key, which the import maps to the userd user.
//!
//! They are accepted until they expire, so clients switch servers without a new login:
//! an access token authenticates its user; a refresh token is exchanged for userd's own
//! access token, within a userd session named after its `jti` (which the import created
//! for every refresh token Django still had outstanding and not blacklisted), so logging
//! out, a password change or a revocation ends it like any other session.

use std::{
    sync::{Arc, RwLock},
    time::{Duration, Instant},
};

use jiff::Timestamp;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;

use super::Sessions;
use crate::domain::{
    clock,
    crypto::Sealer,
    error::{AuthFailure, Error, Result},
    imports::DJANGO,
    model::{Client, EventKind, Principal, Revocation, SessionId, SessionKind, SessionRecord, UserId, Via},
    ports::ImportStore,
};

/// How long a node keeps the secret it read (an import on another node is seen within it).
const SECRET_TTL: Duration = Duration::from_secs(60);
const LEEWAY_SECS: i64 = 5;

/// The session of a legacy refresh token.
pub fn legacy_session(jti: &str) -> SessionId {
    SessionId(format!("simplejwt:{jti}"))
}

/// Whether `token` looks like simplejwt's rather than userd's: HS256 and no `kid` (every
/// userd token names its key).
pub fn is_legacy(token: &str) -> bool {
    matches!(jsonwebtoken::decode_header(token), Ok(h) if h.alg == Algorithm::HS256 && h.kid.is_none())
}

#[derive(Deserialize)]
#[serde(untagged)]
enum UserIdClaim {
    Int(i64),
    Text(String),
}

#[derive(Deserialize)]
struct LegacyClaims {
    token_type: String,
    jti: String,
    exp: i64,
    #[serde(default)]
    iat: Option<i64>,
    user_id: UserIdClaim,
}

/// A verified legacy token.
struct Verified {
    user: UserId,
    jti: String,
    expires_at: Timestamp,
}

type Cached = Option<(Instant, Option<(Arc<Vec<u8>>, bool)>)>;

/// The sealed secret, read from the database and cached.
#[derive(Clone)]
pub struct LegacyJwt {
    store: Arc<dyn ImportStore>,
    sealer: Arc<Sealer>,
    cache: Arc<RwLock<Cached>>,
}

impl LegacyJwt {
    pub fn new(store: Arc<dyn ImportStore>, sealer: Sealer) -> Self {
        LegacyJwt { store, sealer: Arc::new(sealer), cache: Arc::new(RwLock::new(None)) }
    }

    /// The secret and whether outstanding tokens were imported; `None` without an import
    /// that kept one.
    async fn secret(&self) -> Result<Option<(Arc<Vec<u8>>, bool)>> {
        let cached = match self.cache.read() {
            Ok(c) => c.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        };
        if let Some((at, value)) = cached
            && at.elapsed() < SECRET_TTL
        {
            return Ok(value);
        }
        let value = match self.store.legacy_jwt_secret().await? {
            Some((sealed, tracks)) => Some((Arc::new(self.sealer.open(&sealed, b"simplejwt")?), tracks)),
            None => None,
        };
        match self.cache.write() {
            Ok(mut c) => *c = Some((Instant::now(), value.clone())),
            Err(poisoned) => *poisoned.into_inner() = Some((Instant::now(), value.clone())),
        }
        Ok(value)
    }

    /// Checks the signature, the type and the expiry (against the domain's clock) and maps
    /// `user_id` to the imported user.
    async fn verify(&self, token: &str, expected: &str, now: Timestamp) -> Result<Option<(Verified, bool)>> {
        let Some((secret, tracks)) = self.secret().await? else { return Ok(None) };
        let mut validation = Validation::new(Algorithm::HS256);
        validation.validate_exp = false;
        validation.validate_aud = false;
        validation.required_spec_claims.clear();
        let key = DecodingKey::from_secret(&secret);
        let Ok(data) = jsonwebtoken::decode::<LegacyClaims>(token, &key, &validation) else { return Ok(None) };
        let c = data.claims;
        let now_s = now.as_second();
        if c.token_type != expected
            || c.exp.saturating_add(LEEWAY_SECS) < now_s
            || c.iat.is_some_and(|iat| iat > now_s.saturating_add(LEEWAY_SECS))
        {
            return Ok(None);
        }
        let legacy_id = match c.user_id {
            UserIdClaim::Int(i) => i.to_string(),
            UserIdClaim::Text(t) => t,
        };
        let Some(user) = self.store.imported_user(DJANGO, &legacy_id).await? else { return Ok(None) };
        let expires_at = Timestamp::from_second(c.exp).unwrap_or(Timestamp::MAX);
        Ok(Some((Verified { user, jti: c.jti, expires_at }, tracks)))
    }
}

impl Sessions {
    /// A simplejwt access token: its user, with no session (Django's own access tokens
    /// are not revocable either; they live minutes).
    pub(super) async fn authenticate_legacy(&self, token: &str) -> Result<Principal> {
        let invalid = || Error::Unauthenticated(AuthFailure::Invalid);
        let (v, _) = self.legacy.verify(token, "access", self.clock.now()).await?.ok_or_else(invalid)?;
        self.principal(v.user, None, Via::Jwt).await
    }

    /// A simplejwt refresh token, exchanged for userd's own access token in the session
    /// named after it. With the outstanding tokens imported, only a token that Django
    /// still had outstanding has a session; otherwise one is made on first use. A
    /// blacklisted token, or a session ended since, is refused.
    pub(super) async fn refresh_legacy(&self, refresh: &str) -> Result<String> {
        let now = self.clock.now();
        let (v, tracks) = self.legacy.verify(refresh, "refresh", now).await?.ok_or(Error::InvalidToken)?;
        if self.store.is_refresh_blacklisted(&v.jti).await? {
            return Err(Error::InvalidToken);
        }
        let id = legacy_session(&v.jti);
        match self.store.session(&id).await? {
            Some(s) if s.user_id == v.user && !s.revoked && s.expires_at > now => {}
            None if !tracks => {
                let session = SessionRecord {
                    id: id.clone(),
                    user_id: v.user,
                    kind: SessionKind::Jwt,
                    secret_hash: None,
                    created_at: now,
                    expires_at: v.expires_at.min(clock::after(now, self.tokens.refresh_ttl())?),
                    revoked: false,
                };
                let mut tx = self.uow.begin().await?;
                tx.insert_session(&session).await?;
                tx.commit().await?;
            }
            _ => return Err(Error::InvalidToken),
        }
        let principal = self.principal(v.user, Some(id.clone()), Via::Jwt).await.map_err(|e| match e {
            Error::Unauthenticated(_) => Error::InvalidToken,
            other => other,
        })?;
        self.tokens.issue_access(principal.user_id(), &id)
    }

    /// Logs out with a simplejwt refresh token: blacklists it and ends its session.
    pub(super) async fn logout_legacy(&self, principal: &Principal, refresh: &str, client: &Client) -> Result<()> {
        let now = self.clock.now();
        let (v, _) = self.legacy.verify(refresh, "refresh", now).await?.ok_or(Error::InvalidToken)?;
        if v.user != principal.user_id() || self.store.is_refresh_blacklisted(&v.jti).await? {
            return Err(Error::InvalidToken);
        }
        let revocation = Revocation::Session(legacy_session(&v.jti));
        let mut tx = self.uow.begin().await?;
        tx.blacklist_refresh(&v.jti, v.user, v.expires_at, now).await?;
        let queued = self.revoke(tx.as_mut(), &revocation).await?;
        self.events.in_tx(tx.as_mut(), v.user, EventKind::Logout, client, Some("Django refresh token")).await?;
        tx.commit().await?;
        self.revoked(&revocation, queued).await;
        Ok(())
    }
}
