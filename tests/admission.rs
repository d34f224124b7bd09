//! Admission by cost on a real server: once the server has measured its
//! speed, a request whose deadline cannot be met behind the queued work is
//! refused at once with RESOURCE_EXHAUSTED and a retry pushback, while
//! requests without a deadline still wait their turn.

mod common;

use std::time::Duration;

use common::{request, Server};
use tonic::Code;

const ECONOMY: &str = include_str!("data/economy_ar.txt");

/// The batcher's debug line for each model call: evidence that an article
/// is being analyzed.
fn batch_lines(server: &Server) -> usize {
    server
        .log()
        .iter()
        .filter(|l| l.contains("batch") && l.contains("rows="))
        .count()
}

#[tokio::test]
async fn a_deadline_that_cannot_be_met_is_refused_at_once() {
    let server = Server::start_serving_with_env(
        &["--max-concurrent", "1", "--batching", "on"],
        &[("RUST_LOG", "info,khulasa::models::batcher=debug,ort=warn")],
    )
    .await;
    let mut client = server.client().await;
    // One article analyzed: the server now knows its speed (and so do we,
    // roughly: the deadline below is chosen from it, not asserted on).
    let started = std::time::Instant::now();
    client
        .analyze(request("warm", ECONOMY))
        .await
        .expect("warm-up");
    let one_article = started.elapsed();

    // The longest accepted article occupies the only worker.
    let before = batch_lines(&server);
    let long: String = ECONOMY.chars().cycle().take(100_000).collect();
    let mut busy_client = server.client().await;
    let busy = tokio::spawn(async move { busy_client.analyze(request("busy", &long)).await });
    let deadline = tokio::time::Instant::now() + common::STATE_WAIT;
    while batch_lines(&server) == before {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the long article never started"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // A deadline ten times what the article alone takes, behind 100k code
    // points (over a hundred such articles) of work: refused now.
    let mut hurried = tonic::Request::new(request("hurried", ECONOMY));
    hurried.set_timeout(one_article * 10);
    let status = client.analyze(hurried).await.expect_err("refused");
    assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
    assert!(
        status.message().contains("after its deadline"),
        "{status:?}"
    );
    let pushback: u64 = status
        .metadata()
        .get("grpc-retry-pushback-ms")
        .expect("pushback trailer")
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(pushback > 0);

    // Without a deadline, a request waits for the worker as before.
    client
        .analyze(request("patient", ECONOMY))
        .await
        .expect("no deadline: queued and answered");
    busy.await.unwrap().expect("the long article completes");
}
