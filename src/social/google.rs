//! Google sign-in: ID tokens verified locally against Google's published keys.
//!
//! The keys (a JWK set) are fetched once and kept as long as the answer's
//! `Cache-Control: max-age` allows. A token naming a key id userd does not hold makes it
//! fetch again (Google rotates its keys), but at most once a minute, so a stream of forged
//! `kid`s cannot make userd hammer the key endpoint. Should the endpoint fail, the keys
//! already held keep working.

use std::{collections::HashMap, time::Duration};

use async_trait::async_trait;
use jiff::{SignedDuration, Timestamp};
use jsonwebtoken::{Algorithm, DecodingKey, Validation, errors::ErrorKind};
use serde::Deserialize;
use serde_json::Value;

use super::{MAX_NAME_CHARS, read_json};
use crate::domain::{
    Error, Result,
    model::{
        Email, Provider, ProviderIdentity,
        identity::{provider_name, split_full_name},
    },
    ports::IdentityProvider,
};

/// The issuers Google's ID tokens carry (both spellings are in use).
const ISSUERS: [&str; 2] = ["accounts.google.com", "https://accounts.google.com"];
/// Allowed difference between Google's clock and ours when checking `exp` and `iat`.
const LEEWAY: SignedDuration = SignedDuration::from_secs(30);
/// The key set is fetched at most this often, whatever `max-age` or unknown `kid`s say.
const MIN_REFETCH: Duration = Duration::from_secs(60);
/// The key set is kept at most this long without asking again.
const MAX_KEEP: Duration = Duration::from_secs(24 * 3600);
/// Longest `sub` Google issues (OpenID Connect allows 255 ASCII characters).
const MAX_SUBJECT: usize = 255;

/// Google as a sign-in provider for one client id.
pub struct Google {
    client_id: String,
    jwks_url: String,
    http: reqwest::Client,
    /// Held across a fetch, so concurrent sign-ins wait for one fetch instead of each
    /// making their own.
    keys: tokio::sync::Mutex<KeyCache>,
}

#[derive(Default)]
struct KeyCache {
    keys: HashMap<String, DecodingKey>,
    /// Until when the keys may be used without asking again.
    fresh_until: Option<Timestamp>,
    /// The last fetch, successful or not.
    fetched_at: Option<Timestamp>,
}

/// A JWK set as Google publishes it; fields not named here are ignored.
#[derive(Deserialize)]
struct JwkSet {
    keys: Vec<Jwk>,
}

#[derive(Deserialize)]
struct Jwk {
    kty: String,
    kid: Option<String>,
    alg: Option<String>,
    #[serde(rename = "use")]
    key_use: Option<String>,
    n: Option<String>,
    e: Option<String>,
}

/// The claims of a Google ID token that userd reads; `iss`, `aud` and the signature are
/// checked by `jsonwebtoken`.
#[derive(Deserialize)]
struct Claims {
    sub: String,
    exp: i64,
    iat: Option<i64>,
    email: Option<String>,
    /// A boolean, or (in older tokens) the string `"true"`.
    email_verified: Option<Value>,
    given_name: Option<String>,
    family_name: Option<String>,
    name: Option<String>,
}

fn after(t: Timestamp, d: Duration) -> Timestamp {
    SignedDuration::try_from(d).ok().and_then(|d| t.checked_add(d).ok()).unwrap_or(Timestamp::MAX)
}

/// `max-age` of a `Cache-Control` header; `no-store`/`no-cache` count as 0.
fn max_age(cache_control: Option<&str>) -> Option<Duration> {
    let mut found = None;
    for directive in cache_control?.split(',').map(str::trim) {
        let lower = directive.to_ascii_lowercase();
        if lower == "no-store" || lower == "no-cache" {
            return Some(Duration::ZERO);
        }
        if let Some(secs) = lower.strip_prefix("max-age=") {
            found = secs.trim_matches('"').parse::<u64>().ok().map(Duration::from_secs);
        }
    }
    found
}

impl Google {
    pub fn new(client_id: String, jwks_url: String, http: reqwest::Client) -> Self {
        Google { client_id, jwks_url, http, keys: tokio::sync::Mutex::new(KeyCache::default()) }
    }

    /// The key with id `kid`, fetching the set when it is stale or lacks `kid` (at most once
    /// a minute).
    async fn key(&self, kid: &str, now: Timestamp) -> Option<DecodingKey> {
        let mut cache = self.keys.lock().await;
        let fresh = cache.fresh_until.is_some_and(|until| now < until);
        if fresh && let Some(key) = cache.keys.get(kid) {
            return Some(key.clone());
        }
        let may_fetch = cache.fetched_at.is_none_or(|at| now >= after(at, MIN_REFETCH));
        if may_fetch {
            cache.fetched_at = Some(now);
            match self.fetch().await {
                Ok((keys, max_age)) => {
                    let keep = max_age.unwrap_or(Duration::ZERO).clamp(MIN_REFETCH, MAX_KEEP);
                    tracing::debug!(keys = keys.len(), keep_secs = keep.as_secs(), "fetched Google's signing keys");
                    cache.keys = keys;
                    cache.fresh_until = Some(after(now, keep));
                }
                // The keys held (if any) keep working: Google's keys outlive their max-age.
                Err(why) => tracing::warn!(url = %self.jwks_url, error = %why, "fetching Google's signing keys failed"),
            }
        }
        cache.keys.get(kid).cloned()
    }

