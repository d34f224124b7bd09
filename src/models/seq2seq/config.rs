//! `config.json` and `generation_config.json` of an Optimum seq2seq export.
//!
//! Only what generation needs is read. The two families name the same
//! things differently (T5: `num_heads`, `d_kv`, `num_decoder_layers`; BART:
//! `decoder_attention_heads`, `d_model / heads`, `decoder_layers`), and the
//! token ids may sit in either file, so both are merged here with
//! `generation_config.json` winning, as in `transformers`.

use std::path::Path;

use serde::Deserialize;
use serde_json::Value;

use crate::models::ModelError;

/// The model family, which decides the defaults `transformers` applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// T5, mT5, LongT5 (`model_type` `t5`, `mt5`, ...): relative positions,
    /// decoding starts from the pad token.
    T5,
    /// BART, mBART, Marian, Pegasus: learned positions, decoding starts from
    /// `decoder_start_token_id` (EOS for mBART) and mBART forces the
    /// language token first.
    Bart,
}

/// Shapes of the decoder's key/value cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CacheShape {
    pub layers: usize,
    pub heads: usize,
    pub head_dim: usize,
}

/// Everything generation needs from the two JSON files.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelConfig {
    pub family: Family,
    pub model_type: String,
    pub vocab_size: usize,
    pub cache: CacheShape,
    /// Longest encoder input: the learned positions of BART's family, the
    /// pretraining length of T5's (see [`T5_MAX_INPUT_TOKENS`]).
    pub max_input_tokens: Option<usize>,
    pub pad_token_id: u32,
    pub eos_token_ids: Vec<u32>,
    pub decoder_start_token_id: u32,
    pub forced_bos_token_id: Option<u32>,
    pub forced_eos_token_ids: Vec<u32>,
    pub defaults: GenerationDefaults,
}

/// Search settings from `generation_config.json` (with `transformers`'
/// defaults where absent).
#[derive(Debug, Clone, PartialEq)]
pub struct GenerationDefaults {
    pub num_beams: usize,
    pub max_new_tokens: usize,
    pub length_penalty: f32,
    pub no_repeat_ngram_size: usize,
    pub early_stopping: EarlyStopping,
}

/// `early_stopping` of `transformers`: `true`, `false` or `"never"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum EarlyStopping {
    /// Stop once `num_beams` hypotheses are finished.
    True,
    /// Stop when the best running beam, scored at its current length,
    /// cannot beat the worst finished one (the default).
    #[default]
    False,
    /// Canonical beam search: with a positive length penalty the running
    /// beams are scored at `max_length` before giving up.
    Never,
}

/// `transformers`' `GenerationConfig.max_length` default (prompt included).
const HF_DEFAULT_MAX_LENGTH: usize = 20;

/// Encoder input cap of a T5-family model whose `config.json` has no
/// `n_positions`. Relative positions would accept any length, but T5 and
/// mT5 were pretrained (and summarizers such as mT5-XLSum fine-tuned) on
/// inputs of 512 tokens, and the encoder's cost grows with the square of
/// the input: an uncapped article could hold a session for minutes.
pub const T5_MAX_INPUT_TOKENS: usize = 512;

#[derive(Debug, Default, Deserialize)]
struct RawConfig {
    model_type: Option<String>,
    vocab_size: Option<usize>,
    d_model: Option<usize>,
    // T5
    num_heads: Option<usize>,
    d_kv: Option<usize>,
    num_layers: Option<usize>,
    num_decoder_layers: Option<usize>,
    // BART
    decoder_attention_heads: Option<usize>,
    decoder_layers: Option<usize>,
    max_position_embeddings: Option<usize>,
    // T5's input length, where the export records it
    n_positions: Option<usize>,
}

/// Token and search fields, present in either file.
#[derive(Debug, Default, Deserialize)]
struct RawGeneration {
    pad_token_id: Option<u32>,
    eos_token_id: Option<Value>,
    decoder_start_token_id: Option<u32>,
    forced_bos_token_id: Option<u32>,
    forced_eos_token_id: Option<Value>,
    num_beams: Option<usize>,
    max_length: Option<usize>,
    max_new_tokens: Option<usize>,
    length_penalty: Option<f32>,
    no_repeat_ngram_size: Option<usize>,
    early_stopping: Option<Value>,
}

