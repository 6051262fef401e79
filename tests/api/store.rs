//! Store conformance: the storage ports, called directly, behave the same on SQLite and
//! on PostgreSQL. The HTTP tests cover the use cases; these pin the contracts the domain
//! relies on (transactions, conflicts, the outbox, pages).

use std::sync::Arc;

use jiff::{SignedDuration, Timestamp};
use userd::{
    domain::{
        Error,
        model::{
            Client, DirectoryQuery, Effect, Email, EventKind, ExternalId, FileId, FileStatus, MailPurpose, MailToken,
            NewUser, Ordering, PageRequest, Provider, ProviderIdentity, RedeemedToken, Revocation, SearchTerm,
            SecurityEvent, SessionId, SessionKind, SessionRecord, StoredFile, Unlinked, User, UserId, UserSearch,
            Username,
        },
        ports::{
            ApiTokenStore, DirectoryStore, EventStore, FileStore, IdentityStore, LifecycleStore, OutboxStore,
            SessionStore, UnitOfWork, UserStore,
        },
    },
    store::SqlStore,
};

use crate::helpers::{Backend, TestDb};

macro_rules! both_stores {
    (async fn $name:ident($store:ident) $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            async fn case($store: Arc<SqlStore>) $body
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let db = TestDb::new(Backend::Sqlite).await.expect("SQLite is always available");
                case(open(&db).await).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                if let Some(db) = TestDb::new(Backend::Postgres).await {
                    case(open(&db).await).await
                }
            }
        }
    };
}

async fn open(db: &TestDb) -> Arc<SqlStore> {
    let store = SqlStore::connect(&db.url).await.expect("connect");
    store.migrate().await.expect("migrate");
    Arc::new(store)
}

fn now() -> Timestamp {
    Timestamp::from_microsecond(Timestamp::now().as_microsecond()).expect("now")
}

fn new_user(email: &str, username: &str) -> NewUser {
    NewUser {
        external_id: ExternalId(format!("ext-{username}")),
        email: Email::parse(email).expect("email"),
        username: Username::parse(username).expect("username"),
        generated_username: false,
        password_hash: Some("$argon2id$not-a-real-hash".into()),
        email_verified: false,
        first_name: "Ada".into(),
        last_name: "Lovelace".into(),
        company_name: String::new(),
        bio: String::new(),
        avatar: None,
        is_staff: false,
    }
}

fn session(id: &str, user: UserId) -> SessionRecord {
    SessionRecord {
        id: SessionId(id.into()),
        user_id: user,
        kind: SessionKind::Jwt,
        secret_hash: None,
        created_at: now(),
        expires_at: now() + SignedDuration::from_hours(1),
        revoked: false,
    }
}

async fn insert(store: &SqlStore, email: &str, username: &str) -> User {
    let mut tx = store.begin().await.expect("begin");
    let user = tx.insert_user(&new_user(email, username), now()).await.expect("insert");
    tx.commit().await.expect("commit");
    user
}

both_stores! {
    async fn a_transaction_that_is_not_committed_leaves_nothing(store) {
        let mut tx = store.begin().await.expect("begin");
        let user = tx.insert_user(&new_user("ada@example.com", "ada"), now()).await.expect("insert");
        tx.insert_session(&session("s1", user.id)).await.expect("session");
        tx.enqueue(&Effect::Announce(Revocation::User(user.id)), now(), now()).await.expect("enqueue");
        drop(tx);
        assert!(store.credentials_by_email("ada@example.com").await.expect("read").is_none());
        assert!(store.session(&SessionId("s1".into())).await.expect("read").is_none());
        let later = now() + SignedDuration::from_hours(1);
        assert!(store.claim_due(later, later, 10).await.expect("claim").is_empty(), "no effect of a rollback");

        let mut tx = store.begin().await.expect("begin");
        let user = tx.insert_user(&new_user("ada@example.com", "ada"), now()).await.expect("insert");
        tx.insert_session(&session("s1", user.id)).await.expect("session");
        tx.commit().await.expect("commit");
        assert_eq!(store.user_by_id(user.id).await.expect("read").map(|u| u.email), Some("ada@example.com".into()));
        let s = store.session(&SessionId("s1".into())).await.expect("read").expect("stored");
        assert_eq!((s.user_id, s.kind, s.revoked), (user.id, SessionKind::Jwt, false));
    }
}

