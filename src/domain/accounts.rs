//! Accounts and credentials: registration, password login, profiles, time zones,
//! password changes and staff accounts. Starting and ending sessions is the sessions
//! area's; this one decides who may have one.

use std::{sync::Arc, time::Duration};

use tracing::instrument;

use super::{
    clock::Clock,
    crypto,
    error::{Error, Invalid, Result, UserAttribute},
    events::Events,
    mail::Mails,
    model::{
        Action, Client, Effect, Email, EventKind, ExternalId, NewUser, Password, PictureName, Principal, ProfileUpdate,
        ProviderIdentity, Revocation, TimeZoneName, TokenPair, User, UserId, Username,
    },
    outbox::{Outbox, Queued},
    passwords::PasswordHasher,
    pictures::{Pictures, Prepared},
    ports::{LifecycleStore, Tx, UnitOfWork, UserStore},
    sessions::{Sessions, web::WebSession},
    throttle::Throttle,
};

/// Everything registration needs, already parsed by the surface.
#[derive(Debug)]
pub struct Registration {
    pub email: Email,
    /// `None`: generated from the e-mail.
    pub username: Option<Username>,
    pub password: Password,
    pub first_name: String,
    pub last_name: String,
    pub company_name: String,
    pub bio: String,
    pub avatar: Option<String>,
    /// An uploaded profile picture, already checked and re-encoded.
    pub picture: Option<Prepared>,
}

/// What an account update changes (document 004's `PUT update/`); `None` leaves a field
/// as it is.
#[derive(Default)]
pub struct AccountChange {
    /// Profile fields; its `avatar` is set from `picture`.
    pub profile: ProfileUpdate,
    pub password: Option<Password>,
    /// `Some(None)` deletes the picture; `Some(Some(_))` replaces it.
    pub picture: Option<Option<Prepared>>,
}

impl Registration {
    /// Django's similarity rule for the new password, against the account's own
    /// attributes: the username a registration without one will be given included.
    fn check_password(&self) -> Result<()> {
        let generated;
        let username = match &self.username {
            Some(u) => u.as_str(),
            None => {
                generated = Username::from_email(&self.email);
                generated.as_str()
            }
        };
        let attributes = [
            (UserAttribute::Username, username),
            (UserAttribute::FirstName, self.first_name.as_str()),
            (UserAttribute::LastName, self.last_name.as_str()),
            (UserAttribute::Email, self.email.as_str()),
        ];
        self.password.check_similarity(&attributes).map_err(|why| Error::invalid("password", why))
    }

    /// A registration with only the required fields.
    pub fn new(email: Email, password: Password) -> Self {
        Registration {
            email,
            username: None,
            password,
            first_name: String::new(),
            last_name: String::new(),
            company_name: String::new(),
            bio: String::new(),
            avatar: None,
            picture: None,
        }
    }
}

/// How a login names the account.
#[derive(Debug, Clone)]
pub enum LoginName {
    Email(String),
    Username(String),
}

/// Tries a generated username gets before registration gives up.
const USERNAME_TRIES: u32 = 8;

/// How recent a sign-in must be to delete an account that has no password.
pub const FRESH_SIGN_IN: Duration = Duration::from_secs(10 * 60);

/// Built by `Domain::build`, which alone sets its ports.
#[derive(Clone)]
pub struct Accounts {
    pub(super) users: Arc<dyn UserStore>,
    pub(super) uow: Arc<dyn UnitOfWork>,
    pub(super) sessions: Sessions,
    pub(super) hasher: PasswordHasher,
    pub(super) throttle: Throttle,
    pub(super) pictures: Pictures,
    pub(super) outbox: Outbox,
    pub(super) mails: Mails,
    pub(super) events: Events,
    pub(super) lifecycle: Arc<dyn LifecycleStore>,
    pub(super) clock: Arc<dyn Clock>,
}

impl Accounts {
    /// Creates the account and its first login session, in one transaction: either both
    /// exist afterwards or neither does.
    #[instrument(skip_all)]
    pub async fn register(&self, client: &Client, reg: Registration) -> Result<(User, TokenPair)> {
        reg.check_password()?;
        self.throttle.attempt(Action::Register, client.ip).await?;
        let (user, pair) = self.open_account(reg, true, client).await?;
        let pair = pair.ok_or_else(|| Error::Internal(anyhow::anyhow!("registration started no session")))?;
        Ok((user, pair))
    }

    /// Creates the account without signing it in (document 004 answers the user only).
    #[instrument(skip_all)]
    pub async fn create_account(&self, client: &Client, reg: Registration) -> Result<User> {
        reg.check_password()?;
        self.throttle.attempt(Action::Register, client.ip).await?;
        Ok(self.open_account(reg, false, client).await?.0)
    }

