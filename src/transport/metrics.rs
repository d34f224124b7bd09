//! Prometheus metrics on their own HTTP port, so scraping never competes
//! with gRPC traffic and the port can stay inside the cluster.
//!
//! Recording goes through the `metrics` facade (any module may record);
//! this module installs the Prometheus recorder, names what the transport
//! records and serves `/metrics`.

use std::{net::SocketAddr, time::Duration};

use anyhow::Context;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use tonic::Code;

use super::status::code_name;
use crate::{
    models::metric_names::{BATCH_SIZE, BATCH_TOKENS, IN_FLIGHT, TOKENIZE_SECONDS},
    pipeline::StageTimings,
};

/// Requests answered, by `method` and gRPC `code`. An AnalyzeStream item
/// counts as one `AnalyzeStream` request: an article is the unit of work.
pub const REQUESTS: &str = "khulasa_requests_total";
/// Time from receiving a request to answering it, by `method`.
pub const REQUEST_SECONDS: &str = "khulasa_request_duration_seconds";
/// Time spent in each stage of one article, by `stage`.
pub const STAGE_SECONDS: &str = "khulasa_stage_duration_seconds";
/// Requests waiting for an analysis worker.
pub const QUEUE_DEPTH: &str = "khulasa_queue_depth";
/// Code points of accepted articles.
pub const ARTICLE_CHARS: &str = "khulasa_article_chars_total";
/// Seconds from start until every model was loaded and warmed.
pub const MODEL_LOAD_SECONDS: &str = "khulasa_model_load_seconds";
/// Always 1; the labels say what is running.
pub const BUILD_INFO: &str = "khulasa_build_info";

const LATENCY_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
];
const BATCH_BUCKETS: &[f64] = &[1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0];
const TOKEN_BUCKETS: &[f64] = &[
    64.0, 128.0, 256.0, 512.0, 1024.0, 2048.0, 4096.0, 8192.0, 16384.0,
];

/// Installs the global recorder and serves `/metrics` on `addr` until the
/// process ends. Returns the bound address (`addr` may ask for port 0).
pub async fn serve(addr: SocketAddr) -> anyhow::Result<SocketAddr> {
    let handle = install_recorder()?;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen for metrics on {addr}"))?;
    let bound = listener.local_addr()?;
    let collector = metrics_process::Collector::default();
    collector.describe();
    let app = axum::Router::new().route(
        "/metrics",
        axum::routing::get(move || {
            let handle = handle.clone();
            let collector = collector.clone();
            async move {
                collector.collect();
                handle.render()
            }
        }),
    );
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::error!(error = %e, "metrics endpoint failed");
        }
    });
    record_build_info();
    // Present from the first scrape, not only once a request has queued.
    metrics::gauge!(QUEUE_DEPTH).set(0.0);
    metrics::gauge!(IN_FLIGHT).set(0.0);
    Ok(bound)
}

fn install_recorder() -> anyhow::Result<PrometheusHandle> {
    let handle = PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), LATENCY_BUCKETS)?
        .set_buckets_for_metric(Matcher::Full(BATCH_SIZE.into()), BATCH_BUCKETS)?
        .set_buckets_for_metric(Matcher::Full(BATCH_TOKENS.into()), TOKEN_BUCKETS)?
        .install_recorder()
        .context("installing the Prometheus recorder")?;
    describe();
    Ok(handle)
}

fn describe() {
    use metrics::{describe_counter, describe_gauge, describe_histogram, Unit};
    describe_counter!(
        REQUESTS,
        "Requests answered, by method and gRPC code (each AnalyzeStream item counts once)"
    );
    describe_histogram!(
        REQUEST_SECONDS,
        Unit::Seconds,
        "Time from receiving a request to answering it, by method"
    );
    describe_histogram!(
        STAGE_SECONDS,
        Unit::Seconds,
        "Time per stage of one article: queue, language, segment, embed, rank, generate, entities, groups"
    );
    describe_gauge!(QUEUE_DEPTH, "Requests waiting for an analysis worker");
    describe_gauge!(IN_FLIGHT, "Articles being analyzed now");
    describe_counter!(ARTICLE_CHARS, "Code points of accepted articles");
    describe_gauge!(
        MODEL_LOAD_SECONDS,
        Unit::Seconds,
        "Seconds from start until every model was loaded and warmed"
    );
    describe_gauge!(BUILD_INFO, "Always 1; labels name the running build");
    describe_histogram!(
        BATCH_SIZE,
        "Inputs (windows or sentences) per ONNX call, by model"
    );
    describe_histogram!(BATCH_TOKENS, "Tokens per ONNX call, by model");
    describe_histogram!(
        TOKENIZE_SECONDS,
        Unit::Seconds,
        "Time to tokenize one article's text, by model"
    );
}

fn record_build_info() {
    metrics::gauge!(
        BUILD_INFO,
        "version" => env!("CARGO_PKG_VERSION"),
        "onnxruntime" => crate::models::runtime::LIBRARY_NAME,
    )
    .set(1.0);
}

/// The RPCs that record metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Analyze,
    AnalyzeStream,
    GetInfo,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Analyze => "Analyze",
            Method::AnalyzeStream => "AnalyzeStream",
            Method::GetInfo => "GetInfo",
        }
    }
}

/// One answered request.
pub fn record_request(method: Method, code: Code, elapsed: Duration) {
    record(method.as_str().into(), code, elapsed);
}

/// A request turned away before reaching its method (e.g. by the auth
/// check), where only the method's name is known.
pub fn record_rejected(method: &str, code: Code, elapsed: Duration) {
    record(method.to_owned().into(), code, elapsed);
}

fn record(method: metrics::SharedString, code: Code, elapsed: Duration) {
    metrics::counter!(REQUESTS, "method" => method.clone(), "code" => code_name(code)).increment(1);
    metrics::histogram!(REQUEST_SECONDS, "method" => method).record(elapsed.as_secs_f64());
}

/// The stages of one analyzed article; stages that did not run are skipped.
pub fn record_stages(queued: Duration, timings: &StageTimings) {
    let stages = [
        ("queue", queued),
        ("language", timings.language),
        ("segment", timings.segment),
        ("embed", timings.embed),
        ("rank", timings.rank),
        ("generate", timings.generate),
        ("entities", timings.entities),
        ("groups", timings.groups),
    ];
    for (stage, took) in stages {
        if stage == "queue" || !took.is_zero() {
            metrics::histogram!(STAGE_SECONDS, "stage" => stage).record(took.as_secs_f64());
        }
    }
}

pub fn record_article_chars(chars: usize) {
    metrics::counter!(ARTICLE_CHARS).increment(chars as u64);
}

pub fn record_model_load(took: Duration) {
    metrics::gauge!(MODEL_LOAD_SECONDS).set(took.as_secs_f64());
}

/// Keeps a gauge raised while alive, so every exit path lowers it again.
pub struct GaugeGuard(metrics::Gauge);

impl GaugeGuard {
    pub fn raise(name: &'static str) -> Self {
        let gauge = metrics::gauge!(name);
        gauge.increment(1.0);
        GaugeGuard(gauge)
    }
}

impl Drop for GaugeGuard {
    fn drop(&mut self) {
        self.0.decrement(1.0);
    }
}
