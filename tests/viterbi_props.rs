//! Property test of IOB2 decoding (the same checks as the `entities` fuzz
//! target, so they run in every `cargo test`): Viterbi returns a valid IOB2
//! path whose score equals the best valid path's, found by brute force over
//! every path of short inputs, with and without learned transitions.

#[path = "common/iob2_oracle.rs"]
mod iob2_oracle;

use iob2_oracle::{brute_force_best, path_score, valid, LABELS};
use khulasa::models::token_classifier::Transitions;
use khulasa::tasks::entities::{chunks, viterbi, LabelScheme, Tag};
use proptest::prelude::*;

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
