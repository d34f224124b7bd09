//! Shutdown behaviour: SIGTERM drains in-flight work, then the server exits 0.

mod common;

use std::time::Duration;

use common::{request, Server};
use khulasa::proto::{AnalyzeRequest, SummaryOptions};

#[tokio::test]
async fn sigterm_drains_an_in_flight_request_then_exits_zero() {
    let server = Server::start_serving(&["--drain-seconds", "60"]).await;
    let mut client = server.client().await;
    // A long article keeps the server busy for a while.
    let paragraph = include_str!("data/economy_ar.txt");
    let article = paragraph.repeat(40);
    let req = AnalyzeRequest {
        summary: Some(SummaryOptions {
            max_sentences: 5,
            ..Default::default()
        }),
        ..request("long", &article)
    };
    let in_flight = tokio::spawn(async move { client.analyze(req).await });
    // Give the request time to reach the server and start; a 40-fold
    // article takes seconds to analyze, far longer than this.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        !in_flight.is_finished(),
        "the request should still be running when SIGTERM arrives"
    );
    server.terminate();
    let resp = in_flight
        .await
        .expect("join")
        .expect("the in-flight request completes during the drain")
        .into_inner();
    assert_eq!(resp.summary.map(|s| s.sentences.len()), Some(5));
    let code = tokio::task::spawn_blocking(move || {
        let code = server.wait_exit(Duration::from_secs(60));
        (code, server.log())
    })
    .await
    .unwrap();
    assert_eq!(code.0, Some(0), "exit code; log: {:?}", code.1);
    assert!(
        code.1.iter().any(|l| l.contains("shutting down")),
        "{:?}",
        code.1
    );
}
