//! Word splitting for token classification.
//!
//! Mimics ANERcorp's tokenization, which the NER model was trained on: words
//! are separated by space, every punctuation mark or symbol is a word of its
//! own, and clitics (`و`, `ب`, `ال`, ...) are *not* split off. So `«الرئيس»،`
//! gives `«`, `الرئيس`, `»`, `،`. Latin apostrophes and hyphens are
//! punctuation like any other: `O'Brien` gives `O`, `'`, `Brien` and
//! `al-Assad` gives `al`, `-`, `Assad`, as ANERcorp mostly does. Numbers are
//! the exception: `1.8`, `12,000`, `١٫٥`, `2024/05/01` and `10:30` stay whole.

use std::ops::Range;

use unicode_general_category::{get_general_category, GeneralCategory as Gc};
use unicode_segmentation::UnicodeSegmentation;

use crate::text::chars::{is_decimal_digit, is_joiner, is_space};

/// What a char contributes to word splitting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    /// Letters (tatweel included) and numbers: the body of a word.
    Word,
    /// Combining marks: belong to the char before them.
    Mark,
    /// ZWNJ, ZWJ, soft hyphen and other format chars: kept between word
    /// chars (Persian `می‌خواهم`), separators at a word edge.
    Joiner,
    /// White space, bidi controls, ZWSP, BOM, control chars.
    Space,
    /// Punctuation, symbols, emoji, private-use and unassigned chars: one
    /// word per grapheme cluster.
    Symbol,
}

fn class(c: char) -> Class {
    if c.is_ascii() {
        return match c {
            c if c.is_ascii_alphanumeric() => Class::Word,
            c if c.is_ascii_punctuation() => Class::Symbol,
            _ => Class::Space,
        };
    }
    if is_space(c) {
        return Class::Space;
    }
    if is_joiner(c) {
        return Class::Joiner;
    }
    match get_general_category(c) {
        Gc::UppercaseLetter
        | Gc::LowercaseLetter
        | Gc::TitlecaseLetter
        | Gc::ModifierLetter
        | Gc::OtherLetter
        | Gc::DecimalNumber
        | Gc::LetterNumber
        | Gc::OtherNumber => Class::Word,
        Gc::NonspacingMark | Gc::SpacingMark | Gc::EnclosingMark => Class::Mark,
        Gc::Format => Class::Joiner,
        Gc::Control | Gc::SpaceSeparator | Gc::LineSeparator | Gc::ParagraphSeparator => {
            Class::Space
        }
        _ => Class::Symbol,
    }
}

/// Punctuation that stays inside a number when it sits between two digits.
fn is_number_separator(c: char) -> bool {
    matches!(c, '.' | ',' | '/' | ':' | '-' | '\u{066B}' | '\u{066C}')
}

/// Byte ranges of the words of `text`, in order, non-overlapping, non-empty,
/// never starting or ending with space, bidi controls, ZWNJ or ZWJ.
pub fn words(text: &str) -> Vec<Range<usize>> {
    let mut out: Vec<Range<usize>> = Vec::new();
    // Start of the word being read, and its last char.
    let mut open: Option<usize> = None;
    let mut prev: Option<char> = None;
    let mut i = 0;
    while let Some(c) = text[i..].chars().next() {
        let next = i + c.len_utf8();
        let kind = class(c);
        let in_word = match kind {
            Class::Word => true,
            Class::Mark if open.is_some() => true,
            Class::Mark => match out.last_mut() {
                // A mark right after a symbol word belongs to it.
                Some(last) if last.end == i => {
                    last.end = next;
                    i = next;
                    continue;
                }
                // A lone mark after space is a word of its own.
                _ => true,
            },
            Class::Joiner => {
                open.is_some()
                    && text[next..]
                        .chars()
                        .next()
                        .is_some_and(|n| matches!(class(n), Class::Word | Class::Mark))
            }
            Class::Space => false,
            Class::Symbol => {
                open.is_some()
                    && is_number_separator(c)
                    && prev.is_some_and(is_decimal_digit)
                    && text[next..].chars().next().is_some_and(is_decimal_digit)
            }
        };
        if in_word {
            open.get_or_insert(i);
            prev = Some(c);
            i = next;
            continue;
        }
        if let Some(start) = open.take() {
            out.push(start..i);
        }
        prev = None;
        i = if kind == Class::Symbol {
            let end = symbol_end(text, i, next);
            out.push(i..end);
            end
        } else {
            next
        };
    }
    if let Some(start) = open {
        out.push(start..text.len());
    }
    out
}