both_stores! {
    async fn a_taken_email_or_username_is_named_and_the_transaction_stays_usable(store) {
        insert(&store, "ada@example.com", "ada").await;
        let mut tx = store.begin().await.expect("begin");
        let cases = [
            (new_user("ADA@example.com", "other"), "email", "e-mail differs only in case"),
            (new_user("other@example.com", "ADA"), "username", "username differs only in case"),
        ];
        for (user, field, why) in cases {
            match tx.insert_user(&user, now()).await {
                Err(Error::Conflict { field: f }) => assert_eq!(f, field, "{why}"),
                other => panic!("{why}: expected a conflict, got {other:?}"),
            }
        }
        let grace = tx.insert_user(&new_user("grace@example.com", "grace"), now()).await.expect("still usable");
        tx.commit().await.expect("commit");
        assert!(store.user_by_id(grace.id).await.expect("read").is_some());
    }
}

both_stores! {
    async fn only_non_ascii_identities_are_listed_and_their_keys_stay_unique(store) {
        let ascii = insert(&store, "ada@example.com", "ada").await;
        let jose = insert(&store, "josé@example.com", "jose").await;
        let anna = insert(&store, "anna@example.com", "anna").await;
        // Keys are listed by the stored e-mail and username, not by the keys themselves.
        assert!(store.set_identity_keys(anna.id, "anna@bücher.de", "anna").await.expect("set"));

        let listed = store.non_ascii_identities().await.expect("list");
        assert_eq!(listed.iter().map(|i| i.id).collect::<Vec<_>>(), vec![jose.id], "only e-mails or usernames outside ASCII");
        assert_eq!((listed[0].email.as_str(), listed[0].email_key.as_str()), ("josé@example.com", "josé@example.com"));

        assert!(!store.set_identity_keys(anna.id, "josé@example.com", "anna").await.expect("set"), "another user's e-mail key");
        assert!(!store.set_identity_keys(anna.id, "anna@bücher.de", "ada").await.expect("set"), "another user's username key");
        let (found, _) = store.credentials_by_email("anna@bücher.de").await.expect("read").expect("kept its keys");
        assert_eq!(found.id, anna.id);
        assert!(store.set_identity_keys(anna.id, "anna@xn--bcher-kva.de", "anna").await.expect("set"));
        let (found, _) = store.credentials_by_email("anna@xn--bcher-kva.de").await.expect("read").expect("new key");
        assert_eq!(found.id, anna.id);
        assert!(store.credentials_by_email("ada@example.com").await.expect("read").is_some_and(|(u, _)| u.id == ascii.id));
    }
}

both_stores! {
    async fn revoking_a_users_sessions_and_blacklisting_hold_and_expire(store) {
        let user = insert(&store, "ada@example.com", "ada").await;
        let mut tx = store.begin().await.expect("begin");
        for id in ["a", "b"] {
            tx.insert_session(&session(id, user.id)).await.expect("session");
        }
        tx.commit().await.expect("commit");

        let mut tx = store.begin().await.expect("begin");
        tx.revoke_user_sessions(user.id, None, now()).await.expect("revoke");
        tx.blacklist_refresh("jti-1", user.id, now() + SignedDuration::from_secs(1), now()).await.expect("blacklist");
        tx.blacklist_refresh("jti-1", user.id, now() + SignedDuration::from_secs(1), now()).await.expect("twice is fine");
        tx.commit().await.expect("commit");
        for id in ["a", "b"] {
            assert!(store.session(&SessionId(id.into())).await.expect("read").expect("kept").revoked, "{id}");
        }
        assert!(store.is_refresh_blacklisted("jti-1").await.expect("read"));
        assert!(!store.is_refresh_blacklisted("jti-2").await.expect("read"));

        let purged = store.purge_expired(now() + SignedDuration::from_hours(2)).await.expect("purge");
        assert_eq!(purged, 3, "two sessions and one blacklist row");
        assert!(!store.is_refresh_blacklisted("jti-1").await.expect("read"));
    }
}

