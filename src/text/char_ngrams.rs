//! Hashed character n-grams of a word, the port of `word_ngrams` in
//! `models/ner/chars.py`. A model that reads them sees a name split into
//! many word pieces also as one string of letters. The buckets must match
//! the Python exactly (the model learned a vector per bucket), so
//! `tests/data/char_ngrams_golden.tsv`, written by
//! `models/ner/chars_golden.py`, pins the two together.

use std::{iter, num::NonZeroU32};

/// Marks the word's start and end, so that n-grams at an edge differ from
/// the same letters inside a word; never in a normalized word.
const BOW: char = '\u{2}';
const EOW: char = '\u{3}';

/// N-gram lengths, in code points, that the models are trained with.
pub const DEFAULT_MIN_N: usize = 2;
pub const DEFAULT_MAX_N: usize = 4;

/// A word longer than this, in code points, is read as its first and last
/// halves, as its word pieces are: its bag, and with it the model's n-gram
/// input, stays small however long a "word" a request holds. Every word the
/// models were trained on is shorter, so they read the bags they learned.
pub const MAX_WORD_CHARS: usize = 24;

/// The distinct bucket ids, sorted ascending, of the n-grams (`n_min..=n_max`
/// code points) of BOW + `word` + EOW, a word over [`MAX_WORD_CHARS`] cut to
/// its halves first: CRC-32 of each n-gram's UTF-8 (zlib's) modulo
/// `buckets`. Empty for an empty word.
pub fn word_ngrams(word: &str, buckets: NonZeroU32, n_min: usize, n_max: usize) -> Vec<u32> {
    if word.is_empty() {
        return Vec::new();
    }
    let marked = marked(word);
    // Byte offset of every code point, and the end: n-gram i..i+n is
    // marked[starts[i]..starts[i + n]].
    let starts: Vec<usize> = marked
        .char_indices()
        .map(|(i, _)| i)
        .chain([marked.len()])
        .collect();
    let chars = starts.len() - 1;
    let mut ids: Vec<u32> = (n_min..=n_max.min(chars))
        .flat_map(|n| (0..=chars - n).map(move |i| (i, i + n)))
        .map(|(from, to)| crc32fast::hash(&marked.as_bytes()[starts[from]..starts[to]]) % buckets)
        .collect();
    ids.sort_unstable();
    ids.dedup();
    ids
}

/// BOW + the word (or its first and last halves) + EOW.
fn marked(word: &str) -> String {
    let chars = word.chars().count();
    if chars <= MAX_WORD_CHARS {
        return format!("{BOW}{word}{EOW}");
    }
    let half = MAX_WORD_CHARS / 2;
    iter::once(BOW)
        .chain(word.chars().take(half))
        .chain(word.chars().skip(chars - half))
        .chain(iter::once(EOW))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn buckets(n: u32) -> NonZeroU32 {
        NonZeroU32::new(n).expect("positive")
    }

    fn model_ngrams(word: &str, n: u32) -> Vec<u32> {
        word_ngrams(word, buckets(n), DEFAULT_MIN_N, DEFAULT_MAX_N)
    }

    #[test]
    fn an_empty_word_has_no_ngrams() {
        assert!(model_ngrams("", 8192).is_empty());
    }

    #[test]
    fn a_one_letter_word_has_its_three_marked_grams() {
        // BOW+c, c+EOW, BOW+c+EOW: 2, 2 and 3 code points, no 4-gram.
        let hash = |s: &str| crc32fast::hash(s.as_bytes());
        let mut want: Vec<u32> = ["\u{2}و", "و\u{3}", "\u{2}و\u{3}"]
            .iter()
            .map(|g| hash(g))
            .collect();
        want.sort_unstable();
        assert_eq!(model_ngrams("و", u32::MAX), want);
        assert_eq!(model_ngrams("و", 1 << 31).len(), 3);
    }

    #[test]
    fn buckets_are_sorted_distinct_and_in_range() {
        // Two buckets: every n-gram lands in one of them.
        assert_eq!(model_ngrams("الرئيس", 2), vec![0, 1]);
        let ids = model_ngrams("بالولاياتالمتحدة", 64);
        assert!(ids.windows(2).all(|p| p[0] < p[1]), "{ids:?}");
        assert!(ids.iter().all(|&b| b < 64));
    }

    #[test]
    fn n_gram_lengths_are_parameters() {
        // Unigrams of BOW + ab + EOW: 4 distinct, under no collision.
        assert_eq!(word_ngrams("ab", buckets(u32::MAX), 1, 1).len(), 4);
        // Longer than the marked word: nothing.
        assert!(word_ngrams("ab", buckets(8192), 5, 9).is_empty());
    }

    #[test]
    fn a_long_word_is_read_as_its_halves() {
        let half = MAX_WORD_CHARS / 2;
        let long: String = (0..10_000)
            .map(|i| char::from_u32(0x0627 + i % 26).expect("an Arabic letter"))
            .collect();
        let halves: String = long
            .chars()
            .take(half)
            .chain(long.chars().skip(10_000 - half))
            .collect();
        let ids = model_ngrams(&long, u32::MAX);
        assert_eq!(ids, model_ngrams(&halves, u32::MAX));
        assert!(ids.len() <= 3 * (MAX_WORD_CHARS + 2) - 6, "{}", ids.len());
        // At the cap, the word is read whole.
        let at_cap: String = long.chars().take(MAX_WORD_CHARS).collect();
        let cut: String = at_cap.chars().take(MAX_WORD_CHARS - 1).collect();
        assert!(model_ngrams(&at_cap, u32::MAX).len() > model_ngrams(&cut, u32::MAX).len());
    }

    #[test]
    fn a_huge_max_n_stops_at_the_word() {
        let all = word_ngrams("كوناري", buckets(u32::MAX), 1, usize::MAX);
        assert_eq!(all, word_ngrams("كوناري", buckets(u32::MAX), 1, 8));
    }

    /// The Python twin's buckets (models/ner/chars_golden.py) on a sample of
    /// ANERcorp words and edge cases.
    #[test]
    fn agrees_with_the_python_buckets() {
        let golden = include_str!("../../tests/data/char_ngrams_golden.tsv");
        let mut rows = 0;
        for line in golden.lines().filter(|l| !l.starts_with('#')) {
            let Some((word, ids)) = line.split_once('\t') else {
                panic!("bad golden line {line:?}");
            };
            let want: Vec<u32> = ids
                .split(' ')
                .map(|b| b.parse().expect("a bucket id"))
                .collect();
            assert_eq!(model_ngrams(word, 8192), want, "{word}");
            rows += 1;
        }
        assert!(rows >= 290, "{rows} golden rows");
    }
}
