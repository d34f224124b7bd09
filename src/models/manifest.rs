//! The small `manifest.json` each model directory carries: what the model is,
//! where it came from and under which license.

use std::{collections::BTreeMap, path::Path};

use serde::Deserialize;

use super::ModelError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ModelKind {
    SentenceEmbedding,
    TokenClassification,
    SentenceScoring,
    Seq2seq,
}

impl ModelKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ModelKind::SentenceEmbedding => "sentence-embedding",
            ModelKind::TokenClassification => "token-classification",
            ModelKind::SentenceScoring => "sentence-scoring",
            ModelKind::Seq2seq => "seq2seq",
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct Manifest {
    pub name: String,
    pub kind: ModelKind,
    #[serde(default)]
    pub version: String,
    #[serde(default)]
    pub description: String,
    pub max_tokens: usize,
    #[serde(default)]
    pub labels: Vec<String>,
    #[serde(default)]
    pub languages: Vec<String>,
    #[serde(default)]
    pub source: String,
    #[serde(default)]
    pub license: String,
    /// File name → sha256 (hex), checked by `make models`.
    #[serde(default)]
    pub files: BTreeMap<String, String>,
    #[serde(default)]
    pub passage_prefix: Option<String>,
    /// Most rows one ONNX call may hold. 1 for dynamically quantized models,
    /// whose activation scales span the whole call: one row per call keeps
    /// each output independent of the others.
    #[serde(default)]
    pub max_batch_rows: Option<usize>,
    /// Sentence-scoring models: the per-sentence features, in input order.
    #[serde(default)]
    pub features: Vec<String>,
}

impl Manifest {
    pub fn read(dir: &Path) -> Result<Self, ModelError> {
        let path = dir.join("manifest.json");
        let raw = std::fs::read_to_string(&path)
            .map_err(|e| ModelError::dir(dir, format!("cannot read manifest.json: {e}")))?;
        serde_json::from_str(&raw)
            .map_err(|e| ModelError::dir(dir, format!("invalid manifest.json: {e}")))
    }

    /// [`Manifest::read`], and an error unless the model is of `kind`.
    pub fn read_kind(dir: &Path, kind: ModelKind) -> Result<Self, ModelError> {
        let manifest = Manifest::read(dir)?;
        if manifest.kind != kind {
            return Err(ModelError::dir(
                dir,
                format!("manifest kind is not {}", kind.as_str()),
            ));
        }
        Ok(manifest)
    }

    /// sha256 of `model.onnx` as recorded in the manifest.
    pub fn model_sha256(&self) -> &str {
        self.files
            .get("model.onnx")
            .map(String::as_str)
            .unwrap_or("")
    }
}

/// sha256 of a file, hex; streamed, so large models are fine.
pub fn sha256_file(path: &Path) -> std::io::Result<String> {
    use sha2::{Digest, Sha256};
    let mut file = std::fs::File::open(path)?;
    let mut hasher = Sha256::new();
    std::io::copy(&mut file, &mut hasher)?;
    Ok(hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}

impl Manifest {
    /// A seq2seq model directory's manifest: its own `manifest.json` when it
    /// has one, else a description built from the Optimum export itself
    /// (directory name, `model_type`, sha256 of the encoder).
    pub fn for_seq2seq(
        dir: &Path,
        model_type: &str,
        max_input_tokens: Option<usize>,
    ) -> Result<Self, ModelError> {
        if dir.join("manifest.json").is_file() {
            return Manifest::read(dir);
        }
        let encoder = dir.join("encoder_model.onnx");
        let sha = sha256_file(&encoder)
            .map_err(|e| ModelError::dir(dir, format!("cannot read encoder_model.onnx: {e}")))?;
        Ok(Manifest {
            name: dir.file_name().map_or_else(
                || "seq2seq".to_string(),
                |n| n.to_string_lossy().into_owned(),
            ),
            kind: ModelKind::Seq2seq,
            version: model_type.to_string(),
            description: "abstractive summarizer (Hugging Face Optimum ONNX export)".into(),
            max_tokens: max_input_tokens.unwrap_or(0),
            labels: Vec::new(),
            languages: Vec::new(),
            source: dir.display().to_string(),
            license: "see the model's own documentation".into(),
            files: [("model.onnx".to_string(), sha)].into_iter().collect(),
            passage_prefix: None,
            max_batch_rows: None,
            features: Vec::new(),
        })
    }
}
