//! IOB2 decoding: label parsing never panics, Viterbi returns the best valid
//! IOB2 path (checked against brute force on short inputs), and chunks cover
//! exactly the non-O words, in order, without overlap.
#![no_main]

#[path = "../../tests/common/iob2_oracle.rs"]
mod iob2_oracle;

use iob2_oracle::{brute_force_best, path_score, valid, LABELS};
use khulasa::models::token_classifier::Transitions;
use khulasa::tasks::entities::{chunks, viterbi, LabelScheme, Tag};
use libfuzzer_sys::fuzz_target;

/// Reads bytes in order, yielding 0 once they run out.
struct Bytes<'a>(std::slice::Iter<'a, u8>);

impl Bytes<'_> {
    fn next(&mut self) -> u8 {
        self.0.next().copied().unwrap_or(0)
    }
    /// A finite score in [-32, 0): log-probability sized.
    fn score(&mut self) -> f32 {
        -f32::from(self.next()) / 8.0 - 0.01
    }
}

fuzz_target!(|data: &[u8]| {
    let mut bytes = Bytes(data.iter());
    let n_labels = usize::from(bytes.next() % 7) + 1;
    // Always include O so that a valid path exists; pick the rest freely.
    let mut labels = vec!["O"];
    for _ in 1..n_labels {
        labels.push(LABELS[usize::from(bytes.next()) % LABELS.len()]);
    }
    let scheme = LabelScheme::parse(&labels);
    assert_eq!(scheme.tags().len(), n_labels);
    let n_words = usize::from(bytes.next() % 24);
    let lp: Vec<Vec<f32>> = (0..n_words)
        .map(|_| (0..n_labels).map(|_| bytes.score()).collect())
        .collect();
    let transitions = (bytes.next() % 2 == 1).then(|| Transitions {
        scores: (0..n_labels)
            .map(|_| (0..n_labels).map(|_| bytes.score() + 16.0).collect())
            .collect(),
        start: (bytes.next() % 2 == 1).then(|| (0..n_labels).map(|_| bytes.score()).collect()),
    });

    let path = viterbi(&lp, &scheme, transitions.as_ref());
    assert_eq!(path.len(), n_words);
    assert!(path.iter().all(|&l| l < n_labels));
    let tags: Vec<Tag> = path.iter().map(|&l| scheme.tags()[l]).collect();
    assert!(valid(&tags), "invalid IOB2 path {tags:?}");

    // Optimal among valid paths (brute force while it stays small).
    if n_labels
        .checked_pow(n_words as u32)
        .is_some_and(|n| n <= 4096)
    {
        let got = path_score(&path, &lp, transitions.as_ref());
        let best = brute_force_best(&lp, &scheme, transitions.as_ref());
        assert!(
            got >= best - 1e-3 * best.abs().max(1.0),
            "viterbi {got} < best {best}"
        );
    }

    // Chunks: in order, disjoint, non-empty, exactly the non-O words, each
    // opened by B-X or by an I-X that does not continue X, and typed by it.
    let found = chunks(&tags);
    let mut covered = vec![false; n_words];
    let mut prev_end = 0;
    for (r, t) in &found {
        assert!(
            r.start < r.end && prev_end <= r.start && r.end <= n_words,
            "{r:?}"
        );
        assert!(*t < scheme.types().len());
        for (i, tag) in tags[r.clone()].iter().enumerate() {
            match (i, tag) {
                (0, Tag::Begin(x) | Tag::Inside(x)) => assert_eq!(x, t),
                (_, Tag::Inside(x)) => assert_eq!(x, t),
                _ => panic!("chunk {r:?} holds {tag:?}"),
            }
            covered[r.start + i] = true;
        }
        prev_end = r.end;
    }
    for (i, tag) in tags.iter().enumerate() {
        assert_eq!(covered[i], *tag != Tag::Outside, "word {i} {tag:?}");
    }
    // Raw tags (not from Viterbi) obey the same cover rule.
    let raw: Vec<Tag> = (0..n_words)
        .map(|_| scheme.tags()[usize::from(bytes.next()) % n_labels])
        .collect();
    let covered: usize = chunks(&raw).iter().map(|(r, _)| r.len()).sum();
    assert_eq!(covered, raw.iter().filter(|&&t| t != Tag::Outside).count());
});
