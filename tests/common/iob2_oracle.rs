//! Brute-force oracle for IOB2 decoding, shared by the Viterbi property test
//! (`tests/viterbi_props.rs`) and the `entities` fuzz target, which include
//! this file by path, so the two check Viterbi against the same definition
//! of a valid path and its score.

use khulasa::models::token_classifier::Transitions;
use khulasa::tasks::entities::{LabelScheme, Tag};

/// The real ANERcorp label set plus odd ones the parser must survive.
pub const LABELS: [&str; 14] = [
    "O", "B-PER", "I-PER", "B-LOC", "I-LOC", "B-ORG", "I-ORG", "B-MISC", "I-MISC", "B-PERS",
    "I-PERS", "I-", "X-LOC", "B-",
];

/// Whether every `I-X` continues a `B-X` or `I-X`.
pub fn valid(tags: &[Tag]) -> bool {
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

/// The score Viterbi maximizes: emissions plus, when given, the start and
/// transition scores.
pub fn path_score(path: &[usize], lp: &[Vec<f32>], tr: Option<&Transitions>) -> f32 {
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

/// The best score over every valid path, by enumeration (labels^words paths:
/// keep inputs small).
pub fn brute_force_best(lp: &[Vec<f32>], scheme: &LabelScheme, tr: Option<&Transitions>) -> f32 {
    let n_labels = scheme.tags().len();
    let mut best = f32::NEG_INFINITY;
    let mut p = vec![0; lp.len()];
    loop {
        let t: Vec<Tag> = p.iter().map(|&l| scheme.tags()[l]).collect();
        if valid(&t) {
            best = best.max(path_score(&p, lp, tr));
        }
        // Next path in lexicographic order.
        let Some(i) = p.iter().rposition(|&l| l + 1 < n_labels) else {
            return best;
        };
        p[i] += 1;
        p[i + 1..].fill(0);
    }
}