    /// Stores the picture (if any), then the account and, with `sign_in`, its first
    /// session in one transaction; a picture whose account was not created is removed.
    async fn open_account(
        &self,
        mut reg: Registration,
        sign_in: bool,
        client: &Client,
    ) -> Result<(User, Option<TokenPair>)> {
        let picture = reg.picture.take();
        self.with_picture(picture, |name| {
            if let Some(name) = name {
                reg.avatar = Some(name.as_str().to_string());
            }
            self.insert_account(reg, sign_in, client)
        })
        .await
    }

    /// Stores `picture` (if any) and runs `write` with its name; when `write` fails the
    /// stored bytes are removed, so no picture outlives a change that did not happen.
    async fn with_picture<T, F>(
        &self,
        picture: Option<Prepared>,
        write: impl FnOnce(Option<PictureName>) -> F,
    ) -> Result<T>
    where
        F: std::future::Future<Output = Result<T>>,
    {
        let name = match picture {
            Some(p) => Some(self.pictures.store(p).await?),
            None => None,
        };
        let result = write(name.clone()).await;
        if result.is_err()
            && let Some(name) = &name
        {
            self.pictures.discard(name).await;
        }
        result
    }

    /// Inserts the user, its first session (with `sign_in`) and its verification mail in
    /// one transaction; the mail goes after the commit, in the background.
    async fn insert_account(
        &self,
        reg: Registration,
        sign_in: bool,
        client: &Client,
    ) -> Result<(User, Option<TokenPair>)> {
        let new = self.new_user(reg, false).await?;
        let mut tx = self.uow.begin().await?;
        let user = self.insert_user(tx.as_mut(), new).await?;
        let session = if sign_in {
            let (session, pair) = self.sessions.new_jwt_session(user.id)?;
            tx.insert_session(&session).await?;
            Some((session, pair))
        } else {
            None
        };
        self.events.in_tx(tx.as_mut(), user.id, EventKind::AccountCreated, client, None).await?;
        let mail = self.mails.queue_verification(tx.as_mut(), &user).await?;
        tx.commit().await?;
        self.mails.send(mail);
        Ok((
            user,
            session.map(|(session, pair)| {
                self.sessions.remember(&session);
                pair
            }),
        ))
    }

    /// Hashes the password (before any transaction opens: it takes tens of milliseconds).
    async fn new_user(&self, reg: Registration, is_staff: bool) -> Result<NewUser> {
        let password_hash = self.hasher.hash(&reg.password).await?;
        let generated = reg.username.is_none();
        Ok(NewUser {
            external_id: ExternalId(crypto::random_token(16)?),
            username: reg.username.unwrap_or_else(|| Username::from_email(&reg.email)),
            generated_username: generated,
            email: reg.email,
            password_hash: Some(password_hash),
            email_verified: false,
            first_name: reg.first_name,
            last_name: reg.last_name,
            company_name: reg.company_name,
            bio: reg.bio,
            avatar: reg.avatar,
            is_staff,
        })
    }

    /// A user for a provider's first sign-in: the e-mail the provider verified, no password
    /// (a first one is set through password reset), the provider's names, and a username
    /// generated from the e-mail as registration without one does.
    pub(in crate::domain) fn provider_user(&self, identity: &ProviderIdentity, email: Email) -> Result<NewUser> {
        Ok(NewUser {
            external_id: ExternalId(crypto::random_token(16)?),
            username: Username::from_email(&email),
            generated_username: true,
            email,
            password_hash: None,
            email_verified: true,
            first_name: identity.first_name.clone(),
            last_name: identity.last_name.clone(),
            company_name: String::new(),
            bio: String::new(),
            avatar: None,
            is_staff: false,
        })
    }

    /// Inserts the user; a generated username that is taken gets a random numeric suffix.
    pub(in crate::domain) async fn insert_user(&self, tx: &mut dyn Tx, mut new: NewUser) -> Result<User> {
        let base = new.username.clone();
        let now = self.clock.now();
        for attempt in 0..USERNAME_TRIES {
            if new.generated_username && attempt > 0 {
                let n = u32::from_le_bytes(crypto::random_bytes(4)?.try_into().unwrap_or([0; 4])) % 10_000;
                new.username = base.with_suffix(n);
            }
            match tx.insert_user(&new, now).await {
                Err(Error::Conflict { field: "username" }) if new.generated_username => continue,
                other => return other,
            }
        }
        Err(anyhow::anyhow!("could not find a free username").into())
    }

