//! What staff do to other accounts (`userd create-admin` makes staff): look users up,
//! read their security events, deactivate and reactivate them.

use std::sync::Arc;

use tracing::instrument;

use super::{
    clock::Clock,
    error::{Error, Invalid, Result},
    events::Events,
    model::{Client, EventKind, Page, PageRequest, Principal, Revocation, SecurityEvent, User, UserId, UserSearch},
    ports::{LifecycleStore, UnitOfWork, UserStore},
    sessions::Sessions,
};

/// Built by `Domain::build`.
#[derive(Clone)]
pub struct Staff {
    pub(super) lifecycle: Arc<dyn LifecycleStore>,
    pub(super) users: Arc<dyn UserStore>,
    pub(super) uow: Arc<dyn UnitOfWork>,
    pub(super) sessions: Sessions,
    pub(super) events: Events,
    pub(super) clock: Arc<dyn Clock>,
}

fn require_staff(principal: &Principal) -> Result<()> {
    if principal.user().is_staff { Ok(()) } else { Err(Error::Forbidden) }
}

impl Staff {
    /// Every user (active or not) matching `search`, newest first.
    pub async fn users(&self, principal: &Principal, search: &UserSearch, page: &PageRequest) -> Result<Page<User>> {
        require_staff(principal)?;
        self.lifecycle.users(search, page).await
    }

    pub async fn user(&self, principal: &Principal, id: UserId) -> Result<User> {
        require_staff(principal)?;
        self.users.user_by_id(id).await?.ok_or(Error::NotFound)
    }

    pub async fn events(&self, principal: &Principal, id: UserId, page: &PageRequest) -> Result<Page<SecurityEvent>> {
        self.user(principal, id).await?;
        self.events.list(id, page).await
    }

    /// Deactivates (`active: false`) or reactivates an account. Deactivation refuses every
    /// credential of the user at once, on every node: sessions and refresh tokens are
    /// revoked, the personal API token is removed, and an inactive account gets no
    /// principal whatever it presents. Staff cannot deactivate themselves.
    #[instrument(skip_all, fields(user_id = %id, active))]
    pub async fn set_active(&self, principal: &Principal, id: UserId, active: bool, client: &Client) -> Result<User> {
        let user = self.user(principal, id).await?;
        if !active && id == principal.user_id() {
            return Err(Error::invalid("user", Invalid::OwnAccount));
        }
        if user.is_active == active {
            return Ok(user);
        }
        let now = self.clock.now();
        let detail = format!("by staff user {}", principal.user_id());
        let mut tx = self.uow.begin().await?;
        tx.set_active(id, active, now).await?;
        let revocation = Revocation::User(id);
        let queued = if active {
            self.events.in_tx(tx.as_mut(), id, EventKind::Reactivated, client, Some(&detail)).await?;
            None
        } else {
            tx.delete_api_token(id).await?;
            self.events.in_tx(tx.as_mut(), id, EventKind::Deactivated, client, Some(&detail)).await?;
            Some(self.sessions.revoke(tx.as_mut(), &revocation).await?)
        };
        tx.commit().await?;
        if let Some(queued) = queued {
            self.sessions.revoked(&revocation, queued).await;
        }
        tracing::info!(staff = %principal.user_id(), "account {}", if active { "reactivated" } else { "deactivated" });
        Ok(User { is_active: active, ..user })
    }
}
