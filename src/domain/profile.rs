//! Reading and changing a user's own profile.

use tracing::instrument;

use super::{
    Service,
    error::{Error, Result},
    types::{TimeZoneName, UserId},
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

impl Service {
    /// Sets or clears the time zone; returns the new value when it changed.
    #[instrument(skip_all)]
    pub async fn update_time_zone(&self, id: UserId, tz: Option<TimeZoneName>) -> Result<Option<Option<String>>> {
        let current = self.user(id).await?;
        let new = tz.map(|t| t.as_str().to_string());
        if current.tz == new {
            return Ok(None);
        }
        let update = ProfileUpdate { tz: Some(new.clone()), ..ProfileUpdate::default() };
        self.users.update_profile(id, &update).await?;
        Ok(Some(new))
    }
}