    /// Checks a password; unknown account, wrong password and inactive account answer alike
    /// and cost the same.
    #[instrument(skip_all)]
    pub async fn verify_credentials(&self, client: &Client, name: &LoginName, password: &Password) -> Result<User> {
        // Every look-alike spelling of the name finds the one account (and counts against it).
        let key = match name {
            LoginName::Email(e) => Email::lookup_key(e),
            LoginName::Username(u) => Username::lookup_key(u),
        };
        let find = || async {
            match name {
                LoginName::Email(_) => self.users.credentials_by_email(&key).await,
                LoginName::Username(_) => self.users.credentials_by_username(&key).await,
            }
        };
        if let Err(throttled) = self.throttle.check_login(client.ip, &key).await {
            // The account's owner sees it in their events; the answer is the same either way.
            if let Ok(Some((user, _))) = find().await {
                self.events.record_throttled(user.id, client);
            }
            return Err(throttled);
        }
        let (user, hash) = match find().await? {
            Some((user, hash)) => (Some(user), hash),
            None => (None, None),
        };
        let ok = self.hasher.verify(password, hash.as_deref()).await?;
        match user {
            Some(user) if ok && user.is_active => {
                self.throttle.login_succeeded(client.ip, &key).await;
                if let Some(old) = hash.as_deref().filter(|h| PasswordHasher::needs_upgrade(h)) {
                    self.upgrade_hash(user.id, old, password).await;
                }
                Ok(user)
            }
            // Unknown accounts count as wrong passwords do: the limits reveal nothing.
            other => {
                self.throttle.login_failed(client.ip, &key).await;
                if let Some(user) = other {
                    self.events.record_detached(user.id, EventKind::LoginFailed, client, None);
                }
                Err(Error::InvalidCredentials)
            }
        }
    }

    /// Replaces an imported Django hash with argon2id once the password is known to match,
    /// so the old hash is gone after one login. Only when the stored hash is still `old`:
    /// a password changed meanwhile is never overwritten. A failure is logged; the login
    /// goes on, and the next one tries again.
    async fn upgrade_hash(&self, user: UserId, old: &str, password: &Password) {
        let result = match self.hasher.hash(password).await {
            Ok(new) => self.users.replace_password_hash(user, old, &new, self.clock.now()).await,
            Err(e) => Err(e),
        };
        if let Err(e) = result {
            tracing::warn!(error = %e, user = user.0, "upgrading an imported password hash failed");
        }
    }

    /// Password login that starts a JWT session.
    pub async fn login(&self, client: &Client, name: &LoginName, password: &Password) -> Result<(User, TokenPair)> {
        let user = self.verify_credentials(client, name, password).await?;
        let pair = self.sessions.start_jwt(user.id).await?;
        self.events.record(user.id, EventKind::LoginSucceeded, client, Some("password")).await;
        Ok((user, pair))
    }

    /// Password login that starts a browser session.
    pub async fn sign_in_browser(&self, client: &Client, name: &LoginName, password: &Password) -> Result<WebSession> {
        let user = self.verify_credentials(client, name, password).await?;
        let id = user.id;
        let web = self.sessions.start_web(user).await?;
        self.events.record(id, EventKind::LoginSucceeded, client, Some("browser session")).await;
        Ok(web)
    }

    pub async fn user(&self, id: UserId) -> Result<User> {
        self.users.user_by_id(id).await?.ok_or(Error::NotFound)
    }

    /// Applies the fields that are set; an unchanged profile is returned as it is.
    #[instrument(skip_all)]
    pub async fn update_profile(&self, current: &User, update: &ProfileUpdate, client: &Client) -> Result<User> {
        if update.is_empty() {
            return self.user(current.id).await;
        }
        let mut tx = self.uow.begin().await?;
        let user = tx.update_profile(current.id, update, self.clock.now()).await?;
        let mail = self.after_email_change(tx.as_mut(), current, &user, client).await?;
        tx.commit().await?;
        self.mails.send(mail);
        Ok(user)
    }

    /// When the update changed the e-mail (which leaves it unverified): the event, and a
    /// verification mail to the new address.
    async fn after_email_change(&self, tx: &mut dyn Tx, old: &User, new: &User, client: &Client) -> Result<Queued> {
        if Email::lookup_key(&old.email) == Email::lookup_key(&new.email) {
            return Ok(Queued::default());
        }
        self.events.in_tx(tx, new.id, EventKind::EmailChanged, client, None).await?;
        self.mails.queue_verification(tx, new).await
    }

