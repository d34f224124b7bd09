//! Splitting a long word sequence into overlapping model windows.
//!
//! Windows are cut at word boundaries, so no word is ever split, and may be
//! kept inside segments such as sentences; each word is then read from the
//! window where it sits farthest from an edge, which gives it the most
//! context and means no entity is cut or counted twice.

use std::ops::Range;

/// Plans windows over words with `piece_counts[i]` pieces each so that no
/// window holds more than `budget` pieces (a single word larger than the
/// budget gets a window of its own). Consecutive windows overlap by about
/// a quarter of the budget: every word still has an eighth of a window of
/// context on its near side, and a long article costs about a third fewer
/// tokens than with half overlap, for the same entities (BENCHMARKS.md).
pub fn plan(piece_counts: &[usize], budget: usize) -> Vec<Range<usize>> {
    let n = piece_counts.len();
    let budget = budget.max(1);
    let mut windows = Vec::new();
    let mut start = 0;
    while start < n {
        let mut end = start;
        let mut pieces = 0;
        while end < n && pieces + piece_counts[end] <= budget {
            pieces += piece_counts[end];
            end += 1;
        }
        if end == start {
            end = start + 1;
            pieces = piece_counts[start];
        }
        windows.push(start..end);
        if end == n {
            break;
        }
        // Next window starts at the smallest s' > start whose overlap with
        // this window holds at most a quarter of the budget and still leaves room
        // for word `end`, so every window reaches past the previous one
        // (otherwise a big next word yields windows that add nothing).
        let mut next = start + 1;
        pieces -= piece_counts[start];
        while next < end && (pieces > budget / 4 || pieces + piece_counts[end] > budget) {
            pieces -= piece_counts[next];
            next += 1;
        }
        start = next;
    }
    windows
}

/// [`plan`] within each segment of the words (e.g. sentences), so that no
/// window crosses a segment's edge: segment `k` runs from word
/// `segment_starts[k]` to the next start. The starts may come in any order
/// and repeat; word 0 always starts a segment, and starts past the last word
/// are ignored.
pub fn plan_within(
    piece_counts: &[usize],
    segment_starts: &[usize],
    budget: usize,
) -> Vec<Range<usize>> {
    let n = piece_counts.len();
    let mut starts: Vec<usize> = segment_starts.iter().copied().filter(|&s| s < n).collect();
    starts.push(0);
    starts.sort_unstable();
    starts.dedup();
    let ends = starts.iter().skip(1).copied().chain([n]);
    starts
        .iter()
        .zip(ends)
        .filter(|&(&start, end)| start < end)
        .flat_map(|(&start, end)| {
            plan(&piece_counts[start..end], budget)
                .into_iter()
                .map(move |w| w.start + start..w.end + start)
        })
        .collect()
}

/// For each of `n_words` words, the index of the window it is read from: the
/// one where `min(i - start, end - 1 - i)` is largest, the earlier on ties.
pub fn owners(windows: &[Range<usize>], n_words: usize) -> Vec<usize> {
    let mut owner = vec![0; n_words];
    let mut best: Vec<Option<usize>> = vec![None; n_words];
    for (w, range) in windows.iter().enumerate() {
        for i in range.clone() {
            let margin = (i - range.start).min(range.end - 1 - i);
            if best[i].is_none_or(|b| margin > b) {
                best[i] = Some(margin);
                owner[i] = w;
            }
        }
    }
    owner
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn everything_fits_in_one_window() {
        assert_eq!(plan(&[1, 2, 3], 10), vec![0..3]);
        assert_eq!(plan(&[], 10), Vec::<Range<usize>>::new());
    }

    #[test]
    fn windows_cover_all_words_with_a_quarter_overlap() {
        let counts = vec![1; 10];
        let w = plan(&counts, 4);
        assert_eq!(w, vec![0..4, 3..7, 6..10]);
        let w = plan(&[1; 20], 8);
        assert_eq!(w, vec![0..8, 6..14, 12..20]);
        for r in &w {
            assert!(r.len() <= 8);
        }
    }

    #[test]
    fn oversized_word_gets_its_own_window() {
        let w = plan(&[2, 9, 2], 4);
        assert_eq!(w.first(), Some(&(0..1)));
        assert!(w.contains(&(1..2)));
        assert_eq!(w.last().map(|r| r.end), Some(3));
    }

    #[test]
    fn every_window_reaches_past_the_previous_one() {
        // Found by fuzzing: a word too big for the overlap used to produce
        // windows inside the previous one ([0..2, 1..2, 2..3] here).
        assert_eq!(plan(&[2, 2, 4], 4), vec![0..2, 2..3]);
        let w = plan(&[1, 1, 1, 1, 1, 1, 9], 6);
        assert_eq!(w, vec![0..6, 6..7]);
        for pair in w.windows(2) {
            assert!(pair[0].end < pair[1].end && pair[1].start <= pair[0].end);
        }
    }

    #[test]
    fn windows_stay_inside_their_segment() {
        // Segments 0..3 and 3..10; a budget of 4 pieces.
        let w = plan_within(&[1; 10], &[3], 4);
        assert_eq!(w, vec![0..3, 3..7, 6..10]);
        // Unordered, repeated and out-of-range starts; 0 is implied.
        assert_eq!(
            plan_within(&[1; 10], &[9, 3, 3, 42], 4),
            vec![0..3, 3..7, 6..9, 9..10]
        );
        // No segments but the whole: the plain plan.
        assert_eq!(plan_within(&[1; 10], &[], 4), plan(&[1; 10], 4));
        assert!(plan_within(&[], &[0, 5], 4).is_empty());
        // Every word in exactly the windows of its segment, and owned by one.
        let w = plan_within(&[2, 1, 3, 1, 1, 2, 2, 1], &[2, 5], 3);
        let owners = owners(&w, 8);
        for (i, &o) in owners.iter().enumerate() {
            assert!(w[o].contains(&i));
        }
        for r in &w {
            let segment = |i: usize| [0, 2, 5].iter().rposition(|&s| s <= i);
            assert_eq!(
                segment(r.start),
                segment(r.end - 1),
                "{r:?} crosses a segment edge"
            );
        }
    }

    #[test]
    fn each_word_is_read_where_it_has_most_context() {
        let windows = vec![0..4, 2..6, 4..8, 6..10];
        let o = owners(&windows, 10);
        // Word 3: margin 0 in window 0, 1 in window 1 → window 1.
        assert_eq!(o[3], 1);
        // Word 0 only appears in window 0; word 9 only in the last.
        assert_eq!(o[0], 0);
        assert_eq!(o[9], 3);
        // Every word is owned by a window that contains it.
        for (i, &w) in o.iter().enumerate() {
            assert!(windows[w].contains(&i));
        }
    }
}
