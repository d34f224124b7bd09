//! Character classes shared by the segmenter and the word splitter, so that
//! "what counts as space" means the same thing everywhere.

use std::ops::Range;

use unicode_general_category::{get_general_category, GeneralCategory as Gc};

/// Arabic tatweel (kashida): a stretching character, not a letter of its own.
pub(crate) const TATWEEL: char = '\u{0640}';

/// Invisible format characters that only steer rendering: bidi marks,
/// embeddings and isolates, ZWSP and the BOM. Pasted news text is full of
/// them, and they never carry meaning at a word or sentence edge. A subset
/// of what the models never see (`normalize::STRIPPED`; a test pins it).
pub(crate) fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{200B}'
            | '\u{200E}'
            | '\u{200F}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2066}'..='\u{2069}'
            | '\u{061C}'
            | '\u{FEFF}'
    )
}

/// Unicode White_Space plus [`is_invisible`]: what ranges are trimmed of.
pub(crate) fn is_space(c: char) -> bool {
    c.is_whitespace() || is_invisible(c)
}

/// ZWNJ and ZWJ: part of a word between letters (Persian, emoji sequences),
/// noise at its edges.
pub(crate) fn is_joiner(c: char) -> bool {
    matches!(c, '\u{200C}' | '\u{200D}')
}

/// General category M*: combining marks, including Arabic harakat.
pub(crate) fn is_mark(c: char) -> bool {
    matches!(
        get_general_category(c),
        Gc::NonspacingMark | Gc::SpacingMark | Gc::EnclosingMark
    )
}

/// General category Nd in any script (ASCII, Arabic-Indic, Extended Arabic-Indic, ...).
pub(crate) fn is_decimal_digit(c: char) -> bool {
    c.is_ascii_digit() || (!c.is_ascii() && get_general_category(c) == Gc::DecimalNumber)
}

/// Letters of the Arabic script blocks (base, supplement, extended,
/// presentation forms).
pub(crate) fn is_arabic_letter(c: char) -> bool {
    matches!(
        c,
        '\u{0600}'..='\u{06FF}'
            | '\u{0750}'..='\u{077F}'
            | '\u{0870}'..='\u{08FF}'
            | '\u{FB50}'..='\u{FDFF}'
            | '\u{FE70}'..='\u{FEFF}'
    ) && c.is_alphabetic()
        && !is_mark(c)
        && c != TATWEEL
}

/// `range` shrunk until it neither starts nor ends with [`is_space`].
/// `range` must lie on char boundaries of `text`; the result does too.
pub(crate) fn trim(text: &str, range: Range<usize>) -> Range<usize> {
    let Some(slice) = text.get(range.clone()) else {
        return range.start..range.start;
    };
    let left = slice.trim_start_matches(is_space);
    let start = range.start + (slice.len() - left.len());
    let both = left.trim_end_matches(is_space);
    start..start + both.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The two tables answer different questions (what trims a range here;
    /// what the models never see), but every invisible character and joiner
    /// must be one the models never see, or a span could start on one.
    #[test]
    fn invisible_characters_and_joiners_are_stripped_for_the_models() {
        let steering = (0..=0x10FFFF)
            .filter_map(char::from_u32)
            .filter(|&c| is_invisible(c) || is_joiner(c));
        for c in steering {
            assert!(
                crate::text::normalize::is_stripped(c),
                "U+{:04X} is invisible here but the models would see it",
                c as u32
            );
        }
        // And the other way: outside the Arabic block (harakat, tatweel, ...)
        // the models only lose characters that are invisible here.
        let stripped = crate::text::normalize::STRIPPED.iter().cloned().flatten();
        for c in stripped.filter(|c| !('\u{0600}'..='\u{06FF}').contains(c)) {
            assert!(
                is_invisible(c) || is_joiner(c),
                "U+{:04X} is stripped for the models but visible here",
                c as u32
            );
        }
    }

    #[test]
    fn space_covers_bidi_and_bom() {
        for c in [
            ' ', '\n', '\u{00A0}', '\u{3000}', '\u{200F}', '\u{FEFF}', '\u{2067}',
        ] {
            assert!(is_space(c), "{c:?}");
        }
        for c in ['a', 'ب', '\u{200C}', '\u{200D}', '.', '\u{064E}'] {
            assert!(!is_space(c), "{c:?}");
        }
    }

    #[test]
    fn marks_and_digits() {
        assert!(is_mark('\u{064E}'));
        assert!(is_mark('\u{0670}'));
        assert!(is_mark('\u{0301}'));
        assert!(!is_mark(TATWEEL));
        assert!(is_decimal_digit('٣'));
        assert!(is_decimal_digit('۳'));
        assert!(is_decimal_digit('7'));
        assert!(!is_decimal_digit('½'));
    }

    #[test]
    fn arabic_letters() {
        assert!(is_arabic_letter('د'));
        assert!(is_arabic_letter('پ'));
        assert!(is_arabic_letter('ﻻ'));
        assert!(!is_arabic_letter(TATWEEL));
        assert!(!is_arabic_letter('\u{064B}'));
        assert!(!is_arabic_letter('٣'));
        assert!(!is_arabic_letter('،'));
        assert!(!is_arabic_letter('d'));
    }

    #[test]
    fn trim_edges() {
        let t = "\u{200F} «نص» \u{FEFF}\n";
        let r = trim(t, 0..t.len());
        assert_eq!(&t[r], "«نص»");
        assert_eq!(trim(" \u{200E} ", 0..5), 5..5);
        assert_eq!(trim("", 0..0), 0..0);
    }
}
