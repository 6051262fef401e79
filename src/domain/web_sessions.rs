//! Browser sessions: a server-side session named by the `sessionid` cookie, and a CSRF
//! token derived from the session's secret (Django's `csrftoken` / `X-CSRFToken`).

use std::net::IpAddr;

use aws_lc_rs::hmac;
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use jiff::{SignedDuration, Timestamp};
use secrecy::{ExposeSecret, SecretString};
use tracing::instrument;

use super::{
    Service,
    auth::{LoginName, Principal, Via},
    crypto,
    error::{Error, Result},
    ports::{SessionKind, SessionRecord},
    types::{Password, SessionId},
    user::User,
};

/// A started browser session: the cookie values to set.
pub struct WebSession {
    pub user: User,
    /// Value of the `sessionid` cookie: `<session id>.<secret>`.
    pub cookie: SecretString,
    /// Value of the `csrftoken` cookie, expected back in `X-CSRFToken` on unsafe methods.
    pub csrf_token: String,
    pub expires_at: Timestamp,
}

/// A session cookie that names a live session.
pub struct CookieSession {
    pub principal: Principal,
    pub csrf_token: String,
}

fn csrf_for(secret: &[u8]) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret);
    URL_SAFE_NO_PAD.encode(hmac::sign(&key, b"userd csrf v1").as_ref())
}

impl Service {
    /// Checks the password and starts a browser session.
    #[instrument(skip_all)]
    pub async fn start_web_session(
        &self,
        ip: Option<IpAddr>,
        name: &LoginName,
        password: &Password,
    ) -> Result<WebSession> {
        let user = self.verify_credentials(ip, name, password).await?;
        let secret = crypto::random_bytes(32)?;
        let expires_at =
            Timestamp::now() + SignedDuration::try_from(self.tokens.refresh_ttl()).unwrap_or(SignedDuration::MAX);
        let session = SessionRecord {
            id: SessionId(crypto::random_token(16)?),
            user_id: user.id,
            kind: SessionKind::Web,
            secret_hash: Some(crypto::sha256(&secret)),
            expires_at,
            revoked: false,
        };
        self.sessions.create_session(&session).await?;
        let cookie = SecretString::from(format!("{}.{}", session.id.0, URL_SAFE_NO_PAD.encode(&secret)));
        Ok(WebSession { user, cookie, csrf_token: csrf_for(&secret), expires_at })
    }

    /// The session a `sessionid` cookie names, if it is live and its secret matches.
    pub async fn authenticate_cookie(&self, cookie: &str) -> Result<Option<CookieSession>> {
        let Some((id, secret)) = cookie.split_once('.') else { return Ok(None) };
        let Ok(secret) = URL_SAFE_NO_PAD.decode(secret) else { return Ok(None) };
        if id.is_empty() || id.len() > 64 {
            return Ok(None);
        }
        let id = SessionId(id.to_string());
        let Some(record) = self.sessions.session(&id).await? else { return Ok(None) };
        let live = !record.revoked && record.expires_at > Timestamp::now() && record.kind == SessionKind::Web;
        let matches = record.secret_hash.as_deref().is_some_and(|h| crypto::ct_eq(h, &crypto::sha256(&secret)));
        if !(live && matches) {
            return Ok(None);
        }
        Ok(Some(CookieSession {
            principal: Principal { user_id: record.user_id, session: Some(id), via: Via::Cookie },
            csrf_token: csrf_for(&secret),
        }))
    }

    /// Checks the `X-CSRFToken` header of an unsafe request made with a session cookie.
    pub fn check_csrf(&self, session: &CookieSession, header: Option<&str>) -> Result<()> {
        match header {
            None | Some("") => Err(Error::CsrfFailed("CSRF Failed: CSRF token missing.")),
            Some(h) if crypto::ct_eq(h.trim().as_bytes(), session.csrf_token.as_bytes()) => Ok(()),
            Some(_) => Err(Error::CsrfFailed("CSRF Failed: CSRF token incorrect.")),
        }
    }
}

impl WebSession {
    pub fn cookie_value(&self) -> &str {
        self.cookie.expose_secret()
    }
}
