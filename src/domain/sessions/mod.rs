//! Sessions and tokens: login sessions behind JWT pairs and browser cookies, refresh,
//! logout, revocation on every node, and authentication of JWTs and session cookies.

pub mod cache;
pub mod legacy;
pub mod tokens;
mod verified;
pub mod web;

use std::{sync::Arc, time::Duration};

use tracing::instrument;

use self::{
    cache::SessionCache,
    tokens::{TokenType, Tokens},
};
use super::{
    clock::{self, Clock},
    crypto,
    error::{AuthFailure, Error, Result},
    events::Events,
    model::{
        Client, Effect, EventKind, Principal, Revocation, SessionId, SessionKind, SessionRecord, TokenPair, UserId, Via,
    },
    outbox::{Outbox, Queued},
    ports::{RevocationBus, SessionStore, Tx, UnitOfWork, UserStore},
};

/// Where a session's owner was read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    Cache,
    Database,
}

/// Built by `Domain::build`, which alone sets its ports.
#[derive(Clone)]
pub struct Sessions {
    pub(in crate::domain) users: Arc<dyn UserStore>,
    pub(in crate::domain) store: Arc<dyn SessionStore>,
    pub(in crate::domain) uow: Arc<dyn UnitOfWork>,
    pub(in crate::domain) bus: Arc<dyn RevocationBus>,
    pub(in crate::domain) outbox: Outbox,
    pub(in crate::domain) tokens: Tokens,
    pub(in crate::domain) cache: Arc<SessionCache>,
    pub(in crate::domain) events: Events,
    pub(in crate::domain) clock: Arc<dyn Clock>,
    /// The tokens Django's simplejwt issued, when an import kept its secret.
    pub(in crate::domain) legacy: legacy::LegacyJwt,
}

impl Sessions {
    pub fn tokens(&self) -> &Tokens {
        &self.tokens
    }

    /// A new JWT login session of `user` and its token pair, not stored yet: the caller
    /// inserts the record in its transaction and calls [`Sessions::remember`] after the commit.
    pub(in crate::domain) fn new_jwt_session(&self, user: UserId) -> Result<(SessionRecord, TokenPair)> {
        let now = self.clock.now();
        let session = SessionRecord {
            id: SessionId(crypto::random_token(16)?),
            user_id: user,
            kind: SessionKind::Jwt,
            secret_hash: None,
            created_at: now,
            expires_at: clock::after(now, self.tokens.refresh_ttl())?,
            revoked: false,
        };
        let pair = self.tokens.issue_pair(user, &session.id)?;
        Ok((session, pair))
    }

    /// Caches a session whose transaction has committed, so its first requests need no read.
    pub(in crate::domain) fn remember(&self, session: &SessionRecord) {
        self.cache.insert(session.id.clone(), session.user_id, session.expires_at);
    }

    /// Starts a JWT login session for a user whose credentials were checked.
    pub(in crate::domain) async fn start_jwt(&self, user: UserId) -> Result<TokenPair> {
        let (session, pair) = self.new_jwt_session(user)?;
        let mut tx = self.uow.begin().await?;
        tx.insert_session(&session).await?;
        tx.commit().await?;
        self.remember(&session);
        Ok(pair)
    }

    /// Revokes in `tx` and queues the announcement to every node; after the commit, hand
    /// the result to [`Sessions::revoked`].
    pub(in crate::domain) async fn revoke(&self, tx: &mut dyn Tx, revocation: &Revocation) -> Result<Queued> {
        let now = self.clock.now();
        match revocation {
            Revocation::Session(id) => tx.revoke_session(id, now).await?,
            Revocation::User(user) => tx.revoke_user_sessions(*user, None, now).await?,
            Revocation::All => {}
        }
        self.outbox.queue(tx, &[Effect::Announce(revocation.clone())]).await
    }

    /// Revokes every session of `user` but `keep` (the one asking), and queues the
    /// announcement; after the commit, hand the result to [`Sessions::revoked`] with
    /// `Revocation::User`, which makes every node re-read the user's sessions.
    pub(in crate::domain) async fn revoke_others(
        &self,
        tx: &mut dyn Tx,
        user: UserId,
        keep: Option<&SessionId>,
    ) -> Result<Queued> {
        tx.revoke_user_sessions(user, keep, self.clock.now()).await?;
        self.outbox.queue(tx, &[Effect::Announce(Revocation::User(user))]).await
    }

    /// After the commit of a [`Sessions::revoke`]: this node forgets at once, and every
    /// other node is told before the caller answers.
    pub(in crate::domain) async fn revoked(&self, revocation: &Revocation, queued: Queued) {
        self.forget(revocation);
        self.outbox.deliver(queued).await;
    }

    /// Drops what this node caches about revoked sessions.
    fn forget(&self, revocation: &Revocation) {
        self.cache.apply(revocation);
        self.tokens.revoked(revocation);
    }

    /// When a session started (`None`: no such session).
    pub(in crate::domain) async fn started_at(&self, id: &SessionId) -> Result<Option<jiff::Timestamp>> {
        Ok(self.store.session(id).await?.map(|s| s.created_at))
    }

    /// The owner of a live session; served from the cache when this node has seen it recently.
    async fn session_owner(&self, id: &SessionId, kind: SessionKind) -> Result<Option<UserId>> {
        Ok(self.session_owner_from(id, kind).await?.map(|(user, _)| user))
    }

