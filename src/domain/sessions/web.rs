//! Browser sessions: a server-side session named by the `sessionid` cookie, and a CSRF
//! token derived from the session's secret (Django's `csrftoken` / `X-CSRFToken`).

use aws_lc_rs::hmac;
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use jiff::Timestamp;
use secrecy::{ExposeSecret, SecretString};

use super::Sessions;
use crate::domain::{
    clock, crypto,
    error::{CsrfFailure, Error, Result},
    model::{Principal, SessionId, SessionKind, SessionRecord, User, Via},
};

/// A started browser session: the cookie values to set.
pub struct WebSession {
    pub user: User,
    /// Value of the `sessionid` cookie: `<session id>.<secret>`.
    pub cookie: SecretString,
    /// Value of the `csrftoken` cookie, expected back in `X-CSRFToken` on unsafe methods.
    pub csrf_token: String,
    pub expires_at: Timestamp,
    /// How long the session lives from now (the cookie's `Max-Age`).
    pub lifetime: std::time::Duration,
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

impl Sessions {
    /// Starts a browser session for a user whose credentials were checked.
    pub(in crate::domain) async fn start_web(&self, user: User) -> Result<WebSession> {
        let (session, web) = self.new_web_session(user)?;
        let mut tx = self.uow.begin().await?;
        tx.insert_session(&session).await?;
        tx.commit().await?;
        Ok(web)
    }

    /// A new browser session's record (for the caller to insert in its transaction) and
    /// the cookie values it answers once that commits.
    pub(in crate::domain) fn new_web_session(&self, user: User) -> Result<(SessionRecord, WebSession)> {
        let secret = crypto::random_bytes(32)?;
        let now = self.clock.now();
        let session = SessionRecord {
            id: SessionId(crypto::random_token(16)?),
            user_id: user.id,
            kind: SessionKind::Web,
            secret_hash: Some(crypto::sha256(&secret)),
            created_at: now,
            expires_at: clock::after(now, self.tokens.refresh_ttl())?,
            revoked: false,
        };
        let cookie = SecretString::from(format!("{}.{}", session.id.0, URL_SAFE_NO_PAD.encode(&secret)));
        let web = WebSession {
            user,
            cookie,
            csrf_token: csrf_for(&secret),
            expires_at: session.expires_at,
            lifetime: self.tokens.refresh_ttl(),
        };
        Ok((session, web))
    }

    /// The session a `sessionid` cookie names, if it is live, its secret matches and its
    /// account is active.
    pub async fn authenticate_cookie(&self, cookie: &str) -> Result<Option<CookieSession>> {
        let Some((id, secret)) = cookie.split_once('.') else { return Ok(None) };
        let Ok(secret) = URL_SAFE_NO_PAD.decode(secret) else { return Ok(None) };
        if id.is_empty() || id.len() > 64 {
            return Ok(None);
        }
        let id = SessionId(id.to_string());
        let Some(record) = self.store.session(&id).await? else { return Ok(None) };
        let live = !record.revoked && record.expires_at > self.clock.now() && record.kind == SessionKind::Web;
        let matches = record.secret_hash.as_deref().is_some_and(|h| crypto::ct_eq(h, &crypto::sha256(&secret)));
        if !(live && matches) {
            return Ok(None);
        }
        match self.principal(record.user_id, Some(id), Via::Cookie).await {
            Ok(principal) => Ok(Some(CookieSession { principal, csrf_token: csrf_for(&secret) })),
            Err(Error::Unauthenticated(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Checks the `X-CSRFToken` header of an unsafe request made with a session cookie.
    pub fn check_csrf(&self, session: &CookieSession, header: Option<&str>) -> Result<()> {
        match header {
            None | Some("") => Err(Error::Csrf(CsrfFailure::Missing)),
            Some(h) if crypto::ct_eq(h.trim().as_bytes(), session.csrf_token.as_bytes()) => Ok(()),
            Some(_) => Err(Error::Csrf(CsrfFailure::Incorrect)),
        }
    }
}

impl WebSession {
    pub fn cookie_value(&self) -> &str {
        self.cookie.expose_secret()
    }
}
