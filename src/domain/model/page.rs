//! Keyset pagination, shared by every list: newest first, a page of `limit` items, and an
//! opaque cursor for the next page. Unlike offsets, a cursor stays right while rows are
//! added, and reading page 1,000 costs what page 1 does.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use jiff::Timestamp;

use crate::domain::error::Invalid;

/// Where a page starts: after the item created at `at` with id `id` (ties broken by id).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    pub at: Timestamp,
    pub id: String,
}

impl Cursor {
    /// The opaque form handed to clients.
    pub fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(format!("{}:{}", self.at.as_microsecond(), self.id))
    }

    pub fn decode(text: &str) -> Result<Self, Invalid> {
        let bytes = URL_SAFE_NO_PAD.decode(text.trim()).map_err(|_| Invalid::Cursor)?;
        let text = String::from_utf8(bytes).map_err(|_| Invalid::Cursor)?;
        let (at, id) = text.split_once(':').ok_or(Invalid::Cursor)?;
        let at = at.parse::<i64>().ok().and_then(|m| Timestamp::from_microsecond(m).ok()).ok_or(Invalid::Cursor)?;
        if id.is_empty() || id.len() > 128 {
            return Err(Invalid::Cursor);
        }
        Ok(Cursor { at, id: id.to_string() })
    }
}

/// Which page to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageRequest {
    pub limit: u32,
    pub after: Option<Cursor>,
}

impl PageRequest {
    pub const DEFAULT_LIMIT: u32 = 100;
    pub const MAX_LIMIT: u32 = 1000;

    /// A page of `limit` items (default 100, at most 1000) after `cursor`.
    pub fn parse(limit: Option<&str>, cursor: Option<&str>) -> Result<Self, (&'static str, Invalid)> {
        let limit = match limit.map(str::trim).filter(|l| !l.is_empty()) {
            None => Self::DEFAULT_LIMIT,
            Some(l) => match l.parse::<u32>() {
                Ok(n) if (1..=Self::MAX_LIMIT).contains(&n) => n,
                _ => return Err(("limit", Invalid::Limit { max: Self::MAX_LIMIT })),
            },
        };
        let after = match cursor.map(str::trim).filter(|c| !c.is_empty()) {
            None => None,
            Some(c) => Some(Cursor::decode(c).map_err(|why| ("cursor", why))?),
        };
        Ok(PageRequest { limit, after })
    }

    pub fn first(limit: u32) -> Self {
        PageRequest { limit, after: None }
    }
}

/// One page, the cursor of the next if there is one, and the number of items in all
/// pages where counting them is cheap.
#[derive(Debug, Clone)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next: Option<Cursor>,
    pub total: Option<i64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_garbage_is_refused() {
        let c = Cursor { at: Timestamp::from_microsecond(1_700_000_000_123_456).expect("ts"), id: "abc:def".into() };
        assert_eq!(Cursor::decode(&c.encode()), Ok(c));
        for bad in ["", "!!!", "bm90IGEgY3Vyc29y", "MTIzOg"] {
            assert_eq!(Cursor::decode(bad), Err(Invalid::Cursor), "{bad}");
        }
    }

    #[test]
    fn limits_default_and_are_bounded() {
        assert_eq!(PageRequest::parse(None, None).map(|p| p.limit), Ok(100));
        assert_eq!(PageRequest::parse(Some("5"), None).map(|p| p.limit), Ok(5));
        for bad in ["0", "1001", "-1", "ten"] {
            assert!(PageRequest::parse(Some(bad), None).is_err(), "{bad}");
        }
        assert!(PageRequest::parse(None, Some("garbage!")).is_err());
    }
}
