//! One decoder step on ONNX Runtime, for both Optimum decoder layouts:
//!
//! - split: `decoder_model.onnx` for the first step (it also returns the
//!   cross-attention cache) and `decoder_with_past_model.onnx` after;
//! - merged: `decoder_model_merged.onnx`, whose `use_cache_branch` input
//!   picks between the two graphs; it always takes every `past_key_values`
//!   input, empty (length 0) at the first step, as Optimum feeds it.
//!
//! Inputs are offered by name and only those the session declares are fed,
//! so the same code drives both layouts.

use std::{borrow::Cow, collections::HashSet};

use ort::{
    session::{Session, SessionInputValue},
    value::{Tensor, TensorRef},
};

use super::{cache::KvCache, config::CacheShape, search::StepModel, GenerationError};
use crate::{
    models::{outputs, ModelError},
    stop::StopSignal,
};

/// The encoder's output for one input text.
pub(crate) struct Encoded {
    /// `[1, len, hidden]`, row-major.
    pub hidden: Vec<f32>,
    pub len: usize,
    pub hidden_size: usize,
}

/// A session and the input names it declares.
pub(crate) struct Graph<'s> {
    pub session: &'s mut Session,
    pub inputs: HashSet<String>,
}

impl<'s> Graph<'s> {
    pub fn new(session: &'s mut Session) -> Self {
        let inputs = session
            .inputs()
            .iter()
            .map(|i| i.name().to_string())
            .collect();
        Graph { session, inputs }
    }
}

/// The decoder of one generation: its session(s), the encoder output
/// repeated for every row, and the cache.
pub(crate) struct OnnxDecoder<'s, 'e> {
    /// First step (split) or every step (merged).
    first: Graph<'s>,
    /// Steps after the first, split layout only.
    with_past: Option<Graph<'s>>,
    rows: usize,
    vocab_size: usize,
    enc_len: usize,
    hidden_size: usize,
    /// `[rows, enc_len, hidden]`.
    hidden: Vec<f32>,
    /// `[rows, enc_len]` of ones: one unpadded input.
    mask: Vec<i64>,
    cache: KvCache,
    /// Checked before every step: the search stops between two ONNX calls.
    stop: &'e StopSignal,
}

impl<'s, 'e> OnnxDecoder<'s, 'e> {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        first: Graph<'s>,
        with_past: Option<Graph<'s>>,
        encoded: &Encoded,
        rows: usize,
        shape: CacheShape,
        vocab_size: usize,
        stop: &'e StopSignal,
    ) -> Self {
        let hidden = encoded.hidden.repeat(rows);
        OnnxDecoder {
            first,
            with_past,
            rows,
            vocab_size,
            enc_len: encoded.len,
            hidden_size: encoded.hidden_size,
            hidden,
            mask: vec![1; rows * encoded.len],
            cache: KvCache::new(shape, rows),
            stop,
        }
    }

    fn run(&mut self, last_tokens: &[u32]) -> Result<Vec<f32>, ModelError> {
        let started = self.cache.has_encoder();
        let graph = match (&mut self.with_past, started) {
            (Some(with_past), true) => with_past,
            _ => &mut self.first,
        };
        let ids: Vec<i64> = last_tokens.iter().map(|&t| i64::from(t)).collect();
        let mut offered: Vec<(Cow<'static, str>, SessionInputValue<'_>)> = vec![
            (
                "input_ids".into(),
                Tensor::from_array(([self.rows, 1], ids))?.into(),
            ),
            (
                "encoder_attention_mask".into(),
                TensorRef::from_array_view(([self.rows, self.enc_len], self.mask.as_slice()))?
                    .into(),
            ),
            (
                "encoder_hidden_states".into(),
                TensorRef::from_array_view((
                    [self.rows, self.enc_len, self.hidden_size],
                    self.hidden.as_slice(),
                ))?
                .into(),
            ),
            (
                "use_cache_branch".into(),
                Tensor::from_array(([1], vec![started]))?.into(),
            ),
        ];
        offered.extend(self.cache.inputs()?);
        let inputs: Vec<_> = offered
            .into_iter()
            .filter(|(name, _)| graph.inputs.contains(name.as_ref()))
            .collect();
        let outputs = graph.session.run(inputs)?;
        let logits = {
            let (shape, data) = outputs::f32_tensor(&outputs, "logits")?;
            match shape {
                [r, len, v]
                    if *r as usize == self.rows && *len >= 1 && *v as usize == self.vocab_size =>
                {
                    // The last position of each row.
                    let (len, v) = (*len as usize, *v as usize);
                    let mut last = Vec::with_capacity(self.rows * v);
                    for row in 0..self.rows {
                        let start = (row * len + len - 1) * v;
                        last.extend_from_slice(&data[start..start + v]);
                    }
                    last
                }
                other => {
                    return Err(ModelError::Output {
                        name: "logits".into(),
                        reason: format!(
                            "shape {other:?}, expected [{}, len, {}]",
                            self.rows, self.vocab_size
                        ),
                    })
                }
            }
        };
        self.cache.update(&outputs)?;
        Ok(logits)
    }
}

impl StepModel for OnnxDecoder<'_, '_> {
    type Error = GenerationError;

    fn step(&mut self, last_tokens: &[u32]) -> Result<Vec<f32>, GenerationError> {
        Ok(self.run(last_tokens)?)
    }

    fn reorder(&mut self, rows: &[usize]) -> Result<(), GenerationError> {
        self.cache.reorder(rows);
        Ok(())
    }

    fn check_stop(&self) -> Result<(), GenerationError> {
        Ok(self.stop.check()?)
    }
}
