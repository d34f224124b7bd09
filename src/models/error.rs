use std::path::PathBuf;

use crate::stop::Stopped;

/// Everything that can go wrong loading or running a model. `Clone`, so the
/// batcher can hand one failed call's error to every request in it.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ModelError {
    #[error("ONNX Runtime library not found or not loadable at {path}: {reason} (run `make models`, or set ORT_DYLIB_PATH)")]
    RuntimeLibrary { path: PathBuf, reason: String },
    #[error("ONNX Runtime: {0}")]
    Ort(String),
    #[error("model directory {dir}: {reason}")]
    Directory { dir: PathBuf, reason: String },
    #[error("tokenizer: {0}")]
    Tokenizer(String),
    #[error("model input {name}: {reason}")]
    Input { name: String, reason: String },
    #[error("model output {name}: {reason}")]
    Output { name: String, reason: String },
    /// A batch worker went away with the request's rows.
    #[error("{0} batch worker stopped")]
    BatchWorkerStopped(String),
    /// The model call panicked (a bug, never the input's fault). Its rows
    /// fail; the worker that made the call goes on with the next batch.
    #[error("{0}: the model call failed unexpectedly (a bug; see the server log)")]
    CallPanicked(String),
    /// The caller's stop signal fired between batches or while it waited.
    #[error(transparent)]
    Stopped(#[from] Stopped),
}

impl<R> From<ort::Error<R>> for ModelError {
    fn from(e: ort::Error<R>) -> Self {
        ModelError::Ort(e.to_string())
    }
}

impl ModelError {
    pub(crate) fn dir(dir: &std::path::Path, reason: impl std::fmt::Display) -> Self {
        ModelError::Directory {
            dir: dir.to_path_buf(),
            reason: reason.to_string(),
        }
    }
}
