//! Carrying out what committed transactions queued. A use case delivers its own effects
//! right after its commit, so a logout is announced before its response leaves; the
//! background sweep delivers what a crash or a failed delivery left behind.

use std::{sync::Arc, time::Duration};

use tracing::instrument;

use base64::{Engine, engine::general_purpose::STANDARD};

use super::{
    clock::{self, Clock},
    crypto::Sealer,
    error::Result,
    model::{Effect, Mail},
    ports::{BlobStore, Mailer, OutboxStore, RevocationBus, Tx},
};

/// Associated data binding sealed mails to their purpose.
const MAIL_CONTEXT: &[u8] = b"outbox mail";

/// Seals mails for the outbox and sends them once opened: a queued mail carries a
/// single-use token, so the table holds it encrypted with the master secret.
pub struct Postman {
    sealer: Sealer,
    mailer: Arc<dyn Mailer>,
}

impl Postman {
    pub fn new(sealer: Sealer, mailer: Arc<dyn Mailer>) -> Self {
        Postman { sealer, mailer }
    }

    /// The effect that sends `mail`.
    pub fn seal(&self, mail: &Mail) -> Result<Effect> {
        let json = serde_json::to_vec(mail).map_err(anyhow::Error::from)?;
        Ok(Effect::Mail(STANDARD.encode(self.sealer.seal(&json, MAIL_CONTEXT)?)))
    }

    async fn send(&self, sealed: &str) -> Result<()> {
        let bytes = STANDARD.decode(sealed).map_err(anyhow::Error::from)?;
        let mail: Mail =
            serde_json::from_slice(&self.sealer.open(&bytes, MAIL_CONTEXT)?).map_err(anyhow::Error::from)?;
        self.mailer.send(&mail).await
    }
}

/// How long a queued or claimed effect stays hidden from other claimers: the time its
/// deliverer has before someone else delivers it too. Effects are idempotent, so a
/// second delivery costs nothing but the message.
pub const LEASE: Duration = Duration::from_secs(30);
/// Effects that failed this often are dropped with a warning.
const MAX_ATTEMPTS: i32 = 50;

/// Effects queued in an open transaction, to deliver once it commits.
#[derive(Debug, Default)]
#[must_use = "deliver the queued effects after the commit"]
pub struct Queued(Vec<(i64, Effect)>);

#[derive(Clone)]
pub struct Outbox {
    store: Arc<dyn OutboxStore>,
    bus: Arc<dyn RevocationBus>,
    blobs: Arc<dyn BlobStore>,
    postman: Arc<Postman>,
    clock: Arc<dyn Clock>,
}

impl Outbox {
    pub fn new(
        store: Arc<dyn OutboxStore>,
        bus: Arc<dyn RevocationBus>,
        blobs: Arc<dyn BlobStore>,
        postman: Arc<Postman>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Outbox { store, bus, blobs, postman, clock }
    }

    pub fn postman(&self) -> &Postman {
        &self.postman
    }

    /// Queues `effects` in `tx`; deliver the result with [`Outbox::deliver`] after the commit.
    pub async fn queue(&self, tx: &mut dyn Tx, effects: &[Effect]) -> Result<Queued> {
        let now = self.clock.now();
        let due = clock::after(now, LEASE)?;
        let mut queued = Vec::with_capacity(effects.len());
        for effect in effects {
            queued.push((tx.enqueue(effect, now, due).await?, effect.clone()));
        }
        Ok(Queued(queued))
    }

    /// Delivers effects whose transaction has committed. A failure is logged, not
    /// returned: the change is made, and the sweep delivers the effect later.
    pub async fn deliver(&self, queued: Queued) {
        for (id, effect) in queued.0 {
            match self.perform(&effect).await {
                Ok(()) => {
                    if let Err(e) = self.store.complete(id).await {
                        tracing::warn!(error = %e, "marking an outbox effect delivered failed; it will be delivered again");
                    }
                }
                Err(e) => tracing::warn!(error = %e, "delivering an outbox effect failed; it will be retried"),
            }
        }
    }

    /// Delivers effects whose transaction has committed in the background: mail, which the
    /// answer must not wait for (an SMTP server may be slow) nor be timed by.
    pub fn deliver_detached(&self, queued: Queued) {
        if queued.0.is_empty() {
            return;
        }
        let this = self.clone();
        tokio::spawn(async move { this.deliver(queued).await });
    }

    /// Delivers what is due (left behind by a crash or a failure); returns how many went.
    #[instrument(skip_all)]
    pub async fn sweep(&self) -> Result<usize> {
        let now = self.clock.now();
        let items = self.store.claim_due(now, clock::after(now, LEASE)?, 100).await?;
        let mut delivered = 0;
        for item in items {
            let Some(effect) = item.effect else {
                if item.attempts >= MAX_ATTEMPTS {
                    tracing::warn!(id = item.id, "dropping an outbox effect this version cannot read");
                    self.store.complete(item.id).await?;
                }
                continue;
            };
            match self.perform(&effect).await {
                Ok(()) => {
                    self.store.complete(item.id).await?;
                    delivered += 1;
                }
                Err(e) if item.attempts >= MAX_ATTEMPTS => {
                    tracing::warn!(error = %e, id = item.id, "dropping an outbox effect that keeps failing");
                    self.store.complete(item.id).await?;
                }
                Err(e) => tracing::warn!(error = %e, id = item.id, "outbox effect failed; retrying later"),
            }
        }
        Ok(delivered)
    }

    async fn perform(&self, effect: &Effect) -> Result<()> {
        match effect {
            Effect::Announce(revocation) => self.bus.announce(revocation).await,
            Effect::DeleteBlob(key) => self.blobs.delete(key).await,
            Effect::Mail(sealed) => self.postman.send(sealed).await,
        }
    }
}
