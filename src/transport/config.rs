//! Server flags; each has an environment twin so `make serve` and container
//! deployments can configure it without a command line.

use std::{net::SocketAddr, path::PathBuf, time::Duration};

use clap::{Parser, ValueEnum};

use crate::pipeline::{BatchConfig, Limits, PipelineConfig, SessionLayout, VectorSource};

/// `--sentence-vectors`' values. The pipeline's enum stays free of clap.
const VECTOR_SOURCES: [(&str, VectorSource); 3] = [
    ("auto", VectorSource::Auto),
    ("encoder", VectorSource::Encoder),
    ("entity-head", VectorSource::EntityHead),
];

fn vector_source(name: &str) -> Result<VectorSource, String> {
    VECTOR_SOURCES
        .iter()
        .find(|(n, _)| *n == name)
        .map(|&(_, source)| source)
        .ok_or_else(|| {
            let names: Vec<&str> = VECTOR_SOURCES.iter().map(|&(n, _)| n).collect();
            format!("expected one of {}", names.join(", "))
        })
}

/// Whether requests share ONNX calls (`--batching`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Switch {
    On,
    Off,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

/// Khulasa gRPC server: summaries and named entities for news articles.
#[derive(Debug, Clone, Parser)]
#[command(name = "khulasa-server", version, about)]
pub struct ServerArgs {
    /// Address to listen on (port 0 picks a free port; the chosen address is logged).
    #[arg(long, env = "KHULASA_LISTEN", default_value = "127.0.0.1:50051")]
    pub listen: SocketAddr,

    /// Address of the HTTP/JSON API (POST /v1/analyze, GET /v1/info,
    /// /healthz, /readyz, /openapi.json), beside gRPC in the same process
    /// with the same limits, admission, token and TLS; port 0 picks a free
    /// port (logged); empty turns it off.
    #[arg(long, env = "KHULASA_HTTP_LISTEN", default_value = "127.0.0.1:8080", value_parser = optional_addr)]
    pub http_listen: OptionalAddr,

    /// Directory holding the model directories (each with a manifest.json) and
    /// runtime/libonnxruntime.so.1.31.1 (ORT_DYLIB_PATH overrides the library path).
    #[arg(long, env = "KHULASA_MODELS", default_value = "models")]
    pub models: PathBuf,

    /// An abstractive summarizer: a Hugging Face Optimum ONNX export of a
    /// T5/mT5 or BART/mBART model (encoder_model.onnx, decoder files,
    /// tokenizer.json, config.json, generation_config.json). With it,
    /// summaries are abstractive unless a request asks for MODE_EXTRACTIVE.
    #[arg(long, env = "KHULASA_SUMMARIZER")]
    pub summarizer: Option<PathBuf>,

    /// ONNX Runtime intra-op threads per session. One thread per session and
    /// one session per core measured best on 2 cores: small transformer calls
    /// parallelize poorly inside one call.
    #[arg(long, env = "KHULASA_INTRA_THREADS", default_value_t = 1, value_parser = positive)]
    pub intra_threads: usize,

    /// ONNX sessions per model, i.e. inferences of one model that may run at
    /// once [default: number of CPU cores].
    #[arg(long, env = "KHULASA_SESSIONS", default_value_t = cores(), value_parser = positive)]
    pub sessions: usize,

    // ---- model performance: batching and model builds (perf) ----
    /// Dynamic batching: sentences and NER windows of all articles in
    /// analysis go to one queue per model, served by one worker per session,
    /// and rows of similar length share ONNX calls. A lone article's rows
    /// spread over every session, which pays most at low concurrency
    /// (BENCHMARKS.md). `off`: each article runs its own calls on one session.
    #[arg(long, env = "KHULASA_BATCHING", value_enum, default_value_t = Switch::On)]
    pub batching: Switch,