impl RawGeneration {
    /// Fields of `over` win over those of `self`.
    fn overlay(self, over: RawGeneration) -> RawGeneration {
        RawGeneration {
            pad_token_id: over.pad_token_id.or(self.pad_token_id),
            eos_token_id: over.eos_token_id.or(self.eos_token_id),
            decoder_start_token_id: over.decoder_start_token_id.or(self.decoder_start_token_id),
            forced_bos_token_id: over.forced_bos_token_id.or(self.forced_bos_token_id),
            forced_eos_token_id: over.forced_eos_token_id.or(self.forced_eos_token_id),
            num_beams: over.num_beams.or(self.num_beams),
            max_length: over.max_length.or(self.max_length),
            max_new_tokens: over.max_new_tokens.or(self.max_new_tokens),
            length_penalty: over.length_penalty.or(self.length_penalty),
            no_repeat_ngram_size: over.no_repeat_ngram_size.or(self.no_repeat_ngram_size),
            early_stopping: over.early_stopping.or(self.early_stopping),
        }
    }
}

impl ModelConfig {
    /// Reads `config.json` and, if present, `generation_config.json`.
    pub fn read(dir: &Path) -> Result<Self, ModelError> {
        let config_text = read_json(dir, "config.json")?
            .ok_or_else(|| ModelError::dir(dir, "config.json is missing"))?;
        let generation_text = read_json(dir, "generation_config.json")?;
        Self::parse(&config_text, generation_text.as_deref()).map_err(|e| ModelError::dir(dir, e))
    }

    /// Parses the two files' contents; the error says what is wrong.
    pub fn parse(config: &str, generation: Option<&str>) -> Result<Self, String> {
        let raw: RawConfig =
            serde_json::from_str(config).map_err(|e| format!("config.json: {e}"))?;
        let from_config: RawGeneration =
            serde_json::from_str(config).map_err(|e| format!("config.json: {e}"))?;
        let from_generation: RawGeneration = match generation {
            Some(text) => {
                serde_json::from_str(text).map_err(|e| format!("generation_config.json: {e}"))?
            }
            None => RawGeneration::default(),
        };
        let g = from_config.overlay(from_generation);

        let model_type = raw.model_type.clone().unwrap_or_default();
        let family = match model_type.as_str() {
            "t5" | "mt5" | "longt5" | "umt5" => Family::T5,
            "bart" | "mbart" | "marian" | "pegasus" | "m2m_100" | "nllb" => Family::Bart,
            other => {
                return Err(format!(
                    "unsupported model_type {other:?} (T5 or BART family)"
                ))
            }
        };
        let need =
            |v: Option<usize>, what: &str| v.ok_or_else(|| format!("config.json lacks {what}"));
        let vocab_size = need(raw.vocab_size, "vocab_size")?;
        let cache = match family {
            Family::T5 => CacheShape {
                layers: need(
                    raw.num_decoder_layers.or(raw.num_layers),
                    "num_decoder_layers",
                )?,
                heads: need(raw.num_heads, "num_heads")?,
                head_dim: need(raw.d_kv, "d_kv")?,
            },
            Family::Bart => {
                let heads = need(raw.decoder_attention_heads, "decoder_attention_heads")?;
                let d_model = need(raw.d_model, "d_model")?;
                if heads == 0 || d_model % heads != 0 {
                    return Err(format!(
                        "d_model {d_model} is not a multiple of {heads} heads"
                    ));
                }
                CacheShape {
                    layers: need(raw.decoder_layers, "decoder_layers")?,
                    heads,
                    head_dim: d_model / heads,
                }
            }
        };
        let pad_token_id = g.pad_token_id.ok_or("no pad_token_id")?;
        let eos_token_ids = ids(g.eos_token_id.as_ref(), "eos_token_id")?;
        if eos_token_ids.is_empty() {
            return Err("no eos_token_id".into());
        }
        // T5 starts decoding from the pad token when nothing else is said.
        let decoder_start_token_id = match (g.decoder_start_token_id, family) {
            (Some(id), _) => id,
            (None, Family::T5) => pad_token_id,
            (None, Family::Bart) => return Err("no decoder_start_token_id".into()),
        };
        let max_new_tokens = match (g.max_new_tokens, g.max_length) {
            (Some(n), _) => n,
            // `max_length` counts the decoder prompt (the start token).
            (None, Some(len)) => len.saturating_sub(1),
            (None, None) => HF_DEFAULT_MAX_LENGTH - 1,
        };
        let defaults = GenerationDefaults {
            num_beams: g.num_beams.unwrap_or(1).max(1),
            max_new_tokens,
            length_penalty: g.length_penalty.unwrap_or(1.0),
            no_repeat_ngram_size: g.no_repeat_ngram_size.unwrap_or(0),
            early_stopping: early_stopping(g.early_stopping.as_ref())?,
        };
        let check = |id: u32, what: &str| {
            if (id as usize) < vocab_size {
                Ok(id)
            } else {
                Err(format!(
                    "{what} {id} is outside the vocabulary ({vocab_size})"
                ))
            }
        };
        for &id in &eos_token_ids {
            check(id, "eos_token_id")?;
        }
        Ok(ModelConfig {
            family,
            model_type,
            vocab_size,
            cache,
            max_input_tokens: match family {
                Family::T5 => Some(raw.n_positions.unwrap_or(T5_MAX_INPUT_TOKENS)),
                Family::Bart => raw.max_position_embeddings,
            },
            pad_token_id,
            decoder_start_token_id: check(decoder_start_token_id, "decoder_start_token_id")?,
            forced_bos_token_id: g
                .forced_bos_token_id
                .map(|id| check(id, "forced_bos_token_id"))
                .transpose()?,
            forced_eos_token_ids: ids(g.forced_eos_token_id.as_ref(), "forced_eos_token_id")?,
            eos_token_ids,
            defaults,
        })
    }
}

