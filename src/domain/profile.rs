//! Reading and changing a user's own profile.

use tracing::instrument;

use super::{
    Service,
    error::{Error, Result},
    types::UserId,
    user::{ProfileUpdate, User},
};

impl Service {
    pub async fn user(&self, id: UserId) -> Result<User> {
        self.users.user_by_id(id).await?.ok_or(Error::NotFound)
    }

    /// Applies the fields that are set; an unchanged profile is returned as it is.
    #[instrument(skip_all)]
    pub async fn update_profile(&self, id: UserId, update: &ProfileUpdate) -> Result<User> {
        if update.is_empty() {
            return self.user(id).await;
        }
        self.users.update_profile(id, update).await
    }
}