/// End of the symbol word starting at `at`: its whole grapheme cluster, so
/// `👍🏽`, `👨‍👩‍👧`, `🇹🇳` and `❤️` stay one word, minus trailing joiners.
fn symbol_end(text: &str, at: usize, char_end: usize) -> usize {
    let cluster = text[at..].graphemes(true).next().unwrap_or_default();
    let trimmed = cluster.trim_end_matches(is_joiner);
    (at + trimmed.len()).max(char_end)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn split(text: &str) -> Vec<&str> {
        words(text).into_iter().map(|r| &text[r]).collect()
    }

    #[test]
    fn arabic_sentence() {
        assert_eq!(
            split("قال الرئيس التونسي قيس سعيد إن العجز بلغ 5.2 في المئة."),
            [
                "قال",
                "الرئيس",
                "التونسي",
                "قيس",
                "سعيد",
                "إن",
                "العجز",
                "بلغ",
                "5.2",
                "في",
                "المئة",
                "."
            ]
        );
    }

    #[test]
    fn punctuation_is_split_off_but_clitics_are_not() {
        assert_eq!(
            split("وأضاف أن «الإصلاحات ضرورية»، وبالتالي؟!"),
            [
                "وأضاف",
                "أن",
                "«",
                "الإصلاحات",
                "ضرورية",
                "»",
                "،",
                "وبالتالي",
                "؟",
                "!"
            ]
        );
        assert_eq!(split("(تونس)؛ ٪50"), ["(", "تونس", ")", "؛", "٪", "50"]);
    }

    #[test]
    fn numbers_stay_whole() {
        for n in [
            "1.8",
            "12,000",
            "2024/05/01",
            "10:30",
            "١٫٥",
            "١٢٬٠٠٠",
            "2010-2015",
            "۳.۵",
            "3.14159",
        ] {
            assert_eq!(split(n), [n], "{n}");
        }
        assert_eq!(split("5%."), ["5", "%", "."]);
        assert_eq!(split("-5"), ["-", "5"]);
        assert_eq!(split("5-"), ["5", "-"]);
        assert_eq!(split("1.a"), ["1", ".", "a"]);
        assert_eq!(split("a.1"), ["a", ".", "1"]);
        assert_eq!(split("1..2"), ["1", ".", ".", "2"]);
        assert_eq!(split("2024م"), ["2024م"]);
    }

    #[test]
    fn latin_apostrophes_and_hyphens_are_split() {
        assert_eq!(split("O'Brien"), ["O", "'", "Brien"]);
        assert_eq!(split("al-Assad"), ["al", "-", "Assad"]);
        assert_eq!(split("COVID-19"), ["COVID", "-", "19"]);
    }

    #[test]
    fn diacritics_and_tatweel_stay_inside() {
        assert_eq!(split("مُحَمَّدٌ جـــميل"), ["مُحَمَّدٌ", "جـــميل"]);
        assert_eq!(split("الرَّحْمٰن"), ["الرَّحْمٰن"]);
        assert_eq!(split("café"), ["café"]);
    }

    #[test]
    fn emoji_are_whole_symbol_words() {
        assert_eq!(split("رائع👍🏽!"), ["رائع", "👍🏽", "!"]);
        assert_eq!(
            split("👨\u{200D}👩\u{200D}👧 🇹🇳❤\u{FE0F}"),
            ["👨\u{200D}👩\u{200D}👧", "🇹🇳", "❤\u{FE0F}"]
        );
        assert_eq!(split("1\u{FE0F}\u{20E3}"), ["1\u{FE0F}\u{20E3}"]);
        assert_eq!(split("👍\u{200D}"), ["👍"]);
    }

    #[test]
    fn invisible_chars_separate() {
        assert_eq!(
            split("\u{200F}تونس\u{200E} \u{FEFF}ليبيا\u{202C}"),
            ["تونس", "ليبيا"]
        );
        assert_eq!(split("قيس\u{200B}سعيد"), ["قيس", "سعيد"]);
        assert_eq!(split("a\u{2066}b\u{2069}"), ["a", "b"]);
    }

    #[test]
    fn joiners_inside_words_only() {
        assert_eq!(split("می\u{200C}خواهم"), ["می\u{200C}خواهم"]);
        assert_eq!(split("\u{200C}abc\u{200D} \u{200D}"), ["abc"]);
        assert_eq!(split("co\u{00AD}operate"), ["co\u{00AD}operate"]);
        assert_eq!(split("ab\u{200C}\u{200C}cd"), ["ab", "cd"]);
    }

    #[test]
    fn lone_marks() {
        assert_eq!(split("\u{064E}"), ["\u{064E}"]);
        assert_eq!(split(" \u{0301} x"), ["\u{0301}", "x"]);
        assert_eq!(split("!\u{0301}"), ["!\u{0301}"]);
        assert_eq!(split("،\u{064E}ب"), ["،\u{064E}", "ب"]);
    }

    #[test]
    fn empty_and_blank() {
        assert!(words("").is_empty());
        assert!(words(" \t\n\u{00A0}\u{3000}\u{200F}\u{FEFF}\u{0000}").is_empty());
    }

    #[test]
    fn large_input_is_linear() {
        let text = "قال الرئيس، إن 1.8٪ «جيد» 👍🏽 ".repeat(20_000);
        let got = words(&text);
        assert_eq!(got.len(), 20_000 * 10);
        let glued = "ب\u{064E}".repeat(100_000);
        assert_eq!(words(&glued).len(), 1);
        let marks = "!".to_string() + &"\u{0301}".repeat(100_000);
        assert_eq!(words(&marks).len(), 1);
    }

    proptest! {
        #[test]
        fn invariants(text in "\\PC{0,200}|[a ب\u{064E}\u{0640}1٣.,٫:/\\-'«»،😀👍🏽\u{200C}\u{200D}\u{200F}\u{FEFF}\u{0301}\u{FE0F}]{0,100}") {
            let ranges = words(&text);
            let mut prev_end = 0;
            for r in &ranges {
                prop_assert!(r.start < r.end);
                prop_assert!(prev_end <= r.start);
                prop_assert!(r.end <= text.len());
                prop_assert!(text.is_char_boundary(r.start) && text.is_char_boundary(r.end));
                let w = &text[r.clone()];
                let edge = |c: char| is_space(c) || is_joiner(c);
                prop_assert!(!w.starts_with(edge) && !w.ends_with(edge), "untrimmed {:?}", w);
                prev_end = r.end;
            }
            // Every letter, digit, mark and symbol ends up in some word.
            for (i, c) in text.char_indices() {
                if matches!(class(c), Class::Word | Class::Mark | Class::Symbol) {
                    prop_assert!(ranges.iter().any(|r| r.contains(&i)), "lost {:?}", c);
                }
            }
        }
    }
}
