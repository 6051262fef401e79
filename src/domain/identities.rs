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
    sessions::Sessions,
    throttle::Throttle,
};

/// Times a sign-in looks again after a concurrent first sign-in of the same person linked
/// or created first.
const TRIES: usize = 3;

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
        self.throttle.attempt(Action::ProviderLogin, client.ip).await?;
        let identity = self.provider(provider).identify(credential, self.clock.now()).await?;
        let Some(email) = identity.verified_email.clone() else {
            tracing::info!("the provider has verified no e-mail of this identity: refused");
            return Err(Error::ProviderRefused(provider));
        };
        for _ in 0..TRIES {
            match self.sign_in(&identity, &email, client).await {
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

    async fn sign_in(&self, identity: &ProviderIdentity, email: &Email, client: &Client) -> Result<(User, TokenPair)> {
        let provider = identity.provider;
        let now = self.clock.now();
        let detail = Some(provider.as_str());
        if let Some(link) = self.store.identity(provider, &identity.subject).await? {
            let user = self.users.user_by_id(link.user_id).await?.ok_or(Error::Conflict { field: "identity" })?;
            refuse_inactive(&user, provider)?;
            let mut tx = self.uow.begin().await?;
            tx.touch_identity(provider, &identity.subject, email.as_str(), now).await?;
            self.events.in_tx(tx.as_mut(), user.id, EventKind::LoginSucceeded, client, detail).await?;
            return self.start_session(tx, user, None).await;
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
            let signed_in = self.start_session(tx, user, revoked).await?;
            tracing::info!(user_id = %signed_in.0.id, "provider identity linked to the account with its verified e-mail");
            return Ok(signed_in);
        }
        let new = self.accounts.provider_user(identity, email.clone())?;
        let mut tx = self.uow.begin().await?;
        let user = self.accounts.insert_user(tx.as_mut(), new).await?;
        tx.insert_identity(identity, user.id, now).await?;
        self.events.in_tx(tx.as_mut(), user.id, EventKind::AccountCreated, client, detail).await?;
        self.events.in_tx(tx.as_mut(), user.id, EventKind::ProviderLinked, client, detail).await?;
        let signed_in = self.start_session(tx, user, None).await?;
        tracing::info!(user_id = %signed_in.0.id, "account created by a provider's first sign-in");
        Ok(signed_in)
    }

    /// Adds a JWT session to `tx` and commits; then delivers the revocation `tx` queued, if any.
    async fn start_session(
        &self,
        mut tx: Box<dyn Tx>,
        user: User,
        revoked: Option<Queued>,
    ) -> Result<(User, TokenPair)> {
        let (session, pair) = self.sessions.new_jwt_session(user.id)?;
        tx.insert_session(&session).await?;
        tx.commit().await?;
        if let Some(queued) = revoked {
            self.sessions.revoked(&Revocation::User(user.id), queued).await;
        }
        self.sessions.remember(&session);
        Ok((user, pair))
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
