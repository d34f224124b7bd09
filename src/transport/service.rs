//! The `khulasa.v1.Summarizer` service.

use std::{
    pin::Pin,
    sync::{Arc, OnceLock},
};

use futures::{stream::FuturesUnordered, Stream, StreamExt};
use tokio::{
    sync::{mpsc, watch},
    time::Instant,
};
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Code, Request, Response, Status, Streaming};
use tracing::Instrument;

use super::{
    admission,
    admission::{Admission, QueueLimits},
    convert,
    metrics::{self, Method},
    status, telemetry,
};
use crate::{
    pipeline::{
        Analysis, AnalyzeError, Analyzer, ArticleRequest, Limits, StopSignal, Stopped,
        SummaryLength, SummaryMode, TaskSet,
    },
    proto::{self, summarizer_server::Summarizer},
};

/// The article [`SummarizerService::calibrate`] times: written for it (MIT).
const CALIBRATION_TEXT: &str = include_str!("calibration_ar.txt");

/// Shared by every call: the analyzer once models are loaded, admission
/// control in front of the workers, and the shutdown signal.
#[derive(Clone)]
pub struct SummarizerService {
    analyzer: Arc<OnceLock<Arc<Analyzer>>>,
    admission: Arc<Admission>,
    shutdown: watch::Receiver<bool>,
    settings: Settings,
}

/// The service's fixed settings.
#[derive(Debug, Clone, Copy)]
pub struct Settings {
    pub limits: Limits,
    pub max_concurrent: usize,
    pub max_queue: usize,
    pub max_queue_chars: usize,
    pub max_message_bytes: usize,
    pub stream_window: usize,
}

impl SummarizerService {
    pub fn new(
        analyzer: Arc<OnceLock<Arc<Analyzer>>>,
        settings: Settings,
        shutdown: watch::Receiver<bool>,
    ) -> Self {
        SummarizerService {
            analyzer,
            admission: Arc::new(Admission::new(
                settings.max_concurrent,
                QueueLimits {
                    requests: settings.max_queue,
                    chars: settings.max_queue_chars,
                },
            )),
            shutdown,
            settings,
        }
    }

    /// Times one analysis of a built-in article, alone, so that admission
    /// knows the server's speed before the first request: without it a
    /// fresh server admits long articles it cannot finish before their
    /// callers' deadlines (bench/overload.py). Blocking; run it after
    /// loading, before SERVING.
    pub fn calibrate(&self, analyzer: &Analyzer) {
        let text = CALIBRATION_TEXT;
        let request = ArticleRequest::new(
            "calibration".into(),
            text.into(),
            "ar",
            SummaryLength::default(),
            SummaryMode::Auto,
            TaskSet::All,
            &self.settings.limits,
        );
        let started = std::time::Instant::now();
        // No spans or logs of its own: they would be exported as a trace
        // nobody asked for.
        let quiet = tracing::subscriber::NoSubscriber::default();
        let result = tracing::subscriber::with_default(quiet, || {
            request.map_err(|e| e.to_string()).and_then(|r| {
                analyzer
                    .analyze(&r, &StopSignal::never())
                    .map_err(|e| e.to_string())
            })
        });
        match result {
            Ok(_) => self
                .admission
                .calibrate(text.chars().count(), started.elapsed()),
            Err(e) => tracing::warn!(
                error = %e,
                "calibration analysis failed; admission learns the speed from the first requests"
            ),
        }
    }

    /// UNAVAILABLE for a call that arrives once the drain has begun: on a
    /// connection opened before the signal, a call can still reach the
    /// service before the client has read the server's GOAWAY.
    fn refuse_while_draining(&self, method: Method) -> Result<(), Status> {
        if !*self.shutdown.borrow() {
            return Ok(());
        }
        metrics::record_request(method, Code::Unavailable, std::time::Duration::ZERO);
        Err(Status::unavailable(
            "server is shutting down: resend the request to another replica",
        ))
    }

    /// The request's deadline from its `grpc-timeout`; a malformed header
    /// is refused and counted like any other refusal.
    fn deadline<T>(&self, method: Method, request: &Request<T>) -> Result<Option<Instant>, Status> {
        admission::deadline(request.metadata(), admission::Arrival::of(request)).inspect_err(
            |status| {
                metrics::record_request(method, status.code(), std::time::Duration::ZERO);
            },
        )
    }

    /// [`Self::analyze_article`], counted in the metrics as one `method`
    /// request.
    async fn analyze_one(
        &self,
        method: Method,
        req: proto::AnalyzeRequest,
        deadline: Option<Instant>,
    ) -> Result<proto::AnalyzeResponse, Status> {
        let received = Instant::now();
        let result = self.analyze_article(req, deadline, received).await;
        let code = result.as_ref().map_or_else(Status::code, |_| Code::Ok);
        metrics::record_request(method, code, received.elapsed());
        result
    }

