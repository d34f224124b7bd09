//! Property test of IOB2 decoding (the same checks as the `entities` fuzz
//! target, so they run in every `cargo test`): Viterbi returns a valid IOB2
//! path whose score equals the best valid path's, found by brute force over
//! every path of short inputs, with and without learned transitions.

use khulasa::models::token_classifier::Transitions;
use khulasa::tasks::entities::{chunks, viterbi, LabelScheme, Tag};
use proptest::prelude::*;

/// The real ANERcorp label set plus odd ones the parser must survive.
const LABELS: [&str; 14] = [
    "O", "B-PER", "I-PER", "B-LOC", "I-LOC", "B-ORG", "I-ORG", "B-MISC", "I-MISC", "B-PERS",
    "I-PERS", "I-", "X-LOC", "B-",
];

fn valid(tags: &[Tag]) -> bool {
    let mut prev = Tag::Outside;
    for &t in tags {
        if let Tag::Inside(x) = t {
            if !matches!(prev, Tag::Begin(y) | Tag::Inside(y) if y == x) {
                return false;
            }
        }
        prev = t;
    }
    true
}

fn path_score(path: &[usize], lp: &[Vec<f32>], tr: Option<&Transitions>) -> f32 {
    let mut s = 0.0;
    for (i, &l) in path.iter().enumerate() {
        s += lp[i][l];
        if let Some(t) = tr {
            s += match i {
                0 => t.start.as_ref().map_or(0.0, |st| st[l]),
                _ => t.scores[path[i - 1]][l],
            };
        }
    }
    s
}

/// The best score over every valid path, by enumeration.
fn brute_force_best(lp: &[Vec<f32>], scheme: &LabelScheme, tr: Option<&Transitions>) -> f32 {
    let n_labels = scheme.tags().len();
    let mut best = f32::NEG_INFINITY;
    let mut p = vec![0; lp.len()];
    loop {
        let t: Vec<Tag> = p.iter().map(|&l| scheme.tags()[l]).collect();
        if valid(&t) {
            best = best.max(path_score(&p, lp, tr));
        }
        let Some(i) = p.iter().rposition(|&l| l + 1 < n_labels) else {
            return best;
        };
        p[i] += 1;
        p[i + 1..].fill(0);
    }
}

/// A label set (always with `O`, so a valid path exists), log-probabilities
/// for up to 6 words and optional transitions.
fn case() -> impl Strategy<Value = (Vec<&'static str>, Vec<Vec<f32>>, Option<Transitions>)> {
    (1usize..=5, 0usize..=6).prop_flat_map(|(n_labels, n_words)| {
        let labels = proptest::collection::vec(0..LABELS.len(), n_labels - 1).prop_map(|ix| {
            std::iter::once("O")
                .chain(ix.into_iter().map(|i| LABELS[i]))
                .collect::<Vec<_>>()
        });
        let score = -32.0f32..-0.01;
        let lp =
            proptest::collection::vec(proptest::collection::vec(score.clone(), n_labels), n_words);
        let square = proptest::collection::vec(
            proptest::collection::vec(-16.0f32..16.0, n_labels),
            n_labels,
        );
        let start = proptest::option::of(proptest::collection::vec(score, n_labels));
        let transitions = proptest::option::of(
            (square, start).prop_map(|(scores, start)| Transitions { scores, start }),
        );
        (labels, lp, transitions)
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn viterbi_finds_the_best_valid_iob2_path((labels, lp, transitions) in case()) {
        let scheme = LabelScheme::parse(&labels);
        let path = viterbi(&lp, &scheme, transitions.as_ref());
        prop_assert_eq!(path.len(), lp.len());
        prop_assert!(path.iter().all(|&l| l < labels.len()));
        let tags: Vec<Tag> = path.iter().map(|&l| scheme.tags()[l]).collect();
        prop_assert!(valid(&tags), "invalid IOB2 path {:?}", tags);
        let got = path_score(&path, &lp, transitions.as_ref());
        let best = brute_force_best(&lp, &scheme, transitions.as_ref());
        prop_assert!(
            got >= best - 1e-3 * best.abs().max(1.0),
            "viterbi {} < best {} for {:?}", got, best, labels
        );
        // Chunks cover exactly the words that are not O.
        let covered: usize = chunks(&tags).iter().map(|(r, _)| r.len()).sum();
        prop_assert_eq!(covered, tags.iter().filter(|&&t| t != Tag::Outside).count());
    }
}