    /// Largest ONNX call, in padded tokens (rows × longest row), also for
    /// the rows of one article with batching off [default: 256 per
    /// intra-op thread, as measured in BENCHMARKS.md].
    #[arg(long, env = "KHULASA_BATCH_MAX_TOKENS", value_parser = positive)]
    pub batch_max_tokens: Option<usize>,

    /// Longest a partial batch waits for rows of other in-flight articles, in
    /// ms. 0 by default: on CPU a bigger batch saves little (BENCHMARKS.md,
    /// "Batch shapes"), an idle session costs more; raise it where calls are
    /// cheap to batch (GPUs, many threads per session).
    #[arg(long, env = "KHULASA_BATCH_WAIT_MS", default_value_t = 0)]
    pub batch_wait_ms: u64,

    /// Sentence-encoder directory to use instead of the one in --models
    /// (e.g. models/variants/e5-small-fp32, the fp32 reference build).
    #[arg(long, env = "KHULASA_ENCODER")]
    pub encoder: Option<PathBuf>,

    /// Token-classification (NER) directory to use instead of the one in
    /// --models (e.g. models/variants/ner-ar-fp32, the fp32 reference build).
    #[arg(long, env = "KHULASA_ENTITIES")]
    pub entities: Option<PathBuf>,

    /// Where the summary's sentence vectors come from: `entity-head` (the
    /// entity model's sentence head: one encoder pass for summary and
    /// entities), `encoder` (the sentence encoder, a second pass), or `auto`:
    /// the head when the entity model has one and no --encoder is named.
    #[arg(
        long,
        env = "KHULASA_SENTENCE_VECTORS",
        default_value = "auto",
        value_parser = vector_source
    )]
    pub sentence_vectors: VectorSource,
    // ---- end of model performance flags ----
    /// Articles analyzed at once; further requests wait in a queue
    /// [default: --sessions, at least 16 with --batching on, so batches can
    /// form].
    #[arg(long, env = "KHULASA_MAX_CONCURRENT", value_parser = positive)]
    pub max_concurrent: Option<usize>,

    /// Requests that may wait for a worker; beyond this a request fails at
    /// once with RESOURCE_EXHAUSTED instead of queueing without bound.
    #[arg(long, env = "KHULASA_MAX_QUEUE", default_value_t = 64)]
    pub max_queue: usize,

    /// Code points of all waiting articles together; beyond this a request
    /// fails at once with RESOURCE_EXHAUSTED. (Requests with a deadline are
    /// also refused at once when the measured speed says they would finish
    /// after it.)
    #[arg(long, env = "KHULASA_MAX_QUEUE_CHARS", default_value_t = 2_000_000)]
    pub max_queue_chars: usize,

    /// Articles of one AnalyzeStream call in flight at once.
    #[arg(long, env = "KHULASA_STREAM_WINDOW", default_value_t = 8, value_parser = positive)]
    pub stream_window: usize,

    /// Longest accepted article, in Unicode code points.
    #[arg(long, env = "KHULASA_MAX_ARTICLE_CHARS", default_value_t = 200_000, value_parser = positive_u32)]
    pub max_article_chars: usize,

    /// Largest accepted gRPC message, in bytes.
    #[arg(long, env = "KHULASA_MAX_MESSAGE_BYTES", default_value_t = 4 * 1024 * 1024, value_parser = positive_u32)]
    pub max_message_bytes: usize,

    /// Seconds in-flight requests get to finish after SIGTERM/SIGINT.
    #[arg(long, env = "KHULASA_DRAIN_SECONDS", default_value_t = 30)]
    pub drain_seconds: u64,

    /// Log format.
    #[arg(long, env = "KHULASA_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,

    /// Serve Prometheus metrics at http://ADDR/metrics (off unless set).
    #[arg(long, env = "KHULASA_METRICS_LISTEN")]
    pub metrics_listen: Option<SocketAddr>,

    /// Export traces over OTLP/gRPC to this collector, e.g.
    /// http://otel-collector:4317 (off unless set). Incoming W3C
    /// `traceparent` is continued and the trace id logged either way.
    #[arg(long, env = "KHULASA_OTLP_ENDPOINT")]
    pub otlp_endpoint: Option<String>,

    /// PEM certificate chain: serve gRPC over TLS (needs --tls-key).
    #[arg(long, env = "KHULASA_TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,

    /// PEM private key of --tls-cert.
    #[arg(long, env = "KHULASA_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,

    /// PEM CA certificates: require client certificates signed by one of
    /// them (mutual TLS; needs --tls-cert).
    #[arg(long, env = "KHULASA_TLS_CLIENT_CA", requires = "tls_cert")]
    pub tls_client_ca: Option<PathBuf>,

    /// File holding a bearer token that Summarizer calls must send as
    /// `authorization: Bearer <token>` (health and reflection stay open).
    /// For deployments without a mesh; the token is never logged.
    #[arg(long, env = "KHULASA_AUTH_TOKEN_FILE")]
    pub auth_token_file: Option<PathBuf>,
}

