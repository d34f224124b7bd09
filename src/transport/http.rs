//! The HTTP/JSON API beside gRPC: a thin adapter that turns HTTP requests
//! into the very `tonic::Request`s the gRPC server would build (headers as
//! metadata, so the bearer token, `grpc-timeout` and `traceparent` work the
//! same) and calls the same [`SummarizerService`] methods. Bodies are
//! protobuf's canonical JSON mapping, through the serde code pbjson-build
//! generates over the prost types.

use std::{
    net::SocketAddr,
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc,
    },
};

use anyhow::Context;
use axum::{
    body::Body,
    extract::State,
    http::{header, HeaderMap, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
    routing::{get, post},
    Router,
};
use tokio::net::TcpListener;
use tonic::{metadata::MetadataMap, service::Interceptor, Code, GrpcMethod, Status};
use tonic_types::StatusExt;

use super::{
    metrics,
    server::FrontDoor,
    status::{self, code_name, http_status},
    SummarizerService,
};
use crate::proto::{self, summarizer_server::Summarizer};

/// The page at `/`: one self-contained file (no CDN, no build step) that
/// calls `/v1/analyze`.
pub const PAGE: &str = include_str!("page.html");

/// The OpenAPI 3.1 description of these routes, served at `/openapi.json`.
pub const OPENAPI: &str = include_str!("openapi.json");

const SERVICE: &str = "khulasa.v1.Summarizer";

/// Whether gRPC health says SERVING; `/readyz` answers from it.
#[derive(Clone, Default)]
pub struct Readiness(Arc<AtomicBool>);

impl Readiness {
    pub fn set(&self, serving: bool) {
        self.0.store(serving, Ordering::Release);
    }

    fn get(&self) -> bool {
        self.0.load(Ordering::Acquire)
    }
}

#[derive(Clone)]
struct Http {
    service: SummarizerService,
    front_door: FrontDoor,
    ready: Readiness,
    max_body_bytes: usize,
}

/// The routes, sharing `service` (and so its admission queue) with gRPC.
pub fn router(
    service: SummarizerService,
    front_door: FrontDoor,
    ready: Readiness,
    max_body_bytes: usize,
) -> Router {
    let state = Http {
        service,
        front_door,
        ready,
        max_body_bytes,
    };
    Router::new()
        .route("/", get(|| async { axum::response::Html(PAGE) }))
        .route("/v1/analyze", post(analyze))
        .route("/v1/info", get(info))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .route("/openapi.json", get(openapi))
        .fallback(|| async { error(&Status::not_found("no such route; see /openapi.json")) })
        .method_not_allowed_fallback(|| async {
            let body = error_body(
                StatusCode::METHOD_NOT_ALLOWED,
                "INVALID_ARGUMENT",
                "method not allowed on this route; see /openapi.json",
            );
            json_response(StatusCode::METHOD_NOT_ALLOWED, body)
        })
        .with_state(state)
}

/// Binds `addr`; the caller serves on it with [`serve`].
pub async fn bind(addr: SocketAddr) -> anyhow::Result<TcpListener> {
    TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen for HTTP on {addr}"))
}

/// Serves `app` on `listener` (plain TCP, or TLS from `http_tls`) until
/// `stop` resolves, then lets in-flight requests finish.
pub async fn serve<L>(
    listener: L,
    app: Router,
    stop: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()>
where
    L: axum::serve::Listener,
    L::Addr: std::fmt::Debug,
{
    axum::serve(listener, app)
        .with_graceful_shutdown(stop)
        .await
}

/// The gRPC request the HTTP headers make, through the same front door
/// (arrival stamp, bearer token) as gRPC calls.
fn grpc_request(
    front_door: &FrontDoor,
    headers: HeaderMap,
    method: &'static str,
) -> Result<tonic::Request<()>, Status> {
    let mut request = tonic::Request::new(());
    *request.metadata_mut() = MetadataMap::from_headers(headers);
    request
        .extensions_mut()
        .insert(GrpcMethod::new(SERVICE, method));
    front_door.clone().call(request)
}

async fn analyze(State(http): State<Http>, headers: HeaderMap, body: Body) -> Response {
    let started = std::time::Instant::now();
    let rejected = |status: Status| {
        metrics::record_rejected("Analyze", status.code(), started.elapsed());
        error(&status)
    };
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let request = match grpc_request(&http.front_door, headers, "Analyze") {
        Ok(request) => request,
        Err(status) => return error(&status), // counted by the front door
    };
    // Refused before reading: a declared length over the limit, or the
    // first chunk that crosses it.
    if declared.is_some_and(|n| n > http.max_body_bytes as u64) {
        return too_large(http.max_body_bytes);
    }
    let bytes = match axum::body::to_bytes(body, http.max_body_bytes).await {
        Ok(bytes) => bytes,
        Err(e) => {
            let limited = std::error::Error::source(&e)
                .is_some_and(|s| s.is::<http_body_util::LengthLimitError>());
            if limited {
                return too_large(http.max_body_bytes);
            }
            return rejected(Status::invalid_argument(format!(
                "cannot read the request body: {e}"
            )));
        }
    };
    let message: proto::AnalyzeRequest = match parse_body(&bytes) {
        Ok(message) => message,
        Err(status) => return rejected(status),
    };
    let (metadata, extensions, ()) = request.into_parts();
    let request = tonic::Request::from_parts(metadata, extensions, message);
    // Dropped when the client disconnects, which cancels the analysis as
    // on gRPC.
    match Summarizer::analyze(&http.service, request).await {
        Ok(response) => json(StatusCode::OK, response.get_ref()),
        Err(status) => error(&status),
    }
}

/// The body as an `AnalyzeRequest`. A value of the wrong type names its
/// field (as a `google.rpc.BadRequest` too, like the pipeline's own
/// INVALID_ARGUMENTs); a body that is not JSON, or has an unknown field,
/// says where in the body.
fn parse_body(bytes: &[u8]) -> Result<proto::AnalyzeRequest, Status> {
    let mut json = serde_json::Deserializer::from_slice(bytes);
    let error = match serde_path_to_error::deserialize(&mut json) {
        Ok(message) => return Ok(message),
        Err(error) => error,
    };
    let field = error.path().to_string();
    let message = format!(
        "the body is not an AnalyzeRequest in protobuf JSON: {}",
        error.inner()
    );
    // `.` is the path of the body itself (not JSON, not an object).
    if field == "." || error.inner().classify() != serde_json::error::Category::Data {
        return Err(Status::invalid_argument(message));
    }
    let message = format!("{message} (field {field})");
    Err(status::invalid_field(&field, message))
}

async fn info(State(http): State<Http>, headers: HeaderMap) -> Response {
    let request = match grpc_request(&http.front_door, headers, "GetInfo") {
        Ok(request) => request,
        Err(status) => return error(&status),
    };
    let (metadata, extensions, ()) = request.into_parts();
    let request = tonic::Request::from_parts(metadata, extensions, proto::GetInfoRequest {});
    match Summarizer::get_info(&http.service, request).await {
        Ok(response) => json(StatusCode::OK, response.get_ref()),
        Err(status) => error(&status),
    }
}

async fn readyz(State(http): State<Http>) -> Response {
    if http.ready.get() {
        (StatusCode::OK, "SERVING\n").into_response()
    } else {
        error(&Status::unavailable(
            "not SERVING: models are loading or the server is draining",
        ))
    }
}

async fn openapi() -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        OPENAPI,
    )
        .into_response()
}

