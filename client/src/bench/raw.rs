//! The in-process target: the library's pipeline loaded as the server
//! loads it (same flags, sessions, threads and admission limit), each
//! article analyzed on the blocking pool as the service does, with no gRPC.

use std::{sync::Arc, time::Instant};

use anyhow::Result;
use futures::future::BoxFuture;
use khulasa::pipeline::{
    load_analyzer, Analyzer, ArticleRequest, Limits, StopSignal, SummaryLength, SummaryMode,
    TaskSet,
};
use tokio::sync::Semaphore;

use super::{corpus::Article, driver::Target};

pub struct Raw {
    analyzer: Arc<Analyzer>,
    /// The server's `--max-concurrent`: articles analyzed at once.
    admission: Arc<Semaphore>,
    limits: Limits,
}

/// The loaded pipeline and how long loading and warming took.
pub struct Loaded {
    pub raw: Raw,
    pub load_secs: f64,
    /// Settings mirrored from the server flags, for the report.
    pub settings: String,
}

impl Raw {
    /// Loads the models as `khulasa-server <server_argv>` would.
    pub fn load(server_argv: &[String]) -> Result<Loaded> {
        let config = khulasa::server_pipeline(server_argv)?;
        let started = Instant::now();
        let analyzer = load_analyzer(&config)?;
        let batching = config.batching;
        let settings = format!(
            "models {}, {} session(s) per model, {} intra-op thread(s), {} article(s) at once, batching {}",
            config.models.display(),
            config.layout.sessions,
            config.layout.intra_threads,
            config.max_concurrent,
            if batching.enabled {
                format!("on ({} tokens, {} ms)", batching.max_tokens, batching.wait.as_millis())
            } else {
                "off".to_string()
            }
        );
        let raw = Raw {
            analyzer: Arc::new(analyzer),
            admission: Arc::new(Semaphore::new(config.max_concurrent)),
            limits: config.limits,
        };
        Ok(Loaded {
            raw,
            load_secs: started.elapsed().as_secs_f64(),
            settings,
        })
    }
}

impl Target for Raw {
    fn analyze(&self, article: &Article) -> BoxFuture<'static, Result<(), String>> {
        let (analyzer, admission, limits) = (
            Arc::clone(&self.analyzer),
            Arc::clone(&self.admission),
            self.limits,
        );
        let (id, text) = (article.id.clone(), article.text.to_string());
        Box::pin(async move {
            // The same request the server builds for an AnalyzeRequest with
            // no options: server defaults, every task.
            let request = ArticleRequest::new(
                id,
                text,
                "",
                SummaryLength::default(),
                SummaryMode::Auto,
                TaskSet::All,
                &limits,
            )
            .map_err(|e| format!("invalid: {e}"))?;
            let permit = admission
                .acquire_owned()
                .await
                .map_err(|_| "admission closed".to_string())?;
            tokio::task::spawn_blocking(move || {
                let _permit = permit;
                analyzer.analyze(&request, &StopSignal::new(None))
            })
            .await
            .map_err(|_| "worker panicked".to_string())?
            .map(drop)
            .map_err(|e| e.to_string())
        })
    }
}
