//! Removal-only normalization: what the models see, with a way back.
//!
//! The models were trained on text without harakat, tatweel and invisible
//! format characters. Normalization only *removes* characters (it never
//! rewrites one), so every kept char is copied byte for byte and a span found
//! in the normalized text maps back to the original exactly.

use std::borrow::Cow;
use std::ops::{Range, RangeInclusive};

/// Every char the models never see. Shared with the Python training code:
/// change both or neither.
pub const STRIPPED: &[RangeInclusive<char>] = &[
    '\u{061C}'..='\u{061C}', // Arabic letter mark
    '\u{0640}'..='\u{0640}', // tatweel
    '\u{064B}'..='\u{065F}', // harakat, tanween, shadda, sukun, ...
    '\u{0670}'..='\u{0670}', // superscript alef
    '\u{06D6}'..='\u{06DC}', // Quranic annotation marks
    '\u{06DF}'..='\u{06E4}',
    '\u{06E7}'..='\u{06E8}',
    '\u{06EA}'..='\u{06ED}',
    '\u{200B}'..='\u{200F}', // ZWSP, ZWNJ, ZWJ, LRM, RLM
    '\u{202A}'..='\u{202E}', // bidi embeddings and overrides
    '\u{2066}'..='\u{2069}', // bidi isolates
    '\u{FEFF}'..='\u{FEFF}', // BOM / zero-width no-break space
];

/// True for chars the models never see: tatweel U+0640, Arabic diacritics
/// U+064B..=U+065F, superscript alef U+0670, Quranic marks U+06D6..=U+06DC,
/// U+06DF..=U+06E4, U+06E7, U+06E8, U+06EA..=U+06ED, and invisible format
/// chars U+200B..=U+200F, U+202A..=U+202E, U+2066..=U+2069, U+061C, U+FEFF.
pub fn is_stripped(c: char) -> bool {
    // Everything below the first range (ASCII, Latin, ...) is kept.
    c >= '\u{061C}' && STRIPPED.iter().any(|r| r.contains(&c))
}

/// Cheap path for per-word use: the stripped form of `word`, borrowed when
/// nothing is stripped.
pub fn strip(word: &str) -> Cow<'_, str> {
    if word.chars().any(is_stripped) {
        Cow::Owned(word.chars().filter(|&c| !is_stripped(c)).collect())
    } else {
        Cow::Borrowed(word)
    }
}

/// The text with every [`is_stripped`] char removed, plus the map back to
/// byte offsets in the original.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Normalized {
    /// The normalized text.
    pub text: String,
    /// `(n, removed)`: from normalized byte `n` on, `removed` bytes of the
    /// original were dropped before it. One entry per run of stripped chars,
    /// so unaccented text costs nothing. Sorted by `n`, which is unique.
    shifts: Vec<(usize, usize)>,
}

impl Normalized {
    /// Normalizes `original` in one pass.
    pub fn new(original: &str) -> Self {
        let mut text = String::with_capacity(original.len());
        let mut shifts: Vec<(usize, usize)> = Vec::new();
        let mut removed = 0;
        let mut kept_from = 0;
        for (i, c) in original.char_indices() {
            if !is_stripped(c) {
                continue;
            }
            text.push_str(&original[kept_from..i]);
            kept_from = i + c.len_utf8();
            removed += c.len_utf8();
            match shifts.last_mut() {
                Some(last) if last.0 == text.len() => last.1 = removed,
                _ => shifts.push((text.len(), removed)),
            }
        }
        text.push_str(&original[kept_from..]);
        Self { text, shifts }
    }

    /// Original byte range covering normalized byte range `r`: from the start
    /// of its first kept char to the end of its last kept char, so stripped
    /// chars around the span stay outside it and those inside stay inside.
    ///
    /// An empty `r` maps to an empty range just before the original of the
    /// next kept char. Out-of-range ends are clamped to the text and ends off
    /// a char boundary are widened to one.
    pub fn to_original(&self, r: Range<usize>) -> Range<usize> {
        let end = ceil_boundary(&self.text, r.end.min(self.text.len()));
        let start = floor_boundary(&self.text, r.start.min(end));
        let orig_start = start + self.removed_before(start, true);
        if start == end {
            return orig_start..orig_start;
        }
        // The last kept byte is `end - 1`; stripped chars right after it
        // (recorded at `end`) are not part of the span.
        orig_start..end + self.removed_before(end, false)
    }

    /// Bytes removed before normalized offset `n` (counting a removal
    /// recorded exactly at `n` only if `at_n`).
    fn removed_before(&self, n: usize, at_n: bool) -> usize {
        let i = self
            .shifts
            .partition_point(|&(s, _)| if at_n { s <= n } else { s < n });
        i.checked_sub(1)
            .and_then(|i| self.shifts.get(i))
            .map_or(0, |&(_, removed)| removed)
    }
}

fn floor_boundary(text: &str, mut i: usize) -> usize {
    while !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}

