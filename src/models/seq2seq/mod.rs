//! Encoder–decoder generation for abstractive summaries (Hugging Face Optimum ONNX layout).
//!
//! A model directory holds `encoder_model.onnx`, the decoder either as
//! `decoder_model.onnx` + `decoder_with_past_model.onnx` or as
//! `decoder_model_merged.onnx`, and `tokenizer.json`, `config.json`,
//! `generation_config.json`. T5/mT5 and BART/mBART exports are supported.
//!
//! Generation reproduces `transformers`' greedy and beam search token for
//! token (see `search.rs`), with the key/value cache. It is blocking: run it
//! on a blocking thread. It stops between decoder steps when the request's
//! [`StopSignal`] fires (cancelled, or its deadline passed).

mod cache;
pub mod config;
mod decoder;
mod search;

use std::path::Path;

use ort::value::Tensor;
use tokenizers::Tokenizer;

pub use config::{CacheShape, EarlyStopping, Family, ModelConfig};

use self::{
    decoder::{Encoded, Graph, OnnxDecoder},
    search::SearchSettings,
};
use super::{outputs, tokenizer, ModelError, Runtime, SessionLayout, SessionPool};
use crate::stop::{StopSignal, Stopped};

/// Upper bounds that keep one request's work bounded.
pub const MAX_BEAMS: usize = 16;
pub const MAX_NEW_TOKENS: usize = 1024;

