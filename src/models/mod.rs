//! ONNX models: the runtime, model directories and their manifests, session
//! pools, and the two model kinds Khulasa runs (a sentence encoder and a
//! token classifier).

pub mod batcher;
mod error;
pub mod manifest;
mod pool;
pub mod runtime;
pub mod sentence_encoder;
pub mod sentence_scorer;
pub mod seq2seq;
pub mod token_classifier;
mod tokenizer;
pub mod windows;

pub use batcher::{BatchConfig, Batching, InFlight};
pub use error::ModelError;
pub use manifest::{Manifest, ModelKind};
pub use pool::{SessionLayout, SessionPool};
pub use runtime::Runtime;
pub use sentence_encoder::SentenceEncoder;
pub use sentence_scorer::SentenceScorer;
pub use token_classifier::{TokenClassifier, WordPooling};

/// Time spent turning one article's text into token ids for `model`
/// (`khulasa_tokenize_duration_seconds`): the tokenize stage of the metrics,
/// recorded here because tokenizing happens inside each model's call.
pub(crate) fn record_tokenize(model: &str, took: std::time::Duration) {
    metrics::histogram!("khulasa_tokenize_duration_seconds", "model" => model.to_owned())
        .record(took.as_secs_f64());
}
