//! The directory's change log (migration 0010): the changes a node has not yet applied to
//! the counts it keeps, read folded as each backend's directory SQL folds, and pruning.
//!
//! PostgreSQL's `ILIKE` compares `lower()` of both sides under the database's collation,
//! which Rust cannot mirror in general, so the query that reads the log folds with that same
//! `lower()`, and a term is folded by asking the database. SQLite's FTS5 trigram index folds
//! with a fixed table of its own (simple case folding of Unicode 6.1, one code point to one),
//! which [`fts5_fold`] copies and a test checks against SQLite for every code point; its
//! `lower()`, which the name orderings' indexes use, folds ASCII only.

use sqlx::FromRow;

use super::{Db, SqlStore, db_err, on_pool};
use crate::domain::{
    Result,
    model::{DirectoryChange, DirectoryFilter, DirectoryQuery, DirectoryRow, SearchTerm, TermMatch, UserCard, UserId},
};

/// One side of a logged change: the user as listed (username, names, picture), the
/// username's key, the names and the searchable fields joined by U+001F (folded already on
/// PostgreSQL, as stored on SQLite), and when they joined.
struct SideRow {
    key: Option<String>,
    username: Option<String>,
    first_name: Option<String>,
    last_name: Option<String>,
    avatar: Option<String>,
    first: Option<String>,
    last: Option<String>,
    text: Option<String>,
    created: Option<i64>,
}

#[derive(FromRow)]
struct ChangeRow {
    version: i64,
    user_id: i64,
    old_key: Option<String>,
    old_username: Option<String>,
    old_first_name: Option<String>,
    old_last_name: Option<String>,
    old_avatar: Option<String>,
    old_first: Option<String>,
    old_last: Option<String>,
    old_text: Option<String>,
    old_created: Option<i64>,
    new_key: Option<String>,
    new_username: Option<String>,
    new_first_name: Option<String>,
    new_last_name: Option<String>,
    new_avatar: Option<String>,
    new_first: Option<String>,
    new_last: Option<String>,
    new_text: Option<String>,
    new_created: Option<i64>,
}

/// The columns of one side, `$fold` applied as the directory's SQL applies it.
#[rustfmt::skip]
macro_rules! side {
    ($side:literal, $fold:literal, $sep:literal) => {
        concat!(
            $side, "_username_key AS ", $side, "_key, ", $side, "_username AS ", $side, "_username, ",
            $side, "_first_name AS ", $side, "_first_name, ", $side, "_last_name AS ", $side, "_last_name, ",
            $side, "_avatar AS ", $side, "_avatar, ",
            $fold, "(", $side, "_first_name) AS ", $side, "_first, ",
            $fold, "(", $side, "_last_name) AS ", $side, "_last, ",
            $fold, "(", $side, "_username || ", $sep, " || ", $side, "_first_name || ", $sep, " || ",
            $side, "_last_name || ", $sep, " || ", $side, "_bio) AS ", $side, "_text, ",
            $side, "_created_at AS ", $side, "_created"
        )
    };
}

const SQLITE_CHANGES: &str = concat!(
    "SELECT version, user_id, ",
    side!("old", "", "char(31)"),
    ", ",
    side!("new", "", "char(31)"),
    " FROM directory_changes WHERE version > $1 AND version <= $2 ORDER BY version"
);

// Exactly the expressions of `store::social` (`lower(first_name)` for the prefix ranges and
// `ILIKE`, which lowers the joined fields as a whole).
const POSTGRES_CHANGES: &str = concat!(
    "SELECT version, user_id, ",
    side!("old", "lower", "chr(31)"),
    ", ",
    side!("new", "lower", "chr(31)"),
    " FROM directory_changes WHERE version > $1 AND version <= $2 ORDER BY version"
);

