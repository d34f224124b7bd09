//! Removal-only normalization and offset conversion on arbitrary text: the
//! map back to the original stays in bounds, on char boundaries and
//! monotonic, every kept char and every word maps back to itself, and
//! byte → code-point offsets agree with a plain count.
#![no_main]

use khulasa::text::{strip, words, CharOffsets, Normalized};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // Two trailing bytes pick an arbitrary range; the rest is the text.
    let (text, a, b) = match data {
        [text @ .., a, b] => (
            String::from_utf8_lossy(text),
            usize::from(*a),
            usize::from(*b),
        ),
        _ => return,
    };
    let original = text.as_ref();
    let n = Normalized::new(original);
    assert_eq!(
        n.text,
        strip(original),
        "normalized text is the stripped text"
    );

    // Any range, even off boundaries or reversed, maps in bounds.
    let check = |r: std::ops::Range<usize>| {
        let o = n.to_original(r.clone());
        assert!(
            o.start <= o.end && o.end <= original.len(),
            "{r:?} -> {o:?}"
        );
        assert!(original.is_char_boundary(o.start) && original.is_char_boundary(o.end));
        o
    };
    check(a..b);
    check(b..a);

    // Monotonic: empty ranges at increasing boundaries map to increasing
    // offsets, and each kept char maps back to exactly itself.
    let mut last = 0;
    for (i, c) in n.text.char_indices() {
        let at = check(i..i).start;
        assert!(at >= last, "not monotonic at {i}");
        let o = check(i..i + c.len_utf8());
        assert_eq!(
            o.start, at,
            "char {i} does not start where its empty range does"
        );
        assert_eq!(
            &original[o.clone()],
            c.encode_utf8(&mut [0; 4]),
            "char at {i}"
        );
        last = o.end;
    }
    assert!(check(n.text.len()..n.text.len()).start >= last);

    // Words found in the normalized text map to spans that normalize back.
    for w in words(&n.text) {
        let o = check(w.clone());
        assert_eq!(strip(&original[o]), &n.text[w]);
    }
    let all = check(0..n.text.len());
    assert_eq!(strip(&original[all]), n.text);

    // Byte → code-point offsets: the k-th char boundary maps to k, and a byte
    // inside a char maps to that char.
    let offsets = CharOffsets::new(original);
    assert_eq!(offsets.char_len(), original.chars().count());
    for (k, (i, c)) in original.char_indices().enumerate() {
        assert_eq!(offsets.to_char(i), k, "byte {i}");
        for inner in i + 1..i + c.len_utf8() {
            assert_eq!(offsets.to_char(inner), k, "inside char at {i}");
        }
    }
    assert_eq!(offsets.to_char(original.len() + a), offsets.char_len());
});