fn too_large(limit: usize) -> Response {
    let code = Code::OutOfRange;
    metrics::record_rejected("Analyze", code, std::time::Duration::ZERO);
    let body = error_body(
        StatusCode::PAYLOAD_TOO_LARGE,
        code_name(code),
        &format!(
            "the request body is larger than the limit of {limit} bytes (--max-message-bytes)"
        ),
    );
    let mut response = json_response(StatusCode::PAYLOAD_TOO_LARGE, body);
    // The rest of the body is not read; the connection cannot be reused.
    response
        .headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
}

/// A gRPC status as HTTP: Google's status mapping and body
/// `{"error": {"code", "status", "message"}}`.
pub fn error(status: &Status) -> Response {
    let http = http_status(status.code());
    let mut body = error_body(http, code_name(status.code()), status.message());
    let details = error_details(status);
    let retry_after = status
        .get_details_retry_info()
        .and_then(|r| r.retry_delay)
        .map(|d| d.as_secs_f64().ceil() as u64);
    if !details.is_empty() {
        body["error"]["details"] = serde_json::Value::Array(details);
    }
    let mut response = json_response(http, body);
    if let Some(seconds) = retry_after {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    }
    response
}

/// The status' `google.rpc` details in their JSON mapping (`@type` and the
/// message's fields), as Google's HTTP APIs return them.
fn error_details(status: &Status) -> Vec<serde_json::Value> {
    let mut details = Vec::new();
    if let Some(bad) = status.get_details_bad_request() {
        let violations: Vec<_> = bad
            .field_violations
            .iter()
            .map(|v| serde_json::json!({"field": v.field, "description": v.description}))
            .collect();
        details.push(serde_json::json!({
            "@type": "type.googleapis.com/google.rpc.BadRequest",
            "fieldViolations": violations,
        }));
    }
    if let Some(retry) = status.get_details_retry_info() {
        let delay = retry.retry_delay.unwrap_or_default();
        details.push(serde_json::json!({
            "@type": "type.googleapis.com/google.rpc.RetryInfo",
            "retryDelay": format!("{}s", delay.as_secs_f64()),
        }));
    }
    details
}

fn error_body(http: StatusCode, status: &str, message: &str) -> serde_json::Value {
    serde_json::json!({
        "error": {
            "code": http.as_u16(),
            "status": status,
            "message": message,
        }
    })
}

fn json<T: serde::Serialize>(status: StatusCode, value: &T) -> Response {
    match serde_json::to_vec(value) {
        Ok(bytes) => (
            status,
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            )],
            bytes,
        )
            .into_response(),
        Err(e) => {
            tracing::error!(error = %e, "cannot encode a response as JSON");
            error(&Status::internal("cannot encode the response as JSON"))
        }
    }
}

fn json_response(status: StatusCode, body: serde_json::Value) -> Response {
    json(status, &body)
}
