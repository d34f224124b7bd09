//! Offset invariants of the text layer on arbitrary Unicode: the hostile mix
//! news text brings (combining marks, harakat and tatweel, bidi controls,
//! emoji ZWJ sequences, CRLF, NUL, replacement chars) plus any char at all.
//!
//! Only the public API is used, so these hold for every caller.

use std::ops::Range;

use khulasa::text::{is_blank, strip, words, CharOffsets, Normalized, Segmenter};
use proptest::prelude::*;

/// Pieces that stress the offset code, mixed with arbitrary chars.
fn piece() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => any::<char>().prop_map(String::from),
        3 => prop::sample::select(vec![
            "قال", "الرئيس", "محمد", "تونس", "a", "Dr", "1.8", "١٢", "٣٫٥", "x",
        ])
        .prop_map(String::from),
        2 => prop::sample::select(vec![
            // harakat, shadda, superscript alef, tatweel, Quranic mark
            "\u{064E}", "\u{0651}", "\u{0670}", "\u{0640}", "\u{06D6}",
            // Latin combining marks, enclosing keycap, VS16
            "\u{0301}", "\u{0301}\u{0308}", "\u{20E3}", "\u{FE0F}",
            // bidi marks, embeddings, overrides, isolates, ALM, BOM, ZWSP
            "\u{200E}", "\u{200F}", "\u{202B}", "\u{202E}", "\u{202C}", "\u{2067}",
            "\u{2069}", "\u{061C}", "\u{FEFF}", "\u{200B}",
            // joiners and emoji sequences
            "\u{200C}", "\u{200D}", "👨\u{200D}👩\u{200D}👧", "👍🏽", "🇹🇳", "❤\u{FE0F}",
            // line ends and controls
            "\r\n", "\r", "\n", "\u{0000}", "\u{2028}", "\u{2029}", "\u{0085}",
            // replacement char and text that looks like an unpaired surrogate
            "\u{FFFD}", "\\uD800", "\u{FFFF}",
        ])
        .prop_map(String::from),
        2 => prop::sample::select(vec![
            " ", "  ", ". ", "؟ ", "! ", "… ", "، ", "«", "»", "\"", ". \u{200F}", "\t",
        ])
        .prop_map(String::from),
    ]
}

fn hostile_text() -> impl Strategy<Value = String> {
    prop::collection::vec(piece(), 0..80).prop_map(|p| p.concat())
}

/// Only white space and invisible format chars, as the segmenter trims.
fn is_space(c: char) -> bool {
    is_blank(c.encode_utf8(&mut [0; 4]))
}

/// The code points of `text` in `chars`, as a client slicing a Python string
/// with the returned offsets would see them.
fn by_chars(text: &str, chars: Range<usize>) -> String {
    text.chars().skip(chars.start).take(chars.len()).collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Sentences are in order, disjoint, non-empty, on char boundaries,
    /// trimmed and within the cap, and only space lies outside them.
    #[test]
    fn sentences_cover_all_visible_text(text in hostile_text(), max in prop_oneof![Just(0usize), 1usize..40, Just(1000)]) {
        let ranges = Segmenter { max_sentence_chars: max }.sentences(&text);
        let mut covered = 0;
        for r in &ranges {
            prop_assert!(r.start < r.end, "empty {:?}", r);
            prop_assert!(covered <= r.start, "overlap {:?}", r);
            prop_assert!(text.is_char_boundary(r.start) && text.is_char_boundary(r.end));
            prop_assert!(text[covered..r.start].chars().all(is_space), "lost text before {:?}", r);
            let s = &text[r.clone()];
            prop_assert!(!s.starts_with(is_space) && !s.ends_with(is_space), "untrimmed {:?}", s);
            if max > 0 {
                prop_assert!(s.chars().count() <= max);
            }
            covered = r.end;
        }
        prop_assert!(text[covered..].chars().all(is_space), "lost text at the end");
        prop_assert_eq!(ranges.is_empty(), is_blank(&text));
    }

    /// Byte → code-point conversion round-trips: the k-th char boundary maps
    /// to k, and a byte range converted to code points selects the same text.
    #[test]
    fn char_and_byte_offsets_round_trip(text in hostile_text()) {
        let offsets = CharOffsets::new(&text);
        prop_assert_eq!(offsets.char_len(), text.chars().count());
        for (k, (byte, c)) in text.char_indices().enumerate() {
            prop_assert_eq!(offsets.to_char(byte), k);
            prop_assert_eq!(offsets.to_char(byte + c.len_utf8()), k + 1);
        }
        for r in Segmenter::default().sentences(&text).into_iter().chain(words(&text)) {
            let chars = offsets.to_char_range(r.clone());
            prop_assert_eq!(by_chars(&text, chars), &text[r]);
        }
    }

    /// The normalized → original map is monotonic, in bounds and on char
    /// boundaries, and each kept char maps back to itself.
    #[test]
    fn normalized_map_is_monotonic_and_in_bounds(text in hostile_text(), a in 0usize..600, b in 0usize..600) {
        let n = Normalized::new(&text);
        prop_assert_eq!(&n.text, &strip(&text).into_owned());
        let mut last = 0;
        for (i, c) in n.text.char_indices() {
            let at = n.to_original(i..i);
            prop_assert!(at.start >= last, "not monotonic at {}", i);
            let span = n.to_original(i..i + c.len_utf8());
            prop_assert_eq!(span.start, at.start);
            prop_assert_eq!(&text[span.clone()], c.to_string());
            last = span.end;
        }
        for r in [a..b, b..a, 0..n.text.len()] {
            let o = n.to_original(r);
            prop_assert!(o.start <= o.end && o.end <= text.len());
            prop_assert!(text.is_char_boundary(o.start) && text.is_char_boundary(o.end));
        }
    }

    /// Word spans slice to their words: on the original text, and through the
    /// normalized text back to a span of the original that normalizes to the
    /// same word. A sentence's own words are the text's words inside it.
    #[test]
    fn word_spans_slice_to_their_words(text in hostile_text()) {
        let all = words(&text);
        for r in &all {
            let w = &text[r.clone()];
            prop_assert!(!w.is_empty() && !w.starts_with(is_space) && !w.ends_with(is_space));
        }
        let n = Normalized::new(&text);
        for r in words(&n.text) {
            let o = n.to_original(r.clone());
            prop_assert_eq!(strip(&text[o]).into_owned(), &n.text[r]);
        }
        let uncapped = Segmenter { max_sentence_chars: 0 };
        for s in uncapped.sentences(&text) {
            let local: Vec<Range<usize>> = words(&text[s.clone()])
                .into_iter()
                .map(|w| w.start + s.start..w.end + s.start)
                .collect();
            let global: Vec<Range<usize>> = all
                .iter()
                .filter(|w| w.start >= s.start && w.end <= s.end)
                .cloned()
                .collect();
            prop_assert_eq!(local, global, "sentence {:?}", &text[s]);
        }
    }
}
