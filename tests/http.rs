//! End-to-end tests of the HTTP/JSON API against the real server and models:
//! the same answers as gRPC through protobuf's canonical JSON mapping, and
//! each error class with its HTTP status and body.

mod common;

use std::process::Command;

use common::{http, http_raw, repo_root, request, tasks, Server};
use khulasa::proto::{
    summary_options::Mode, AnalyzeRequest, AnalyzeResponse, GetInfoRequest, SummaryOptions, Task,
};
use serde_json::{json, Value};
use tonic_types::StatusExt;

const ECONOMY: &str = include_str!("data/economy_ar.txt");
const CULTURE: &str = include_str!("data/culture_ar.txt");

/// A server for this binary's tests: batching off, so an article's scores
/// never depend on what else is in flight and answers compare exactly.
async fn server() -> Server {
    Server::start_serving(&["--batching", "off"]).await
}

fn http_addr(server: &Server) -> &str {
    server.http.as_deref().expect("the HTTP API is on")
}

/// `{"error": {"code", "status", "message"}}` with these values.
fn assert_error(resp: &common::HttpResponse, http_status: u16, status: &str) -> String {
    assert_eq!(
        resp.status,
        http_status,
        "{}",
        String::from_utf8_lossy(&resp.body)
    );
    assert_eq!(resp.header("content-type"), Some("application/json"));
    let body = resp.json();
    let error = &body["error"];
    assert_eq!(error["code"], http_status, "{body}");
    assert_eq!(error["status"], status, "{body}");
    let message = error["message"].as_str().expect("a message").to_string();
    assert!(!message.is_empty());
    message
}

async fn post_analyze(addr: &str, body: &Value) -> common::HttpResponse {
    let bytes = serde_json::to_vec(body).unwrap();
    http(
        addr,
        "POST",
        "/v1/analyze",
        &[("Content-Type", "application/json")],
        &bytes,
    )
    .await
}

#[tokio::test]
async fn analyze_over_http_equals_the_grpc_answer_in_canonical_json() {
    let server = server().await;
    let addr = http_addr(&server);
    let mut client = server.client().await;
    let requests = [
        request("economy", ECONOMY),
        AnalyzeRequest {
            summary: Some(SummaryOptions {
                max_sentences: 2,
                mode: Mode::Extractive as i32,
                ..Default::default()
            }),
            tasks: tasks(&[Task::Summary, Task::Entities]),
            title: "الثقافة".to_string(),
            language: "ar".to_string(),
            ..request("culture", CULTURE)
        },
        AnalyzeRequest {
            tasks: tasks(&[Task::Entities]),
            ..request("entities-only", CULTURE)
        },
    ];
    for req in requests {
        let grpc: AnalyzeResponse = client.analyze(req.clone()).await.unwrap().into_inner();
        let expected = serde_json::to_value(&grpc).unwrap();
        // The request as canonical JSON, as a JSON client would write it.
        let body = serde_json::to_value(&req).unwrap();
        assert!(body.get("text").is_some(), "{body}");
        let resp = post_analyze(addr, &body).await;
        assert_eq!(resp.status, 200, "{}", String::from_utf8_lossy(&resp.body));
        assert_eq!(resp.header("content-type"), Some("application/json"));
        // Byte for byte the gRPC answer's canonical JSON.
        assert_eq!(
            String::from_utf8_lossy(&resp.body),
            serde_json::to_string(&grpc).unwrap(),
            "HTTP and gRPC answers differ for {}",
            req.id
        );
        let got = resp.json();
        assert_eq!(got["id"], expected["id"]);
        // The canonical names: lowerCamelCase, and defaults left out.
        let entity = &got["entities"][0];
        assert!(entity.get("byteStart").is_some(), "{entity}");
        assert!(entity.get("byte_start").is_none(), "{entity}");
        assert!(got.get("error").is_none());
        // The answer decodes back into the very message gRPC returned.
        let decoded: AnalyzeResponse = serde_json::from_slice(&resp.body).unwrap();
        assert_eq!(decoded, grpc);
    }

    // Proto field names and enum numbers are accepted too.
    let snake = json!({
        "id": "snake",
        "text": CULTURE,
        "summary": {"max_sentences": 2, "mode": 1},
        "tasks": [1, "TASK_ENTITIES"],
    });
    let camel = json!({
        "id": "snake",
        "text": CULTURE,
        "summary": {"maxSentences": 2, "mode": "MODE_EXTRACTIVE"},
        "tasks": ["TASK_SUMMARY", "TASK_ENTITIES"],
    });
    let a = post_analyze(addr, &snake).await;
    let b = post_analyze(addr, &camel).await;
    assert_eq!(a.status, 200, "{}", String::from_utf8_lossy(&a.body));
    assert_eq!(a.json(), b.json());
    assert_eq!(
        a.json()["summary"]["sentences"].as_array().unwrap().len(),
        2
    );
}

