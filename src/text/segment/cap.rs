//! Bounding sentence length.
//!
//! Models have a fixed input window and scraped articles sometimes arrive as
//! one unpunctuated block, so an over-long sentence is cut into pieces of at
//! most `max` code points: at the last space that fits, or hard at the limit
//! when there is none.

use std::ops::Range;

use crate::text::chars::{is_joiner, is_mark, is_space, trim};

/// How far a hard cut may back off to keep a base char with its marks.
const MAX_MARK_BACKOFF: usize = 16;

/// `sentences` (trimmed, non-empty) with every one longer than `max` code
/// points cut into trimmed, non-empty pieces of at most `max`. `max == 0`
/// means no limit.
pub(super) fn cap(text: &str, sentences: Vec<Range<usize>>, max: usize) -> Vec<Range<usize>> {
    if max == 0 {
        return sentences;
    }
    let mut out = Vec::with_capacity(sentences.len());
    for sentence in sentences {
        cut(text, sentence, max, &mut out);
    }
    out
}

/// Pushes the pieces of one trimmed sentence. Each round walks at most
/// `max + 1` chars and, over two rounds, consumes about `max`, so the whole
/// pass stays linear.
fn cut(text: &str, sentence: Range<usize>, max: usize, out: &mut Vec<Range<usize>>) {
    let mut rest = sentence;
    while !rest.is_empty() {
        let Some(limit) = nth_char_start(&text[rest.clone()], max).map(|i| rest.start + i) else {
            out.push(rest);
            return;
        };
        let at = last_space_before(&text[rest.start..limit])
            .map(|i| rest.start + i)
            .unwrap_or_else(|| keep_marks(text, rest.start, limit));
        let head = trim(text, rest.start..at);
        if !head.is_empty() {
            out.push(head);
        }
        rest = trim(text, at..rest.end);
    }
}

/// Byte offset of the char with index `n`, if `s` has more than `n` chars.
fn nth_char_start(s: &str, n: usize) -> Option<usize> {
    s.char_indices().nth(n).map(|(i, _)| i)
}

/// Offset of the last space in `s`, unless it is the first char (`s` starts
/// trimmed, so a space anywhere else follows some text).
fn last_space_before(s: &str) -> Option<usize> {
    s.char_indices()
        .rev()
        .find(|&(_, c)| is_space(c))
        .map(|(i, _)| i)
        .filter(|&i| i > 0)
}

/// A hard cut at `limit`, moved back (a little) so it does not separate
/// combining marks or joiners from their base char.
fn keep_marks(text: &str, start: usize, limit: usize) -> usize {
    let attached = |at: usize| {
        text[at..]
            .chars()
            .next()
            .is_some_and(|c| is_mark(c) || is_joiner(c))
    };
    let mut at = limit;
    for (i, _) in text[start..limit]
        .char_indices()
        .rev()
        .take(MAX_MARK_BACKOFF)
    {
        if !attached(at) {
            return at;
        }
        at = start + i;
    }
    if at > start && !attached(at) {
        at
    } else {
        limit
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pieces(text: &str, max: usize) -> Vec<&str> {
        let whole = trim(text, 0..text.len());
        cap(text, vec![whole], max)
            .into_iter()
            .map(|r| &text[r])
            .collect()
    }

    #[test]
    fn short_sentences_untouched() {
        assert_eq!(pieces("قال الرئيس.", 1000), ["قال الرئيس."]);
        assert_eq!(pieces("abc", 3), ["abc"]);
        assert_eq!(pieces("abcd", 0), ["abcd"]);
    }

    #[test]
    fn cuts_at_last_space() {
        assert_eq!(pieces("aaa bbb ccc ddd", 8), ["aaa bbb", "ccc ddd"]);
        assert_eq!(
            pieces("قال الرئيس إن الحكومة", 12),
            ["قال الرئيس", "إن الحكومة"]
        );
    }

    #[test]
    fn cuts_hard_without_space() {
        assert_eq!(pieces("abcdefgh", 3), ["abc", "def", "gh"]);
        assert_eq!(pieces("ab cdefghij", 4), ["ab", "cdef", "ghij"]);
        assert_eq!(pieces("😀😀😀", 2), ["😀😀", "😀"]);
    }

    #[test]
    fn hard_cut_keeps_marks_with_their_letter() {
        // مُحَمَّد: a cut after 3 chars would split حَ from its fatha.
        assert_eq!(pieces("مُحَمَّد", 3), ["مُ", "حَ", "مَّ", "د"]);
        // Only marks: nothing to keep together, cut hard.
        let marks = "\u{0301}".repeat(10);
        assert_eq!(pieces(&marks, 4).len(), 3);
    }

    #[test]
    fn wide_spaces_are_trimmed() {
        let text = format!("a{}b", " ".repeat(50));
        assert_eq!(pieces(&text, 10), ["a", "b"]);
    }

    #[test]
    fn one_char_limit() {
        assert_eq!(pieces("a b\u{0301}c", 1), ["a", "b", "\u{0301}", "c"]);
    }
}