/// Why a generation did not produce a result.
#[derive(Debug, thiserror::Error)]
pub enum GenerationError {
    /// The request's stop signal fired: cancelled, or past its deadline.
    #[error("generation stopped: {0}")]
    Stopped(#[from] Stopped),
    #[error("invalid generation parameters: {0}")]
    InvalidParams(String),
    #[error(transparent)]
    Model(#[from] ModelError),
}

/// Search settings of one call. Start from [`Seq2SeqModel::default_params`]
/// (which reads `generation_config.json`) and override fields.
#[derive(Debug, Clone, PartialEq)]
pub struct GenerationParams {
    /// 1 = greedy search.
    pub num_beams: usize,
    /// Tokens generated at most, EOS included (the start token is not).
    pub max_new_tokens: usize,
    /// Beam scores are divided by `length^length_penalty`; > 0 favours
    /// longer summaries.
    pub length_penalty: f32,
    /// No n-gram of this size appears twice in the output; 0 = off.
    pub no_repeat_ngram_size: usize,
    pub early_stopping: EarlyStopping,
    /// The token forced first (mBART's target-language code); `None` = none.
    pub forced_bos_token_id: Option<u32>,
    /// Longer inputs are cut to this many tokens, keeping the trailing
    /// special tokens (EOS, language code); `None` = no limit.
    pub max_input_tokens: Option<usize>,
}

/// A generated summary.
#[derive(Debug, Clone, PartialEq)]
pub struct Generated {
    /// New token ids, without the decoder start token, with EOS if reached.
    pub ids: Vec<u32>,
    /// `ids` decoded without special tokens.
    pub text: String,
    /// Input tokens the encoder saw.
    pub input_tokens: usize,
    /// Whether the input was cut to `max_input_tokens`.
    pub truncated: bool,
}

enum Decoder {
    Split {
        first: SessionPool,
        with_past: SessionPool,
    },
    Merged(SessionPool),
}

/// An encoder–decoder model ready to generate.
pub struct Seq2SeqModel {
    config: ModelConfig,
    tokenizer: Tokenizer,
    encoder: SessionPool,
    decoder: Decoder,
}

impl Seq2SeqModel {
    /// Loads a model directory in the Optimum layout. Prefers the merged
    /// decoder when both layouts are present (one graph, less memory).
    pub fn load(runtime: &Runtime, dir: &Path, layout: SessionLayout) -> Result<Self, ModelError> {
        let config = ModelConfig::read(dir)?;
        let tokenizer = tokenizer::load(dir)?;
        let file = |name: &str| {
            let path = dir.join(name);
            path.is_file().then_some(path)
        };
        let encoder_path = file("encoder_model.onnx")
            .ok_or_else(|| ModelError::dir(dir, "encoder_model.onnx is missing"))?;
        let encoder = SessionPool::load(runtime, &encoder_path, layout)?;
        let decoder = match (
            file("decoder_model_merged.onnx"),
            file("decoder_model.onnx"),
            file("decoder_with_past_model.onnx"),
        ) {
            (Some(merged), _, _) => Decoder::Merged(SessionPool::load(runtime, &merged, layout)?),
            (None, Some(first), Some(with_past)) => Decoder::Split {
                first: SessionPool::load(runtime, &first, layout)?,
                with_past: SessionPool::load(runtime, &with_past, layout)?,
            },
            _ => {
                return Err(ModelError::dir(
                    dir,
                    "no decoder: need decoder_model_merged.onnx, or decoder_model.onnx with \
                     decoder_with_past_model.onnx (export with --task text2text-generation-with-past)",
                ))
            }
        };
        let model = Seq2SeqModel {
            config,
            tokenizer,
            encoder,
            decoder,
        };
        model.check_inputs(dir)?;
        Ok(model)
    }

    /// The graphs must take what the engine feeds them.
    fn check_inputs(&self, dir: &Path) -> Result<(), ModelError> {
        let has = |pool: &SessionPool, name: &str| pool.input_names().iter().any(|n| n == name);
        if !has(&self.encoder, "input_ids") {
            return Err(ModelError::dir(
                dir,
                "encoder_model.onnx has no input_ids input",
            ));
        }
        let cached = match &self.decoder {
            Decoder::Split { with_past, .. } => with_past,
            Decoder::Merged(merged) => merged,
        };
        let layers = self.config.cache.layers;
        let past = cached
            .input_names()
            .iter()
            .filter(|n| n.starts_with("past_key_values.") && n.ends_with(".decoder.key"))
            .count();
        if past != layers
            || !has(
                cached,
                &format!("past_key_values.{}.decoder.key", layers.saturating_sub(1)),
            )
        {
            return Err(ModelError::dir(
                dir,
                format!(
                    "the decoder takes {past} layers of past_key_values, config.json says {layers}"
                ),
            ));
        }
        Ok(())
    }

    pub fn config(&self) -> &ModelConfig {
        &self.config
    }

    /// The settings of `generation_config.json` (and the model's limits).
    pub fn default_params(&self) -> GenerationParams {
        let d = &self.config.defaults;
        GenerationParams {
            num_beams: d.num_beams,
            max_new_tokens: d.max_new_tokens,
            length_penalty: d.length_penalty,
            no_repeat_ngram_size: d.no_repeat_ngram_size,
            early_stopping: d.early_stopping,
            forced_bos_token_id: self.config.forced_bos_token_id,
            max_input_tokens: self.config.max_input_tokens,
        }
    }

    /// Token ids the encoder gets for `text` (special tokens included,
    /// cut to `max_input_tokens`), and whether it was cut.
    pub fn encode(
        &self,
        text: &str,
        max_input_tokens: Option<usize>,
    ) -> Result<(Vec<u32>, bool), ModelError> {
        let enc = self
            .tokenizer
            .encode(text, true)
            .map_err(|e| ModelError::Tokenizer(e.to_string()))?;
        let mut ids = enc.get_ids().to_vec();
        let Some(max) = max_input_tokens.filter(|&m| ids.len() > m) else {
            return Ok((ids, false));
        };
        // Keep the trailing special tokens (EOS, mBART's language code).
        let specials = enc.get_special_tokens_mask();
        let suffix = specials
            .iter()
            .rev()
            .take_while(|&&s| s == 1)
            .count()
            .min(max);
        let tail = ids.split_off(ids.len() - suffix);
        ids.truncate(max - suffix);
        ids.extend(tail);
        Ok((ids, true))
    }

    /// Generates a summary of `text`. Blocking. Stops with
    /// [`GenerationError::Stopped`] once `stop` fires, checked before every
    /// ONNX call.
    pub fn generate(
        &self,
        text: &str,
        params: &GenerationParams,
        stop: &StopSignal,
    ) -> Result<Generated, GenerationError> {
        stop.check()?;
        let (input_ids, truncated) = self.encode(text, params.max_input_tokens)?;
        let ids = self.generate_ids(&input_ids, params, stop)?;
        let text = self
            .tokenizer
            .decode(&ids, true)
            .map_err(|e| ModelError::Tokenizer(e.to_string()))?;
        Ok(Generated {
            ids,
            text,
            input_tokens: input_ids.len(),
            truncated,
        })
    }

    /// Generates from given encoder input ids (special tokens included).
    pub fn generate_from_ids(
        &self,
        input_ids: &[u32],
        params: &GenerationParams,
        stop: &StopSignal,
    ) -> Result<Vec<u32>, GenerationError> {
        self.generate_ids(input_ids, params, stop)
    }

    fn generate_ids(
        &self,
        input_ids: &[u32],
        params: &GenerationParams,
        stop: &StopSignal,
    ) -> Result<Vec<u32>, GenerationError> {
        let settings = self.settings(params)?;
        if input_ids.is_empty() {
            return Err(GenerationError::InvalidParams("no input tokens".into()));
        }
        if let Some(&bad) = input_ids
            .iter()
            .find(|&&t| t as usize >= self.config.vocab_size)
        {
            return Err(GenerationError::InvalidParams(format!(
                "input token {bad} is outside the vocabulary ({})",
                self.config.vocab_size
            )));
        }
        stop.check()?;
        let encoded = self.encode_ids(input_ids, stop)?;
        let rows = settings.num_beams;
        let (shape, vocab) = (self.config.cache, self.config.vocab_size);
        match &self.decoder {
            Decoder::Merged(pool) => pool.with_session(stop, |session| {
                let mut dec = OnnxDecoder::new(
                    Graph::new(session),
                    None,
                    &encoded,
                    rows,
                    shape,
                    vocab,
                    stop,
                );
                search::generate(&mut dec, &settings)
            })?,
            // Always taken in this order, so concurrent calls cannot deadlock.
            Decoder::Split { first, with_past } => first.with_session(stop, |first| {
                with_past.with_session(stop, |with_past| {
                    let mut dec = OnnxDecoder::new(
                        Graph::new(first),
                        Some(Graph::new(with_past)),
                        &encoded,
                        rows,
                        shape,
                        vocab,
                        stop,
                    );
                    search::generate(&mut dec, &settings)
                })?
            })?,
        }
    }

    fn settings(&self, p: &GenerationParams) -> Result<SearchSettings, GenerationError> {
        let invalid = |m: String| Err(GenerationError::InvalidParams(m));
        if p.num_beams == 0 || p.num_beams > MAX_BEAMS {
            return invalid(format!(
                "num_beams must be 1..={MAX_BEAMS}, got {}",
                p.num_beams
            ));
        }
        if p.max_new_tokens == 0 || p.max_new_tokens > MAX_NEW_TOKENS {
            return invalid(format!(
                "max_new_tokens must be 1..={MAX_NEW_TOKENS}, got {}",
                p.max_new_tokens
            ));
        }
        if !p.length_penalty.is_finite() {
            return invalid(format!(
                "length_penalty must be finite, got {}",
                p.length_penalty
            ));
        }
        if p.max_input_tokens == Some(0) {
            return invalid("max_input_tokens must be at least 1".into());
        }
        if let Some(bos) = p
            .forced_bos_token_id
            .filter(|&t| t as usize >= self.config.vocab_size)
        {
            return invalid(format!(
                "forced_bos_token_id {bos} is outside the vocabulary"
            ));
        }
        Ok(SearchSettings {
            vocab_size: self.config.vocab_size,
            decoder_start_token_id: self.config.decoder_start_token_id,
            eos_token_ids: self.config.eos_token_ids.clone(),
            forced_bos_token_id: p.forced_bos_token_id,
            forced_eos_token_ids: self.config.forced_eos_token_ids.clone(),
            max_new_tokens: p.max_new_tokens,
            num_beams: p.num_beams,
            length_penalty: p.length_penalty,
            no_repeat_ngram_size: p.no_repeat_ngram_size,
            early_stopping: p.early_stopping,
        })
    }

    fn encode_ids(&self, input_ids: &[u32], stop: &StopSignal) -> Result<Encoded, ModelError> {
        let len = input_ids.len();
        let ids: Vec<i64> = input_ids.iter().map(|&t| i64::from(t)).collect();
        let ids = Tensor::from_array(([1, len], ids))?;
        let mask = Tensor::from_array(([1, len], vec![1i64; len]))?;
        self.encoder.with_session(stop, |session| {
            let outputs = session.run(ort::inputs![
                "input_ids" => ids,
                "attention_mask" => mask,
            ])?;
            let (shape, data) = outputs::f32_tensor(&outputs, "last_hidden_state")?;
            match shape {
                [1, l, h] if *l as usize == len && *h > 0 => Ok(Encoded {
                    hidden: data.to_vec(),
                    len,
                    hidden_size: *h as usize,
                }),
                other => Err(ModelError::Output {
                    name: "last_hidden_state".into(),
                    reason: format!("shape {other:?}, expected [1, {len}, hidden]"),
                }),
            }
        })?
    }
}
