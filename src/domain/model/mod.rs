//! The values the domain's areas share. This module is a leaf: it imports no service, so
//! every service and every port can use it without an import circle.

pub mod billing;
pub mod directory;
pub mod effect;
pub mod file;
pub mod identity;
pub mod lifecycle;
pub mod page;
pub mod picture;
pub mod principal;
pub mod session;
pub mod similarity;
pub mod social;
pub mod throttle;
pub mod types;
pub mod unicode;
pub mod user;

pub use self::{
    directory::{
        DirectoryChange, DirectoryCount, DirectoryFilter, DirectoryRead, DirectoryRow, Position, Seek, SortKey,
        TermMatch,
    },
    effect::{Effect, OutboxItem},
    file::{FileStatus, StorageSummary, StoredFile},
    identity::{LinkedIdentity, Provider, ProviderIdentity, SignInMethods, Unlinked},
    lifecycle::{Client, EventKind, Mail, MailPurpose, MailToken, RedeemedToken, SecurityEvent, UserSearch},
    page::{Cursor, Page, PageRequest},
    picture::{PictureFormat, PictureName},
    principal::{Principal, Via},
    session::{JwtAlg, Revocation, SessionKind, SessionRecord, StoredKey, TokenPair},
    social::{
        CountersUpdate, Counts, DirectoryQuery, DirectoryState, Follow, ListPage, OrderField, Ordering, SearchTerm,
        UserCard,
    },
    throttle::{Action, CounterKey, Limit},
    types::{Email, ExternalId, FileId, Password, SessionId, TimeZoneName, UserId, Username},
    user::{NewUser, ProfileUpdate, StoredIdentity, User},
};
