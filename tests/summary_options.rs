//! Summary options through the service, on the real models: a headline is
//! never repeated as a summary sentence, and `max_chars` alone fills the
//! budget with whole sentences.

mod common;

use common::{request, shared_server, tasks};
use khulasa::proto::{AnalyzeRequest, SummaryOptions, Task};

const ECONOMY: &str = include_str!("data/economy_ar.txt");

async fn summary_spans(req: AnalyzeRequest) -> Vec<(usize, usize)> {
    let server = shared_server().await;
    let mut client = server.client().await;
    let resp = client.analyze(req).await.expect("analyze").into_inner();
    resp.summary
        .expect("summary")
        .sentences
        .iter()
        .map(|s| (s.byte_start as usize, s.byte_end as usize))
        .collect()
}

fn summary_request(summary: SummaryOptions) -> AnalyzeRequest {
    AnalyzeRequest {
        tasks: tasks(&[Task::Summary]),
        summary: Some(summary),
        ..request("summary", ECONOMY)
    }
}

#[tokio::test]
async fn the_title_is_never_repeated() {
    let one = SummaryOptions {
        max_sentences: 1,
        ..Default::default()
    };
    let untitled = summary_spans(summary_request(one)).await;
    assert_eq!(untitled.len(), 1);
    // The sentence it picks without a title becomes the title (as a
    // headline is written: no full stop, another hamza spelling).
    let (a, b) = untitled[0];
    let title = ECONOMY[a..b].trim_end_matches('.').replace('أ', "ا");
    let titled = summary_spans(AnalyzeRequest {
        title: title.clone(),
        ..summary_request(one)
    })
    .await;
    assert_eq!(titled.len(), 1, "another sentence is picked instead");
    assert_ne!(titled[0], untitled[0], "title {title:?} repeated");
}

#[tokio::test]
async fn max_chars_alone_takes_every_whole_sentence_that_fits() {
    let all = summary_spans(summary_request(SummaryOptions {
        ratio: 1.0,
        ..Default::default()
    }))
    .await;
    assert!(all.len() >= 8, "{all:?}");
    let chars = |(a, b): (usize, usize)| ECONOMY[a..b].chars().count();
    let limit = 300;
    let picked = summary_spans(summary_request(SummaryOptions {
        max_chars: limit as u32,
        ..Default::default()
    }))
    .await;
    assert!(!picked.is_empty());
    // Sentences are joined by one space.
    let used = picked.iter().map(|&s| chars(s)).sum::<usize>() + picked.len() - 1;
    assert!(used <= limit, "{used} > {limit}");
    for &s in all.iter().filter(|s| !picked.contains(s)) {
        assert!(
            used + 1 + chars(s) > limit,
            "{s:?} ({} chars) would still fit in {limit} after {used}",
            chars(s)
        );
    }
}