    async fn fetch(&self) -> std::result::Result<(HashMap<String, DecodingKey>, Option<Duration>), String> {
        let res = self.http.get(&self.jwks_url).send().await.map_err(|e| format!("request failed: {e}"))?;
        let status = res.status();
        if !status.is_success() {
            return Err(format!("answered {status}"));
        }
        let cache_control = res.headers().get(reqwest::header::CACHE_CONTROL).and_then(|v| v.to_str().ok());
        let max_age = max_age(cache_control);
        let set: JwkSet = read_json(res).await?;
        let keys: HashMap<String, DecodingKey> = set
            .keys
            .into_iter()
            .filter(|k| k.kty == "RSA")
            .filter(|k| k.alg.as_deref().is_none_or(|a| a == "RS256"))
            .filter(|k| k.key_use.as_deref().is_none_or(|u| u == "sig"))
            .filter_map(|k| {
                let key = DecodingKey::from_rsa_components(k.n.as_deref()?, k.e.as_deref()?).ok()?;
                Some((k.kid?, key))
            })
            .collect();
        if keys.is_empty() {
            return Err("the key set holds no RS256 signing key".into());
        }
        Ok((keys, max_age))
    }

    /// The identity a token vouches for, or why it does not (for the log).
    async fn verify(&self, token: &str, now: Timestamp) -> std::result::Result<ProviderIdentity, &'static str> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| "not a signed JWT")?;
        // Pinned: `none`, HS256 with the public key as secret, and any other switch fail here.
        if header.alg != Algorithm::RS256 {
            return Err("algorithm is not RS256");
        }
        let kid = header.kid.ok_or("no kid")?;
        let key = self.key(&kid, now).await.ok_or("no Google key has this kid")?;
        let mut validation = Validation::new(Algorithm::RS256);
        validation.set_issuer(&ISSUERS);
        validation.set_audience(&[&self.client_id]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        // Expiry is checked below against the domain's clock.
        validation.validate_exp = false;
        let claims = jsonwebtoken::decode::<Claims>(token, &key, &validation)
            .map_err(|e| match e.kind() {
                ErrorKind::InvalidSignature => "bad signature",
                ErrorKind::InvalidAudience => "wrong audience",
                ErrorKind::InvalidIssuer => "wrong issuer",
                ErrorKind::MissingRequiredClaim(_) => "a required claim is missing",
                _ => "malformed token",
            })?
            .claims;
        let exp = Timestamp::from_second(claims.exp).map_err(|_| "exp out of range")?;
        if exp.checked_add(LEEWAY).is_ok_and(|latest| latest < now) {
            return Err("expired");
        }
        if let Some(iat) = claims.iat
            && Timestamp::from_second(iat).map_or(true, |iat| iat > now.checked_add(LEEWAY).unwrap_or(now))
        {
            return Err("issued in the future");
        }
        if claims.sub.is_empty() || claims.sub.chars().count() > MAX_SUBJECT {
            return Err("sub is not a Google subject");
        }
        let verified = matches!(&claims.email_verified, Some(Value::Bool(true)))
            || matches!(&claims.email_verified, Some(Value::String(s)) if s == "true");
        let verified_email = claims.email.as_deref().filter(|_| verified).and_then(|e| Email::parse(e).ok());
        let (first_name, last_name) = match (&claims.given_name, &claims.family_name) {
            (None, None) => split_full_name(claims.name.as_deref().unwrap_or(""), MAX_NAME_CHARS),
            (given, family) => (
                provider_name(given.as_deref().unwrap_or(""), MAX_NAME_CHARS),
                provider_name(family.as_deref().unwrap_or(""), MAX_NAME_CHARS),
            ),
        };
        Ok(ProviderIdentity { provider: Provider::Google, subject: claims.sub, verified_email, first_name, last_name })
    }
}

#[async_trait]
impl IdentityProvider for Google {
    async fn identify(&self, credential: &str, now: Timestamp) -> Result<ProviderIdentity> {
        self.verify(credential.trim(), now).await.map_err(|reason| {
            tracing::info!(reason, "Google ID token refused");
            Error::ProviderRefused(Provider::Google)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn max_age_is_read_from_cache_control() {
        let cases = [
            (Some("public, max-age=19845, must-revalidate, no-transform"), Some(19845)),
            (Some("max-age=0"), Some(0)),
            (Some("no-store"), Some(0)),
            (Some("private, no-cache"), Some(0)),
            (Some("public"), None),
            (Some("max-age=soon"), None),
            (None, None),
        ];
        for (header, secs) in cases {
            assert_eq!(max_age(header), secs.map(Duration::from_secs), "{header:?}");
        }
    }
}
