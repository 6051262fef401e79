//! JWT access and refresh tokens: signing keys kept in the database (private halves sealed
//! with the master secret), `kid` in every header, the newest key signing and every key
//! verifying until its tokens have expired.

use std::{
    collections::HashMap,
    sync::{Arc, RwLock},
    time::{Duration, Instant},
};

use aws_lc_rs::signature::{Ed25519KeyPair, KeyPair};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use jiff::Timestamp;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use super::verified::{self, Verified};
use crate::domain::{
    clock::Clock,
    crypto::{self, Sealer},
    error::{Error, Result},
    model::{JwtAlg, Revocation, SessionId, StoredKey, TokenPair, UserId},
    ports::KeyStore,
};

/// Allowed clock difference between nodes when checking `exp` and `iat`.
const LEEWAY_SECS: u64 = 5;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TokenType {
    Access,
    Refresh,
}

/// Claims of both token types; `user_id` and `token_type` are simplejwt's names, so
/// clients that decode tokens the Django way keep working.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    pub sub: String,
    pub user_id: i64,
    pub sid: String,
    pub jti: String,
    pub token_type: TokenType,
    pub iat: i64,
    pub exp: i64,
}

impl Claims {
    pub fn user(&self) -> UserId {
        UserId(self.user_id)
    }
    pub fn session(&self) -> SessionId {
        SessionId(self.sid.clone())
    }
    pub fn expires_at(&self) -> Timestamp {
        Timestamp::from_second(self.exp).unwrap_or(Timestamp::MAX)
    }
}

struct Ring {
    signing_kid: String,
    signing: EncodingKey,
    verifying: HashMap<String, DecodingKey>,
    jwks: serde_json::Value,
    loaded_at: Instant,
    /// Tokens verified with these keys.
    verified: Arc<Verified>,
}

#[derive(Clone)]
pub struct Tokens {
    store: Arc<dyn KeyStore>,
    sealer: Arc<Sealer>,
    alg: JwtAlg,
    access_ttl: Duration,
    refresh_ttl: Duration,
    ring: Arc<RwLock<Arc<Ring>>>,
    clock: Arc<dyn Clock>,
}

/// What [`Tokens::load`] needs.
pub struct TokenSettings {
    pub alg: JwtAlg,
    pub access_ttl: Duration,
    pub refresh_ttl: Duration,
}

fn alg_name(alg: JwtAlg) -> &'static str {
    match alg {
        JwtAlg::EdDsa => "EdDSA",
        JwtAlg::Hs256 => "HS256",
    }
}

fn jwt_alg(alg: JwtAlg) -> Algorithm {
    match alg {
        JwtAlg::EdDsa => Algorithm::EdDSA,
        JwtAlg::Hs256 => Algorithm::HS256,
    }
}

/// Creates a new key of `alg`, its private half sealed for storage.
pub fn generate_key(alg: JwtAlg, sealer: &Sealer, now: Timestamp) -> Result<StoredKey> {
    let kid = crypto::random_token(12)?;
    let (private, public) = match alg {
        JwtAlg::EdDsa => {
            let pkcs8 = Ed25519KeyPair::generate_pkcs8(&aws_lc_rs::rand::SystemRandom::new())
                .map_err(|_| anyhow::anyhow!("Ed25519 key generation failed"))?;
            let pair =
                Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).map_err(|_| anyhow::anyhow!("Ed25519 key parse failed"))?;
            (pkcs8.as_ref().to_vec(), pair.public_key().as_ref().to_vec())
        }
        JwtAlg::Hs256 => (crypto::random_bytes(64)?, Vec::new()),
    };
    Ok(StoredKey {
        private_enc: sealer.seal(&private, kid.as_bytes())?,
        kid,
        alg: alg_name(alg).to_string(),
        public,
        created_at: now,
    })
}

