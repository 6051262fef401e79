//! Document 003's directory and follow graph: the query a directory page answers, a user
//! as a directory lists them, a follow, and a user's counts.

use jiff::Timestamp;

use super::types::UserId;

/// What the directory is ordered by; each has an index read from either end.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum OrderField {
    #[default]
    Username,
    CreatedAt,
    FirstName,
    LastName,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Ordering {
    pub field: OrderField,
    pub descending: bool,
}

impl Ordering {
    /// `username`, `created_at`, `first_name` or `last_name`, each optionally with a
    /// leading `-`; anything else is `None` (the caller keeps the default).
    pub fn parse(raw: &str) -> Option<Ordering> {
        let raw = raw.trim();
        let (descending, name) = match raw.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, raw),
        };
        let field = match name {
            "username" => OrderField::Username,
            "created_at" => OrderField::CreatedAt,
            "first_name" => OrderField::FirstName,
            "last_name" => OrderField::LastName,
            _ => return None,
        };
        Some(Ordering { field, descending })
    }

    pub fn reversed(self) -> Ordering {
        Ordering { descending: !self.descending, ..self }
    }
}

/// A text the directory matches, case-insensitively, as a substring; `%`, `_` and `\`
/// are ordinary characters. Terms under three characters match the start of a username
/// or name instead (a substring index needs three).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SearchTerm(String);

impl SearchTerm {
    /// Most characters a term may have; longer terms are cut there.
    pub const MAX_CHARS: usize = 100;

    /// `None` for a blank term (no filter). Control characters are dropped.
    pub fn parse(raw: &str) -> Option<SearchTerm> {
        let cleaned: String = raw.chars().filter(|c| !c.is_control()).take(Self::MAX_CHARS).collect();
        let trimmed = cleaned.trim();
        (!trimmed.is_empty()).then(|| SearchTerm(trimmed.to_lowercase()))
    }

    /// Lower-cased.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether the substring index can answer it (three characters or more).
    pub fn is_substring(&self) -> bool {
        self.0.chars().count() >= 3
    }

    /// The keys a shorter term is the start of: from the term (inclusive) to the term
    /// followed by the last code point (exclusive), byte by byte.
    pub fn prefix_bounds(&self) -> (String, String) {
        (self.0.clone(), format!("{}\u{10FFFF}", self.0))
    }
}

/// One page of the directory.
#[derive(Debug, Clone, Default)]
pub struct DirectoryQuery {
    pub search: Option<SearchTerm>,
    pub first_name: Option<SearchTerm>,
    pub last_name: Option<SearchTerm>,
    pub ordering: Ordering,
    pub batch_size: u32,
    pub batch_number: u64,
}

impl DirectoryQuery {
    pub const DEFAULT_BATCH: u32 = 10;
    pub const MAX_BATCH: u32 = 100;

    pub fn is_filtered(&self) -> bool {
        self.search.is_some() || self.first_name.is_some() || self.last_name.is_some()
    }
}

/// What the directory shows, as of one moment: the active users and a version that moves
/// with every change to what the directory shows or matches (in the same transaction).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DirectoryState {
    pub active_users: u64,
    pub version: u64,
}

/// A user as lists show them, with whether the viewer follows them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserCard {
    pub id: UserId,
    pub username: String,
    pub first_name: String,
    pub last_name: String,
    pub avatar: Option<String>,
    pub is_following: bool,
}

/// One user following another.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Follow {
    pub id: i64,
    pub follower: UserId,
    pub following: UserId,
    pub follower_username: String,
    pub following_username: String,
    pub created_at: Timestamp,
}

/// A user's counts: follows among active users, and the counters a posts service keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Counts {
    pub followers: i64,
    pub following: i64,
    pub posts: i64,
    pub likes_received: i64,
    pub comments_received: i64,
}

/// The counters a posts service sets; `None` leaves one as it is.
#[derive(Debug, Clone, Copy, Default)]
pub struct CountersUpdate {
    pub posts: Option<i64>,
    pub likes_received: Option<i64>,
    pub comments_received: Option<i64>,
}

/// A page of a follower or following list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListPage {
    pub size: u32,
    pub number: u64,
}

impl ListPage {
    /// Without paging parameters a list still never comes back whole.
    pub const DEFAULT_SIZE: u32 = 100;

    pub fn offset(&self) -> u64 {
        self.number.saturating_mul(u64::from(self.size))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn orderings_come_from_a_closed_set() {
        assert_eq!(Ordering::parse("-created_at"), Some(Ordering { field: OrderField::CreatedAt, descending: true }));
        assert_eq!(Ordering::parse("last_name").map(|o| o.field), Some(OrderField::LastName));
        for bad in ["", "-", "password_hash", "username; DROP TABLE users", "id", "--username"] {
            assert_eq!(Ordering::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn search_terms_are_trimmed_lowered_and_bounded() {
        assert_eq!(SearchTerm::parse("  "), None);
        assert_eq!(SearchTerm::parse(" Dev ").map(|t| t.as_str().to_string()), Some("dev".into()));
        assert!(!SearchTerm::parse("ab").expect("term").is_substring());
        assert_eq!(SearchTerm::parse(&"x".repeat(500)).map(|t| t.as_str().len()), Some(SearchTerm::MAX_CHARS));
        assert_eq!(SearchTerm::parse("a\u{0}b%_").map(|t| t.as_str().to_string()), Some("ab%_".into()));
    }
}
