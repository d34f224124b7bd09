//! Loading the pipeline the way the server runs it. It lives here, not in
//! the transport layer, so whatever embeds the pipeline (the client's
//! in-process bench) loads exactly what the server loads without depending on
//! gRPC serving code.

use std::path::PathBuf;

use anyhow::Context;

use super::{Analyzer, Limits, ModelDirs, ModelSet, Readers, VectorSource};
use crate::models::{BatchConfig, Batching, Runtime, SessionLayout};

/// How the pipeline runs: `khulasa-server`'s flags without the networking
/// ones, as plain data.
#[derive(Debug, Clone)]
pub struct PipelineConfig {
    /// The model directories and `runtime/` with the ONNX Runtime library.
    pub models: PathBuf,
    /// A seq2seq export (`--summarizer`): summaries become abstractive.
    pub summarizer: Option<PathBuf>,
    /// Used instead of the sentence encoder found in `models`.
    pub encoder: Option<PathBuf>,
    /// Used instead of the token classifier found in `models`.
    pub entities: Option<PathBuf>,
    /// Where the summary's sentence vectors come from.
    pub sentence_vectors: VectorSource,
    pub layout: SessionLayout,
    pub batching: BatchConfig,
    /// Articles analyzed at once: the analyzer does not limit this, so its
    /// caller (the server's admission) must.
    pub max_concurrent: usize,
    pub limits: Limits,
}

/// Loads the ONNX Runtime and every model as `config` says, and warms them.
pub fn load_analyzer(config: &PipelineConfig) -> anyhow::Result<Analyzer> {
    let library = Runtime::library_path(&config.models);
    let runtime = Runtime::load(&library)?;
    tracing::info!(library = %runtime.library().display(), "ONNX Runtime loaded");
    let layout = config.layout;
    let batching = Batching {
        config: config.batching,
        ..Batching::default()
    };
    tracing::info!(
        sessions = layout.sessions,
        intra_threads = layout.intra_threads,
        batching = batching.config.enabled,
        batch_max_tokens = batching.config.max_tokens,
        batch_wait_ms = batching.config.wait.as_millis() as u64,
        "session layout"
    );
    let models = ModelSet::load(
        &runtime,
        &config.models,
        ModelDirs {
            summarizer: config.summarizer.as_deref(),
            encoder: config.encoder.as_deref(),
            entities: config.entities.as_deref(),
        },
        config.sentence_vectors,
        layout,
        &batching,
    )
    .with_context(|| format!("loading models from {}", config.models.display()))?;
    for m in models.manifests() {
        tracing::info!(name = %m.name, kind = m.kind.as_str(), version = %m.version, "model ready");
    }
    match &models.readers {
        Readers::OnePass(model) => tracing::info!(
            from = %model.classifier.manifest().name,
            "sentence vectors from the entity model's sentence head: one encoder pass per article"
        ),
        Readers::Separate { encoder, .. } => tracing::info!(
            from = %encoder.manifest().name,
            "sentence vectors from the sentence encoder: a second encoder pass per article"
        ),
    }
    if models.entities().is_none() {
        tracing::warn!(
            "no token-classification model found: TASK_ENTITIES will fail with FAILED_PRECONDITION"
        );
    }
    // The runtime must outlive every session; it lives for the process.
    std::mem::forget(runtime);
    Ok(Analyzer::new(models))
}
