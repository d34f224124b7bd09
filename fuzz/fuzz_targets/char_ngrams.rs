//! Character n-grams of any string: never a panic on any UTF-8 (the n-grams
//! are cut at code points), and the buckets are sorted, distinct, below the
//! bucket count, and no more than the n-grams of the word as read (a word
//! over `MAX_WORD_CHARS` is read as its two halves, so its bag stays small).
#![no_main]

use std::num::NonZeroU32;

use khulasa::text::char_ngrams::{word_ngrams, MAX_WORD_CHARS};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&b, rest)) = data.split_first() else {
        return;
    };
    let Ok(word) = std::str::from_utf8(rest) else {
        return;
    };
    // Small bucket counts force collisions; 8192 is what the model uses.
    let buckets = NonZeroU32::new(if b == 255 {
        8192
    } else {
        u32::from(b % 16) + 1
    })
    .expect("positive");
    let (n_min, n_max) = (
        usize::from(b % 3) + 1,
        usize::from(b % 3) + 1 + usize::from(b / 64),
    );
    let ids = word_ngrams(word, buckets, n_min, n_max);
    assert!(ids.windows(2).all(|p| p[0] < p[1]), "{ids:?}");
    assert!(ids.iter().all(|&i| i < buckets.get()), "{ids:?}");
    let chars = word.chars().count().min(MAX_WORD_CHARS) + 2;
    let grams: usize = (n_min..=n_max)
        .filter(|&n| n <= chars)
        .map(|n| chars - n + 1)
        .sum();
    assert!(
        ids.len() <= grams,
        "{} buckets from {grams} n-grams",
        ids.len()
    );
    assert_eq!(ids.is_empty(), word.is_empty() || n_min > chars);
});
