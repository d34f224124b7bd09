//! Shutdown and cancellation, each promise of the README's `--drain-seconds`
//! row checked on a dedicated server. Events are ordered by server state (the
//! health Watch stream, the in-flight and queue gauges of `/metrics`, log
//! lines), never by sleeping; the only bounds are generous ones that turn a
//! hang into a failure.
//!
//! An open health Watch stream never ends by itself, so holding one keeps a
//! drain going for as long as a test needs, whatever the machine's speed.

mod common;

use common::{request, Server, STATE_WAIT};
use khulasa::proto::{AnalyzeRequest, SummaryOptions};
use tonic::{transport::Channel, Code, Streaming};
use tonic_health::pb::{
    health_check_response::ServingStatus, health_client::HealthClient, HealthCheckRequest,
    HealthCheckResponse,
};

const ECONOMY: &str = include_str!("data/economy_ar.txt");

/// A health Watch stream of the whole server, on a connection of its own,
/// after its first answer (SERVING).
async fn watch_health(server: &Server) -> Streaming<HealthCheckResponse> {
    let channel = Channel::from_shared(server.addr.clone())
        .unwrap()
        .connect()
        .await
        .expect("connect");
    let mut stream = HealthClient::new(channel)
        .watch(HealthCheckRequest {
            service: String::new(),
        })
        .await
        .expect("watch")
        .into_inner();
    assert_eq!(next_status(&mut stream).await, ServingStatus::Serving);
    stream
}

async fn next_status(stream: &mut Streaming<HealthCheckResponse>) -> ServingStatus {
    let msg = tokio::time::timeout(STATE_WAIT, stream.message())
        .await
        .expect("a health update")
        .expect("the watch stream is open")
        .expect("a health update before the stream ends");
    ServingStatus::try_from(msg.status).unwrap()
}

/// A long article: it keeps a worker busy until the test is past the point
/// it needs (the tests wait for it to be in flight; none needs it to last).
fn long_request(id: &str) -> AnalyzeRequest {
    AnalyzeRequest {
        summary: Some(SummaryOptions {
            max_sentences: 5,
            ..Default::default()
        }),
        ..request(id, &ECONOMY.repeat(20))
    }
}

/// How a call on a connection opened before the signal is refused. Either it
/// reaches the service, which answers UNAVAILABLE, or the server's GOAWAY
/// has closed the idle connection under it first, which the tonic client
/// reports as CANCELLED with the closed connection as its source (CI stop
/// 23 saw the latter). Either way the call was not served, and the
/// `khulasa` client retries both codes on another replica.
fn refused_by_drain(status: &tonic::Status) -> bool {
    match status.code() {
        Code::Unavailable => true,
        Code::Cancelled => {
            let mut source = std::error::Error::source(status);
            while let Some(err) = source {
                if err.is::<tonic::transport::Error>() {
                    return true;
                }
                source = err.source();
            }
            false
        }
        _ => false,
    }
}

fn send_signal(server: &Server, signal: &str) {
    let status = std::process::Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(server.pid().to_string())
        .status()
        .expect("run kill");
    assert!(status.success());
}

async fn exit_code_and_log(server: Server) -> (Option<i32>, Vec<String>) {
    tokio::task::spawn_blocking(move || {
        let code = server.wait_exit(STATE_WAIT);
        (code, server.log())
    })
    .await
    .unwrap()
}

#[tokio::test]
async fn sigterm_flips_health_drains_an_in_flight_request_then_exits_zero() {
    let server =
        Server::start_serving(&["--drain-seconds", "600", "--metrics-listen", "127.0.0.1:0"]).await;
    let mut watch = watch_health(&server).await;
    let mut client = server.client().await;
    let in_flight = tokio::spawn(async move { client.analyze(long_request("long")).await });
    // The article is being analyzed when the signal comes.
    server
        .wait_metric("khulasa_in_flight_requests", |v| v >= 1.0)
        .await;
    server.terminate();
    // Health says NOT_SERVING while the drain runs (the watch stream itself
    // holds the drain open until it is dropped).
    assert_eq!(next_status(&mut watch).await, ServingStatus::NotServing);
    let resp = in_flight
        .await
        .expect("join")
        .expect("the in-flight request completes during the drain")
        .into_inner();
    assert_eq!(resp.summary.map(|s| s.sentences.len()), Some(5));
    drop(watch);
    let (code, log) = exit_code_and_log(server).await;
    assert_eq!(code, Some(0), "exit code; log: {log:#?}");
    assert!(log.iter().any(|l| l.contains("shutting down")), "{log:#?}");
    assert!(
        !log.iter().any(|l| l.contains("drain deadline passed")),
        "{log:#?}"
    );
}

#[tokio::test]
async fn calls_after_sigterm_are_refused() {
    let server = Server::start_serving(&["--drain-seconds", "600"]).await;
    // A client connected before the signal, and the drain held open.
    let mut connected = server.client().await;
    connected
        .analyze(request("before", ECONOMY))
        .await
        .expect("served before the signal");
    let mut watch = watch_health(&server).await;
    server.terminate();
    assert_eq!(next_status(&mut watch).await, ServingStatus::NotServing);
    // The server is draining: a new call on the old connection and a call
    // on a new connection are both refused.
    let status = connected
        .analyze(request("after", ECONOMY))
        .await
        .expect_err("no new calls while draining");
    assert!(refused_by_drain(&status), "{status:?}");
    let fresh = Channel::from_shared(server.addr.clone())
        .unwrap()
        .connect_lazy();
    let status = khulasa::proto::summarizer_client::SummarizerClient::new(fresh)
        .analyze(request("new connection", ECONOMY))
        .await
        .expect_err("no new connections while draining");
    assert_eq!(status.code(), Code::Unavailable, "{status:?}");
    drop(watch);
    let (code, log) = exit_code_and_log(server).await;
    assert_eq!(code, Some(0), "exit code; log: {log:#?}");
}

