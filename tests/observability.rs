//! Metrics, trace context and OTLP export, observed from outside: a real
//! server, scraped over HTTP, with a real OTLP/gRPC collector on loopback.

mod common;

use std::{
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use common::{request, sample, scrape, Server};
use khulasa::proto::GetInfoRequest;
use opentelemetry_proto::tonic::collector::trace::v1::{
    trace_service_server::{TraceService, TraceServiceServer},
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use tonic::{Request, Response, Status};

const ARTICLE: &str = include_str!("data/economy_ar.txt");
const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const PARENT_SPAN_ID: &str = "00f067aa0ba902b7";

fn traced<T>(message: T) -> Request<T> {
    let mut req = Request::new(message);
    req.metadata_mut().insert(
        "traceparent",
        format!("00-{TRACE_ID}-{PARENT_SPAN_ID}-01")
            .parse()
            .unwrap(),
    );
    req
}

/// The metric families of the README's metrics table: (names, type, labels).
fn readme_families() -> Vec<(Vec<String>, String, Vec<String>)> {
    let readme = std::fs::read_to_string(common::repo_root().join("README.md")).unwrap();
    let cells = |line: &str| -> Vec<String> {
        line.trim()
            .trim_matches('|')
            .split('|')
            .map(|c| c.trim().to_string())
            .collect()
    };
    let ticked = |cell: &str| -> Vec<String> {
        cell.split('`')
            .skip(1)
            .step_by(2)
            .map(str::to_string)
            .collect()
    };
    let families: Vec<_> = readme
        .lines()
        .skip_while(|l| !l.trim().starts_with("| metric | type | labels |"))
        .skip(2)
        .take_while(|l| l.trim().starts_with('|'))
        .map(|l| {
            let c = cells(l);
            (ticked(&c[0]), c[1].clone(), ticked(&c[2]))
        })
        .collect();
    assert!(families.len() >= 10, "README metrics table: {families:?}");
    families
}

/// Every family the README lists is exported with its type, every sample
/// carries the labels listed, and a `model` label names a model GetInfo lists.
fn check_readme_families(text: &str, model_names: &[&str]) {
    for (names, kind, labels) in readme_families() {
        for name in names {
            if let Some(prefix) = name.strip_suffix('*') {
                assert!(
                    text.lines().any(|l| l.starts_with(prefix)),
                    "no {name} family in\n{text}"
                );
                continue;
            }
            assert!(
                text.contains(&format!("# TYPE {name} {kind}\n")),
                "{name} is not exported as a {kind}:\n{text}"
            );
            let samples: Vec<&str> = text
                .lines()
                .filter(|l| !l.starts_with('#'))
                .filter(|l| {
                    l.strip_prefix(name.as_str()).is_some_and(|rest| {
                        rest.starts_with([' ', '{'])
                            || ["_bucket{", "_sum", "_count"]
                                .iter()
                                .any(|s| rest.starts_with(s))
                    })
                })
                .collect();
            assert!(!samples.is_empty(), "no {name} samples in\n{text}");
            for sample in samples {
                for label in &labels {
                    let value = sample
                        .split_once(&format!("{label}=\""))
                        .and_then(|(_, rest)| rest.split('"').next())
                        .unwrap_or_else(|| panic!("{name} sample without {label}: {sample}"));
                    if label == "model" {
                        assert!(
                            model_names.contains(&value),
                            "{sample}: model {value:?} is none of GetInfo's {model_names:?}"
                        );
                    }
                }
            }
        }
    }
}

#[tokio::test]
async fn metrics_count_requests_by_method_and_code_and_time_each_stage() {
    let server =
        Server::start_serving(&["--metrics-listen", "127.0.0.1:0", "--batching", "on"]).await;
    let url = server.metrics_url().await;
    let mut client = server.client().await;

    client
        .analyze(request("ok", ARTICLE))
        .await
        .expect("analyze");
    let bad = client.analyze(request("empty", "")).await.unwrap_err();
    assert_eq!(bad.code(), tonic::Code::InvalidArgument);
    let info = client
        .get_info(GetInfoRequest {})
        .await
        .expect("info")
        .into_inner();

    let text = tokio::task::spawn_blocking(move || scrape(&url))
        .await
        .unwrap();
    let model_names: Vec<&str> = info.models.iter().map(|m| m.name.as_str()).collect();
    check_readme_families(&text, &model_names);
    let count = |labels: &[&str]| sample(&text, "khulasa_requests_total", labels);
    assert_eq!(
        count(&[r#"method="Analyze""#, r#"code="OK""#]),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        count(&[r#"method="Analyze""#, r#"code="INVALID_ARGUMENT""#]),
        Some(1.0)
    );
    assert_eq!(count(&[r#"method="GetInfo""#, r#"code="OK""#]), Some(1.0));
    assert_eq!(
        sample(
            &text,
            "khulasa_request_duration_seconds_count",
            &[r#"method="Analyze""#]
        ),
        Some(2.0)
    );
    for stage in ["queue", "segment", "embed", "rank", "entities"] {
        let label = format!(r#"stage="{stage}""#);
        assert_eq!(
            sample(&text, "khulasa_stage_duration_seconds_count", &[&label]),
            Some(1.0),
            "stage {stage}"
        );
    }
    assert!(text.contains(r#"khulasa_stage_duration_seconds_bucket{stage="embed",le="0.5"}"#));
    // One encoder pass by default: only the NER model tokenizes.
    assert!(
        sample(
            &text,
            "khulasa_tokenize_duration_seconds_count",
            &[r#"model="ner-ar""#]
        )
        .is_some_and(|n| n >= 1.0),
        "tokenize ner-ar"
    );
    assert_eq!(sample(&text, "khulasa_queue_depth", &[]), Some(0.0));
    assert_eq!(sample(&text, "khulasa_in_flight_requests", &[]), Some(0.0));
    assert!(sample(&text, "khulasa_model_load_seconds", &[]).is_some_and(|s| s > 0.0));
    assert_eq!(
        sample(
            &text,
            "khulasa_build_info",
            &[concat!(r#"version=""#, env!("CARGO_PKG_VERSION"), r#"""#)]
        ),
        Some(1.0)
    );
    // With batching on, NER windows go through the batcher.
    assert!(
        sample(&text, "khulasa_batch_size_count", &[r#"model="ner-ar""#]).is_some_and(|n| n >= 1.0),
        "{text}"
    );
    let chars = ARTICLE.chars().count() as f64;
    assert_eq!(
        sample(&text, "khulasa_article_chars_total", &[]),
        Some(chars)
    );
    assert!(sample(&text, "process_resident_memory_bytes", &[]).is_some_and(|b| b > 1e6));
}

/// The server's "analyzed" log line for request `id`. The log is read from
/// the server's stderr as it comes: wait for the line rather than assume it
/// is in when the answer is.
async fn analyzed(server: &Server, id: &str) -> serde_json::Value {
    let line = server
        .wait_log(id, |l| {
            serde_json::from_str::<serde_json::Value>(l)
                .is_ok_and(|v| v["message"] == "analyzed" && v["id"] == id)
        })
        .await;
    serde_json::from_str(&line).expect("a JSON log line")
}

#[tokio::test]
async fn the_callers_trace_id_is_continued_in_the_log_line() {
    let server = Server::start_serving(&["--log-format", "json"]).await;
    let mut client = server.client().await;
    client
        .analyze(traced(request("traced", ARTICLE)))
        .await
        .expect("analyze");
    client
        .analyze(request("untraced", ARTICLE))
        .await
        .expect("analyze");

    assert_eq!(
        analyzed(&server, "traced").await["span"]["trace_id"],
        TRACE_ID
    );
    // Without a traceparent the request starts a trace of its own.
    let own = analyzed(&server, "untraced").await["span"]["trace_id"]
        .as_str()
        .expect("a trace id")
        .to_string();
    assert_eq!(own.len(), 32);
    assert_ne!(own, TRACE_ID);
}

/// An OTLP/gRPC trace collector that keeps what it receives.
#[derive(Default, Clone)]
struct Collector {
    received: Arc<Mutex<Vec<ExportTraceServiceRequest>>>,
}

#[tonic::async_trait]
impl TraceService for Collector {
    async fn export(
        &self,
        request: Request<ExportTraceServiceRequest>,
    ) -> Result<Response<ExportTraceServiceResponse>, Status> {
        self.received.lock().unwrap().push(request.into_inner());
        Ok(Response::new(ExportTraceServiceResponse::default()))
    }
}

#[tokio::test]
async fn spans_of_the_request_and_its_stages_are_exported_over_otlp_in_the_callers_trace() {
    let collector = Collector::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let collector_addr = listener.local_addr().unwrap();
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(TraceServiceServer::new(collector.clone()))
            .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener)),
    );

    let endpoint = format!("http://{collector_addr}");
    // Export batches quickly so the test doesn't wait 5 s for the default.
    let server = Server::start_serving_with_env(
        &["--otlp-endpoint", &endpoint],
        &[("OTEL_BSP_SCHEDULE_DELAY", "100")],
    )
    .await;
    let mut client = server.client().await;
    client
        .analyze(traced(request("exported", ARTICLE)))
        .await
        .expect("analyze");

    let deadline = Instant::now() + Duration::from_secs(30);
    let rpc = loop {
        let spans: Vec<_> = collector
            .received
            .lock()
            .unwrap()
            .iter()
            .flat_map(|r| &r.resource_spans)
            .flat_map(|r| &r.scope_spans)
            .flat_map(|s| &s.spans)
            .cloned()
            .collect();
        let has = |name: &str| spans.iter().any(|s| s.name == name);
        if ["rpc", "segment", "embed", "rank", "entities"]
            .iter()
            .all(|n| has(n))
        {
            // Every stage span belongs to the caller's trace.
            for s in spans.iter().filter(|s| s.name != "rpc") {
                assert_eq!(hex(&s.trace_id), TRACE_ID, "{}", s.name);
            }
            break spans.into_iter().find(|s| s.name == "rpc").unwrap();
        }
        assert!(
            Instant::now() < deadline,
            "rpc and stage spans not all exported"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(hex(&rpc.trace_id), TRACE_ID);
    assert_eq!(hex(&rpc.parent_span_id), PARENT_SPAN_ID);
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