    /// Validates, queues, analyzes on the blocking pool and converts one
    /// article. If this future is dropped (the client went away), the
    /// analysis is told to stop.
    async fn analyze_article(
        &self,
        req: proto::AnalyzeRequest,
        deadline: Option<Instant>,
        received: Instant,
    ) -> Result<proto::AnalyzeResponse, Status> {
        let id = loggable(&req.id);
        let request = convert::request(req, &self.settings.limits).map_err(|e| {
            tracing::info!(id, code = "INVALID_ARGUMENT", error = %e, "rejected");
            status::invalid(e)
        })?;
        let analyzer = self.analyzer.get().cloned().ok_or_else(status::not_ready)?;
        analyzer
            .check_tasks(&request)
            .map_err(status::analyze_failed)?;

        let chars = request.text.chars().count();
        let admitted = self.admission.admit(chars, deadline).await.inspect_err(|s| {
            tracing::info!(id, code = status::code_name(s.code()), error = %s.message(), "not admitted");
        })?;
        let queued = received.elapsed();
        let stop = StopSignal::new(deadline.map(Instant::into_std));
        let _cancel_on_drop = CancelOnDrop(stop.clone());
        let request = Arc::new(request);
        let job = Arc::clone(&request);
        let span = tracing::Span::current();
        let job_id = id.clone();
        let analysis = tokio::task::spawn_blocking(move || {
            let _span = span.enter();
            let started = std::time::Instant::now();
            let result = analyzer.analyze(&job, &stop);
            match &result {
                Ok(_) => admitted.finished(started.elapsed()),
                Err(AnalyzeError::Stopped(Stopped::Cancelled)) => {
                    // Nobody waits for this answer any more (the client went
                    // away, or its deadline was already answered): the one trace
                    // of the work stopping early (tests/lifecycle.rs looks for it).
                    tracing::info!(id = job_id, "analysis stopped: nobody waits for the answer");
                }
                Err(_) => {}
            }
            result // the worker is free once `admitted` is dropped here
        });
        // Answer DEADLINE_EXCEEDED ourselves, a little before the client's
        // deadline (see `admission::deadline`): tonic's own timeout would
        // answer CANCELLED. The analysis stops at its next check (the guard
        // above cancels it) and keeps its worker until then.
        let joined = match deadline {
            Some(deadline) => tokio::time::timeout_at(deadline, analysis)
                .await
                .map_err(|_| {
                    let status = Status::deadline_exceeded("deadline passed during analysis");
                    tracing::info!(id, code = "DEADLINE_EXCEEDED", error = %status.message(), "failed");
                    status
                })?,
            None => analysis.await,
        };
        let result = joined.map_err(|e| {
            tracing::error!(id, error = %e, "analysis worker panicked");
            status::worker_lost()
        })?;
        match result {
            Ok(analysis) => {
                log_analysis(&id, &request, &analysis, queued, received);
                metrics::record_stages(queued, &analysis.timings);
                metrics::record_article_chars(chars);
                Ok(convert::response(&request, analysis))
            }
            Err(e) => {
                let status = status::analyze_failed(e);
                tracing::info!(id, code = status::code_name(status.code()), error = %status.message(), "failed");
                Err(status)
            }
        }
    }
}

/// Cancels the analysis when the request future is dropped unfinished.
struct CancelOnDrop(StopSignal);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        self.0.cancel();
    }
}

/// Request ids are client data: keep log lines bounded.
fn loggable(id: &str) -> String {
    const MAX: usize = 128;
    match id.char_indices().nth(MAX) {
        Some((cut, _)) => format!("{}…", &id[..cut]),
        None => id.to_string(),
    }
}