both_stores! {
    async fn the_outbox_hands_out_due_effects_once_per_lease_until_completed(store) {
        let t0 = now();
        let due = t0 + SignedDuration::from_secs(30);
        let mut tx = store.begin().await.expect("begin");
        let id = tx.enqueue(&Effect::Announce(Revocation::Session(SessionId("s".into()))), t0, due).await.expect("enqueue");
        tx.commit().await.expect("commit");

        assert!(store.claim_due(t0, t0, 10).await.expect("claim").is_empty(), "not before it is due");
        let lease = due + SignedDuration::from_secs(30);
        let claimed = store.claim_due(due, lease, 10).await.expect("claim");
        assert_eq!(claimed.len(), 1);
        assert_eq!((claimed[0].id, claimed[0].attempts), (id, 1));
        assert_eq!(claimed[0].effect, Some(Effect::Announce(Revocation::Session(SessionId("s".into())))));
        assert!(store.claim_due(due, lease, 10).await.expect("claim").is_empty(), "hidden while leased");
        let again = store.claim_due(lease, lease + SignedDuration::from_secs(30), 10).await.expect("claim");
        assert_eq!(again.len(), 1, "an undelivered effect comes back when the lease ends");
        assert_eq!(again[0].attempts, 2);

        store.complete(id).await.expect("complete");
        let far = lease + SignedDuration::from_hours(1);
        assert!(store.claim_due(far, far, 10).await.expect("claim").is_empty(), "completed effects are gone");
    }
}

fn file(id: &str, owner: UserId, at: Timestamp) -> StoredFile {
    StoredFile {
        id: FileId(id.into()),
        owner,
        name: format!("{id}.txt"),
        content_type: "text/plain".into(),
        size: 0,
        sha256: None,
        status: FileStatus::Pending,
        storage_key: format!("u{}/{id}", owner.0),
        created_at: at,
    }
}

both_stores! {
    async fn file_pages_are_newest_first_and_ties_in_time_are_not_lost(store) {
        let ada = insert(&store, "ada@example.com", "ada").await;
        let grace = insert(&store, "grace@example.com", "grace").await;
        let t = now();
        // Three files created in the same microsecond, one older, one of someone else.
        for id in ["c", "a", "b"] {
            store.create_file(&file(id, ada.id, t)).await.expect("file");
        }
        store.create_file(&file("old", ada.id, t - SignedDuration::from_secs(60))).await.expect("file");
        store.create_file(&file("theirs", grace.id, t)).await.expect("file");

        let mut page = PageRequest::first(1);
        let mut seen = Vec::new();
        loop {
            let found = store.files(ada.id, &page).await.expect("page");
            assert_eq!(found.total, Some(4));
            assert!(found.items.len() <= 1);
            seen.extend(found.items.iter().map(|f| f.id.0.clone()));
            match found.next {
                Some(cursor) => page = PageRequest { limit: 1, after: Some(cursor) },
                None => break,
            }
        }
        assert_eq!(seen, ["a", "b", "c", "old"]);
        let all = store.files(ada.id, &PageRequest::first(1000)).await.expect("page");
        assert!(all.next.is_none(), "no next page after the last");
    }
}

both_stores! {
    async fn an_api_token_names_its_owner_until_it_is_replaced(store) {
        let ada = insert(&store, "ada@example.com", "ada").await;
        assert!(store.insert_api_token(ada.id, b"hash-1", b"sealed-1", now()).await.expect("insert"));
        assert!(!store.insert_api_token(ada.id, b"hash-x", b"sealed-x", now()).await.expect("insert"), "one per user");
        assert_eq!(store.api_token_owner(b"hash-1").await.expect("read").map(|u| u.id), Some(ada.id));
        store.replace_api_token(ada.id, b"hash-2", b"sealed-2", now()).await.expect("replace");
        assert!(store.api_token_owner(b"hash-1").await.expect("read").is_none(), "the old token is gone");
        assert_eq!(store.sealed_api_token(ada.id).await.expect("read"), Some(b"sealed-2".to_vec()));
    }
}

both_stores! {
    async fn a_directory_page_is_the_same_however_the_store_reads_it(store) {
        for i in 0..12 {
            insert(&store, &format!("dev{i}@example.com"), &format!("dev{i:02}")).await;
        }
        insert(&store, "other@example.com", "other").await;
        for search in ["dev", "ev0", "de", "love", "lace"] {
            for ordering in ["username", "-username", "created_at", "-last_name"] {
                let query = DirectoryQuery {
                    search: SearchTerm::parse(search),
                    ordering: Ordering::parse(ordering).expect("ordering"),
                    batch_size: 5,
                    ..DirectoryQuery::default()
                };
                let total = store.count(&query).await.expect("count").total;
                // Collecting the matches and sorting them, or walking the ordering and testing each.
                let active = store.state().await.expect("state").active_users;
                let collected = store.search(&query, None, 0, 100, 0, active).await.expect("search").cards;
                let walked = store.search(&query, None, 0, 100, u64::MAX, active).await.expect("search").cards;
                assert_eq!(collected, walked, "{search} {ordering}");
                assert_eq!(collected.len() as u64, total, "{search} {ordering}: the total counts the active matches");
            }
        }
    }
}