impl Tokens {
    /// Loads the keys of `alg`, creating the first one when the database has none.
    pub async fn load(
        store: Arc<dyn KeyStore>,
        sealer: Arc<Sealer>,
        settings: TokenSettings,
        clock: Arc<dyn Clock>,
    ) -> Result<Self> {
        let TokenSettings { alg, access_ttl, refresh_ttl } = settings;
        let ring = Self::build_ring(store.as_ref(), &sealer, alg, Some(clock.now())).await?;
        Ok(Tokens { store, sealer, alg, access_ttl, refresh_ttl, ring: Arc::new(RwLock::new(Arc::new(ring))), clock })
    }

    /// `create_at`: when the database has no key of `alg`, create one dated then.
    async fn build_ring(
        store: &dyn KeyStore,
        sealer: &Sealer,
        alg: JwtAlg,
        create_at: Option<Timestamp>,
    ) -> Result<Ring> {
        let name = alg_name(alg);
        let mut keys: Vec<StoredKey> = store.signing_keys().await?.into_iter().filter(|k| k.alg == name).collect();
        if keys.is_empty() {
            let Some(now) = create_at else {
                return Err(anyhow::anyhow!("no {name} signing key in the database").into());
            };
            let key = generate_key(alg, sealer, now)?;
            store.insert_signing_key(&key).await?;
            // Another node may have created one at the same moment; read back what won.
            keys = store.signing_keys().await?.into_iter().filter(|k| k.alg == name).collect();
        }
        keys.sort_by_key(|k| k.created_at);
        let mut verifying = HashMap::new();
        let mut jwks = Vec::new();
        let mut signing = None;
        for key in &keys {
            let private = sealer.open(&key.private_enc, key.kid.as_bytes()).map_err(|e| {
                anyhow::anyhow!("signing key {}: {e}; nodes sharing a database need the same USERD_SECRET_KEY", key.kid)
            })?;
            let (enc, dec) = match alg {
                JwtAlg::EdDsa => {
                    jwks.push(serde_json::json!({
                        "kty": "OKP", "crv": "Ed25519", "alg": "EdDSA", "use": "sig",
                        "kid": key.kid, "x": URL_SAFE_NO_PAD.encode(&key.public),
                    }));
                    (EncodingKey::from_ed_der(&private), DecodingKey::from_ed_der(&key.public))
                }
                JwtAlg::Hs256 => (EncodingKey::from_secret(&private), DecodingKey::from_secret(&private)),
            };
            verifying.insert(key.kid.clone(), dec);
            signing = Some((key.kid.clone(), enc));
        }
        let (signing_kid, signing) = signing.ok_or_else(|| anyhow::anyhow!("no signing key"))?;
        Ok(Ring {
            signing_kid,
            signing,
            verifying,
            jwks: serde_json::json!({ "keys": jwks }),
            loaded_at: Instant::now(),
            verified: Arc::default(),
        })
    }

    fn ring(&self) -> Arc<Ring> {
        match self.ring.read() {
            Ok(r) => Arc::clone(&r),
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        }
    }

    /// Re-reads the keys (after `keys rotate` on any node); at most once a second.
    pub async fn reload(&self) -> Result<()> {
        if self.ring().loaded_at.elapsed() < Duration::from_secs(1) {
            return Ok(());
        }
        let mut fresh = Self::build_ring(self.store.as_ref(), &self.sealer, self.alg, None).await?;
        let current = self.ring();
        let same_keys = current.verifying.len() == fresh.verifying.len()
            && current.verifying.keys().all(|kid| fresh.verifying.contains_key(kid));
        if same_keys {
            fresh.verified = Arc::clone(&current.verified);
        }
        let fresh = Arc::new(fresh);
        match self.ring.write() {
            Ok(mut r) => *r = fresh,
            Err(poisoned) => *poisoned.into_inner() = fresh,
        }
        Ok(())
    }

    /// Public keys as a JWK set (empty for HS256, whose key is secret).
    pub fn jwks(&self) -> serde_json::Value {
        self.ring().jwks.clone()
    }

    pub fn refresh_ttl(&self) -> Duration {
        self.refresh_ttl
    }

