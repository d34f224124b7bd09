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
}

impl ModelKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ModelKind::SentenceEmbedding => "sentence-embedding",
            ModelKind::TokenClassification => "token-classification",
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
}

impl Manifest {
    pub fn read(dir: &Path) -> Result<Self, ModelError> {
        let path = dir.join("manifest.json");
        let raw = std::fs::read_to_string(&path)
            .map_err(|e| ModelError::dir(dir, format!("cannot read manifest.json: {e}")))?;
        serde_json::from_str(&raw)
            .map_err(|e| ModelError::dir(dir, format!("invalid manifest.json: {e}")))
    }

    /// sha256 of `model.onnx` as recorded in the manifest.
    pub fn model_sha256(&self) -> &str {
        self.files
            .get("model.onnx")
            .map(String::as_str)
            .unwrap_or("")
    }
}