    /// The owner of a live session, and whether it came from this node's cache.
    async fn session_owner_from(&self, id: &SessionId, kind: SessionKind) -> Result<Option<(UserId, Source)>> {
        let now = self.clock.now();
        if kind == SessionKind::Jwt
            && let Some(user) = self.cache.get(id, now)
        {
            return Ok(Some((user, Source::Cache)));
        }
        match self.store.session(id).await? {
            Some(s) if !s.revoked && s.expires_at > now && s.kind == kind => {
                if kind == SessionKind::Jwt {
                    self.cache.insert(id.clone(), s.user_id, s.expires_at);
                }
                Ok(Some((s.user_id, Source::Database)))
            }
            _ => Ok(None),
        }
    }

    /// The principal of `user`, read now, so an account deactivated since is refused.
    pub(in crate::domain) async fn principal(
        &self,
        user: UserId,
        session: Option<SessionId>,
        via: Via,
    ) -> Result<Principal> {
        let user = self.users.user_by_id(user).await?.ok_or(Error::Unauthenticated(AuthFailure::Invalid))?;
        Principal::new(user, session, via)
    }

    /// A new access token for a valid, not blacklisted refresh token of a live session of
    /// an active account.
    #[instrument(skip_all)]
    pub async fn refresh(&self, refresh: &str) -> Result<String> {
        if legacy::is_legacy(refresh) {
            return self.refresh_legacy(refresh).await;
        }
        let claims = self.tokens.verify(refresh, TokenType::Refresh).await?;
        let session = claims.session();
        match self.session_owner_from(&session, SessionKind::Jwt).await? {
            // Only a logout blacklists a refresh token, and it revokes the token's session
            // in the same transaction (and evicts it here and on every node): a session this
            // node holds as live has no blacklisted token. Read from the database, the
            // blacklist is checked too.
            Some((owner, Source::Cache)) if owner == claims.user() => {}
            Some((owner, Source::Database)) if owner == claims.user() => {
                if self.store.is_refresh_blacklisted(&claims.jti).await? {
                    return Err(Error::InvalidToken);
                }
            }
            _ => return Err(Error::InvalidToken),
        }
        let principal = self.principal(claims.user(), Some(session.clone()), Via::Jwt).await.map_err(|e| match e {
            Error::Unauthenticated(_) => Error::InvalidToken,
            other => other,
        })?;
        self.tokens.issue_access(principal.user_id(), &session)
    }

    /// Blacklists the refresh token and ends its session, so the access tokens of that
    /// login stop working too, on every node. The token must belong to the caller.
    #[instrument(skip_all)]
    pub async fn logout(&self, principal: &Principal, refresh: &str, client: &Client) -> Result<()> {
        if legacy::is_legacy(refresh) {
            return self.logout_legacy(principal, refresh, client).await;
        }
        let claims = self.tokens.verify(refresh, TokenType::Refresh).await?;
        if claims.user() != principal.user_id() || self.store.is_refresh_blacklisted(&claims.jti).await? {
            return Err(Error::InvalidToken);
        }
        let revocation = Revocation::Session(claims.session());
        let mut tx = self.uow.begin().await?;
        tx.blacklist_refresh(&claims.jti, claims.user(), claims.expires_at(), self.clock.now()).await?;
        let queued = self.revoke(tx.as_mut(), &revocation).await?;
        self.events.in_tx(tx.as_mut(), claims.user(), EventKind::Logout, client, None).await?;
        tx.commit().await?;
        self.revoked(&revocation, queued).await;
        Ok(())
    }

    /// Ends the caller's session (browser sign-out); a credential without one is refused.
    #[instrument(skip_all)]
    pub async fn end_session(&self, principal: &Principal, client: &Client) -> Result<()> {
        let Some(session) = principal.session() else { return Err(Error::Unauthenticated(AuthFailure::Invalid)) };
        let revocation = Revocation::Session(session.clone());
        let mut tx = self.uow.begin().await?;
        let queued = self.revoke(tx.as_mut(), &revocation).await?;
        let detail = Some("browser session");
        self.events.in_tx(tx.as_mut(), principal.user_id(), EventKind::Logout, client, detail).await?;
        tx.commit().await?;
        self.revoked(&revocation, queued).await;
        Ok(())
    }

    /// Authenticates a JWT access token: signature, expiry, type, a live session, an active account.
    pub async fn authenticate_jwt(&self, token: &str) -> Result<Principal> {
        let invalid = || Error::Unauthenticated(AuthFailure::Invalid);
        // A token verified before is userd's (the memo holds no other), so the common case
        // skips reading the header to tell a simplejwt token apart.
        let claims = match self.tokens.remembered(token, TokenType::Access) {
            Some(claims) => claims,
            None if legacy::is_legacy(token) => return self.authenticate_legacy(token).await,
            None => self.tokens.check(token, TokenType::Access).await.map_err(|e| match e {
                Error::InvalidToken => invalid(),
                other => other,
            })?,
        };
        let session = claims.session();
        match self.session_owner(&session, SessionKind::Jwt).await? {
            Some(owner) if owner == claims.user() => self.principal(owner, Some(session), Via::Jwt).await,
            _ => Err(invalid()),
        }
    }

    /// Work a serving node does in the background: apply revocations announced by other
    /// nodes, purge expired sessions, pick up rotated keys.
    pub fn spawn_background(&self) {
        let this = self.clone();
        tokio::spawn(async move {
            if let Some(mut feed) = this.bus.feed().await {
                while let Some(revocation) = feed.recv().await {
                    this.forget(&revocation);
                }
            }
        });
        let this = self.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(60));
            loop {
                tick.tick().await;
                if let Err(e) = this.tokens.reload().await {
                    tracing::warn!(error = %e, "reloading signing keys failed");
                }
                if let Err(e) = this.store.purge_expired(this.clock.now()).await {
                    tracing::warn!(error = %e, "purging expired sessions failed");
                }
            }
        });
    }
}