impl SqlStore {
    pub(super) async fn directory_changes(&self, after: u64, upto: u64) -> Result<Option<Vec<DirectoryChange>>> {
        if upto <= after {
            return Ok(Some(Vec::new()));
        }
        let range = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
        let (rows, sqlite): (Vec<ChangeRow>, bool) = match &self.db {
            Db::Sqlite { reader, .. } => (
                sqlx::query_as(SQLITE_CHANGES)
                    .bind(range(after))
                    .bind(range(upto))
                    .fetch_all(reader)
                    .await
                    .map_err(db_err)?,
                true,
            ),
            Db::Postgres(pool) => (
                sqlx::query_as(POSTGRES_CHANGES)
                    .bind(range(after))
                    .bind(range(upto))
                    .fetch_all(pool)
                    .await
                    .map_err(db_err)?,
                false,
            ),
        };
        // Versions are unique, so fewer rows than versions means some are not logged.
        if rows.len() as u64 != upto - after {
            return Ok(None);
        }
        let side = |user: i64, side: SideRow| {
            let SideRow { key, username, first_name, last_name, avatar, first, last, text, created } = side;
            let card = UserCard {
                id: UserId(user),
                username: username?,
                first_name: first_name?,
                last_name: last_name?,
                avatar,
                is_following: false,
            };
            let (username_key, first, last, text, created_at) = (key?, first?, last?, text?, created?);
            Some(if sqlite {
                DirectoryRow {
                    username_key,
                    first_key: first.to_ascii_lowercase(),
                    last_key: last.to_ascii_lowercase(),
                    text: fts5_fold(&text),
                    first_text: fts5_fold(&first),
                    last_text: fts5_fold(&last),
                    created_at,
                    card,
                }
            } else {
                DirectoryRow {
                    username_key,
                    first_key: first.clone(),
                    last_key: last.clone(),
                    text,
                    first_text: first,
                    last_text: last,
                    created_at,
                    card,
                }
            })
        };
        Ok(Some(
            rows.into_iter()
                .map(|r| {
                    let before = SideRow {
                        key: r.old_key,
                        username: r.old_username,
                        first_name: r.old_first_name,
                        last_name: r.old_last_name,
                        avatar: r.old_avatar,
                        first: r.old_first,
                        last: r.old_last,
                        text: r.old_text,
                        created: r.old_created,
                    };
                    let after = SideRow {
                        key: r.new_key,
                        username: r.new_username,
                        first_name: r.new_first_name,
                        last_name: r.new_last_name,
                        avatar: r.new_avatar,
                        first: r.new_first,
                        last: r.new_last,
                        text: r.new_text,
                        created: r.new_created,
                    };
                    DirectoryChange {
                        version: u64::try_from(r.version).unwrap_or(0),
                        user: UserId(r.user_id),
                        before: side(r.user_id, before),
                        after: side(r.user_id, after),
                    }
                })
                .collect(),
        ))
    }

    pub(super) async fn fold_filter(&self, query: &DirectoryQuery) -> Result<DirectoryFilter> {
        let terms = [&query.search, &query.first_name, &query.last_name];
        let long = |t: &Option<SearchTerm>| t.as_ref().filter(|t| t.is_substring()).map(|t| t.as_str().to_string());
        let folded: [Option<String>; 3] = match &self.db {
            Db::Sqlite { .. } => terms.map(|t| long(t).map(|t| fts5_fold(&t))),
            Db::Postgres(pool) => {
                // Escaping the pattern and lowering commute: `\`, `%` and `_` are no letters.
                let (a, b, c): (Option<String>, Option<String>, Option<String>) =
                    sqlx::query_as("SELECT lower($1::text), lower($2::text), lower($3::text)")
                        .bind(long(terms[0]))
                        .bind(long(terms[1]))
                        .bind(long(terms[2]))
                        .fetch_one(pool)
                        .await
                        .map_err(db_err)?;
                [a, b, c]
            }
        };
        let [search, first_name, last_name] = [0, 1, 2].map(|i| {
            terms[i].as_ref().map(|t| match &folded[i] {
                Some(f) => TermMatch::Substring(f.clone()),
                None => TermMatch::prefix(t),
            })
        });
        Ok(DirectoryFilter { search, first_name, last_name })
    }

    pub(super) async fn prune_directory_changes(&self, keep: u64) -> Result<u64> {
        const SQL: &str =
            "DELETE FROM directory_changes WHERE version <= (SELECT version FROM directory_totals WHERE id = 1) - $1";
        let keep = i64::try_from(keep).unwrap_or(i64::MAX);
        Ok(on_pool!(&self.db, writer, |pool| sqlx::query(SQL)
            .bind(keep)
            .execute(pool)
            .await
            .map_err(db_err)?
            .rows_affected()))
    }
}

/// `text` as SQLite's FTS5 trigram tokenizer folds it (`sqlite3Fts5UnicodeFold`, diacritics
/// kept): its UTF-8 reader turns U+FFFE and U+FFFF into U+FFFD, and it skips what folds to
/// NUL. One code point gives at most one, so a term is in an index's text exactly when its
/// folded form is a substring of the folded text.
pub(crate) fn fts5_fold(text: &str) -> String {
    text.chars().filter(|c| *c != '\0').map(fts5_fold_char).collect()
}

