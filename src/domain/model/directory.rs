//! What keeps a node's directory counts exact across writes: a count with the version it
//! was taken at, and the change log's rows, each a user as the directory's filters see them
//! before and after, folded by the store exactly as its own SQL folds them, so a filter
//! applied here to a change agrees with what the database would count.

use std::cmp::Ordering as Cmp;

use super::{
    social::{OrderField, Ordering, SearchTerm, UserCard},
    types::UserId,
};

/// How many active users match a query's filters, and the directory's version in the same
/// snapshot: the count is exact at that version, neither before nor after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DirectoryCount {
    pub total: u64,
    pub version: u64,
}

/// An active user as the directory's filters see them, each field folded by the store as
/// its SQL folds it (the case folding differs between the backends: the store, not the
/// domain, knows how).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirectoryRow {
    /// What a term under three characters is the start of: the username's lookup key and
    /// the names' sort keys, as the directory's indexes hold them.
    pub username_key: String,
    pub first_key: String,
    pub last_key: String,
    /// What a longer term is a substring of: username, first and last name and bio, folded
    /// and joined by U+001F (which no term holds, so no match spans two fields).
    pub text: String,
    /// The first and the last name alone, folded.
    pub first_text: String,
    pub last_text: String,
    /// When the user joined, in microseconds (the `created_at` ordering's key).
    pub created_at: i64,
    /// The user as the directory lists them.
    pub card: UserCard,
}

impl DirectoryRow {
    /// Where user `id`, as this row, sits in an ordering by `field`.
    pub fn position(&self, field: OrderField, id: UserId) -> Position {
        let key = match field {
            OrderField::Username => SortKey::Text(self.username_key.clone()),
            OrderField::CreatedAt => SortKey::Time(self.created_at),
            OrderField::FirstName => SortKey::Text(self.first_key.clone()),
            OrderField::LastName => SortKey::Text(self.last_key.clone()),
        };
        Position { key, id }
    }
}

/// The key an ordering sorts a user by, as its index holds it: text compared byte by byte
/// (SQLite's binary collation, PostgreSQL's "C"), or a time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SortKey {
    Text(String),
    Time(i64),
}

/// A user's place in an ordering: its key, ties broken by id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Position {
    pub key: SortKey,
    pub id: UserId,
}

impl Position {
    /// Whether `self` comes strictly before `other` in `ordering` (both of its field).
    pub fn before(&self, other: &Position, ordering: Ordering) -> bool {
        let ascending = match (&self.key, &other.key) {
            (SortKey::Text(a), SortKey::Text(b)) => a.as_bytes().cmp(b.as_bytes()),
            (SortKey::Time(a), SortKey::Time(b)) => a.cmp(b),
            (SortKey::Text(_), SortKey::Time(_)) | (SortKey::Time(_), SortKey::Text(_)) => Cmp::Equal,
        }
        .then(self.id.0.cmp(&other.id.0));
        ascending == if ordering.descending { Cmp::Greater } else { Cmp::Less }
    }
}

/// Where a page of the directory starts: after (or at) a position of the query's ordering.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seek {
    pub from: Position,
    pub inclusive: bool,
}

/// Rows of the directory as a page read returns them.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DirectoryRead {
    pub cards: Vec<UserCard>,
    /// Each card's place in the ordering read, in the same order.
    pub positions: Vec<Position>,
    /// The directory's version the rows were read at (by the same statement); `None` when
    /// no row came back.
    pub version: Option<u64>,
}

/// One version of the directory: a user before and after the change, each side only if
/// the user was active then (an inactive user matches nothing). A side's absence is also
/// a registration's "before" and a deletion's "after".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirectoryChange {
    pub version: u64,
    pub user: UserId,
    pub before: Option<DirectoryRow>,
    pub after: Option<DirectoryRow>,
}

impl DirectoryChange {
    /// What the change adds to the count of `filter`'s matches: 1, −1 or 0.
    pub fn delta(&self, filter: &DirectoryFilter) -> i64 {
        let matches = |side: &Option<DirectoryRow>| side.as_ref().is_some_and(|row| filter.matches(row));
        i64::from(matches(&self.after)) - i64::from(matches(&self.before))
    }

    /// Whether `filter`'s matches (and so its pages) change: a match arrives, leaves, or
    /// is shown differently.
    pub fn touches(&self, filter: &DirectoryFilter) -> bool {
        [&self.before, &self.after].into_iter().flatten().any(|row| filter.matches(row))
    }
}

/// A term of a filter, as the store folds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TermMatch {
    /// Three characters or more: found anywhere in the folded text.
    Substring(String),
    /// Fewer: a key from `low` (inclusive) to `high` (exclusive), compared byte by byte,
    /// exactly the index ranges the SQL reads ([`SearchTerm::prefix_bounds`]).
    Prefix { low: String, high: String },
}

impl TermMatch {
    /// A short term's ranges; a longer term is folded by the store.
    pub fn prefix(term: &SearchTerm) -> TermMatch {
        let (low, high) = term.prefix_bounds();
        TermMatch::Prefix { low, high }
    }

