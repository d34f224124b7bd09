//! Sentence segmentation and word splitting on arbitrary text: every range is
//! in order, non-empty, on char boundaries and trimmed; sentences respect the
//! cap and lose no visible char; words lose no letter, digit or symbol.
#![no_main]

use khulasa::text::{is_blank, words, Segmenter};
use libfuzzer_sys::fuzz_target;

/// White space plus the invisible format chars the segmenter trims; mirrors
/// the crate's private `chars::is_space` (kept in step by `is_blank`).
fn is_space(c: char) -> bool {
    is_blank(c.encode_utf8(&mut [0; 4]))
}

fuzz_target!(|data: &[u8]| {
    let Some((&knob, rest)) = data.split_first() else {
        return;
    };
    let text = String::from_utf8_lossy(rest);
    let text = text.as_ref();
    // 0 disables the cap; small caps exercise hard cuts, 1000 is the default.
    let max = match knob {
        0 => 0,
        255 => 1000,
        k => usize::from(k % 40),
    };
    let ranges = Segmenter {
        max_sentence_chars: max,
    }
    .sentences(text);

    let mut prev_end = 0;
    for r in &ranges {
        assert!(r.start < r.end, "empty sentence {r:?}");
        assert!(prev_end <= r.start, "overlap at {r:?}");
        assert!(r.end <= text.len(), "out of bounds {r:?}");
        assert!(text.is_char_boundary(r.start) && text.is_char_boundary(r.end));
        let s = &text[r.clone()];
        assert!(
            !s.starts_with(is_space) && !s.ends_with(is_space),
            "untrimmed {s:?}"
        );
        if max > 0 {
            assert!(s.chars().count() <= max, "over the cap: {s:?}");
        }
        prev_end = r.end;
    }
    assert_eq!(
        ranges.is_empty(),
        is_blank(text),
        "blank text iff no sentence"
    );
    // Only space may fall between sentences.
    let mut covered = 0;
    for r in &ranges {
        assert!(
            text[covered..r.start].chars().all(is_space),
            "lost text before {r:?}"
        );
        covered = r.end;
    }
    assert!(
        text[covered..].chars().all(is_space),
        "lost text at the end"
    );

    let word_ranges = words(text);
    let mut prev_end = 0;
    for r in &word_ranges {
        assert!(r.start < r.end && prev_end <= r.start && r.end <= text.len());
        assert!(text.is_char_boundary(r.start) && text.is_char_boundary(r.end));
        let w = &text[r.clone()];
        let edge = |c: char| is_space(c) || matches!(c, '\u{200C}' | '\u{200D}');
        assert!(
            !w.starts_with(edge) && !w.ends_with(edge),
            "untrimmed word {w:?}"
        );
        prev_end = r.end;
    }
    // Every alphanumeric char is inside some word.
    let mut ws = word_ranges.iter().peekable();
    for (i, c) in text.char_indices() {
        while ws.peek().is_some_and(|r| r.end <= i) {
            ws.next();
        }
        if c.is_alphanumeric() {
            assert!(
                ws.peek().is_some_and(|r| r.contains(&i)),
                "lost {c:?} at {i}"
            );
        }
    }
});
