//! Django's `UserAttributeSimilarityValidator`, to the letter: a password is refused when
//! `difflib.SequenceMatcher(a=password.lower(), b=part.lower()).quick_ratio()` reaches
//! 0.7 for an attribute or any of its parts (`re.split(r"\W+", value)`).

/// Django's default `max_similarity`.
pub const MAX_SIMILARITY: f64 = 0.7;

/// `difflib.SequenceMatcher(a, b).quick_ratio()`: twice the size of the multiset
/// intersection of the two sequences over their total length (1.0 for two empty ones).
/// Its `autojunk` heuristic touches only `get_matching_blocks`, never this bound.
pub fn quick_ratio(a: &[char], b: &[char]) -> f64 {
    let total = a.len() + b.len();
    if total == 0 {
        return 1.0;
    }
    let mut available: std::collections::HashMap<char, usize> = std::collections::HashMap::new();
    for c in b {
        *available.entry(*c).or_default() += 1;
    }
    let mut matches = 0usize;
    for c in a {
        if let Some(n) = available.get_mut(c)
            && *n > 0
        {
            *n -= 1;
            matches += 1;
        }
    }
    // Both are at most 1024 + 254, far inside f64's exact integers.
    2.0 * matches as f64 / total as f64
}

/// Python's `\w` on `str`: letters (L*), numbers (N*) and the underscore.
fn is_word(c: char) -> bool {
    use unicode_properties::{GeneralCategoryGroup, UnicodeGeneralCategory};
    c == '_' || matches!(c.general_category_group(), GeneralCategoryGroup::Letter | GeneralCategoryGroup::Number)
}

/// `re.split(r"\W+", value) + [value]`: the runs between non-word characters (with the
/// empty runs at either end that Python keeps), then the whole value.
fn parts(value: &str) -> Vec<&str> {
    let mut parts: Vec<&str> = Vec::new();
    let mut start = 0;
    let mut in_separator = false;
    for (i, c) in value.char_indices() {
        if is_word(c) {
            if in_separator {
                start = i;
                in_separator = false;
            }
        } else if !in_separator {
            parts.push(&value[start..i]);
            in_separator = true;
        }
    }
    parts.push(if in_separator { "" } else { &value[start..] });
    parts.push(value);
    parts
}

/// Django's `exceeds_maximum_length_ratio`: a part so much shorter than the password
/// cannot reach `max_similarity`, so the comparison is skipped (it never changes the answer).
fn exceeds_maximum_length_ratio(password_len: usize, max_similarity: f64, value_len: usize) -> bool {
    let bound = max_similarity / 2.0 * password_len as f64;
    password_len >= 10 * value_len && (value_len as f64) < bound
}

/// Whether `password` is too similar to `value` or to one of its parts. An empty value is
/// never compared (Django skips attributes that are not set).
pub fn too_similar(password: &str, value: &str, max_similarity: f64) -> bool {
    if value.is_empty() {
        return false;
    }
    let password: Vec<char> = password.to_lowercase().chars().collect();
    let value = value.to_lowercase();
    parts(&value).into_iter().any(|part| {
        let part: Vec<char> = part.chars().collect();
        !exceeds_maximum_length_ratio(password.len(), max_similarity, part.len())
            && quick_ratio(&password, &part) >= max_similarity
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ratio(a: &str, b: &str) -> f64 {
        quick_ratio(&a.chars().collect::<Vec<_>>(), &b.chars().collect::<Vec<_>>())
    }

    #[test]
    fn quick_ratio_is_difflibs() {
        // Values from CPython: SequenceMatcher(a=…, b=…).quick_ratio().
        assert!((ratio("abcd", "bcde") - 0.75).abs() < 1e-12);
        assert!((ratio("password", "pass") - 2.0 * 4.0 / 12.0).abs() < 1e-12);
        assert!((ratio("aab", "abb") - 2.0 * 2.0 / 6.0).abs() < 1e-12);
        assert!((ratio("", "") - 1.0).abs() < 1e-12);
        assert!(ratio("abc", "").abs() < 1e-12);
        assert!((ratio("A", &"A".repeat(10)) - 0.181_818_181_818_181_82).abs() < 1e-12);
    }

    #[test]
    fn values_split_on_non_word_runs_as_python_does() {
        assert_eq!(parts("alice.smith@example.com"), ["alice", "smith", "example", "com", "alice.smith@example.com"]);
        assert_eq!(parts("@ab--c."), ["", "ab", "c", "", "@ab--c."]);
        assert_eq!(parts("josé_1"), ["josé_1", "josé_1"]);
        assert_eq!(parts("jean-luc"), ["jean", "luc", "jean-luc"]);
    }

    #[test]
    fn the_attribute_and_its_parts_are_compared() {
        // Django's own test cases (tests/auth_tests/test_validators.py).
        assert!(too_similar("testclient", "testclient", MAX_SIMILARITY));
        assert!(too_similar("example.com", "testclient@example.com", MAX_SIMILARITY));
        assert!(too_similar("testclient@example.com", "testclient@example.com", MAX_SIMILARITY));
        assert!(!too_similar("xyz", "testclient", MAX_SIMILARITY));
        assert!(too_similar("TESTCLIENT", "testclient", MAX_SIMILARITY), "case does not count");
        assert!(!too_similar("correct horse battery", "alice@example.com", MAX_SIMILARITY));
        assert!(!too_similar("anything", "", MAX_SIMILARITY));
        // A long password against a short part is skipped, as it could never be similar.
        assert!(!too_similar(&"a".repeat(100), "a", MAX_SIMILARITY));
    }
}