fn identity(provider: Provider, subject: &str, email: &str) -> ProviderIdentity {
    ProviderIdentity {
        provider,
        subject: subject.into(),
        verified_email: Some(Email::parse(email).expect("email")),
        first_name: "Ada".into(),
        last_name: "Lovelace".into(),
    }
}

both_stores! {
    async fn identities_are_unique_per_subject_and_per_user_and_never_leave_a_user_locked_out(store) {
        let mut tx = store.begin().await.expect("begin");
        let mut passwordless = new_user("ada@example.com", "ada");
        passwordless.password_hash = None;
        passwordless.email_verified = true;
        let ada = tx.insert_user(&passwordless, now()).await.expect("user");
        assert!(ada.email_verified, "a provider's first sign-in stores a verified e-mail");
        let bob = tx.insert_user(&new_user("bob@example.com", "bob"), now()).await.expect("user");
        tx.insert_identity(&identity(Provider::Google, "g-ada", "ada@example.com"), ada.id, now()).await.expect("link");
        let again = tx.insert_identity(&identity(Provider::Google, "g-ada", "ada@example.com"), bob.id, now()).await;
        assert!(matches!(again, Err(Error::Conflict { field: "identity" })), "one user per identity: {again:?}");
        let second = tx.insert_identity(&identity(Provider::Google, "g-other", "ada@example.com"), ada.id, now()).await;
        assert!(matches!(second, Err(Error::Conflict { field: "provider" })), "one identity per provider and user: {second:?}");
        tx.insert_identity(&identity(Provider::GitHub, "42", "ada@example.com"), ada.id, now()).await.expect("still usable");
        tx.touch_identity(Provider::Google, "g-ada", "ada@new.example.com", now()).await.expect("touch");
        tx.mark_email_verified(bob.id, now()).await.expect("verify");
        tx.commit().await.expect("commit");

        let link = store.identity(Provider::Google, "g-ada").await.expect("read").expect("linked");
        assert_eq!((link.user_id, link.email.as_str()), (ada.id, "ada@new.example.com"));
        assert!(store.identity(Provider::GitHub, "g-ada").await.expect("read").is_none(), "subjects are per provider");
        assert!(store.user_by_id(bob.id).await.expect("read").expect("bob").email_verified);
        let methods = store.sign_in_methods(ada.id).await.expect("methods");
        assert!(!methods.has_password);
        assert_eq!(methods.identities.iter().map(|i| i.provider).collect::<Vec<_>>().len(), 2);

        assert_eq!(store.unlink_identity(ada.id, Provider::GitHub).await.expect("unlink"), Unlinked::Removed);
        assert_eq!(store.unlink_identity(ada.id, Provider::GitHub).await.expect("unlink"), Unlinked::NotLinked);
        assert_eq!(
            store.unlink_identity(ada.id, Provider::Google).await.expect("unlink"),
            Unlinked::LastSignInMethod,
            "no password, no other provider"
        );
        assert!(store.identity(Provider::Google, "g-ada").await.expect("read").is_some(), "nothing was removed");

        // Two concurrent unlinks of a passwordless user's last two providers: one wins.
        let mut tx = store.begin().await.expect("begin");
        tx.insert_identity(&identity(Provider::GitHub, "42", "ada@example.com"), ada.id, now()).await.expect("link");
        tx.commit().await.expect("commit");
        let (a, b) = tokio::join!(
            store.unlink_identity(ada.id, Provider::Google),
            store.unlink_identity(ada.id, Provider::GitHub)
        );
        let mut outcomes = vec![a.expect("unlink"), b.expect("unlink")];
        outcomes.sort_by_key(|o| *o == Unlinked::Removed);
        assert_eq!(outcomes, vec![Unlinked::LastSignInMethod, Unlinked::Removed]);
        assert_eq!(store.sign_in_methods(ada.id).await.expect("methods").identities.len(), 1);
    }
}

