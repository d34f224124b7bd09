//! Overload, deadlines and missing models, each on a dedicated server.

mod common;

use std::time::Duration;

use common::{models_dir, request, tasks, Server};
use khulasa::proto::{
    summarizer_client::SummarizerClient, summary_options::Mode, AnalyzeRequest, GetInfoRequest,
    SummaryOptions, Task,
};
use tonic::Code;

const ECONOMY: &str = include_str!("data/economy_ar.txt");

/// An article that takes at least `at_least` to analyze on this machine: the
/// economy article repeated, doubling until one untimed analysis of it is
/// that slow (or the server's article limit is reached). Calibrating here
/// keeps the tests below true on a loaded 2-core machine and a fast one.
async fn slow_article(server: &Server, at_least: Duration) -> (String, Duration) {
    let mut client = server.client().await;
    let max_chars = 200_000;
    let mut repeat = 4;
    loop {
        let text = ECONOMY.repeat(repeat);
        let started = std::time::Instant::now();
        client
            .analyze(request("calibrate", &text))
            .await
            .expect("calibration");
        let took = started.elapsed();
        let longer = ECONOMY.chars().count() * repeat * 2;
        if took >= at_least || longer > max_chars {
            return (text, took);
        }
        repeat *= 2;
    }
}

#[tokio::test]
async fn a_full_queue_fails_fast_and_the_queued_request_is_served() {
    let server = Server::start_serving(&[
        "--max-concurrent",
        "1",
        "--max-queue",
        "1",
        "--metrics-listen",
        "127.0.0.1:0",
    ])
    .await;
    // A long article holds the only worker while the queue fills.
    let (long_text, _) = slow_article(&server, Duration::from_secs(5)).await;
    let mut busy_client = server.client().await;
    let long = AnalyzeRequest {
        tasks: tasks(&[Task::Summary]),
        ..request("busy", &long_text)
    };
    let busy = tokio::spawn(async move { busy_client.analyze(long).await });
    server
        .wait_metric("khulasa_in_flight_requests", |v| v == 1.0)
        .await;

    // The next request waits in the queue (no deadline: a short one would
    // be refused at once now that the server knows its speed, see
    // tests/admission.rs; a deadline passing in the queue is covered by the
    // admission unit tests)…
    let mut waiting_client = server.client().await;
    let waiting =
        tokio::spawn(async move { waiting_client.analyze(request("waiting", ECONOMY)).await });
    server
        .wait_metric("khulasa_queue_depth", |v| v == 1.0)
        .await;

    // …so the queue is full and one more is turned away (not queued).
    let mut client = server.client().await;
    let status = client
        .analyze(request("refused", ECONOMY))
        .await
        .expect_err("queue is full");
    assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
    assert!(status.message().contains("limit 1"), "{status:?}");

    busy.await.unwrap().expect("the long article completes");
    waiting
        .await
        .unwrap()
        .expect("the queued request is served once the worker is free");
    // With the worker free again, requests go through.
    client
        .analyze(request("after", ECONOMY))
        .await
        .expect("served");
}

#[tokio::test]
async fn a_deadline_that_passes_during_analysis_is_deadline_exceeded() {
    // Nothing queued: the article starts at once and its deadline passes
    // inside the models. The server must answer DEADLINE_EXCEEDED itself, a
    // little before the deadline; tonic's server-side timeout would answer
    // CANCELLED. The client here is plain HTTP/2 (no tonic Channel), so it
    // sends `grpc-timeout` but keeps no timer of its own: what comes back is
    // what the server said. The deadlines are fractions of how long the
    // article takes on this machine, measured first.
    let server = Server::start_serving(&[]).await;
    let (text, took) = slow_article(&server, Duration::from_millis(800)).await;
    let http2 = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .http2_only(true)
        .build_http();
    let origin = server.addr.parse().expect("server address is a URI");
    let mut client = SummarizerClient::with_origin(http2, origin);
    for fraction in [16, 8, 4, 2] {
        let timeout = took / fraction;
        let mut req = tonic::Request::new(request("late", &text));
        req.set_timeout(timeout);
        let status = client
            .analyze(req)
            .await
            .expect_err("deadline cannot be met");
        assert_eq!(
            status.code(),
            Code::DeadlineExceeded,
            "{timeout:?} of {took:?}: {status:?}; log: {}",
            server.log().join("\n")
        );
    }
    client
        .analyze(request("after", ECONOMY))
        .await
        .expect("served after the late ones");
    server
        .wait_log("a deadline passing", |l| l.contains("deadline passed"))
        .await;
}

#[tokio::test]
async fn entities_need_an_entity_model() {
    // A models directory with the encoder only.
    let dir = tempfile::tempdir().unwrap();
    for name in ["runtime", "e5-small"] {
        std::os::unix::fs::symlink(models_dir().join(name), dir.path().join(name)).unwrap();
    }
    let dir_arg = dir.path().to_str().unwrap().to_string();
    let server = Server::start_serving(&["--models", &dir_arg]).await;
    let mut client = server.client().await;
    // No sentence-scoring model either: GetInfo says LexRank ranks.
    let info = client
        .get_info(GetInfoRequest {})
        .await
        .expect("get_info")
        .into_inner();
    assert_eq!(info.summarizer, "lexrank");
    let req = AnalyzeRequest {
        tasks: tasks(&[Task::Entities]),
        ..request("ents", ECONOMY)
    };
    let status = client.analyze(req).await.expect_err("no entity model");
    assert_eq!(status.code(), Code::FailedPrecondition, "{status:?}");
    assert!(status.message().contains("no entity model"), "{status:?}");
    // Likewise an abstractive summary without an abstractive model.
    let req = AnalyzeRequest {
        summary: Some(SummaryOptions {
            mode: Mode::Abstractive as i32,
            ..Default::default()
        }),
        ..request("abstractive", ECONOMY)
    };
    let status = client.analyze(req).await.expect_err("no abstractive model");
    assert_eq!(status.code(), Code::FailedPrecondition, "{status:?}");
    assert!(status.message().contains("--summarizer"), "{status:?}");
    // Without explicit tasks, the summary alone is returned.
    let resp = client
        .analyze(request("default", ECONOMY))
        .await
        .expect("summary only")
        .into_inner();
    assert!(resp.summary.is_some());
    assert!(resp.entities.is_empty());
}
