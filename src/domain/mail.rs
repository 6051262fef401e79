//! The mails userd sends: e-mail verification and password reset. Each carries a
//! single-use token, random, stored only as its SHA-256 hash, that expires. A mail is
//! queued in the transaction that creates its token and sent after the commit, in the
//! background; a failed send is retried by the outbox and never fails the request.

use std::{sync::Arc, time::Duration};

use super::{
    clock::{self, Clock},
    crypto,
    error::Result,
    model::{Mail, MailPurpose, MailToken, User},
    outbox::{Outbox, Queued},
    ports::Tx,
};

/// How long a verification link works.
pub const VERIFY_TTL: Duration = Duration::from_secs(24 * 60 * 60);
/// How long a password reset link works.
pub const RESET_TTL: Duration = Duration::from_secs(60 * 60);
/// Random bytes in a token (256 bits).
const TOKEN_BYTES: usize = 32;

/// The hash a token is stored and looked up by.
pub fn token_hash(token: &str) -> Vec<u8> {
    crypto::sha256(token.trim().as_bytes())
}

#[derive(Clone)]
pub struct Mails {
    outbox: Outbox,
    /// `USERD_PUBLIC_URL`: links point at the web app there.
    public_url: Arc<str>,
    clock: Arc<dyn Clock>,
}

impl Mails {
    pub fn new(outbox: Outbox, public_url: &str, clock: Arc<dyn Clock>) -> Self {
        Mails { outbox, public_url: public_url.trim_end_matches('/').into(), clock }
    }

    /// Creates a verification token for the user's current address and queues its mail in `tx`.
    pub async fn queue_verification(&self, tx: &mut dyn Tx, user: &User) -> Result<Queued> {
        let token = self.new_token(tx, user, MailPurpose::VerifyEmail, VERIFY_TTL).await?;
        let link = format!("{}/verify-email?token={token}", self.public_url);
        let text = format!(
            "Hello {name},\n\n\
             please confirm that {email} is your e-mail address by opening this link:\n\n\
             {link}\n\n\
             The link works once and expires in 24 hours. If you did not create an account, \
             you can ignore this mail.\n",
            name = user.username,
            email = user.email,
        );
        self.queue(tx, user, "Confirm your e-mail address", text).await
    }

    /// Creates a password reset token and queues its mail in `tx`.
    pub async fn queue_reset(&self, tx: &mut dyn Tx, user: &User) -> Result<Queued> {
        let token = self.new_token(tx, user, MailPurpose::ResetPassword, RESET_TTL).await?;
        let link = format!("{}/reset-password?token={token}", self.public_url);
        let text = format!(
            "Hello {name},\n\n\
             someone asked to reset the password of your account. To choose a new password, \
             open this link:\n\n\
             {link}\n\n\
             The link works once and expires in 1 hour. Setting a new password signs you out \
             everywhere. If you did not ask for this, ignore this mail: your password stays as it is.\n",
            name = user.username,
        );
        self.queue(tx, user, "Reset your password", text).await
    }

    /// Sends what was queued, after the commit, in the background.
    pub fn send(&self, queued: Queued) {
        self.outbox.deliver_detached(queued);
    }

    async fn new_token(&self, tx: &mut dyn Tx, user: &User, purpose: MailPurpose, ttl: Duration) -> Result<String> {
        let token = crypto::random_token(TOKEN_BYTES)?;
        let now = self.clock.now();
        tx.insert_mail_token(&MailToken {
            hash: token_hash(&token),
            user: user.id,
            purpose,
            email_key: user.email.to_lowercase(),
            created_at: now,
            expires_at: clock::after(now, ttl)?,
        })
        .await?;
        Ok(token)
    }

    async fn queue(&self, tx: &mut dyn Tx, user: &User, subject: &str, text: String) -> Result<Queued> {
        let mail = Mail { to: user.email.clone(), subject: subject.to_string(), text };
        let effect = self.outbox.postman().seal(&mail)?;
        self.outbox.queue(tx, &[effect]).await
    }
}
