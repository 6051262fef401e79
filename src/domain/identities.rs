//! Signing in through a provider (Google, GitHub) and the links between provider
//! identities and users.
//!
//! A provider identity is found by its stable subject first, so a user who changed their
//! e-mail on either side keeps their account. Otherwise the provider's **verified** e-mail
//! links it to the user who has that address, or creates a user; an identity without a
//! verified e-mail never links and never creates (that would hand an account over to
//! whoever typed someone else's address at the provider). Providers are asked outside any
//! transaction; what a sign-in writes (the link, a new user, the session) is one.

use std::sync::Arc;

use tracing::instrument;

use super::{
    accounts::Accounts,
    clock::Clock,
    error::{Error, Result},
    events::Events,
    model::{
        Action, Client, Email, EventKind, Principal, Provider, ProviderIdentity, Revocation, SignInMethods, TokenPair,
        Unlinked, User,
    },
    outbox::Queued,
    ports::{IdentityProvider, IdentityStore, Tx, UnitOfWork, UserStore},
    sessions::{Sessions, web::WebSession},
    throttle::Throttle,
};

/// Times a sign-in looks again after a concurrent first sign-in of the same person linked
/// or created first.
const TRIES: usize = 3;

/// Which session a provider sign-in starts.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// Document 002's token pair.
    Jwt,
    /// The web app's cookie session.
    Web,
}

/// A started session of either kind.
enum Started {
    Jwt(User, TokenPair),
    Web(WebSession),
}

/// Built by `Domain::build`, which alone sets its ports.
#[derive(Clone)]
pub struct Identities {
    pub(super) store: Arc<dyn IdentityStore>,
    pub(super) users: Arc<dyn UserStore>,
    pub(super) uow: Arc<dyn UnitOfWork>,
    pub(super) accounts: Accounts,
    pub(super) sessions: Sessions,
    pub(super) google: Arc<dyn IdentityProvider>,
    pub(super) github: Arc<dyn IdentityProvider>,
    pub(super) throttle: Throttle,
    pub(super) events: Events,
    pub(super) clock: Arc<dyn Clock>,
}

impl Identities {
    fn provider(&self, provider: Provider) -> &dyn IdentityProvider {
        match provider {
            Provider::Google => self.google.as_ref(),
            Provider::GitHub => self.github.as_ref(),
        }
    }

    /// Signs in with what the client got from `provider` and starts a JWT session: the
    /// linked user, else the user with the provider's verified e-mail (now linked), else a
    /// new user without a password. An inactive account gets no tokens.
    #[instrument(skip_all, fields(provider = provider.as_str()))]
    pub async fn login(&self, client: &Client, provider: Provider, credential: &str) -> Result<(User, TokenPair)> {
        match self.provider_sign_in(client, provider, credential, Kind::Jwt).await? {
            Started::Jwt(user, pair) => Ok((user, pair)),
            Started::Web(_) => Err(anyhow::anyhow!("a JWT sign-in started a browser session").into()),
        }
    }

    /// Signs in with what the browser got from `provider`, as [`Identities::login`] does,
    /// and starts a browser session (the web app's cookie) instead of a JWT one.
    #[instrument(skip_all, fields(provider = provider.as_str()))]
    pub async fn sign_in_browser(&self, client: &Client, provider: Provider, credential: &str) -> Result<WebSession> {
        match self.provider_sign_in(client, provider, credential, Kind::Web).await? {
            Started::Web(web) => Ok(web),
            Started::Jwt(..) => Err(anyhow::anyhow!("a browser sign-in started a JWT session").into()),
        }
    }

    async fn provider_sign_in(
        &self,
        client: &Client,
        provider: Provider,
        credential: &str,
        kind: Kind,
    ) -> Result<Started> {
        self.throttle.attempt(Action::ProviderLogin, client.ip).await?;
        let identity = self.provider(provider).identify(credential, self.clock.now()).await?;
        let Some(email) = identity.verified_email.clone() else {
            tracing::info!("the provider has verified no e-mail of this identity: refused");
            return Err(Error::ProviderRefused(provider));
        };
        for _ in 0..TRIES {
            match self.sign_in(&identity, &email, client, kind).await {
                // One identity per provider and user: the account with this e-mail has another.
                Err(Error::Conflict { field: "provider" }) => {
                    tracing::info!(
                        "the account with this e-mail has another identity of this provider linked: refused"
                    );
                    return Err(Error::ProviderRefused(provider));
                }
                // A concurrent first sign-in linked the identity or took the e-mail: look again.
                Err(Error::Conflict { .. }) => continue,
                other => return other,
            }
        }
        Err(anyhow::anyhow!("concurrent sign-ins of one identity kept colliding").into())
    }

