//! Characters an identifier may not hold, and the one normal form identifiers are kept in.
//!
//! Two addresses or names that look the same must be the same account, so identifiers are
//! NFKC-normalised (Django's `normalize_username` does the same) and anything that renders
//! as nothing, or as blank space, is refused rather than silently dropped: a zero-width
//! space inside `jo​se@…` is an attempt to look like someone else, not a typing slip.

use unicode_normalization::UnicodeNormalization;
use unicode_properties::{GeneralCategory, UnicodeGeneralCategory};

/// Whether `c` is invisible or not a character at all: a control (Cc), a format character
/// (Cf: zero-width space and joiners, bidi controls, soft hyphen, BOM, tags), unassigned
/// (Cn), private use (Co), a line or paragraph separator, or any other
/// `Default_Ignorable_Code_Point` of Unicode (variation selectors, Hangul fillers, the
/// combining grapheme joiner), and the blank Braille pattern, which renders as a space.
pub fn is_invisible(c: char) -> bool {
    use GeneralCategory::{Control, Format, LineSeparator, ParagraphSeparator, PrivateUse, Surrogate, Unassigned};
    if matches!(
        c.general_category(),
        Control | Format | Unassigned | PrivateUse | Surrogate | LineSeparator | ParagraphSeparator
    ) {
        return true;
    }
    // The members of Default_Ignorable_Code_Point (DerivedCoreProperties.txt) that are not
    // Cf or Cn, so the category test above misses them.
    matches!(
        c,
        '\u{034F}'
            | '\u{115F}'..='\u{1160}'
            | '\u{17B4}'..='\u{17B5}'
            | '\u{180B}'..='\u{180D}'
            | '\u{180F}'
            | '\u{3164}'
            | '\u{FE00}'..='\u{FE0F}'
            | '\u{FFA0}'
            | '\u{E0100}'..='\u{E01EF}'
            | '\u{2800}'
    )
}

/// Whether `s` holds an invisible character ([`is_invisible`]) or white space.
pub fn has_invisible_or_space(s: &str) -> bool {
    s.chars().any(|c| c.is_whitespace() || is_invisible(c))
}

/// `s` in Unicode normalisation form KC: compatibility forms folded (full-width letters,
/// ligatures, superscripts) and accents composed, so `é` typed as `e` + U+0301 and as
/// U+00E9 are one string.
pub fn nfkc(s: &str) -> String {
    s.nfkc().collect()
}

/// `s` without its invisible characters, NFKC-normalised and lower-cased (then normalised
/// again, as lower-casing can leave a string that is not): the form a look-up key is made
/// from, whatever the spelling that was typed or stored before the rules.
pub fn lookup_form(s: &str) -> String {
    let visible: String = s.chars().filter(|c| !is_invisible(*c)).collect();
    nfkc(&nfkc(visible.trim()).to_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invisible_characters_are_recognised() {
        for (c, why) in [
            ('\u{200B}', "zero-width space"),
            ('\u{200C}', "zero-width non-joiner"),
            ('\u{200D}', "zero-width joiner"),
            ('\u{2060}', "word joiner"),
            ('\u{FEFF}', "byte order mark"),
            ('\u{00AD}', "soft hyphen"),
            ('\u{202E}', "right-to-left override"),
            ('\u{2066}', "left-to-right isolate"),
            ('\u{200F}', "right-to-left mark"),
            ('\u{061C}', "Arabic letter mark"),
            ('\u{034F}', "combining grapheme joiner"),
            ('\u{FE0F}', "variation selector"),
            ('\u{3164}', "Hangul filler"),
            ('\u{E0041}', "tag letter"),
            ('\u{0007}', "bell"),
            ('\u{0085}', "next line"),
            ('\u{2028}', "line separator"),
            ('\u{E000}', "private use"),
            ('\u{2800}', "blank Braille pattern"),
        ] {
            assert!(is_invisible(c), "{why}: U+{:04X}", c as u32);
        }
        for c in ['a', 'é', 'ß', 'ж', '中', '-', '_', '.', '@', '\u{0301}'] {
            assert!(!is_invisible(c), "U+{:04X} is visible", c as u32);
        }
    }

    #[test]
    fn lookup_forms_of_look_alikes_are_equal() {
        assert_eq!(lookup_form("Jose\u{0301}"), lookup_form("JOSÉ"));
        assert_eq!(lookup_form("jo\u{200B}se"), "jose");
        assert_eq!(lookup_form(" ａｌｉｃｅ "), "alice");
    }
}