fn fts5_fold_char(c: char) -> char {
    let code = match u32::from(c) {
        0xFFFE | 0xFFFF => 0xFFFD,
        code => code,
    };
    let folded = if code < 128 {
        if c.is_ascii_uppercase() { code + 32 } else { code }
    } else if code < 65536 {
        // The last range starting at or before the code point (the first starts at 65).
        let i = FOLD_RANGES.partition_point(|(first, _, _)| u32::from(*first) <= code);
        let (first, flags, len) = FOLD_RANGES[i - 1];
        let (first, flags) = (u32::from(first), u32::from(flags));
        // An odd `flags` folds every second code point of the range only.
        if code < first + u32::from(len) && 0 == (0x01 & flags & (first ^ code)) {
            (code + u32::from(FOLD_OFFSETS[(flags >> 1) as usize])) & 0xFFFF
        } else {
            code
        }
    } else if (66560..66600).contains(&code) {
        code + 40
    } else {
        code
    };
    char::from_u32(folded).unwrap_or(c)
}

// `aEntry` and `aiOff` of `sqlite3Fts5UnicodeFold` (SQLite 3.51, unchanged since FTS5 came):
// (first code point, flags, length); `flags >> 1` indexes the offsets.
#[rustfmt::skip]
const FOLD_RANGES: [(u16, u8, u8); 163] = [
    (65, 14, 26), (181, 64, 1), (192, 14, 23), (216, 14, 7), (256, 1, 48), (306, 1, 6), (313, 1, 16),
    (330, 1, 46), (376, 116, 1), (377, 1, 6), (383, 104, 1), (385, 50, 1), (386, 1, 4), (390, 44, 1),
    (391, 0, 1), (393, 42, 2), (395, 0, 1), (398, 32, 1), (399, 38, 1), (400, 40, 1), (401, 0, 1), (403, 42, 1),
    (404, 46, 1), (406, 52, 1), (407, 48, 1), (408, 0, 1), (412, 52, 1), (413, 54, 1), (415, 56, 1),
    (416, 1, 6), (422, 60, 1), (423, 0, 1), (425, 60, 1), (428, 0, 1), (430, 60, 1), (431, 0, 1), (433, 58, 2),
    (435, 1, 4), (439, 62, 1), (440, 0, 1), (444, 0, 1), (452, 2, 1), (453, 0, 1), (455, 2, 1), (456, 0, 1),
    (458, 2, 1), (459, 1, 18), (478, 1, 18), (497, 2, 1), (498, 1, 4), (502, 122, 1), (503, 134, 1),
    (504, 1, 40), (544, 110, 1), (546, 1, 18), (570, 70, 1), (571, 0, 1), (573, 108, 1), (574, 68, 1),
    (577, 0, 1), (579, 106, 1), (580, 28, 1), (581, 30, 1), (582, 1, 10), (837, 36, 1), (880, 1, 4),
    (886, 0, 1), (902, 18, 1), (904, 16, 3), (908, 26, 1), (910, 24, 2), (913, 14, 17), (931, 14, 9),
    (962, 0, 1), (975, 4, 1), (976, 140, 1), (977, 142, 1), (981, 146, 1), (982, 144, 1), (984, 1, 24),
    (1008, 136, 1), (1009, 138, 1), (1012, 130, 1), (1013, 128, 1), (1015, 0, 1), (1017, 152, 1), (1018, 0, 1),
    (1021, 110, 3), (1024, 34, 16), (1040, 14, 32), (1120, 1, 34), (1162, 1, 54), (1216, 6, 1), (1217, 1, 14),
    (1232, 1, 88), (1329, 22, 38), (4256, 66, 38), (4295, 66, 1), (4301, 66, 1), (7680, 1, 150), (7835, 132, 1),
    (7838, 96, 1), (7840, 1, 96), (7944, 150, 8), (7960, 150, 6), (7976, 150, 8), (7992, 150, 8),
    (8008, 150, 6), (8025, 151, 8), (8040, 150, 8), (8072, 150, 8), (8088, 150, 8), (8104, 150, 8),
    (8120, 150, 2), (8122, 126, 2), (8124, 148, 1), (8126, 100, 1), (8136, 124, 4), (8140, 148, 1),
    (8152, 150, 2), (8154, 120, 2), (8168, 150, 2), (8170, 118, 2), (8172, 152, 1), (8184, 112, 2),
    (8186, 114, 2), (8188, 148, 1), (8486, 98, 1), (8490, 92, 1), (8491, 94, 1), (8498, 12, 1), (8544, 8, 16),
    (8579, 0, 1), (9398, 10, 26), (11264, 22, 47), (11360, 0, 1), (11362, 88, 1), (11363, 102, 1),
    (11364, 90, 1), (11367, 1, 6), (11373, 84, 1), (11374, 86, 1), (11375, 80, 1), (11376, 82, 1),
    (11378, 0, 1), (11381, 0, 1), (11390, 78, 2), (11392, 1, 100), (11499, 1, 4), (11506, 0, 1), (42560, 1, 46),
    (42624, 1, 24), (42786, 1, 14), (42802, 1, 62), (42873, 1, 4), (42877, 76, 1), (42878, 1, 10),
    (42891, 0, 1), (42893, 74, 1), (42896, 1, 4), (42912, 1, 10), (42922, 72, 1), (65313, 14, 26),
];
const FOLD_OFFSETS: [u16; 77] = [
    1, 2, 8, 15, 16, 26, 28, 32, 37, 38, 40, 48, 63, 64, 69, 71, 79, 80, 116, 202, 203, 205, 206, 207, 209, 210, 211,
    213, 214, 217, 218, 219, 775, 7264, 10792, 10795, 23228, 23256, 30204, 54721, 54753, 54754, 54756, 54787, 54793,
    54809, 57153, 57274, 57921, 58019, 58363, 61722, 65268, 65341, 65373, 65406, 65408, 65410, 65415, 65424, 65436,
    65439, 65450, 65462, 65472, 65476, 65478, 65480, 65482, 65488, 65506, 65511, 65514, 65521, 65527, 65528, 65529,
];