fn read_json(dir: &Path, name: &str) -> Result<Option<String>, ModelError> {
    let path = dir.join(name);
    if !path.is_file() {
        return Ok(None);
    }
    std::fs::read_to_string(&path)
        .map(Some)
        .map_err(|e| ModelError::dir(dir, format!("cannot read {name}: {e}")))
}

/// A token id field that may be a number, a list of numbers or null.
fn ids(v: Option<&Value>, what: &str) -> Result<Vec<u32>, String> {
    let one = |v: &Value| {
        v.as_u64()
            .and_then(|n| u32::try_from(n).ok())
            .ok_or_else(|| format!("{what}: {v} is not a token id"))
    };
    match v {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => items.iter().map(one).collect(),
        Some(v) => Ok(vec![one(v)?]),
    }
}

fn early_stopping(v: Option<&Value>) -> Result<EarlyStopping, String> {
    match v {
        None | Some(Value::Null) | Some(Value::Bool(false)) => Ok(EarlyStopping::False),
        Some(Value::Bool(true)) => Ok(EarlyStopping::True),
        Some(Value::String(s)) if s == "never" => Ok(EarlyStopping::Never),
        Some(other) => Err(format!(
            "early_stopping: {other} is not true, false or \"never\""
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn t5_starts_from_pad_and_reads_t5_names() {
        let c = ModelConfig::parse(
            r#"{"model_type":"mt5","vocab_size":100,"d_model":64,"num_heads":4,"d_kv":16,
                "num_layers":3,"num_decoder_layers":2,"pad_token_id":0,"eos_token_id":1}"#,
            Some(r#"{"max_length":30,"num_beams":4}"#),
        )
        .unwrap();
        assert_eq!(c.family, Family::T5);
        assert_eq!(c.decoder_start_token_id, 0);
        assert_eq!(
            c.cache,
            CacheShape {
                layers: 2,
                heads: 4,
                head_dim: 16
            }
        );
        assert_eq!(c.defaults.max_new_tokens, 29);
        assert_eq!(c.defaults.num_beams, 4);
        assert_eq!(c.max_input_tokens, Some(T5_MAX_INPUT_TOKENS));
        let c = ModelConfig::parse(
            r#"{"model_type":"t5","vocab_size":100,"d_model":64,"num_heads":4,"d_kv":16,
                "num_layers":3,"n_positions":256,"pad_token_id":0,"eos_token_id":1}"#,
            None,
        )
        .unwrap();
        assert_eq!(c.max_input_tokens, Some(256), "n_positions wins");
    }

    #[test]
    fn mbart_forced_tokens_and_generation_config_wins() {
        let c = ModelConfig::parse(
            r#"{"model_type":"mbart","vocab_size":100,"d_model":64,"decoder_attention_heads":4,
                "decoder_layers":2,"max_position_embeddings":128,"pad_token_id":1,
                "eos_token_id":2,"decoder_start_token_id":2,"forced_eos_token_id":2}"#,
            Some(r#"{"forced_bos_token_id":99,"eos_token_id":[2,3],"early_stopping":"never"}"#),
        )
        .unwrap();
        assert_eq!(c.family, Family::Bart);
        assert_eq!(c.forced_bos_token_id, Some(99));
        assert_eq!(c.forced_eos_token_ids, vec![2]);
        assert_eq!(c.eos_token_ids, vec![2, 3]);
        assert_eq!(c.cache.head_dim, 16);
        assert_eq!(c.defaults.early_stopping, EarlyStopping::Never);
        assert_eq!(c.max_input_tokens, Some(128));
    }

    #[test]
    fn rejects_unknown_family_and_out_of_vocab_ids() {
        assert!(ModelConfig::parse(r#"{"model_type":"gpt2"}"#, None).is_err());
        let err = ModelConfig::parse(
            r#"{"model_type":"t5","vocab_size":10,"num_heads":1,"d_kv":4,"num_layers":1,
                "pad_token_id":0,"eos_token_id":12}"#,
            None,
        )
        .unwrap_err();
        assert!(err.contains("outside the vocabulary"), "{err}");
    }
}