fn ceil_boundary(text: &str, mut i: usize) -> usize {
    while !text.is_char_boundary(i) {
        i += 1;
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn table_is_exactly_the_shared_set() {
        let listed: Vec<u32> = [
            vec![0x0640, 0x0670, 0x06E7, 0x06E8, 0x061C, 0xFEFF],
            (0x064B..=0x065F).collect(),
            (0x06D6..=0x06DC).collect(),
            (0x06DF..=0x06E4).collect(),
            (0x06EA..=0x06ED).collect(),
            (0x200B..=0x200F).collect(),
            (0x202A..=0x202E).collect(),
            (0x2066..=0x2069).collect(),
        ]
        .concat();
        let mut listed = listed;
        listed.sort_unstable();
        let found: Vec<u32> = (0..=0x10FFFFu32)
            .filter_map(char::from_u32)
            .filter(|&c| is_stripped(c))
            .map(u32::from)
            .collect();
        assert_eq!(found, listed);
    }

    #[test]
    fn keeps_letters_and_arabic_punctuation() {
        for c in [
            'ا', 'ب', 'ة', 'ى', 'ء', '،', '؟', '٫', '٣', 'a', ' ', '\u{06DD}', '\u{06E5}',
        ] {
            assert!(!is_stripped(c), "{c:?}");
        }
    }

    #[test]
    fn strip_borrows_when_clean() {
        assert!(matches!(strip("الحكومة"), Cow::Borrowed(_)));
        assert!(matches!(strip(""), Cow::Borrowed(_)));
        assert_eq!(strip("مُحَمَّد"), "محمد");
        assert_eq!(strip("جـــميل"), "جميل");
        assert_eq!(strip("\u{200F}تونس\u{200E}"), "تونس");
        assert_eq!(strip("\u{064E}"), "");
    }

    #[test]
    fn identity_when_nothing_stripped() {
        let t = "قال الرئيس قيس سعيد.";
        let n = Normalized::new(t);
        assert_eq!(n.text, t);
        assert_eq!(n.to_original(0..t.len()), 0..t.len());
        assert_eq!(n.to_original(2..7), 2..7);
        assert_eq!(n.to_original(4..8), 4..9);
    }

    #[test]
    fn maps_span_back_over_diacritics() {
        let original = "قالَ مُحَمَّدٌ إنَّ";
        let n = Normalized::new(original);
        assert_eq!(n.text, "قال محمد إن");
        let start = n.text.find("محمد").unwrap_or_default();
        let span = n.to_original(start..start + "محمد".len());
        // The trailing tanween of the last letter is outside the span.
        assert_eq!(&original[span], "مُحَمَّد");
    }

    #[test]
    fn stripped_edges_stay_outside() {
        let original = "\u{200F}\u{200F}تونس\u{0640}\u{200E}";
        let n = Normalized::new(original);
        assert_eq!(n.text, "تونس");
        let span = n.to_original(0..n.text.len());
        assert_eq!(&original[span], "تونس");
    }

    #[test]
    fn empty_and_out_of_range() {
        let original = "أ\u{064E}ب";
        let n = Normalized::new(original);
        assert_eq!(n.text, "أب");
        // Empty range between the letters: after the stripped fatha.
        assert_eq!(n.to_original(2..2), 4..4);
        assert_eq!(n.to_original(4..4), 6..6);
        assert_eq!(n.to_original(0..99), 0..6);
        assert_eq!(n.to_original(50..99), 6..6);
        // Ends inside a char are widened to it.
        assert_eq!(n.to_original(1..3), 0..6);
        // A reversed range collapses to its end.
        #[allow(clippy::reversed_empty_ranges)]
        let reversed = n.to_original(3..1);
        assert_eq!(reversed, 4..4);
    }

    #[test]
    fn all_stripped() {
        let n = Normalized::new("\u{064E}\u{0640}\u{200B}");
        assert_eq!(n.text, "");
        assert_eq!(n.to_original(0..0), 7..7);
        let empty = Normalized::new("");
        assert_eq!(empty.to_original(0..0), 0..0);
    }

    #[test]
    fn linear_on_large_input() {
        let original = "مُحَمَّدٌ ".repeat(30_000);
        let n = Normalized::new(&original);
        assert_eq!(n.text, "محمد ".repeat(30_000));
        let r = n.to_original(0..n.text.len());
        assert_eq!(r, 0..original.len());
    }

    proptest! {
        #[test]
        fn maps_every_kept_char_back(
            original in "[a\u{0628}\u{0640}\u{064E}\u{0651}\u{200F} .😀\u{06D6}]{0,60}"
        ) {
            let n = Normalized::new(&original);
            prop_assert_eq!(&n.text, &strip(&original).into_owned());
            for (i, c) in n.text.char_indices() {
                let r = n.to_original(i..i + c.len_utf8());
                prop_assert!(original.is_char_boundary(r.start));
                prop_assert_eq!(&original[r], c.to_string());
            }
            let all = n.to_original(0..n.text.len());
            prop_assert!(all.end <= original.len());
            prop_assert_eq!(strip(&original[all]).into_owned(), n.text.clone());
        }

        #[test]
        fn never_panics(original in "\\PC{0,80}", a in 0usize..400, b in 0usize..400) {
            let n = Normalized::new(&original);
            let r = n.to_original(a..b);
            prop_assert!(r.start <= r.end);
            prop_assert!(r.end <= original.len());
            prop_assert!(original.is_char_boundary(r.start));
            prop_assert!(original.is_char_boundary(r.end));
        }
    }
}
