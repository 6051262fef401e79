//! Everything userd holds about a user, read in steps so the download can be streamed
//! however many files, follows and events there are: the account, then pages of files,
//! follows both ways and security events. The surface renders each part as it comes.

use std::sync::Arc;

use super::{
    error::Result,
    model::{
        Counts, Cursor, ListPage, PageRequest, Principal, SecurityEvent, SignInMethods, StoredFile, User, UserCard,
    },
    ports::{ApiTokenStore, DirectoryStore, EventStore, FileStore, FollowStore, IdentityStore},
};

/// Items read per step.
const STEP: u32 = 500;

/// Where an export goes next.
#[derive(Debug, Clone)]
pub enum ExportStep {
    Account,
    Files(Option<Cursor>),
    Following(u64),
    Followers(u64),
    Events(Option<Cursor>),
}

/// One piece of an export.
pub enum ExportPart {
    Account { user: Box<User>, methods: SignInMethods, has_api_token: bool, counts: Counts },
    Files(Vec<StoredFile>),
    Following(Vec<UserCard>),
    Followers(Vec<UserCard>),
    Events(Vec<SecurityEvent>),
}

#[derive(Clone)]
pub struct Export {
    pub(super) identities: Arc<dyn IdentityStore>,
    pub(super) api_tokens: Arc<dyn ApiTokenStore>,
    pub(super) files: Arc<dyn FileStore>,
    pub(super) follows: Arc<dyn FollowStore>,
    pub(super) directory: Arc<dyn DirectoryStore>,
    pub(super) events: Arc<dyn EventStore>,
}

impl Export {
    /// Reads `step` of the caller's export; the next step, or `None` when it is complete.
    pub async fn read(&self, principal: &Principal, step: ExportStep) -> Result<(ExportPart, Option<ExportStep>)> {
        let user = principal.user();
        Ok(match step {
            ExportStep::Account => {
                let part = ExportPart::Account {
                    user: Box::new(user.clone()),
                    methods: self.identities.sign_in_methods(user.id).await?,
                    has_api_token: self.api_tokens.sealed_api_token(user.id).await?.is_some(),
                    counts: self.directory.counts(user.id).await?,
                };
                (part, Some(ExportStep::Files(None)))
            }
            ExportStep::Files(after) => {
                let page = self.files.files(user.id, &PageRequest { limit: STEP, after }).await?;
                let next = match page.next {
                    Some(c) => ExportStep::Files(Some(c)),
                    None => ExportStep::Following(0),
                };
                (ExportPart::Files(page.items), Some(next))
            }
            ExportStep::Following(number) | ExportStep::Followers(number) => {
                let followers = matches!(step, ExportStep::Followers(_));
                let page = ListPage { size: STEP, number };
                let (cards, _) = self.follows.connections(user.id, followers, Some(user.id), page).await?;
                let more = cards.len() == STEP as usize;
                let next = match (followers, more) {
                    (false, true) => ExportStep::Following(number + 1),
                    (false, false) => ExportStep::Followers(0),
                    (true, true) => ExportStep::Followers(number + 1),
                    (true, false) => ExportStep::Events(None),
                };
                let part = if followers { ExportPart::Followers(cards) } else { ExportPart::Following(cards) };
                (part, Some(next))
            }
            ExportStep::Events(after) => {
                let page = self.events.events(user.id, &PageRequest { limit: STEP, after }).await?;
                (ExportPart::Events(page.items), page.next.map(|c| ExportStep::Events(Some(c))))
            }
        })
    }
}