#[cfg(test)]
mod tests {
    use futures_util::TryStreamExt;
    use sqlx::{Connection, SqliteConnection};

    use super::*;

    /// Every code point SQLite can store, through SQLite's own trigram tokenizer: each row
    /// holds `##c` for a run of code points, and the index's vocabulary says what each
    /// trigram starting at a `#` became.
    #[tokio::test]
    async fn the_fold_is_sqlites_own_for_every_code_point() {
        let mut db = SqliteConnection::connect("sqlite::memory:").await.expect("open");
        sqlx::raw_sql(
            "CREATE VIRTUAL TABLE t USING fts5(x, tokenize = 'trigram'); \
             CREATE VIRTUAL TABLE v USING fts5vocab(t, 'instance');",
        )
        .execute(&mut db)
        .await
        .expect("create");
        let all: Vec<char> = (1..=0x10FFFF).filter_map(char::from_u32).collect();
        for (row, chunk) in all.chunks(4096).enumerate() {
            let text: String = chunk.iter().flat_map(|c| ['#', '#', *c]).collect();
            sqlx::query("INSERT INTO t (rowid, x) VALUES ($1, $2)")
                .bind(row as i64)
                .bind(text)
                .execute(&mut db)
                .await
                .expect("insert");
        }
        let mut tokens =
            sqlx::query_as::<_, (i64, i64, String)>("SELECT doc, offset, term FROM v WHERE offset % 3 = 0")
                .fetch(&mut db);
        let mut seen = 0;
        while let Some((doc, offset, term)) = tokens.try_next().await.expect("vocabulary") {
            let c = all[usize::try_from(doc * 4096 + offset / 3).expect("index")];
            let expected: String = ['#', '#', fts5_fold_char(c)].iter().collect();
            assert_eq!(term, expected, "U+{:04X}", u32::from(c));
            seen += 1;
        }
        drop(tokens);
        assert_eq!(seen, all.len(), "one trigram for each code point");
        // SQLite's lower(), which the name orderings' indexes use, folds ASCII only.
        let sample: String = ('\u{20}'..='\u{24F}').chain('\u{370}'..='\u{3FF}').collect();
        let lowered: String =
            sqlx::query_scalar("SELECT lower($1)").bind(&sample).fetch_one(&mut db).await.expect("lower");
        assert_eq!(lowered, sample.to_ascii_lowercase());
        assert_eq!(fts5_fold("A\0b\u{FFFE}\u{10400}"), "ab\u{FFFD}\u{10428}");
    }
}