#[tokio::test]
async fn info_health_readiness_and_a_valid_openapi_document() {
    let server = server().await;
    let addr = http_addr(&server);
    let mut client = server.client().await;

    let grpc = client
        .get_info(GetInfoRequest {})
        .await
        .unwrap()
        .into_inner();
    let resp = http(addr, "GET", "/v1/info", &[], b"").await;
    assert_eq!(resp.status, 200);
    assert_eq!(
        String::from_utf8_lossy(&resp.body),
        serde_json::to_string(&grpc).unwrap()
    );
    assert!(resp.json()["limits"]["maxArticleChars"].is_number());

    let health = http(addr, "GET", "/healthz", &[], b"").await;
    assert_eq!(health.status, 200);
    let ready = http(addr, "GET", "/readyz", &[], b"").await;
    assert_eq!(ready.status, 200);
    assert_eq!(String::from_utf8_lossy(&ready.body).trim(), "SERVING");

    let spec = http(addr, "GET", "/openapi.json", &[], b"").await;
    assert_eq!(spec.status, 200);
    let doc = spec.json();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
    for path in [
        "/v1/analyze",
        "/v1/info",
        "/healthz",
        "/readyz",
        "/openapi.json",
    ] {
        assert!(doc["paths"].get(path).is_some(), "{path} is described");
    }
    // A real validator (openapi-spec-validator, installed by `make test`).
    let validator = repo_root().join(".venv-api/bin/openapi-spec-validator");
    assert!(
        validator.exists(),
        "{} is missing: run `make test` (it installs the validator)",
        validator.display()
    );
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("openapi.json");
    std::fs::write(&file, &spec.body).unwrap();
    let out = Command::new(&validator).arg(&file).output().unwrap();
    assert!(
        out.status.success(),
        "openapi-spec-validator: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("OK"));
}

#[tokio::test]
async fn each_error_class_gets_its_status_and_body() {
    let server = server().await;
    let addr = http_addr(&server);
    let mut client = server.client().await;

    // INVALID_ARGUMENT: not JSON, an unknown field, a wrong type.
    for body in [
        &b"{not json"[..],
        br#"{"text": "x", "bogus": 1}"#,
        br#"{"text": 5}"#,
    ] {
        let resp = http(addr, "POST", "/v1/analyze", &[], body).await;
        let message = assert_error(&resp, 400, "INVALID_ARGUMENT");
        assert!(message.contains("AnalyzeRequest"), "{message}");
    }
    // A value of the wrong type names its field, as a BadRequest too.
    let body = br#"{"text": "x", "summary": {"maxSentences": "three"}}"#;
    let resp = http(addr, "POST", "/v1/analyze", &[], body).await;
    let message = assert_error(&resp, 400, "INVALID_ARGUMENT");
    assert!(message.contains("summary.maxSentences"), "{message}");
    let violations = &resp.json()["error"]["details"][0]["fieldViolations"];
    assert_eq!(
        violations[0]["field"], "summary.maxSentences",
        "{violations}"
    );
    // INVALID_ARGUMENT from the pipeline: the same message as gRPC.
    let bad = AnalyzeRequest {
        summary: Some(SummaryOptions {
            ratio: 2.0,
            ..Default::default()
        }),
        ..request("bad-ratio", ECONOMY)
    };
    let status = client.analyze(bad.clone()).await.unwrap_err();
    let resp = post_analyze(addr, &serde_json::to_value(&bad).unwrap()).await;
    assert_eq!(
        assert_error(&resp, 400, "INVALID_ARGUMENT"),
        status.message()
    );
    // The same google.rpc.BadRequest on both: gRPC's binary details and
    // the HTTP body's JSON.
    let bad_request = status
        .get_details_bad_request()
        .expect("gRPC INVALID_ARGUMENT carries a BadRequest");
    assert_eq!(bad_request.field_violations.len(), 1);
    assert_eq!(bad_request.field_violations[0].field, "summary.ratio");
    assert_eq!(
        resp.json()["error"]["details"],
        json!([{
            "@type": "type.googleapis.com/google.rpc.BadRequest",
            "fieldViolations": [{
                "field": "summary.ratio",
                "description": bad_request.field_violations[0].description,
            }],
        }])
    );
    let resp = post_analyze(addr, &json!({"id": "empty", "text": "   "})).await;
    assert_error(&resp, 400, "INVALID_ARGUMENT");

    // FAILED_PRECONDITION: no abstractive model is loaded.
    let resp = post_analyze(
        addr,
        &json!({"text": ECONOMY, "summary": {"mode": "MODE_ABSTRACTIVE"}}),
    )
    .await;
    assert_error(&resp, 400, "FAILED_PRECONDITION");

    // DEADLINE_EXCEEDED: a deadline (grpc-timeout, as on gRPC) that has
    // passed before the request is admitted.
    let body = serde_json::to_vec(&json!({"text": ECONOMY})).unwrap();
    let resp = http(
        addr,
        "POST",
        "/v1/analyze",
        &[("grpc-timeout", "1n")],
        &body,
    )
    .await;
    assert_error(&resp, 504, "DEADLINE_EXCEEDED");

    // A malformed grpc-timeout (seconds are `S`) is refused, not ignored.
    let resp = http(
        addr,
        "POST",
        "/v1/analyze",
        &[("grpc-timeout", "5s")],
        &body,
    )
    .await;
    let message = assert_error(&resp, 400, "INVALID_ARGUMENT");
    assert!(message.contains("grpc-timeout"), "{message}");

    // NOT_FOUND: no such route.
    let resp = http(addr, "GET", "/v2/analyze", &[], b"").await;
    assert_error(&resp, 404, "NOT_FOUND");

    // Too large, declared: refused from the headers, no body byte sent.
    let resp = http_raw(
        addr,
        "POST /v1/analyze HTTP/1.1\r\nContent-Type: application/json\r\nContent-Length: 1000000000",
        b"",
    )
    .await;
    let message = assert_error(&resp, 413, "OUT_OF_RANGE");
    assert!(message.contains("4194304"), "{message}");

    // Too large, chunked: refused once the limit is crossed, before the
    // body ends (the chunk's end and the last chunk are never sent).
    let chunk = vec![b' '; 4 * 1024 * 1024 + 1];
    let mut body = format!("{:x}\r\n", chunk.len() + 100).into_bytes();
    body.extend_from_slice(&chunk);
    let resp = http_raw(
        addr,
        "POST /v1/analyze HTTP/1.1\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked",
        &body,
    )
    .await;
    assert_error(&resp, 413, "OUT_OF_RANGE");

    // The server still answers afterwards.
    let resp = post_analyze(addr, &json!({"text": ECONOMY, "tasks": ["TASK_SUMMARY"]})).await;
    assert_eq!(resp.status, 200);
}

#[tokio::test]
async fn the_bearer_token_guards_the_api_but_not_the_probes() {
    let dir = tempfile::tempdir().unwrap();
    let token = dir.path().join("token");
    std::fs::write(&token, "s3cret\n").unwrap();
    let server = Server::start_serving(&["--auth-token-file", token.to_str().unwrap()]).await;
    let addr = http_addr(&server);
    let body = serde_json::to_vec(&json!({"text": ECONOMY, "tasks": ["TASK_SUMMARY"]})).unwrap();

    for headers in [&[][..], &[("Authorization", "Bearer wrong")]] {
        let resp = http(addr, "POST", "/v1/analyze", headers, &body).await;
        let message = assert_error(&resp, 401, "UNAUTHENTICATED");
        assert!(!message.contains("s3cret"));
        let resp = http(addr, "GET", "/v1/info", headers, b"").await;
        assert_error(&resp, 401, "UNAUTHENTICATED");
    }
    let good = [("Authorization", "Bearer s3cret")];
    let resp = http(addr, "POST", "/v1/analyze", &good, &body).await;
    assert_eq!(resp.status, 200);
    assert!(resp.json()["summary"]["text"].is_string());
    assert_eq!(http(addr, "GET", "/v1/info", &good, b"").await.status, 200);
    for probe in ["/healthz", "/readyz", "/openapi.json"] {
        assert_eq!(
            http(addr, "GET", probe, &[], b"").await.status,
            200,
            "{probe}"
        );
    }
}

#[tokio::test]
async fn a_full_queue_answers_429_over_http() {
    let server = Server::start_serving(&["--max-concurrent", "1", "--max-queue", "0"]).await;
    let addr = http_addr(&server).to_string();
    // A long article holds the only worker for seconds.
    let spawn_busy = || {
        let server_addr = server.addr.clone();
        tokio::spawn(async move {
            let channel = tonic::transport::Channel::from_shared(server_addr)
                .unwrap()
                .connect()
                .await
                .expect("connect");
            let long = AnalyzeRequest {
                tasks: tasks(&[Task::Summary]),
                ..request("busy", &ECONOMY.repeat(80))
            };
            khulasa::proto::summarizer_client::SummarizerClient::new(channel)
                .analyze(long)
                .await
        })
    };
    let mut busy = spawn_busy();
    let body = serde_json::to_vec(&json!({"text": ECONOMY, "tasks": ["TASK_SUMMARY"]})).unwrap();
    // Short ones pass until the long one holds the worker; then they are
    // turned away. (If a short one held the worker when the long one came,
    // the long one was refused: send it again.)
    let refused = loop {
        if busy.is_finished() {
            let status = busy
                .await
                .unwrap()
                .expect_err("no short request was refused while the long one ran");
            assert_eq!(status.code(), tonic::Code::ResourceExhausted, "{status:?}");
            busy = spawn_busy();
        }
        let resp = http(&addr, "POST", "/v1/analyze", &[], &body).await;
        if resp.status != 200 {
            break resp;
        }
    };
    let message = assert_error(&refused, 429, "RESOURCE_EXHAUSTED");
    assert!(message.contains("limit 0"), "{message}");
    assert_eq!(
        refused.json()["error"]["details"],
        json!([{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "1s"}])
    );
    assert_eq!(refused.header("retry-after"), Some("1"));
    // gRPC refuses the same way, with a google.rpc.RetryInfo.
    let status = server
        .client()
        .await
        .analyze(request("refused", ECONOMY))
        .await
        .expect_err("the worker is still busy");
    assert_eq!(status.code(), tonic::Code::ResourceExhausted, "{status:?}");
    let retry = status.get_details_retry_info().expect("RetryInfo");
    assert_eq!(retry.retry_delay, Some(std::time::Duration::from_secs(1)));
    busy.await.unwrap().expect("the long article completes");
}

#[tokio::test]
async fn an_empty_http_listen_turns_the_api_off() {
    let server = Server::start(&["--http-listen", ""]);
    assert!(server.http.is_none());
    server.wait_serving().await;
    let log = server.log();
    assert!(
        !log.iter().any(|l| l.contains("HTTP API listening")),
        "{log:?}"
    );
}
