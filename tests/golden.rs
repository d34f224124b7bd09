//! Golden outputs: the server's entities and summary picks for the articles
//! of tests/data, compared to what the Python reference pipelines compute
//! from the same model files (tests/data/golden/*.json, written by
//! `make golden`, i.e. models/tools/golden.py).
//!
//! Entity spans and labels must match exactly and entity scores within
//! [`ENTITY_SCORE_TOLERANCE`]; the summary must pick the
//! same sentence indices (k = 1 and k = 3), with the same sentence spans, and
//! report each picked sentence's score within [`SCORE_TOLERANCE`]. This pins
//! the Rust word splitting, piece pooling, window stitching and Viterbi, the
//! segmenter, the e5 embedding path, the scorer's features and MMR to the
//! reference, which `make test` checks against the manifests' dev scores.

mod common;

use std::path::{Path, PathBuf};

use common::{repo_root, shared_server, tasks};
use khulasa::proto::{AnalyzeRequest, SummaryOptions, Task};
use serde_json::Value;

/// Scores are the learned scorer's outputs min-max scaled to [0, 1] per
/// article. The service and the reference run the same ONNX files through
/// different ONNX Runtime builds and batch the e5 sentences differently, so
/// they agree to float noise, not bit for bit: 5e-6 measured (the fixtures
/// round to 1e-5), against picks that change scores by 1e-2 and more.
const SCORE_TOLERANCE: f32 = 1e-3;

/// Entity scores: mean word-label probabilities, rounded to 1e-4 in the
/// fixtures; the server and the reference agree to that rounding.
const ENTITY_SCORE_TOLERANCE: f32 = 1e-3;

/// Models whose files are tracked in the repository: a fixture made from
/// another version of them is stale. (models/e5-small is built by `make
/// models`; its hash is recorded in the fixture for information only.)
const TRACKED_MODELS: &[&str] = &["ner-ar", "summarizer-ext"];

fn fixtures() -> Vec<PathBuf> {
    let dir = repo_root().join("tests/data/golden");
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("read tests/data/golden").path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    paths.sort();
    assert!(
        paths.len() >= 8,
        "expected the golden fixtures in {}",
        dir.display()
    );
    paths
}

fn load(path: &Path) -> Value {
    let body = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn u32_of(v: &Value) -> u32 {
    v.as_u64().expect("an unsigned integer") as u32
}

#[tokio::test]
async fn fixtures_were_made_from_the_served_models() {
    let server = shared_server().await;
    let info = server.info().await;
    for path in fixtures() {
        let golden = load(&path);
        for name in TRACKED_MODELS {
            let served = info
                .models
                .iter()
                .find(|m| m.name == *name)
                .unwrap_or_else(|| panic!("model {name} is not served: {:?}", info.models));
            assert_eq!(
                golden["models"][name].as_str(),
                Some(served.sha256.as_str()),
                "{}: made from another {name} than the server loads; run `make golden`",
                path.display()
            );
        }
    }
}

#[tokio::test]
async fn entities_match_the_reference_pipeline() {
    let server = shared_server().await;
    let mut client = server.client().await;
    let mut total = 0;
    for path in fixtures() {
        let golden = load(&path);
        let article = golden["article"].as_str().expect("article path");
        let text = std::fs::read_to_string(repo_root().join(article)).expect("article");
        let entities = golden["entities"].as_array().expect("entities");
        let expected: Vec<(String, u32, u32, String)> = entities
            .iter()
            .map(|e| {
                (
                    e["label"].as_str().unwrap().to_string(),
                    u32_of(&e["start"]),
                    u32_of(&e["end"]),
                    e["text"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        let resp = client
            .analyze(AnalyzeRequest {
                id: article.to_string(),
                text: text.clone(),
                tasks: tasks(&[Task::Entities]),
                ..Default::default()
            })
            .await
            .expect("analyze")
            .into_inner();
        let got: Vec<(String, u32, u32, String)> = resp
            .entities
            .iter()
            .map(|e| (e.label.clone(), e.start, e.end, e.text.clone()))
            .collect();
        assert_eq!(got, expected, "{article}: entities differ from {path:?}");
        // The scores (mean probability of the entity's word labels) pin the
        // pooled word logits even where the labels would survive a change.
        for (e, want) in resp.entities.iter().zip(entities) {
            let want = want["score"].as_f64().expect("score") as f32;
            assert!(
                (e.score - want).abs() <= ENTITY_SCORE_TOLERANCE,
                "{article}: {} {:?} scored {} (reference {want})",
                e.label,
                e.text,
                e.score
            );
        }
        total += expected.len();
    }
    assert!(total >= 20, "the fixtures hold only {total} entities");
}

#[tokio::test]
async fn summary_picks_match_the_reference_pipeline() {
    let server = shared_server().await;
    let mut client = server.client().await;
    let mut differing_from_lead = 0;
    let mut max_deviation = 0f32;
    for path in fixtures() {
        let golden = load(&path);
        let article = golden["article"].as_str().expect("article path");
        let text = std::fs::read_to_string(repo_root().join(article)).expect("article");
        let spans: Vec<(u32, u32)> = golden["sentences"]
            .as_array()
            .expect("sentences")
            .iter()
            .map(|s| (u32_of(&s[0]), u32_of(&s[1])))
            .collect();
        for k in [1u32, 3] {
            let want = &golden["summary"][format!("k{k}")];
            let want_indices: Vec<usize> = want["indices"]
                .as_array()
                .expect("indices")
                .iter()
                .map(|i| i.as_u64().unwrap() as usize)
                .collect();
            let want_scores: Vec<f32> = want["scores"]
                .as_array()
                .expect("scores")
                .iter()
                .map(|s| s.as_f64().unwrap() as f32)
                .collect();
            assert_eq!(want_indices.len(), (k as usize).min(spans.len()));
            let resp = client
                .analyze(AnalyzeRequest {
                    id: format!("{article} k={k}"),
                    text: text.clone(),
                    tasks: tasks(&[Task::Summary]),
                    summary: Some(SummaryOptions {
                        max_sentences: k,
                        ..Default::default()
                    }),
                    ..Default::default()
                })
                .await
                .expect("analyze")
                .into_inner();
            let summary = resp.summary.expect("a summary");
            let got_indices: Vec<usize> = summary
                .sentences
                .iter()
                .map(|s| {
                    spans
                        .iter()
                        .position(|&span| span == (s.start, s.end))
                        .unwrap_or_else(|| {
                            panic!(
                                "{article}: served sentence {}..{} is none of the reference \
                                 sentences {spans:?}",
                                s.start, s.end
                            )
                        })
                })
                .collect();
            assert_eq!(
                got_indices, want_indices,
                "{article} k={k}: picked sentences differ from {path:?}"
            );
            for (s, want) in summary.sentences.iter().zip(&want_scores) {
                max_deviation = max_deviation.max((s.score - want).abs());
                assert!(
                    (s.score - want).abs() <= SCORE_TOLERANCE,
                    "{article} k={k}: sentence {}..{} scored {} (reference {want})",
                    s.start,
                    s.end,
                    s.score
                );
            }
            if want_indices != (0..want_indices.len()).collect::<Vec<_>>() {
                differing_from_lead += 1;
            }
        }
    }
    eprintln!("largest score deviation from the reference: {max_deviation}");
    // Not a lead baseline in disguise: some pick must leave the lead. (The
    // scorer follows the lead on most short news articles, as the annotators
    // of human summaries do; it leaves it on about a quarter of longer ones.)
    assert!(differing_from_lead >= 1, "{differing_from_lead}");
}
