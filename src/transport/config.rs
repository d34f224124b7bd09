//! Server flags; each has an environment twin so `make serve` and container
//! deployments can configure it without a command line.

use std::{net::SocketAddr, path::PathBuf, time::Duration};

use clap::{Parser, ValueEnum};

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

    /// Directory holding the model directories (each with a manifest.json) and
    /// runtime/libonnxruntime.so.1.31.1 (ORT_DYLIB_PATH overrides the library path).
    #[arg(long, env = "KHULASA_MODELS", default_value = "models")]
    pub models: PathBuf,

    /// ONNX Runtime intra-op threads per session [default: number of CPU cores].
    #[arg(long, env = "KHULASA_INTRA_THREADS")]
    pub intra_threads: Option<usize>,

    /// ONNX sessions per model, i.e. inferences of one model that may run at once.
    #[arg(long, env = "KHULASA_SESSIONS", default_value_t = 1)]
    pub sessions: usize,

    /// Articles analyzed at once; further requests wait in a queue [default: --sessions].
    #[arg(long, env = "KHULASA_MAX_CONCURRENT")]
    pub max_concurrent: Option<usize>,

    /// Articles of one AnalyzeStream call in flight at once.
    #[arg(long, env = "KHULASA_STREAM_WINDOW", default_value_t = 8)]
    pub stream_window: usize,

    /// Longest accepted article, in Unicode code points.
    #[arg(long, env = "KHULASA_MAX_ARTICLE_CHARS", default_value_t = 200_000)]
    pub max_article_chars: usize,

    /// Largest accepted gRPC message, in bytes.
    #[arg(long, env = "KHULASA_MAX_MESSAGE_BYTES", default_value_t = 4 * 1024 * 1024)]
    pub max_message_bytes: usize,

    /// Seconds in-flight requests get to finish after SIGTERM/SIGINT.
    #[arg(long, env = "KHULASA_DRAIN_SECONDS", default_value_t = 30)]
    pub drain_seconds: u64,

    /// Log format.
    #[arg(long, env = "KHULASA_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
}

impl ServerArgs {
    pub fn intra_threads(&self) -> usize {
        self.intra_threads
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
            .max(1)
    }

    pub fn max_concurrent(&self) -> usize {
        self.max_concurrent.unwrap_or(self.sessions).max(1)
    }

    pub fn drain_deadline(&self) -> Duration {
        Duration::from_secs(self.drain_seconds)
    }
}