    /// Changes the caller's account in one transaction: profile fields, the picture (a
    /// replaced one's bytes are removed after the commit) and the password (every other
    /// session and refresh token of the user is revoked on every node; the caller's own
    /// stays).
    #[instrument(skip_all)]
    pub async fn update_account(&self, principal: &Principal, change: AccountChange, client: &Client) -> Result<User> {
        let hash = match &change.password {
            Some(p) => {
                // Compared with the account as it is and as this change leaves it.
                let profile = &change.profile;
                let mut attributes = principal.user().personal_attributes().to_vec();
                attributes.extend(
                    [
                        (UserAttribute::FirstName, profile.first_name.as_deref()),
                        (UserAttribute::LastName, profile.last_name.as_deref()),
                        (UserAttribute::Email, profile.email.as_ref().map(Email::as_str)),
                    ]
                    .into_iter()
                    .filter_map(|(attribute, value)| Some((attribute, value?))),
                );
                p.check_similarity(&attributes).map_err(|why| Error::invalid("password", why))?;
                Some(self.hasher.hash(p).await?)
            }
            None => None,
        };
        let (upload, delete) = match change.picture {
            Some(Some(p)) => (Some(p), false),
            Some(None) => (None, true),
            None => (None, false),
        };
        self.with_picture(upload, |name| {
            // `Some(None)` deletes the picture; `None` leaves it.
            let picture = if delete { Some(None) } else { name.map(Some) };
            self.apply_account_change(principal, change.profile, hash, picture, client)
        })
        .await
    }

    async fn apply_account_change(
        &self,
        principal: &Principal,
        mut profile: ProfileUpdate,
        hash: Option<String>,
        picture: Option<Option<PictureName>>,
        client: &Client,
    ) -> Result<User> {
        let user = principal.user();
        let now = self.clock.now();
        let mut effects = Vec::new();
        if let Some(picture) = picture {
            profile.avatar = Some(picture.map(|n| n.as_str().to_string()));
        }
        // A replaced stored picture's bytes go once nothing refers to them (an avatar URL
        // set through document 003 is not userd's to delete).
        if profile.avatar.is_some()
            && profile.avatar.as_ref().and_then(|a| a.as_deref()) != user.avatar.as_deref()
            && let Some(old) = user.avatar.as_deref().and_then(PictureName::parse)
        {
            effects.push(Effect::DeleteBlob(old.blob_key()));
        }
        let mut tx = self.uow.begin().await?;
        let updated = tx.update_profile(user.id, &profile, now).await?;
        let mut revoked = None;
        if let Some(hash) = &hash {
            tx.set_password_hash(user.id, hash, now).await?;
            revoked = Some(self.sessions.revoke_others(tx.as_mut(), user.id, principal.session()).await?);
            self.events.in_tx(tx.as_mut(), user.id, EventKind::PasswordChanged, client, None).await?;
        }
        let mail = self.after_email_change(tx.as_mut(), user, &updated, client).await?;
        let cleanup: Queued = self.outbox.queue(tx.as_mut(), &effects).await?;
        tx.commit().await?;
        if let Some(queued) = revoked {
            self.sessions.revoked(&Revocation::User(user.id), queued).await;
        }
        self.outbox.deliver(cleanup).await;
        self.mails.send(mail);
        Ok(updated)
    }

    /// Sets or clears the time zone; returns the new value when it changed.
    #[instrument(skip_all)]
    pub async fn update_time_zone(&self, user: &User, tz: Option<TimeZoneName>) -> Result<Option<Option<String>>> {
        let new = tz.map(|t| t.as_str().to_string());
        if user.tz == new {
            return Ok(None);
        }
        let update = ProfileUpdate { tz: Some(new.clone()), ..ProfileUpdate::default() };
        self.update_profile(user, &update, &Client::default()).await?;
        Ok(Some(new))
    }

    /// Changes the caller's password after checking the current one; every other session
    /// and refresh token of the user is revoked on every node, the caller's own stays.
    #[instrument(skip_all)]
    pub async fn change_own_password(
        &self,
        principal: &Principal,
        current: &Password,
        new: &Password,
        client: &Client,
    ) -> Result<()> {
        // Before the current password is checked: it costs no hashing, and says nothing of it.
        new.check_similarity(&principal.user().personal_attributes()).map_err(|why| Error::invalid("password", why))?;
        self.check_own_password(principal, current, "current_password").await?;
        let hash = self.hasher.hash(new).await?;
        let user = principal.user_id();
        let mut tx = self.uow.begin().await?;
        tx.set_password_hash(user, &hash, self.clock.now()).await?;
        let queued = self.sessions.revoke_others(tx.as_mut(), user, principal.session()).await?;
        self.events.in_tx(tx.as_mut(), user, EventKind::PasswordChanged, client, None).await?;
        tx.commit().await?;
        self.sessions.revoked(&Revocation::User(user), queued).await;
        Ok(())
    }