    async fn sign_in(
        &self,
        identity: &ProviderIdentity,
        email: &Email,
        client: &Client,
        kind: Kind,
    ) -> Result<Started> {
        let provider = identity.provider;
        let now = self.clock.now();
        let detail = Some(provider.as_str());
        if let Some(link) = self.store.identity(provider, &identity.subject).await? {
            let user = self.users.user_by_id(link.user_id).await?.ok_or(Error::Conflict { field: "identity" })?;
            refuse_inactive(&user, provider)?;
            let mut tx = self.uow.begin().await?;
            tx.touch_identity(provider, &identity.subject, email.as_str(), now).await?;
            self.events.in_tx(tx.as_mut(), user.id, EventKind::LoginSucceeded, client, detail).await?;
            return self.start_session(tx, user, None, kind).await;
        }
        if let Some((mut user, hash)) = self.users.credentials_by_email(&email.key()).await? {
            refuse_inactive(&user, provider)?;
            let mut tx = self.uow.begin().await?;
            tx.insert_identity(identity, user.id, now).await?;
            let mut revoked = None;
            if !user.email_verified {
                // The provider has just shown that this person receives mail at the address.
                // Whoever registered it unverified may not have been them (an account
                // pre-hijacked with someone else's address): that password, those sessions
                // and that API token stop working; the owner sets a password by reset.
                if hash.is_some() {
                    tx.clear_password(user.id, now).await?;
                }
                tx.delete_api_token(user.id).await?;
                revoked = Some(self.sessions.revoke(tx.as_mut(), &Revocation::User(user.id)).await?);
                tx.mark_email_verified(user.id, now).await?;
                user.email_verified = true;
            }
            self.events.in_tx(tx.as_mut(), user.id, EventKind::ProviderLinked, client, detail).await?;
            self.events.in_tx(tx.as_mut(), user.id, EventKind::LoginSucceeded, client, detail).await?;
            let user_id = user.id;
            let signed_in = self.start_session(tx, user, revoked, kind).await?;
            tracing::info!(user_id = %user_id, "provider identity linked to the account with its verified e-mail");
            return Ok(signed_in);
        }
        let new = self.accounts.provider_user(identity, email.clone())?;
        let mut tx = self.uow.begin().await?;
        let user = self.accounts.insert_user(tx.as_mut(), new).await?;
        tx.insert_identity(identity, user.id, now).await?;
        self.events.in_tx(tx.as_mut(), user.id, EventKind::AccountCreated, client, detail).await?;
        self.events.in_tx(tx.as_mut(), user.id, EventKind::ProviderLinked, client, detail).await?;
        let user_id = user.id;
        let signed_in = self.start_session(tx, user, None, kind).await?;
        tracing::info!(user_id = %user_id, "account created by a provider's first sign-in");
        Ok(signed_in)
    }

    /// Adds a session of `kind` to `tx` and commits; then delivers the revocation `tx`
    /// queued, if any.
    async fn start_session(
        &self,
        mut tx: Box<dyn Tx>,
        user: User,
        revoked: Option<Queued>,
        kind: Kind,
    ) -> Result<Started> {
        let user_id = user.id;
        let (session, started) = match kind {
            Kind::Jwt => {
                let (session, pair) = self.sessions.new_jwt_session(user.id)?;
                (session, Started::Jwt(user, pair))
            }
            Kind::Web => {
                let (session, web) = self.sessions.new_web_session(user)?;
                (session, Started::Web(web))
            }
        };
        tx.insert_session(&session).await?;
        tx.commit().await?;
        if let Some(queued) = revoked {
            self.sessions.revoked(&Revocation::User(user_id), queued).await;
        }
        if kind == Kind::Jwt {
            self.sessions.remember(&session);
        }
        Ok(started)
    }

    /// The caller's ways to sign in: password or not, and linked providers.
    #[instrument(skip_all)]
    pub async fn sign_in_methods(&self, principal: &Principal) -> Result<SignInMethods> {
        self.store.sign_in_methods(principal.user_id()).await
    }

    /// Unlinks the caller's identity of `provider`; `Error::NotFound` when none is linked,
    /// `Error::LastSignInMethod` when it is their only way left to sign in.
    #[instrument(skip_all, fields(provider = provider.as_str()))]
    pub async fn unlink(&self, principal: &Principal, provider: Provider, client: &Client) -> Result<()> {
        match self.store.unlink_identity(principal.user_id(), provider).await? {
            Unlinked::Removed => {
                tracing::info!(user_id = %principal.user_id(), "provider identity unlinked");
                let detail = Some(provider.as_str());
                self.events.record(principal.user_id(), EventKind::ProviderUnlinked, client, detail).await;
                Ok(())
            }
            Unlinked::NotLinked => Err(Error::NotFound),
            Unlinked::LastSignInMethod => Err(Error::LastSignInMethod),
        }
    }
}

/// An inactive account is refused as the provider's refusal: no tokens, no link.
fn refuse_inactive(user: &User, provider: Provider) -> Result<()> {
    if user.is_active {
        Ok(())
    } else {
        tracing::info!(user_id = %user.id, "sign-in through a provider refused: the account is inactive");
        Err(Error::ProviderRefused(provider))
    }
}
