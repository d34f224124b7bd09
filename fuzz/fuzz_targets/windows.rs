//! Window planning: windows are in order, cover every word, overlap without
//! gaps, stay within the piece budget (a lone oversize word excepted), and
//! every word is read from exactly one window that contains it, the one
//! where it has the most context; planned within segments, no window crosses
//! a segment's start and every word is still read from a window holding it.
#![no_main]

use khulasa::models::windows::{owners, plan, plan_within};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&b, counts)) = data.split_first() else {
        return;
    };
    // The real budget is the model's max tokens minus 2 (510); small budgets
    // reach the edge cases. Piece counts may be 0 or exceed the budget.
    let budget = if b == 255 { 510 } else { usize::from(b % 64) };
    let counts: Vec<usize> = counts.iter().map(|&c| usize::from(c % 80)).collect();
    let n = counts.len();
    let windows = plan(&counts, budget);

    assert_eq!(windows.is_empty(), n == 0);
    let mut prev: Option<&std::ops::Range<usize>> = None;
    for w in &windows {
        assert!(w.start < w.end && w.end <= n, "{w:?}");
        let pieces: usize = counts[w.clone()].iter().sum();
        assert!(
            pieces <= budget.max(1) || w.len() == 1,
            "{w:?} holds {pieces}"
        );
        match prev {
            None => assert_eq!(w.start, 0),
            Some(p) => {
                assert!(p.start < w.start && p.end < w.end, "{p:?} then {w:?}");
                assert!(w.start <= p.end, "gap between {p:?} and {w:?}");
            }
        }
        prev = Some(w);
    }
    assert_eq!(prev.map_or(0, |w| w.end), n);

    let own = owners(&windows, n);
    assert_eq!(own.len(), n);
    let margin = |w: &std::ops::Range<usize>, i: usize| (i - w.start).min(w.end - 1 - i);
    for (i, &o) in own.iter().enumerate() {
        let w = &windows[o];
        assert!(w.contains(&i), "word {i} owned by {w:?}");
        let best = windows
            .iter()
            .filter(|w| w.contains(&i))
            .map(|w| margin(w, i))
            .max();
        assert_eq!(
            Some(margin(w, i)),
            best,
            "word {i} not read where it has most context"
        );
    }

    // Within segments (here: a segment starts at each word whose piece count
    // is a multiple of 7): the plain plan of each segment, shifted, so
    // no window crosses a segment's start and every word is still owned by
    // a window that holds it.
    let starts: Vec<usize> = counts
        .iter()
        .enumerate()
        .filter(|&(_, &c)| c % 7 == 0)
        .map(|(i, _)| i)
        .collect();
    let within = plan_within(&counts, &starts, budget);
    assert_eq!(within.is_empty(), n == 0);
    let mut edges: Vec<usize> = starts.iter().copied().chain([0]).collect();
    edges.sort_unstable();
    edges.dedup();
    for w in &within {
        assert!(w.start < w.end && w.end <= n, "{w:?}");
        assert!(
            !edges.iter().any(|&e| w.start < e && e < w.end),
            "{w:?} crosses a segment start in {edges:?}"
        );
    }
    let own = owners(&within, n);
    for (i, &o) in own.iter().enumerate() {
        assert!(within[o].contains(&i), "word {i} owned by {:?}", within[o]);
    }
});