    fn sign(&self, user: UserId, session: &SessionId, token_type: TokenType, ttl: Duration) -> Result<String> {
        let ring = self.ring();
        let now = self.clock.now().as_second();
        let claims = Claims {
            sub: user.0.to_string(),
            user_id: user.0,
            sid: session.0.clone(),
            jti: crypto::random_token(16)?,
            token_type,
            iat: now,
            exp: now.saturating_add(i64::try_from(ttl.as_secs()).unwrap_or(i64::MAX / 2)),
        };
        let mut header = Header::new(jwt_alg(self.alg));
        header.kid = Some(ring.signing_kid.clone());
        header.typ = Some("JWT".into());
        Ok(jsonwebtoken::encode(&header, &claims, &ring.signing).map_err(anyhow::Error::from)?)
    }

    pub fn issue_pair(&self, user: UserId, session: &SessionId) -> Result<TokenPair> {
        Ok(TokenPair {
            access: self.sign(user, session, TokenType::Access, self.access_ttl)?,
            refresh: self.sign(user, session, TokenType::Refresh, self.refresh_ttl)?,
        })
    }

    pub fn issue_access(&self, user: UserId, session: &SessionId) -> Result<String> {
        self.sign(user, session, TokenType::Access, self.access_ttl)
    }

    /// Forgets verified tokens of revoked sessions.
    pub(super) fn revoked(&self, revocation: &Revocation) {
        self.ring().verified.apply(revocation);
    }

    /// Checks signature (algorithm pinned), `exp` with a few seconds of leeway, and the type;
    /// a token this node has verified before is not checked again until it expires.
    pub async fn verify(&self, token: &str, expected: TokenType) -> Result<Claims> {
        match self.remembered(token, expected) {
            Some(claims) => Ok(claims),
            None => self.check(token, expected).await,
        }
    }

    /// [`Self::verify`] for a token [`Self::remembered`] has just not found: checks it in
    /// full and remembers it.
    pub async fn check(&self, token: &str, expected: TokenType) -> Result<Claims> {
        let (claims, checked_by) = self.verify_signature(token, expected).await?;
        // Kept by the ring whose key checked it: a ring with other keys never serves it.
        checked_by.verified.insert(verified::key(token), &claims);
        Ok(claims)
    }

    /// The claims of `token` when this node has verified it before (as a token of type
    /// `expected`) and it has not expired since; `None` says only that it must be checked.
    pub fn remembered(&self, token: &str, expected: TokenType) -> Option<Claims> {
        let now = self.clock.now().as_second();
        let in_time = |c: &Claims| {
            let leeway = LEEWAY_SECS as i64;
            c.iat <= now.saturating_add(leeway) && c.exp.saturating_add(leeway) >= now
        };
        self.ring().verified.get(&verified::key(token), expected, in_time)
    }

    /// The claims, and the key ring that checked them.
    async fn verify_signature(&self, token: &str, expected: TokenType) -> Result<(Claims, Arc<Ring>)> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| Error::InvalidToken)?;
        if header.alg != jwt_alg(self.alg) {
            return Err(Error::InvalidToken);
        }
        let kid = header.kid.ok_or(Error::InvalidToken)?;
        let mut ring = self.ring();
        if !ring.verifying.contains_key(&kid) {
            // A key added by `keys rotate` elsewhere: look again before refusing.
            self.reload().await?;
            ring = self.ring();
        }
        let key = ring.verifying.get(&kid).ok_or(Error::InvalidToken)?;
        let mut validation = Validation::new(jwt_alg(self.alg));
        // Expiry is checked below against the domain's clock, with the same leeway.
        validation.validate_exp = false;
        validation.validate_aud = false;
        validation.set_required_spec_claims(&["exp", "sub"]);
        let data = jsonwebtoken::decode::<Claims>(token, key, &validation).map_err(|_| Error::InvalidToken)?;
        let claims = data.claims;
        let now = self.clock.now().as_second();
        let leeway = LEEWAY_SECS as i64;
        if claims.token_type != expected
            || claims.iat > now.saturating_add(leeway)
            || claims.exp.saturating_add(leeway) < now
        {
            return Err(Error::InvalidToken);
        }
        Ok((claims, ring))
    }
}