both_stores! {
    async fn a_mailed_token_is_redeemed_once_before_it_expires(store) {
        let user = insert(&store, "ada@example.com", "ada").await;
        let token = |hash: &[u8], expires_in: i64| MailToken {
            hash: hash.to_vec(),
            user: user.id,
            purpose: MailPurpose::ResetPassword,
            email_key: "ada@example.com".into(),
            created_at: now(),
            expires_at: now() + SignedDuration::from_secs(expires_in),
        };
        let mut tx = store.begin().await.expect("begin");
        tx.insert_mail_token(&token(b"live", 3600)).await.expect("insert");
        tx.insert_mail_token(&token(b"late", 1)).await.expect("insert");
        tx.insert_mail_token(&token(b"other", 3600)).await.expect("insert");
        tx.commit().await.expect("commit");
        let found = Some(RedeemedToken { user: user.id, email_key: "ada@example.com".into() });
        assert_eq!(store.mail_token(b"live", MailPurpose::ResetPassword, now()).await.expect("peek"), found);
        assert_eq!(store.mail_token(b"live", MailPurpose::VerifyEmail, now()).await.expect("peek"), None, "purpose");
        assert!(store.last_mail_token_at(user.id, MailPurpose::ResetPassword).await.expect("last").is_some());
        assert!(store.last_mail_token_at(user.id, MailPurpose::VerifyEmail).await.expect("last").is_none());

        // Two transactions redeem the same token: only the first gets it.
        let mut a = store.begin().await.expect("begin");
        let first = a.redeem_mail_token(b"live", MailPurpose::ResetPassword, now()).await.expect("redeem");
        a.commit().await.expect("commit");
        let mut b = store.begin().await.expect("begin");
        let second = b.redeem_mail_token(b"live", MailPurpose::ResetPassword, now()).await.expect("redeem");
        b.commit().await.expect("commit");
        assert_eq!((first, second), (found.clone(), None));

        let later = now() + SignedDuration::from_secs(5);
        let mut tx = store.begin().await.expect("begin");
        assert_eq!(tx.redeem_mail_token(b"late", MailPurpose::ResetPassword, later).await.expect("redeem"), None, "expired");
        tx.void_mail_tokens(user.id, MailPurpose::ResetPassword, now()).await.expect("void");
        assert_eq!(tx.redeem_mail_token(b"other", MailPurpose::ResetPassword, now()).await.expect("redeem"), None, "voided");
        tx.commit().await.expect("commit");
        assert_eq!(store.purge_mail_tokens(later).await.expect("purge"), 3);
    }
}

both_stores! {
    async fn events_page_newest_first_and_go_after_their_retention(store) {
        let user = insert(&store, "ada@example.com", "ada").await;
        let client = Client::new(Some("203.0.113.9".parse().expect("ip")), Some("probe"));
        let start = now();
        for i in 0..5 {
            let at = start - SignedDuration::from_hours(24 * 100) + SignedDuration::from_secs(i);
            let at = if i >= 3 { start + SignedDuration::from_secs(i) } else { at };
            store.insert_event(&SecurityEvent::new(user.id, EventKind::LoginFailed, &client, None, at)).await.expect("insert");
        }
        let first = store.events(user.id, &PageRequest::first(2)).await.expect("page");
        assert_eq!(first.items.len(), 2);
        assert!(first.items[0].created_at > first.items[1].created_at, "newest first");
        assert_eq!(first.items[0].ip.as_deref(), Some("203.0.113.9"));
        let rest = store.events(user.id, &PageRequest { limit: 10, after: first.next.clone() }).await.expect("page");
        assert_eq!(rest.items.len(), 3);
        assert!(rest.next.is_none());
        assert_eq!(store.purge_events(start - SignedDuration::from_hours(24 * 90)).await.expect("purge"), 3);
        assert_eq!(store.events(user.id, &PageRequest::first(10)).await.expect("page").items.len(), 2);
    }
}

both_stores! {
    async fn staff_search_finds_users_by_any_part_with_wildcards_literal(store) {
        insert(&store, "ada@example.com", "ada").await;
        insert(&store, "bob_smith@example.com", "bobby").await;
        insert(&store, "carol@example.org", "carol").await;
        let search = |text: &str| {
            let store = store.clone();
            let search = UserSearch { text: Some(text.to_string()) };
            async move {
                let page = store.users(&search, &PageRequest::first(10)).await.expect("search");
                page.items.into_iter().map(|u| u.username).collect::<Vec<_>>()
            }
        };
        assert_eq!(search("EXAMPLE.ORG").await, ["carol"]);
        assert_eq!(search("_").await, ["bobby"], "`_` is a literal underscore");
        assert_eq!(search("%").await, Vec::<String>::new(), "`%` is a literal percent sign");
        assert_eq!(search("lovelace").await.len(), 3, "names are searched");
        let all = store.users(&UserSearch::default(), &PageRequest::first(2)).await.expect("page");
        let next = store.users(&UserSearch::default(), &PageRequest { limit: 2, after: all.next }).await.expect("page");
        assert_eq!(all.items.len() + next.items.len(), 3);
    }
}
