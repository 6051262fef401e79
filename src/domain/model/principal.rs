//! The caller of an authenticated request. Only the domain makes one, and it makes none
//! for an inactive account, whatever the credential: a handler cannot forget the check.

use super::{
    types::{SessionId, UserId},
    user::User,
};
use crate::domain::error::{AuthFailure, Error, Result};

/// How the caller authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    Jwt,
    ApiToken,
    Cookie,
}

#[derive(Debug, Clone)]
pub struct Principal {
    user: User,
    session: Option<SessionId>,
    via: Via,
}

impl Principal {
    /// The principal of `user`; an inactive account is refused as invalid credentials.
    pub(in crate::domain) fn new(user: User, session: Option<SessionId>, via: Via) -> Result<Self> {
        if !user.is_active {
            return Err(Error::Unauthenticated(AuthFailure::Invalid));
        }
        Ok(Principal { user, session, via })
    }

    /// The caller's account as it was read when the request was authenticated.
    pub fn user(&self) -> &User {
        &self.user
    }

    /// The caller's account, for an answer that only shows it (no copy of its fields).
    pub fn into_user(self) -> User {
        self.user
    }

    pub fn user_id(&self) -> UserId {
        self.user.id
    }

    /// The login session of a JWT or cookie credential; `None` for a personal API token.
    pub fn session(&self) -> Option<&SessionId> {
        self.session.as_ref()
    }

    pub fn via(&self) -> Via {
        self.via
    }
}