    fn in_text(&self, text: &str, keys: &[&str]) -> bool {
        match self {
            TermMatch::Substring(term) => text.contains(term.as_str()),
            TermMatch::Prefix { low, high } => keys.iter().any(|k| *k >= low.as_str() && *k < high.as_str()),
        }
    }
}

/// A directory query's filters (search, first name, last name) as the store folds them;
/// a row matches when it matches every one given.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DirectoryFilter {
    pub search: Option<TermMatch>,
    pub first_name: Option<TermMatch>,
    pub last_name: Option<TermMatch>,
}

impl DirectoryFilter {
    pub fn matches(&self, row: &DirectoryRow) -> bool {
        let search = [row.username_key.as_str(), &row.first_key, &row.last_key];
        self.search.as_ref().is_none_or(|t| t.in_text(&row.text, &search))
            && self.first_name.as_ref().is_none_or(|t| t.in_text(&row.first_text, &[&row.first_key]))
            && self.last_name.as_ref().is_none_or(|t| t.in_text(&row.last_text, &[&row.last_key]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(username: &str, first: &str, last: &str, bio: &str) -> DirectoryRow {
        let lower = |s: &str| s.to_lowercase();
        DirectoryRow {
            username_key: lower(username),
            first_key: lower(first),
            last_key: lower(last),
            text: [username, first, last, bio].map(lower).join("\u{1f}"),
            first_text: lower(first),
            last_text: lower(last),
            created_at: 0,
            card: UserCard {
                id: UserId(1),
                username: username.into(),
                first_name: first.into(),
                last_name: last.into(),
                avatar: None,
                is_following: false,
            },
        }
    }

    fn filter(search: Option<&str>, first: Option<&str>, last: Option<&str>) -> DirectoryFilter {
        let term = |t: Option<&str>| {
            t.and_then(SearchTerm::parse).map(|t| {
                if t.is_substring() { TermMatch::Substring(t.as_str().to_string()) } else { TermMatch::prefix(&t) }
            })
        };
        DirectoryFilter { search: term(search), first_name: term(first), last_name: term(last) }
    }

    #[test]
    fn a_filter_matches_as_the_directory_sql_does() {
        let ada = row("ada", "Ada", "Lovelace", "Mathematician");
        let cases = [
            (filter(Some("velac"), None, None), true, "a substring of a name"),
            (filter(Some("thema"), None, None), true, "of the bio"),
            (filter(Some("ce\u{1f}ma"), None, None), false, "never across two fields"),
            (filter(Some("ad"), None, None), true, "a short term starts the username"),
            (filter(Some("lo"), None, None), true, "or a name"),
            (filter(Some("ma"), None, None), false, "but never the bio"),
            (filter(Some("da"), None, None), false, "and only at the start"),
            (filter(None, Some("ada"), None), true, "a first name filter"),
            (filter(None, Some("ove"), None), false, "looks at the first name only"),
            (filter(Some("ada"), Some("ad"), Some("love")), true, "every filter given"),
            (filter(Some("ada"), Some("ad"), Some("xyz")), false, "must match"),
        ];
        for (filter, expected, why) in cases {
            assert_eq!(filter.matches(&ada), expected, "{why}");
        }
    }

    #[test]
    fn a_change_adds_what_matches_after_less_what_matched_before() {
        let dev = filter(Some("developer"), None, None);
        let was = Some(row("ken", "Ken", "Thompson", "Go developer"));
        let now = Some(row("ken", "Ken", "Thompson", "Retired"));
        let change = |before: &Option<DirectoryRow>, after: &Option<DirectoryRow>| DirectoryChange {
            version: 1,
            user: UserId(1),
            before: before.clone(),
            after: after.clone(),
        };
        assert_eq!(change(&None, &was).delta(&dev), 1, "registered (or reactivated)");
        assert_eq!(change(&was, &now).delta(&dev), -1, "a new bio");
        assert_eq!(change(&was, &None).delta(&dev), -1, "deleted (or deactivated)");
        assert_eq!(change(&was, &was).delta(&dev), 0, "a new picture");
        assert!(change(&was, &was).touches(&dev), "which its pages show");
        assert!(!change(&now, &now).touches(&dev));
    }

    #[test]
    fn positions_follow_the_ordering_ties_broken_by_id() {
        let at = |key: &str, id: i64| Position { key: SortKey::Text(key.into()), id: UserId(id) };
        let up = Ordering { field: OrderField::Username, descending: false };
        assert!(at("ada", 9).before(&at("adam", 1), up), "a prefix first");
        assert!(at("ada", 1).before(&at("ada", 2), up));
        assert!(!at("ada", 2).before(&at("ada", 2), up), "strictly");
        assert!(at("zoë", 1).before(&at("ada", 1), up.reversed()));
        assert!(at("b", 1).before(&at("é", 1), up), "byte by byte");
        let t = |time: i64, id: i64| Position { key: SortKey::Time(time), id: UserId(id) };
        let newest = Ordering { field: OrderField::CreatedAt, descending: true };
        assert!(t(5, 1).before(&t(4, 9), newest) && t(5, 2).before(&t(5, 1), newest));
    }
}