    /// Checks the caller's password (throttled as logins are); a wrong one is refused as
    /// `field`'s problem, an account without one as `Invalid::NoPassword`.
    async fn check_own_password(&self, principal: &Principal, password: &Password, field: &'static str) -> Result<()> {
        let user = principal.user();
        let key = Email::lookup_key(&user.email);
        self.throttle.check_login(None, &key).await?;
        let Some(hash) = self.lifecycle.password_hash(user.id).await? else {
            return Err(Error::invalid(field, Invalid::NoPassword));
        };
        if self.hasher.verify(password, Some(&hash)).await? {
            Ok(())
        } else {
            self.throttle.login_failed(None, &key).await;
            Err(Error::invalid(field, Invalid::WrongPassword))
        }
    }

    /// Deletes the caller's account and everything userd holds about them: sessions and
    /// tokens (revoked on every node at once), files and picture (their bytes removed
    /// after the commit), follows, linked providers, events. An account with a password
    /// confirms with it; one without must have signed in within [`FRESH_SIGN_IN`].
    #[instrument(skip_all)]
    pub async fn delete_account(&self, principal: &Principal, password: Option<&Password>) -> Result<()> {
        let user = principal.user();
        match (self.lifecycle.password_hash(user.id).await?, password) {
            (Some(_), Some(p)) => self.check_own_password(principal, p, "password").await?,
            (Some(_), None) => return Err(Error::invalid("password", Invalid::Required)),
            (None, _) => {
                let fresh = match principal.session() {
                    Some(id) => self
                        .sessions
                        .started_at(id)
                        .await?
                        .is_some_and(|at| at >= super::clock::before(self.clock.now(), FRESH_SIGN_IN)),
                    None => false,
                };
                if !fresh {
                    return Err(Error::invalid("password", Invalid::NoPassword));
                }
            }
        }
        let revocation = Revocation::User(user.id);
        let mut tx = self.uow.begin().await?;
        let keys = tx.delete_user(user.id).await?;
        let mut effects: Vec<Effect> = keys.into_iter().map(Effect::DeleteBlob).collect();
        if let Some(picture) = user.avatar.as_deref().and_then(PictureName::parse) {
            effects.push(Effect::DeleteBlob(picture.blob_key()));
        }
        let cleanup = self.outbox.queue(tx.as_mut(), &effects).await?;
        // The sessions went with the user's row; every node forgets what it cached of them.
        let announced = self.outbox.queue(tx.as_mut(), &[Effect::Announce(revocation.clone())]).await?;
        tx.commit().await?;
        self.sessions.revoked(&revocation, announced).await;
        self.outbox.deliver_detached(cleanup);
        tracing::info!(user_id = %user.id, "account deleted by its owner");
        Ok(())
    }

    async fn set_password(&self, user: UserId, password: &Password, staff: Option<bool>) -> Result<()> {
        let hash = self.hasher.hash(password).await?;
        let revocation = Revocation::User(user);
        let now = self.clock.now();
        let mut tx = self.uow.begin().await?;
        if let Some(is_staff) = staff {
            tx.set_staff(user, is_staff, now).await?;
        }
        tx.set_password_hash(user, &hash, now).await?;
        let queued = self.sessions.revoke(tx.as_mut(), &revocation).await?;
        tx.commit().await?;
        self.sessions.revoked(&revocation, queued).await;
        Ok(())
    }

    /// Keeps the throttle's memory bounded.
    pub fn spawn_background(&self) {
        let throttle = self.throttle.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(std::time::Duration::from_secs(60));
            loop {
                tick.tick().await;
                throttle.housekeeping().await;
            }
        });
    }

    /// Creates a staff user, or promotes and re-passwords an existing one (`userd create-admin`).
    pub async fn create_admin(&self, email: Email, password: Password) -> Result<User> {
        if let Some((user, _)) = self.users.credentials_by_email(&email.key()).await? {
            password.check_similarity(&user.personal_attributes()).map_err(|why| Error::invalid("password", why))?;
            self.set_password(user.id, &password, Some(true)).await?;
            return self.user(user.id).await;
        }
        let registration = Registration::new(email, password);
        registration.check_password()?;
        let new = self.new_user(registration, true).await?;
        let mut tx = self.uow.begin().await?;
        let user = self.insert_user(tx.as_mut(), new).await?;
        tx.commit().await?;
        Ok(user)
    }
}
