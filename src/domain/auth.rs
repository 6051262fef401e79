//! Registration, login, refresh, logout and authentication of requests: the rules every
//! surface shares.

use std::net::IpAddr;

use jiff::{SignedDuration, Timestamp};
use tracing::instrument;

use super::{
    Service, crypto,
    error::{AuthFailure, Error, Result},
    ports::{Revocation, SessionKind, SessionRecord},
    tokens::{TokenPair, TokenType},
    types::{Email, ExternalId, Password, SessionId, UserId, Username},
    user::{NewUser, User},
};

/// Everything registration needs, already parsed by the surface.
#[derive(Debug)]
pub struct Registration {
    pub email: Email,
    /// `None`: generated from the e-mail.
    pub username: Option<Username>,
    pub password: Password,
    pub first_name: String,
    pub last_name: String,
    pub company_name: String,
    pub bio: String,
    pub avatar: Option<String>,
}

/// How a login names the account.
#[derive(Debug, Clone)]
pub enum LoginName {
    Email(String),
    Username(String),
}

/// The caller of an authenticated request.
#[derive(Debug, Clone)]
pub struct Principal {
    pub user_id: UserId,
    pub session: Option<SessionId>,
    pub via: Via,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    Jwt,
    ApiToken,
    Cookie,
}

fn ttl(d: std::time::Duration) -> SignedDuration {
    SignedDuration::try_from(d).unwrap_or(SignedDuration::MAX)
}

impl Service {
    /// Creates the account and its first login session.
    #[instrument(skip_all)]
    pub async fn register(&self, ip: Option<IpAddr>, reg: Registration) -> Result<(User, TokenPair)> {
        self.throttle.register(ip)?;
        let user = self.create_user(reg, false).await?;
        let pair = self.start_jwt_session(user.id).await?;
        Ok((user, pair))
    }

    /// Stores a new user; the username is generated (with a suffix when taken) if not given.
    pub async fn create_user(&self, reg: Registration, is_staff: bool) -> Result<User> {
        let password_hash = self.hasher.hash(&reg.password).await?;
        let generated = reg.username.is_none();
        let base = reg.username.clone().unwrap_or_else(|| Username::from_email(&reg.email));
        let mut new = NewUser {
            external_id: ExternalId(crypto::random_token(16)?),
            email: reg.email,
            username: base.clone(),
            password_hash: Some(password_hash),
            first_name: reg.first_name,
            last_name: reg.last_name,
            company_name: reg.company_name,
            bio: reg.bio,
            avatar: reg.avatar,
            is_staff,
        };
        for attempt in 0..8u32 {
            if generated && attempt > 0 {
                let n = u32::from_le_bytes(crypto::random_bytes(4)?.try_into().unwrap_or([0; 4])) % 10_000;
                new.username = base.with_suffix(n);
            }
            match self.users.create_user(&new).await {
                Err(Error::Conflict { field: "username", .. }) if generated => continue,
                other => return other,
            }
        }
        Err(anyhow::anyhow!("could not find a free username").into())
    }

    /// Checks a password; unknown account, wrong password and inactive account answer alike
    /// and cost the same.
    #[instrument(skip_all)]
    pub async fn verify_credentials(&self, ip: Option<IpAddr>, name: &LoginName, password: &Password) -> Result<User> {
        let key = match name {
            LoginName::Email(e) | LoginName::Username(e) => e.trim().to_lowercase(),
        };
        self.throttle.login(ip, &key)?;
        let found = match name {
            LoginName::Email(_) => self.users.credentials_by_email(&key).await?,
            LoginName::Username(_) => self.users.credentials_by_username(&key).await?,
        };
        let (user, hash) = match found {
            Some((user, hash)) => (Some(user), hash),
            None => (None, None),
        };
        let ok = self.hasher.verify(password, hash.as_deref()).await?;
        match user {
            Some(user) if ok && user.is_active => Ok(user),
            _ => Err(Error::InvalidCredentials),
        }
    }

    /// Password login that starts a JWT session.
    pub async fn login(&self, ip: Option<IpAddr>, name: &LoginName, password: &Password) -> Result<(User, TokenPair)> {
        let user = self.verify_credentials(ip, name, password).await?;
        let pair = self.start_jwt_session(user.id).await?;
        Ok((user, pair))
    }

    async fn start_jwt_session(&self, user: UserId) -> Result<TokenPair> {
        let session = SessionRecord {
            id: SessionId(crypto::random_token(16)?),
            user_id: user,
            kind: SessionKind::Jwt,
            secret_hash: None,
            expires_at: Timestamp::now() + ttl(self.tokens.refresh_ttl()),
            revoked: false,
        };
        self.sessions.create_session(&session).await?;
        self.session_cache.insert(session.id.clone(), user, session.expires_at);
        self.tokens.issue_pair(user, &session.id)
    }

