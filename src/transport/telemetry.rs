//! Logs and traces: one `tracing` subscriber writes the log lines and feeds
//! OpenTelemetry, so a request's log line and its exported spans share the
//! trace id the caller sent in `traceparent`.

use std::io::IsTerminal;

use anyhow::Context as _;
use opentelemetry::{
    propagation::{Extractor, TextMapPropagator},
    trace::{TraceContextExt, TraceId, TracerProvider as _},
};
use opentelemetry_otlp::WithExportConfig;
use opentelemetry_sdk::{propagation::TraceContextPropagator, trace::SdkTracerProvider, Resource};
use tonic::metadata::{KeyRef, MetadataMap};
use tracing::Span;
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::{layer::SubscriberExt, util::SubscriberInitExt, EnvFilter, Layer};

use super::LogFormat;

/// Keeps the tracer provider alive; [`Telemetry::shutdown`] flushes spans
/// still waiting for export.
pub struct Telemetry {
    provider: SdkTracerProvider,
}

impl Telemetry {
    /// Installs the global subscriber: log lines to stderr in `format`, and
    /// spans to an OTLP/gRPC collector at `otlp_endpoint` when one is given.
    /// Call it inside the tokio runtime: the exporter's connection lives there.
    ///
    /// `RUST_LOG` wins over the default filter, which logs Khulasa at info and
    /// ONNX Runtime only at warn.
    pub fn init(format: LogFormat, otlp_endpoint: Option<&str>) -> anyhow::Result<Telemetry> {
        let mut provider = SdkTracerProvider::builder().with_resource(
            Resource::builder()
                .with_service_name("khulasa")
                .with_attribute(opentelemetry::KeyValue::new(
                    "service.version",
                    env!("CARGO_PKG_VERSION"),
                ))
                .build(),
        );
        if let Some(endpoint) = otlp_endpoint {
            let exporter = opentelemetry_otlp::SpanExporter::builder()
                .with_tonic()
                .with_endpoint(endpoint)
                .build()
                .with_context(|| format!("cannot set up OTLP export to {endpoint}"))?;
            provider = provider.with_batch_exporter(exporter);
        }
        // Without an exporter the provider still assigns trace ids, so log
        // lines carry one whether or not spans leave the process.
        let provider = provider.build();

        let filter =
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,ort=warn"));
        let logs = tracing_subscriber::fmt::layer()
            .with_writer(std::io::stderr)
            .with_ansi(std::io::stderr().is_terminal());
        let logs = match format {
            LogFormat::Text => logs.boxed(),
            LogFormat::Json => logs
                .json()
                .flatten_event(true)
                .with_current_span(true)
                .with_span_list(false)
                .boxed(),
        };
        let traces = tracing_opentelemetry::layer().with_tracer(provider.tracer("khulasa"));
        tracing_subscriber::registry()
            .with(logs)
            .with(traces)
            .with(filter)
            .try_init()
            .context("installing the log subscriber")?;
        Ok(Telemetry { provider })
    }

    /// Exports what is still buffered; logs instead of failing, since this
    /// runs on the way out.
    pub fn shutdown(self) {
        if let Err(e) = self.provider.shutdown() {
            tracing::warn!(error = %e, "flushing traces at exit failed");
        }
    }
}

/// The span of one RPC: a child of the caller's `traceparent` when the
/// metadata carries a valid one, else the root of a new trace. Its
/// `trace_id` field puts the id on every log line inside it.
pub fn rpc_span(method: &'static str, metadata: &MetadataMap) -> Span {
    let span = tracing::info_span!("rpc", method, trace_id = tracing::field::Empty);
    let parent = TraceContextPropagator::new().extract(&MetadataExtractor(metadata));
    // Fails only without the OpenTelemetry layer (e.g. in unit tests).
    let _ = span.set_parent(parent);
    let trace_id = span.context().span().span_context().trace_id();
    if trace_id != TraceId::INVALID {
        span.record("trace_id", tracing::field::display(trace_id));
    }
    span
}

/// Reads W3C trace context headers from gRPC metadata.
struct MetadataExtractor<'a>(&'a MetadataMap);

impl Extractor for MetadataExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0
            .keys()
            .filter_map(|k| match k {
                KeyRef::Ascii(k) => Some(k.as_str()),
                KeyRef::Binary(_) => None,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extracts_a_valid_traceparent() {
        let mut metadata = MetadataMap::new();
        metadata.insert(
            "traceparent",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
                .parse()
                .unwrap(),
        );
        let cx = TraceContextPropagator::new().extract(&MetadataExtractor(&metadata));
        assert_eq!(
            cx.span().span_context().trace_id().to_string(),
            "4bf92f3577b34da6a3ce929d0e0e4736"
        );
        assert!(cx.span().span_context().is_remote());
    }

    #[test]
    fn ignores_a_malformed_traceparent() {
        let mut metadata = MetadataMap::new();
        metadata.insert("traceparent", "00-zz-00f067aa0ba902b7-01".parse().unwrap());
        let cx = TraceContextPropagator::new().extract(&MetadataExtractor(&metadata));
        assert!(!cx.span().span_context().is_valid());
    }
}
