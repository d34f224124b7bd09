//! The `khulasa.v1.Summarizer` service.

use std::{
    pin::Pin,
    sync::{Arc, OnceLock},
    time::Instant,
};

use futures::{stream::FuturesUnordered, Stream, StreamExt};
use tokio::sync::{mpsc, Semaphore};
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status, Streaming};

use super::{convert, status};
use crate::{
    pipeline::{Analysis, Analyzer, ArticleRequest, Limits},
    proto::{self, summarizer_server::Summarizer},
};

/// Shared by every call: the analyzer once models are loaded, and the
/// permits that bound how many articles are analyzed at once.
pub struct SummarizerService {
    analyzer: Arc<OnceLock<Arc<Analyzer>>>,
    workers: Arc<Semaphore>,
    limits: Limits,
    max_message_bytes: usize,
    stream_window: usize,
}

impl SummarizerService {
    pub fn new(
        analyzer: Arc<OnceLock<Arc<Analyzer>>>,
        max_concurrent: usize,
        limits: Limits,
        max_message_bytes: usize,
        stream_window: usize,
    ) -> Self {
        SummarizerService {
            analyzer,
            workers: Arc::new(Semaphore::new(max_concurrent.max(1))),
            limits,
            max_message_bytes,
            stream_window: stream_window.max(1),
        }
    }

    fn shared(&self) -> Self {
        SummarizerService {
            analyzer: Arc::clone(&self.analyzer),
            workers: Arc::clone(&self.workers),
            limits: self.limits,
            max_message_bytes: self.max_message_bytes,
            stream_window: self.stream_window,
        }
    }

    /// Validates, analyzes on the blocking pool and converts one article.
    async fn analyze_one(
        &self,
        req: proto::AnalyzeRequest,
    ) -> Result<proto::AnalyzeResponse, Status> {
        let received = Instant::now();
        let analyzer = self.analyzer.get().cloned().ok_or_else(status::not_ready)?;
        let id = req.id.clone();
        let request = convert::request(req, &self.limits).map_err(|e| {
            tracing::info!(id = %id, code = "INVALID_ARGUMENT", error = %e, "rejected");
            status::invalid(e)
        })?;
        let permit = Arc::clone(&self.workers)
            .acquire_owned()
            .await
            .map_err(|_| Status::unavailable("server is shutting down"))?;
        let queued = received.elapsed();
        let request = Arc::new(request);
        let job = Arc::clone(&request);
        let result = tokio::task::spawn_blocking(move || {
            let _permit = permit;
            analyzer.analyze(&job)
        })
        .await
        .map_err(|e| {
            tracing::error!(id = %id, error = %e, "analysis worker panicked");
            status::worker_lost()
        })?;
        match result {
            Ok(analysis) => {
                log_analysis(&request, &analysis, queued, received);
                Ok(convert::response(&request, analysis))
            }
            Err(e) => {
                let status = status::analyze_failed(e);
                tracing::info!(id = %id, code = status::code_name(status.code()), error = %status.message(), "failed");
                Err(status)
            }
        }
    }
}

fn log_analysis(
    request: &ArticleRequest,
    analysis: &Analysis,
    queued: std::time::Duration,
    received: Instant,
) {
    let t = &analysis.timings;
    let ms = |d: std::time::Duration| d.as_secs_f64() * 1e3;
    tracing::info!(
        id = %request.id,
        bytes = request.text.len(),
        language = %analysis.language,
        sentences = analysis.summary.as_ref().map_or(0, |s| s.article_sentences),
        summary_sentences = analysis.summary.as_ref().map_or(0, |s| s.sentences.len()),
        entities = analysis.entities.as_ref().map_or(0, Vec::len),
        queue_ms = ms(queued),
        language_ms = ms(t.language),
        segment_ms = ms(t.segment),
        embed_ms = ms(t.embed),
        rank_ms = ms(t.rank),
        entities_ms = ms(t.entities),
        total_ms = ms(received.elapsed()),
        "analyzed"
    );
}

type ResponseStream = Pin<Box<dyn Stream<Item = Result<proto::AnalyzeResponse, Status>> + Send>>;

#[tonic::async_trait]
impl Summarizer for SummarizerService {
    async fn analyze(
        &self,
        request: Request<proto::AnalyzeRequest>,
    ) -> Result<Response<proto::AnalyzeResponse>, Status> {
        self.analyze_one(request.into_inner())
            .await
            .map(Response::new)
    }

    type AnalyzeStreamStream = ResponseStream;

    async fn analyze_stream(
        &self,
        request: Request<Streaming<proto::AnalyzeRequest>>,
    ) -> Result<Response<Self::AnalyzeStreamStream>, Status> {
        let mut inbound = request.into_inner();
        let service = self.shared();
        let window = self.stream_window;
        let (tx, rx) = mpsc::channel(window);
        tokio::spawn(async move {
            let mut in_flight = FuturesUnordered::new();
            let mut inbound_open = true;
            let mut inbound_error = None;
            loop {
                tokio::select! {
                    item = inbound.next(), if inbound_open && in_flight.len() < window => match item {
                        Some(Ok(req)) => {
                            let service = service.shared();
                            in_flight.push(async move {
                                let id = req.id.clone();
                                match service.analyze_one(req).await {
                                    Ok(resp) => resp,
                                    // A bad item fails alone, in band.
                                    Err(status) => proto::AnalyzeResponse {
                                        id,
                                        error: Some(status::in_band(&status)),
                                        ..Default::default()
                                    },
                                }
                            });
                        }
                        Some(Err(status)) => {
                            inbound_open = false;
                            inbound_error = Some(status);
                        }
                        None => inbound_open = false,
                    },
                    Some(response) = in_flight.next(), if !in_flight.is_empty() => {
                        if tx.send(Ok(response)).await.is_err() {
                            return; // The client went away.
                        }
                    }
                    else => break,
                }
            }
            // Every accepted item has been answered; now report a broken
            // inbound stream, if it broke.
            if let Some(status) = inbound_error {
                let _ = tx.send(Err(status)).await;
            }
        });
        Ok(Response::new(Box::pin(ReceiverStream::new(rx))))
    }

    async fn get_info(
        &self,
        _request: Request<proto::GetInfoRequest>,
    ) -> Result<Response<proto::GetInfoResponse>, Status> {
        let models = self
            .analyzer
            .get()
            .map(|a| a.models().manifests())
            .unwrap_or_default()
            .into_iter()
            .map(|m| proto::ModelInfo {
                name: m.name.clone(),
                kind: m.kind.as_str().to_string(),
                version: m.version.clone(),
                sha256: m.model_sha256().to_string(),
                labels: m.labels.clone(),
                max_tokens: m.max_tokens as u32,
                source: m.source.clone(),
                license: m.license.clone(),
            })
            .collect();
        let entity_languages = self
            .analyzer
            .get()
            .and_then(|a| {
                a.models()
                    .entities
                    .as_ref()
                    .map(|(c, _)| c.manifest().languages.clone())
            })
            .unwrap_or_default();
        Ok(Response::new(proto::GetInfoResponse {
            server_version: env!("CARGO_PKG_VERSION").to_string(),
            models,
            limits: Some(proto::Limits {
                max_article_chars: self.limits.max_article_chars as u32,
                max_message_bytes: self.max_message_bytes as u32,
            }),
            languages: crate::text::lang::supported()
                .into_iter()
                .map(String::from)
                .collect(),
            entity_languages,
        }))
    }
}
