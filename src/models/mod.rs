//! ONNX models: the runtime, model directories and their manifests, session
//! pools, and the model kinds Khulasa runs: the sentence encoder, the token
//! classifier (entities, and sentence vectors from its head), the sentence
//! scorer and the optional seq2seq summarizer.

pub mod batcher;
mod error;
pub mod manifest;
mod outputs;
mod pool;
mod row;
mod runner;
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

/// Names of the metrics recorded inside the model layer, where the work
/// happens; the transport describes and exports them. Every family with a
/// `model` label uses the model's manifest name (`e5-small`, `ner-ar`, as
/// GetInfo lists it).
pub mod metric_names {
    /// Inputs (windows or sentences) per ONNX call of the batcher, by model.
    pub const BATCH_SIZE: &str = "khulasa_batch_size";
    /// Padded tokens per ONNX call of the batcher, by model.
    pub const BATCH_TOKENS: &str = "khulasa_batch_tokens";
    /// Time to tokenize one article's text, by model.
    pub const TOKENIZE_SECONDS: &str = "khulasa_tokenize_duration_seconds";
    /// Articles being analyzed now.
    pub const IN_FLIGHT: &str = "khulasa_in_flight_requests";
}

/// Time spent turning one article's text into token ids for `model`: the
/// tokenize stage of the metrics, recorded here because tokenizing happens
/// inside each model's call.
pub(crate) fn record_tokenize(model: &str, took: std::time::Duration) {
    metrics::histogram!(metric_names::TOKENIZE_SECONDS, "model" => model.to_owned())
        .record(took.as_secs_f64());
}