    /// Whether a session is live; served from the cache when this node has seen it recently.
    pub(crate) async fn session_owner(&self, id: &SessionId) -> Result<Option<UserId>> {
        if let Some(user) = self.session_cache.get(id) {
            return Ok(Some(user));
        }
        match self.sessions.session(id).await? {
            Some(s) if !s.revoked && s.expires_at > Timestamp::now() => {
                self.session_cache.insert(id.clone(), s.user_id, s.expires_at);
                Ok(Some(s.user_id))
            }
            _ => Ok(None),
        }
    }

    /// A new access token for a valid, not blacklisted refresh token of a live session.
    #[instrument(skip_all)]
    pub async fn refresh(&self, refresh: &str) -> Result<String> {
        let claims = self.tokens.verify(refresh, TokenType::Refresh).await?;
        if self.sessions.is_refresh_blacklisted(&claims.jti).await? {
            return Err(Error::InvalidToken);
        }
        let session = claims.session();
        match self.session_owner(&session).await? {
            Some(owner) if owner == claims.user() => {}
            _ => return Err(Error::InvalidToken),
        }
        let user = self.users.user_by_id(claims.user()).await?.ok_or(Error::InvalidToken)?;
        if !user.is_active {
            return Err(Error::InvalidToken);
        }
        self.tokens.issue_access(user.id, &session)
    }

    /// Blacklists the refresh token and ends its session, so the access tokens of that
    /// login stop working too. The token must belong to the caller.
    #[instrument(skip_all)]
    pub async fn logout(&self, principal: &Principal, refresh: &str) -> Result<()> {
        let claims = self.tokens.verify(refresh, TokenType::Refresh).await?;
        if claims.user() != principal.user_id || self.sessions.is_refresh_blacklisted(&claims.jti).await? {
            return Err(Error::InvalidToken);
        }
        let session = claims.session();
        self.sessions.blacklist_refresh(&claims.jti, claims.user(), claims.expires_at(), &session).await?;
        self.revoked(Revocation::Session(session));
        Ok(())
    }

    /// Ends one session (browser sign-out).
    pub async fn end_session(&self, session: &SessionId) -> Result<()> {
        self.sessions.revoke_session(session).await?;
        self.revoked(Revocation::Session(session.clone()));
        Ok(())
    }

    pub(crate) fn revoked(&self, revocation: Revocation) {
        self.session_cache.apply(&revocation);
    }

    /// Authenticates a JWT access token: signature, expiry, type, and a live session.
    pub async fn authenticate_jwt(&self, token: &str) -> Result<Principal> {
        let claims = self.tokens.verify(token, TokenType::Access).await.map_err(|e| match e {
            Error::InvalidToken => Error::Unauthenticated(AuthFailure::Invalid),
            other => other,
        })?;
        let session = claims.session();
        match self.session_owner(&session).await? {
            Some(owner) if owner == claims.user() => {
                Ok(Principal { user_id: owner, session: Some(session), via: Via::Jwt })
            }
            _ => Err(Error::Unauthenticated(AuthFailure::Invalid)),
        }
    }

    /// The caller's user record; an account deactivated since the token was issued is refused.
    pub async fn current_user(&self, principal: &Principal) -> Result<User> {
        match self.users.user_by_id(principal.user_id).await? {
            Some(u) if u.is_active => Ok(u),
            _ => Err(Error::Unauthenticated(AuthFailure::Invalid)),
        }
    }

    /// Sets a new password and revokes every session of the user on every node.
    #[instrument(skip_all)]
    pub async fn change_password(&self, user: UserId, password: &Password) -> Result<()> {
        let hash = self.hasher.hash(password).await?;
        self.users.set_password(user, &hash).await?;
        self.revoked(Revocation::User(user));
        Ok(())
    }

    /// Creates a staff user, or promotes and re-passwords an existing one (`userd create-admin`).
    pub async fn create_admin(&self, email: Email, password: Password) -> Result<User> {
        if let Some((user, _)) = self.users.credentials_by_email(&email.key()).await? {
            self.users.set_staff(user.id, true).await?;
            self.change_password(user.id, &password).await?;
            return self.users.user_by_id(user.id).await?.ok_or(Error::NotFound);
        }
        let reg = Registration {
            email,
            username: None,
            password,
            first_name: String::new(),
            last_name: String::new(),
            company_name: String::new(),
            bio: String::new(),
            avatar: None,
        };
        self.create_user(reg, true).await
    }
}