#[tokio::test]
async fn an_open_analyze_stream_answers_what_it_accepted_then_ends_unavailable() {
    let server =
        Server::start_serving(&["--drain-seconds", "600", "--metrics-listen", "127.0.0.1:0"]).await;
    let mut client = server.client().await;
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    let mut responses = client
        .analyze_stream(tokio_stream::wrappers::ReceiverStream::new(rx))
        .await
        .expect("open the stream")
        .into_inner();
    tx.send(request("first", ECONOMY)).await.unwrap();
    let first = responses.message().await.expect("ok").expect("an answer");
    assert_eq!(first.id, "first");
    // The second item is accepted and being analyzed when the signal comes.
    tx.send(long_request("second")).await.unwrap();
    server
        .wait_metric("khulasa_in_flight_requests", |v| v >= 1.0)
        .await;
    server.terminate();
    let second = responses
        .message()
        .await
        .expect("the accepted item is answered")
        .expect("an answer");
    assert_eq!(second.id, "second");
    assert!(second.error.is_none(), "{:?}", second.error);
    // The client still has its side open; the server ends the stream.
    let status = responses
        .message()
        .await
        .expect_err("the stream ends with a status");
    assert_eq!(status.code(), Code::Unavailable, "{status:?}");
    assert!(status.message().contains("shutting down"), "{status:?}");
    drop(tx);
    let (code, log) = exit_code_and_log(server).await;
    assert_eq!(code, Some(0), "exit code; log: {log:#?}");
}

#[tokio::test]
async fn the_drain_deadline_ends_a_drain_that_would_not_end() {
    let server = Server::start_serving(&["--drain-seconds", "1"]).await;
    // Never ends on its own: only the deadline can end this drain.
    let watch = watch_health(&server).await;
    server.terminate();
    let (code, log) = exit_code_and_log(server).await;
    assert_eq!(code, Some(0), "exit code; log: {log:#?}");
    assert!(
        log.iter().any(|l| l.contains("drain deadline passed")),
        "{log:#?}"
    );
    drop(watch);
}

#[tokio::test]
async fn a_second_signal_exits_without_waiting_for_the_drain() {
    let server = Server::start_serving(&["--drain-seconds", "600"]).await;
    let mut watch = watch_health(&server).await;
    server.terminate();
    assert_eq!(next_status(&mut watch).await, ServingStatus::NotServing);
    server
        .wait_log("the drain", |l| l.contains("shutting down"))
        .await;
    send_signal(&server, "INT");
    // The watch stream still holds the 600 s drain open: only the second
    // signal can end the process now.
    exits_on_the_second_signal(server).await;
    drop(watch);
}

#[tokio::test]
async fn two_signals_back_to_back_still_exit_without_waiting_for_the_drain() {
    let server = Server::start_serving(&["--drain-seconds", "600"]).await;
    let watch = watch_health(&server).await;
    // The second signal comes while the first is being handled: it must not
    // be lost, or the 600 s drain held open by the watch stream runs out.
    send_signal(&server, "TERM");
    send_signal(&server, "INT");
    exits_on_the_second_signal(server).await;
    drop(watch);
}

/// The process ends with status 0 and says the second signal ended it.
async fn exits_on_the_second_signal(server: Server) {
    let (code, log) = exit_code_and_log(server).await;
    assert_eq!(code, Some(0), "exit code; log: {log:#?}");
    assert!(log.iter().any(|l| l.contains("second signal")), "{log:#?}");
}

#[tokio::test]
async fn work_stops_when_the_client_goes_away() {
    let server = Server::start_serving(&["--metrics-listen", "127.0.0.1:0"]).await;
    let channel = Channel::from_shared(server.addr.clone())
        .unwrap()
        .connect()
        .await
        .expect("connect");
    let mut client = khulasa::proto::summarizer_client::SummarizerClient::new(channel);
    // The largest article the server takes: it is still being analyzed when
    // the client goes away.
    let huge = ECONOMY.repeat(200_000 / ECONOMY.chars().count());
    let call = tokio::spawn(async move { client.analyze(request("abandoned", &huge)).await });
    server
        .wait_metric("khulasa_in_flight_requests", |v| v >= 1.0)
        .await;
    // The client goes away: the call and its connection are dropped.
    call.abort();
    assert!(call.await.unwrap_err().is_cancelled());
    // The analysis notices and stops early: the worker is free again and
    // the log says why (an analysis that ran to its end logs nothing here).
    server
        .wait_metric("khulasa_in_flight_requests", |v| v == 0.0)
        .await;
    let line = server
        .wait_log("the stop", |l| l.contains("analysis stopped"))
        .await;
    assert!(line.contains("abandoned"), "{line}");
    // And the server goes on serving.
    server
        .client()
        .await
        .analyze(request("next", ECONOMY))
        .await
        .expect("served after the abandoned call");
}