fn log_analysis(
    id: &str,
    request: &ArticleRequest,
    analysis: &Analysis,
    queued: std::time::Duration,
    received: Instant,
) {
    let t = &analysis.timings;
    let ms = |d: std::time::Duration| d.as_secs_f64() * 1e3;
    tracing::info!(
        id,
        bytes = request.text.len(),
        language = %analysis.language,
        sentences = analysis.summary.as_ref().map_or(0, |s| s.article_sentences),
        summary_sentences = analysis.summary.as_ref().map_or(0, |s| s.sentences.len()),
        entities = analysis.entities.as_ref().map_or(0, |e| e.mentions.len()),
        queue_ms = ms(queued),
        language_ms = ms(t.language),
        segment_ms = ms(t.segment),
        embed_ms = ms(t.embed),
        rank_ms = ms(t.rank),
        generate_ms = ms(t.generate),
        entities_ms = ms(t.entities),
        groups_ms = ms(t.groups),
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
        self.refuse_while_draining(Method::Analyze)?;
        let deadline = self.deadline(Method::Analyze, &request)?;
        let span = telemetry::rpc_span("Analyze", request.metadata());
        self.analyze_one(Method::Analyze, request.into_inner(), deadline)
            .instrument(span)
            .await
            .map(Response::new)
    }

    type AnalyzeStreamStream = ResponseStream;

    async fn analyze_stream(
        &self,
        request: Request<Streaming<proto::AnalyzeRequest>>,
    ) -> Result<Response<Self::AnalyzeStreamStream>, Status> {
        self.refuse_while_draining(Method::AnalyzeStream)?;
        let deadline = self.deadline(Method::AnalyzeStream, &request)?;
        let span = telemetry::rpc_span("AnalyzeStream", request.metadata());
        let mut inbound = request.into_inner();
        let service = self.clone();
        let mut shutdown = self.shutdown.clone();
        let window = self.settings.stream_window;
        let (tx, rx) = mpsc::channel(window);
        tokio::spawn(async move {
            let mut in_flight = FuturesUnordered::new();
            let mut inbound_open = !*shutdown.borrow();
            let mut closing_status = None;
            // Until the inbound side is done and every accepted item answered.
            while inbound_open || !in_flight.is_empty() {
                tokio::select! {
                    item = inbound.next(), if inbound_open && in_flight.len() < window => match item {
                        Some(Ok(req)) => {
                            let service = service.clone();
                            in_flight.push(async move {
                                let id = req.id.clone();
                                match service.analyze_one(Method::AnalyzeStream, req, deadline).await {
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
                            closing_status = Some(status);
                        }
                        None => inbound_open = false,
                    },
                    Some(response) = in_flight.next(), if !in_flight.is_empty() => {
                        if tx.send(Ok(response)).await.is_err() {
                            return; // The client went away; dropping in_flight cancels its work.
                        }
                    }
                    // Shutting down: read no more items, answer those accepted.
                    Ok(()) = shutdown.changed(), if inbound_open => {
                        if *shutdown.borrow() {
                            inbound_open = false;
                            closing_status = Some(status::retry_later(
                                Code::Unavailable,
                                "server is shutting down: items sent after this point were not read; resend them to another replica",
                                std::time::Duration::ZERO,
                            ));
                        }
                    }
                    // The client went away; dropping in_flight cancels its work.
                    () = tx.closed() => return,
                }
            }
            // Every accepted item has been answered; now say why the stream
            // ends early, if it does.
            if let Some(status) = closing_status {
                let _ = tx.send(Err(status)).await;
            }
        }.instrument(span));
        Ok(Response::new(Box::pin(ReceiverStream::new(rx))))
    }

    async fn get_info(
        &self,
        _request: Request<proto::GetInfoRequest>,
    ) -> Result<Response<proto::GetInfoResponse>, Status> {
        let received = Instant::now();
        let analyzer = self.analyzer.get();
        let models = analyzer
            .map(|a| a.models().manifests())
            .unwrap_or_default()
            .into_iter()
            .map(|m| proto::ModelInfo {
                name: m.name.clone(),
                kind: m.kind.as_str().to_string(),
                version: m.version.clone(),
                sha256: m.model_sha256().to_string(),
                labels: m.labels.clone(),
                max_tokens: u32::try_from(m.max_tokens).unwrap_or(u32::MAX),
                source: m.source.clone(),
                license: m.license.clone(),
            })
            .collect();
        let entity_languages = analyzer
            .and_then(|a| {
                a.models()
                    .entities()
                    .map(|m| m.classifier.manifest().languages.clone())
            })
            .unwrap_or_default();
        let limits = &self.settings;
        let response = Ok(Response::new(proto::GetInfoResponse {
            server_version: env!("CARGO_PKG_VERSION").to_string(),
            models,
            limits: Some(proto::Limits {
                max_article_chars: u32::try_from(limits.limits.max_article_chars)
                    .unwrap_or(u32::MAX),
                max_message_bytes: u32::try_from(limits.max_message_bytes).unwrap_or(u32::MAX),
            }),
            languages: crate::text::lang::supported()
                .into_iter()
                .map(String::from)
                .collect(),
            entity_languages,
            summarizer: analyzer
                .map(|a| a.models().default_summarizer().to_string())
                .unwrap_or_default(),
        }));
        metrics::record_request(Method::GetInfo, Code::Ok, received.elapsed());
        response
    }
}
