//! E-mail verification and password reset: the flows that go through a mailed link.

use std::{sync::Arc, time::Duration};

use tracing::instrument;

use super::{
    clock::{self, Clock},
    error::{Error, Invalid, Result},
    events::Events,
    mail::{Mails, token_hash},
    model::{Action, Client, Email, EventKind, MailPurpose, Password, Principal, RedeemedToken, Revocation, User},
    passwords::PasswordHasher,
    ports::{LifecycleStore, UnitOfWork, UserStore},
    sessions::Sessions,
    throttle::Throttle,
};

/// Shortest time between two verification mails to one user.
pub const RESEND_COOLDOWN: Duration = Duration::from_secs(60);
/// Shortest time between two reset mails to one account (more requests are answered
/// alike but send nothing).
pub const RESET_COOLDOWN: Duration = Duration::from_secs(60);

/// What a resend did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resent {
    Sent,
    AlreadyVerified,
}

/// Built by `Domain::build`.
#[derive(Clone)]
pub struct Recovery {
    pub(super) users: Arc<dyn UserStore>,
    pub(super) store: Arc<dyn LifecycleStore>,
    pub(super) uow: Arc<dyn UnitOfWork>,
    pub(super) hasher: PasswordHasher,
    pub(super) sessions: Sessions,
    pub(super) mails: Mails,
    pub(super) events: Events,
    pub(super) throttle: Throttle,
    pub(super) clock: Arc<dyn Clock>,
}

fn invalid_link() -> Error {
    Error::invalid("token", Invalid::LinkToken)
}

impl Recovery {
    /// Mails the caller a new verification link, at most once a minute.
    #[instrument(skip_all)]
    pub async fn resend_verification(&self, principal: &Principal, client: &Client) -> Result<Resent> {
        let user = principal.user();
        if user.email_verified {
            return Ok(Resent::AlreadyVerified);
        }
        self.throttle.attempt(Action::VerificationMail, client.ip).await?;
        let now = self.clock.now();
        if let Some(last) = self.store.last_mail_token_at(user.id, MailPurpose::VerifyEmail).await? {
            let ready = clock::after(last, RESEND_COOLDOWN)?;
            if ready > now {
                let wait = now.duration_until(ready).as_secs().max(1);
                return Err(Error::RateLimited { retry_after: u64::try_from(wait).unwrap_or(1) });
            }
        }
        let mut tx = self.uow.begin().await?;
        let queued = self.mails.queue_verification(tx.as_mut(), user).await?;
        self.events.in_tx(tx.as_mut(), user.id, EventKind::EmailVerificationSent, client, None).await?;
        tx.commit().await?;
        self.mails.send(queued);
        Ok(Resent::Sent)
    }

    /// Marks the address a verification link was mailed to verified, if it is still the
    /// user's. The token works once.
    #[instrument(skip_all)]
    pub async fn verify_email(&self, token: &str, client: &Client) -> Result<User> {
        let hash = token_hash(token);
        let now = self.clock.now();
        let mut tx = self.uow.begin().await?;
        let Some(RedeemedToken { user, email_key }) =
            tx.redeem_mail_token(&hash, MailPurpose::VerifyEmail, now).await?
        else {
            return Err(invalid_link());
        };
        let account = self.users.user_by_id(user).await?.ok_or_else(invalid_link)?;
        // A link mailed to an address the user has since changed proves nothing about the new one.
        if !account.is_active || account.email.to_lowercase() != email_key {
            return Err(invalid_link());
        }
        if !account.email_verified {
            tx.mark_email_verified(user, now).await?;
            self.events.in_tx(tx.as_mut(), user, EventKind::EmailVerified, client, None).await?;
        }
        tx.commit().await?;
        Ok(User { email_verified: true, ..account })
    }

    /// Mails a reset link if an active account has this address. The answer is the same,
    /// and comes as fast, either way: the work happens after it, in the background.
    #[instrument(skip_all)]
    pub async fn request_reset(&self, email: &Email, client: &Client) -> Result<()> {
        self.throttle.attempt(Action::PasswordReset, client.ip).await?;
        let this = self.clone();
        let (key, client) = (email.key(), client.clone());
        tokio::spawn(async move {
            if let Err(e) = this.send_reset(&key, &client).await {
                tracing::warn!(error = %e, "sending a password reset mail failed");
            }
        });
        Ok(())
    }

    async fn send_reset(&self, email_key: &str, client: &Client) -> Result<()> {
        let Some((user, _)) = self.users.credentials_by_email(email_key).await? else {
            tracing::info!("password reset asked for an address no account has; nothing sent");
            return Ok(());
        };
        if !user.is_active {
            tracing::info!(user_id = %user.id, "password reset asked for an inactive account; nothing sent");
            return Ok(());
        }
        let now = self.clock.now();
        if let Some(last) = self.store.last_mail_token_at(user.id, MailPurpose::ResetPassword).await?
            && clock::after(last, RESET_COOLDOWN)? > now
        {
            tracing::info!(user_id = %user.id, "password reset asked again within a minute; nothing sent");
            return Ok(());
        }
        let mut tx = self.uow.begin().await?;
        let queued = self.mails.queue_reset(tx.as_mut(), &user).await?;
        self.events.in_tx(tx.as_mut(), user.id, EventKind::PasswordResetRequested, client, None).await?;
        tx.commit().await?;
        self.mails.send(queued);
        Ok(())
    }

    /// Sets a new password with a reset link's token: every session, refresh token and
    /// browser session of the user is revoked on every node, other reset links stop
    /// working, and the address the link reached counts as verified.
    #[instrument(skip_all)]
    pub async fn confirm_reset(&self, token: &str, password: &Password, client: &Client) -> Result<()> {
        let hash = token_hash(token);
        // Hash only for a token that may work (argon2 takes tens of milliseconds); the
        // transaction below redeems it for good.
        let now = self.clock.now();
        let peek = self.store.mail_token(&hash, MailPurpose::ResetPassword, now).await?;
        let Some(RedeemedToken { user, .. }) = peek else { return Err(invalid_link()) };
        let account = self.users.user_by_id(user).await?.filter(|u| u.is_active).ok_or_else(invalid_link)?;
        // Refused before the token is redeemed, so the link still works for a better password.
        password.check_similarity(&account.personal_attributes()).map_err(|why| Error::invalid("password", why))?;
        let password_hash = self.hasher.hash(password).await?;
        let now = self.clock.now();
        let mut tx = self.uow.begin().await?;
        let Some(redeemed) = tx.redeem_mail_token(&hash, MailPurpose::ResetPassword, now).await? else {
            return Err(invalid_link());
        };
        tx.set_password_hash(account.id, &password_hash, now).await?;
        tx.void_mail_tokens(account.id, MailPurpose::ResetPassword, now).await?;
        if account.email.to_lowercase() == redeemed.email_key && !account.email_verified {
            tx.mark_email_verified(account.id, now).await?;
        }
        let revocation = Revocation::User(account.id);
        let queued = self.sessions.revoke(tx.as_mut(), &revocation).await?;
        self.events.in_tx(tx.as_mut(), account.id, EventKind::PasswordReset, client, None).await?;
        tx.commit().await?;
        self.sessions.revoked(&revocation, queued).await;
        Ok(())
    }

    /// Removes used and expired tokens.
    pub async fn purge(&self) -> Result<u64> {
        self.store.purge_mail_tokens(self.clock.now()).await
    }
}
