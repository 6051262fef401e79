//! The security event log: what happened to an account, when, from which address and
//! user agent. Never a password or a token. Old events are purged after the retention.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use super::{
    clock::{self, Clock},
    error::Result,
    model::{Client, EventKind, Page, PageRequest, SecurityEvent, UserId},
    ports::{EventStore, Tx},
};

/// How often one account's throttled logins are recorded, per node.
const THROTTLE_EVENT_EVERY: Duration = Duration::from_secs(60);

#[derive(Clone)]
pub struct Events {
    store: Arc<dyn EventStore>,
    clock: Arc<dyn Clock>,
    retention: Duration,
    /// When each account's last throttled login was recorded here.
    throttled: Arc<Mutex<HashMap<UserId, Instant>>>,
}

impl Events {
    pub fn new(store: Arc<dyn EventStore>, clock: Arc<dyn Clock>, retention: Duration) -> Self {
        Events { store, clock, retention, throttled: Arc::default() }
    }

    fn event(&self, user: UserId, kind: EventKind, client: &Client, detail: Option<&str>) -> SecurityEvent {
        SecurityEvent::new(user, kind, client, detail.map(str::to_string), self.clock.now())
    }

    /// Records an event in the use case's transaction: it exists exactly when the change does.
    pub async fn in_tx(
        &self,
        tx: &mut dyn Tx,
        user: UserId,
        kind: EventKind,
        client: &Client,
        detail: Option<&str>,
    ) -> Result<()> {
        tx.insert_event(&self.event(user, kind, client, detail)).await
    }

    /// Records an event now, outside any transaction. A failure is logged; the request
    /// it describes has succeeded and is not failed for it.
    pub async fn record(&self, user: UserId, kind: EventKind, client: &Client, detail: Option<&str>) {
        if let Err(e) = self.store.insert_event(&self.event(user, kind, client, detail)).await {
            tracing::warn!(error = %e, kind = kind.as_str(), "recording a security event failed");
        }
    }

    /// Records an event in the background, so the answer neither waits for the write nor
    /// takes longer when the account exists (failed and throttled logins).
    pub fn record_detached(&self, user: UserId, kind: EventKind, client: &Client, detail: Option<&str>) {
        let event = self.event(user, kind, client, detail);
        let store = self.store.clone();
        tokio::spawn(async move {
            if let Err(e) = store.insert_event(&event).await {
                tracing::warn!(error = %e, kind = %event.kind, "recording a security event failed");
            }
        });
    }

    /// Records a throttled login of `user`, at most once a minute per account and node,
    /// so a flood does not become a flood of writes.
    pub fn record_throttled(&self, user: UserId, client: &Client) {
        let now = Instant::now();
        {
            let Ok(mut seen) = self.throttled.lock() else { return };
            if seen.get(&user).is_some_and(|at| now.duration_since(*at) < THROTTLE_EVENT_EVERY) {
                return;
            }
            seen.insert(user, now);
        }
        self.record_detached(user, EventKind::LoginThrottled, client, None);
    }

    /// A page of the user's events, newest first.
    pub async fn list(&self, user: UserId, page: &PageRequest) -> Result<Page<SecurityEvent>> {
        self.store.events(user, page).await
    }

    /// Removes events older than the retention; returns how many went.
    pub async fn purge(&self) -> Result<u64> {
        if let Ok(mut seen) = self.throttled.lock() {
            seen.retain(|_, at| at.elapsed() < THROTTLE_EVENT_EVERY);
        }
        self.store.purge_events(clock::before(self.clock.now(), self.retention)).await
    }
}