impl ServerArgs {
    /// What these flags say about running the pipeline, for
    /// [`load_analyzer`](crate::pipeline::load_analyzer) and admission.
    pub fn pipeline(&self) -> PipelineConfig {
        PipelineConfig {
            models: self.models.clone(),
            summarizer: self.summarizer.clone(),
            encoder: self.encoder.clone(),
            entities: self.entities.clone(),
            sentence_vectors: self.sentence_vectors,
            layout: SessionLayout {
                sessions: self.sessions.max(1),
                intra_threads: self.intra_threads,
            },
            batching: BatchConfig {
                enabled: self.batching == Switch::On,
                max_tokens: self
                    .batch_max_tokens
                    .unwrap_or_else(|| BatchConfig::max_tokens_for(self.intra_threads)),
                wait: Duration::from_millis(self.batch_wait_ms),
            },
            max_concurrent: match (self.max_concurrent, self.batching) {
                (Some(n), _) => n,
                (None, Switch::On) => self.sessions.max(16),
                (None, Switch::Off) => self.sessions,
            },
            limits: Limits {
                max_article_chars: self.max_article_chars,
            },
        }
    }

    pub fn drain_deadline(&self) -> Duration {
        Duration::from_secs(self.drain_seconds)
    }
}

/// A listen address, or none (an empty value) for a listener turned off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OptionalAddr(pub Option<SocketAddr>);

fn optional_addr(s: &str) -> Result<OptionalAddr, String> {
    if s.trim().is_empty() {
        return Ok(OptionalAddr(None));
    }
    s.trim()
        .parse()
        .map(|a| OptionalAddr(Some(a)))
        .map_err(|e| format!("expected an address such as 127.0.0.1:8080, or empty for off: {e}"))
}

fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

fn positive(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(format!("expected a whole number of at least 1, got {s:?}")),
    }
}

/// At least 1 and reportable in the API's u32 fields.
fn positive_u32(s: &str) -> Result<usize, String> {
    match s.parse::<u32>() {
        Ok(n) if n > 0 => Ok(n as usize),
        _ => Err(format!(
            "expected a whole number from 1 to {}, got {s:?}",
            u32::MAX
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(argv: &[&str]) -> Result<ServerArgs, clap::Error> {
        ServerArgs::try_parse_from(std::iter::once("khulasa-server").chain(argv.iter().copied()))
    }

    #[test]
    fn sentence_vectors_take_each_named_source() {
        assert_eq!(parse(&[]).unwrap().sentence_vectors, VectorSource::Auto);
        for (name, source) in VECTOR_SOURCES {
            let args = parse(&["--sentence-vectors", name]).unwrap();
            assert_eq!(args.sentence_vectors, source, "{name}");
        }
        let err = parse(&["--sentence-vectors", "head"]).unwrap_err();
        assert!(err.to_string().contains("entity-head"), "{err}");
    }
}
