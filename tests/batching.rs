//! Dynamic batching must not change answers: concurrent requests get the
//! same summaries and entities from a server that batches them as from one
//! that runs each request on its own.

mod common;

use common::{request, tasks, Server};
use futures::future::join_all;
use khulasa::proto::{AnalyzeRequest, AnalyzeResponse, Task};

/// Articles of varied length, built from the test data: short ones, whole
/// ones and long concatenations that need several NER windows, and one with
/// a 3,000-letter "word", whose character n-gram bag is the widest a word can
/// have, so the windows it shares a call with are padded to it.
fn articles() -> Vec<String> {
    let culture = include_str!("data/culture_ar.txt").trim();
    let economy = include_str!("data/economy_ar.txt").trim();
    let long_word = "بيتهوفن".repeat(430);
    let mut out = vec![
        culture.to_string(),
        economy.to_string(),
        format!("{economy}\n\n{culture}"),
        format!("{culture}\n\n{economy}\n\n{culture}\n\n{economy}"),
        [economy; 6].join("\n\n"),
        format!("{culture} {long_word}"),
    ];
    for text in [culture, economy] {
        for paragraph in text
            .split('\n')
            .filter(|p| p.split_whitespace().count() > 8)
        {
            out.push(paragraph.to_string());
        }
    }
    out
}

/// What must match: summary sentence spans, entity labels and spans, and
/// the entities' scores to the bit (a window's numbers must not depend on
/// the windows it shares a call with).
type Answer = (Vec<(u32, u32)>, Vec<(String, u32, u32, u32)>);

fn answer(resp: AnalyzeResponse) -> Answer {
    let summary = resp
        .summary
        .map(|s| s.sentences.iter().map(|sp| (sp.start, sp.end)).collect())
        .unwrap_or_default();
    let entities = resp
        .entities
        .into_iter()
        .map(|e| (e.label, e.start, e.end, e.score.to_bits()))
        .collect();
    (summary, entities)
}

async fn answers(server: &Server, texts: &[String]) -> Vec<Answer> {
    let calls = texts.iter().enumerate().map(|(i, text)| async move {
        let mut client = server.client().await;
        let req = AnalyzeRequest {
            tasks: tasks(&[Task::Summary, Task::Entities]),
            ..request(&format!("a{i}"), text)
        };
        answer(client.analyze(req).await.expect("analyze").into_inner())
    });
    join_all(calls).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn batched_answers_equal_unbatched_answers() {
    let texts = articles();
    assert!(texts.len() >= 8);
    let common = ["--max-concurrent", "16", "--max-queue", "64"];
    let batched = Server::start_serving(
        &[&common[..], &["--batching", "on", "--batch-wait-ms", "20"]].concat(),
    )
    .await;
    let got_batched = answers(&batched, &texts).await;
    let log = batched.log().join("\n");
    drop(batched);

    let alone = Server::start_serving(&[&common[..], &["--batching", "off"]].concat()).await;
    let got_alone = answers(&alone, &texts).await;

    assert!(log.contains("batching=true"), "batching was on: {log}");
    for (i, (b, a)) in got_batched.iter().zip(&got_alone).enumerate() {
        assert!(!a.0.is_empty(), "article {i} has a summary");
        assert_eq!(b, a, "article {i}: batched vs unbatched");
    }
    assert!(
        got_alone.iter().any(|a| !a.1.is_empty()),
        "the articles have entities"
    );
}
