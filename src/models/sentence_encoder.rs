//! Sentence embeddings from the e5 encoder (`sentence_embedding` output:
//! mean-pooled and L2-normalized inside the ONNX graph).

use std::path::Path;

use tokenizers::Tokenizer;

use super::{
    batcher::Batching, outputs, row::Row, runner::RowRunner, tokenizer, Manifest, ModelError,
    ModelKind, Runtime, SessionLayout, SessionPool,
};
use crate::stop::StopSignal;

pub struct SentenceEncoder {
    manifest: Manifest,
    tokenizer: Tokenizer,
    /// Shares ONNX calls with other requests' sentences, when batching is
    /// on and the manifest's `max_batch_rows` is not 1.
    runner: RowRunner,
    prefix: String,
    dim: usize,
}

impl SentenceEncoder {
    pub fn load(
        runtime: &Runtime,
        dir: &Path,
        layout: SessionLayout,
        batching: &Batching,
    ) -> Result<Self, ModelError> {
        let manifest = Manifest::read_kind(dir, ModelKind::SentenceEmbedding)?;
        let tokenizer = tokenizer::load_encoder(dir)?;
        let pool = SessionPool::load(runtime, &dir.join("model.onnx"), layout)?;
        let runner = RowRunner::start(
            &manifest.name,
            pool,
            layout.sessions,
            batching,
            manifest.max_batch_rows.unwrap_or(usize::MAX),
            run_rows,
        )?;
        let prefix = manifest.passage_prefix.clone().unwrap_or_default();
        let encoder = SentenceEncoder {
            manifest,
            tokenizer,
            runner,
            prefix,
            dim: 0,
        };
        let dim = encoder
            .embed(&["warm-up"], &StopSignal::never())?
            .first()
            .map_or(0, Vec::len);
        if dim == 0 {
            return Err(ModelError::dir(dir, "sentence_embedding output is empty"));
        }
        let mut encoder = encoder;
        encoder.dim = dim;
        Ok(encoder)
    }

    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    pub fn dim(&self) -> usize {
        self.dim
    }

    /// L2-normalized embeddings of `texts` as passages, in input order.
    /// Blocking; stops between batches when `stop` fires.
    pub fn embed(&self, texts: &[&str], stop: &StopSignal) -> Result<Vec<Vec<f32>>, ModelError> {
        let max_tokens = self.manifest.max_tokens.max(2);
        let tokenizing = std::time::Instant::now();
        let mut encoded: Vec<Row> = Vec::with_capacity(texts.len());
        for text in texts {
            let input = format!("{}{}", self.prefix, text);
            let enc = self
                .tokenizer
                .encode(input.as_str(), true)
                .map_err(|e| ModelError::Tokenizer(e.to_string()))?;
            let mut ids = enc.get_ids().to_vec();
            if ids.len() > max_tokens {
                ids.truncate(max_tokens - 1);
                ids.push(tokenizer::special::EOS);
            }
            encoded.push(Row::from(ids));
        }
        super::record_tokenize(&self.manifest.name, tokenizing.elapsed());
        self.runner.run(encoded, stop)
    }
}

/// One padded ONNX call; each row's embedding.
fn run_rows(
    session: &mut ort::session::Session,
    rows: &[&Row],
) -> Result<Vec<Vec<f32>>, ModelError> {
    let (_, outputs) = tokenizer::run_padded(session, rows, tokenizer::special::PAD, None)?;
    let (out_shape, data) = outputs::f32_tensor(&outputs, "sentence_embedding")?;
    let dim = match out_shape {
        [b, d] if *b as usize == rows.len() && *d > 0 => *d as usize,
        other => {
            return Err(ModelError::Output {
                name: "sentence_embedding".into(),
                reason: format!("unexpected shape {other:?}"),
            })
        }
    };
    Ok(data.chunks(dim).map(<[f32]>::to_vec).collect())
}
