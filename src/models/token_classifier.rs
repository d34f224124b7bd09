//! A generic token-classification runner for Hugging Face style model
//! directories (`model.onnx` with a `logits` output, `tokenizer.json`,
//! `config.json` holding `id2label`). It turns a sequence of words into
//! per-word label log-probabilities; decoding them is the entities task's job.

use std::{collections::BTreeMap, path::Path};

use serde::Deserialize;
use tokenizers::Tokenizer;

use super::{
    batcher::Batching, runner::RowRunner, tokenizer, windows, Manifest, ModelError, ModelKind,
    Runtime, SessionLayout, SessionPool,
};
use crate::stop::StopSignal;

const BOS_ID: u32 = 0;
const PAD_ID: u32 = 1;
const EOS_ID: u32 = 2;

/// Which pieces of a word its label is read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum WordPooling {
    #[default]
    First,
    Last,
    /// Mean of the pieces' logits (equal to classifying their mean hidden
    /// state, since the head is linear).
    Mean,
}

#[derive(Debug, Deserialize)]
struct HfConfig {
    id2label: BTreeMap<String, String>,
    #[serde(default)]
    khulasa: KhulasaConfig,
}

#[derive(Debug, Deserialize)]
#[serde(default)]
struct KhulasaConfig {
    word_pooling: WordPooling,
    normalization: String,
    max_tokens: usize,
    max_pieces_per_word: usize,
    transitions: Option<Vec<Vec<f32>>>,
    start_transitions: Option<Vec<f32>>,
}

impl Default for KhulasaConfig {
    fn default() -> Self {
        KhulasaConfig {
            word_pooling: WordPooling::First,
            normalization: "strip-arabic-marks".into(),
            max_tokens: 256,
            max_pieces_per_word: 32,
            transitions: None,
            start_transitions: None,
        }
    }
}

/// Optional learned label-transition scores (e.g. from a CRF).
#[derive(Debug, Clone)]
pub struct Transitions {
    /// `scores[from][to]`, added to a path's score.
    pub scores: Vec<Vec<f32>>,
    pub start: Option<Vec<f32>>,
}

pub struct TokenClassifier {
    manifest: Manifest,
    tokenizer: Tokenizer,
    /// Shares ONNX calls with other requests' windows, when batching is on.
    /// Safe because no activation is quantized over a whole batch
    /// (`models/tools/rowquant.py` gives each token its own int8 scale).
    runner: RowRunner,
    labels: Vec<String>,
    pooling: WordPooling,
    max_tokens: usize,
    max_pieces_per_word: usize,
    transitions: Option<Transitions>,
}

impl TokenClassifier {
    pub fn load(
        runtime: &Runtime,
        dir: &Path,
        layout: SessionLayout,
        batching: &Batching,
    ) -> Result<Self, ModelError> {
        let manifest = Manifest::read_kind(dir, ModelKind::TokenClassification)?;
        let raw = std::fs::read_to_string(dir.join("config.json"))
            .map_err(|e| ModelError::dir(dir, format!("cannot read config.json: {e}")))?;
        let config: HfConfig = serde_json::from_str(&raw)
            .map_err(|e| ModelError::dir(dir, format!("invalid config.json: {e}")))?;
        let labels =
            labels_in_id_order(&config.id2label).map_err(|reason| ModelError::dir(dir, reason))?;
        let k = config.khulasa;
        if k.normalization != "strip-arabic-marks" {
            return Err(ModelError::dir(
                dir,
                format!("unsupported normalization {:?}", k.normalization),
            ));
        }
        let n = labels.len();
        let transitions = match k.transitions {
            Some(scores) if scores.len() == n && scores.iter().all(|r| r.len() == n) => {
                if k.start_transitions.as_ref().is_some_and(|s| s.len() != n) {
                    return Err(ModelError::dir(
                        dir,
                        "start_transitions must have one score per label",
                    ));
                }
                Some(Transitions {
                    scores,
                    start: k.start_transitions,
                })
            }
            Some(_) => return Err(ModelError::dir(dir, "transitions must be labels × labels")),
            None => None,
        };
        let pool = SessionPool::load(runtime, &dir.join("model.onnx"), layout)?;
        let n_labels = labels.len();
        let runner = RowRunner::start(
            &manifest.name,
            pool,
            layout.sessions,
            batching,
            usize::MAX,
            move |session, rows| run_rows(session, rows, n_labels),
        )?;
        let classifier = TokenClassifier {
            tokenizer: tokenizer::load(dir)?,
            runner,
            labels,
            pooling: k.word_pooling,
            max_tokens: k.max_tokens.clamp(8, manifest.max_tokens.max(8)),
            max_pieces_per_word: k.max_pieces_per_word.max(2),
            transitions,
            manifest,
        };
        classifier.word_log_probs(&["تجربة", "warm-up"], &StopSignal::never())?;
        Ok(classifier)
    }

    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// Labels in model output order, e.g. `O`, `B-PER`, `I-PER`, ...
    pub fn labels(&self) -> &[String] {
        &self.labels
    }

    pub fn transitions(&self) -> Option<&Transitions> {
        self.transitions.as_ref()
    }

    /// Per-word log-probabilities over [`Self::labels`]. Words must be
    /// non-empty and already normalized. Blocking; stops between batches
    /// when `stop` fires.
    pub fn word_log_probs<S: AsRef<str>>(
        &self,
        words: &[S],
        stop: &StopSignal,
    ) -> Result<Vec<Vec<f32>>, ModelError> {
        if words.is_empty() {
            return Ok(Vec::new());
        }
        let tokenizing = std::time::Instant::now();
        let pieces = self.word_pieces(words)?;
        super::record_tokenize(&self.manifest.name, tokenizing.elapsed());
        let counts: Vec<usize> = pieces.iter().map(Vec::len).collect();
        let plan = windows::plan(&counts, self.max_tokens - 2);
        let owners = windows::owners(&plan, words.len());

        let rows: Vec<Vec<u32>> = plan
            .iter()
            .map(|range| {
                let mut row = Vec::with_capacity(range.len() + 2);
                row.push(BOS_ID);
                for p in &pieces[range.clone()] {
                    row.extend_from_slice(p);
                }
                row.push(EOS_ID);
                row
            })
            .collect();
        let logits = self.runner.run(rows, stop)?;

        let n_labels = self.labels.len();
        let mut out: Vec<Vec<f32>> = vec![Vec::new(); words.len()];
        for (window, (range, row_logits)) in plan.iter().zip(&logits).enumerate() {
            let mut position = 1; // after <s>
            for word in range.clone() {
                let n = counts[word];
                if owners[word] == window {
                    let pieces = &row_logits[position * n_labels..][..n * n_labels];
                    out[word] = pool_word(pieces, n_labels, self.pooling);
                }
                position += n;
            }
        }
        Ok(out)
    }

    /// Each word's piece ids, capped at `max_pieces_per_word` (keeping the
    /// first and last halves so first/last pooling still sees the real ends).
    fn word_pieces<S: AsRef<str>>(&self, words: &[S]) -> Result<Vec<Vec<u32>>, ModelError> {
        let words: Vec<&str> = words.iter().map(AsRef::as_ref).collect();
        let enc = self
            .tokenizer
            .encode(words.as_slice(), false)
            .map_err(|e| ModelError::Tokenizer(e.to_string()))?;
        let mut pieces = vec![Vec::new(); words.len()];
        for (&id, word) in enc.get_ids().iter().zip(enc.get_word_ids()) {
            if let Some(w) = word.and_then(|w| pieces.get_mut(w as usize)) {
                w.push(id);
            }
        }
        let cap = self.max_pieces_per_word.min(self.max_tokens - 2);
        for p in &mut pieces {
            if p.is_empty() {
                // Cannot happen with a Metaspace tokenizer; stay total anyway.
                p.push(PAD_ID);
            }
            if p.len() > cap {
                let tail = p.split_off(p.len() - cap / 2);
                p.truncate(cap - cap / 2);
                p.extend(tail);
            }
        }
        Ok(pieces)
    }
}

/// One padded ONNX call; each row's logits (`row tokens × n_labels`), without
/// the padding.
fn run_rows(
    session: &mut ort::session::Session,
    rows: &[&[u32]],
    n_labels: usize,
) -> Result<Vec<Vec<f32>>, ModelError> {
    let (width, outputs) = tokenizer::run_padded(session, rows, PAD_ID)?;
    let (shape, data) = outputs["logits"].try_extract_tensor::<f32>()?;
    match shape.as_ref() {
        [b, w, l]
            if *b as usize == rows.len() && *w as usize == width && *l as usize == n_labels =>
        {
            Ok(rows
                .iter()
                .enumerate()
                .map(|(i, row)| data[i * width * n_labels..][..row.len() * n_labels].to_vec())
                .collect())
        }
        other => Err(ModelError::Output {
            name: "logits".into(),
            reason: format!(
                "unexpected shape {other:?}, expected [{}, {width}, {n_labels}]",
                rows.len()
            ),
        }),
    }
}

/// A word's label log-probabilities from its pieces' logits
/// (`n_pieces × n_labels`, row-major), pooled as the model was trained.
fn pool_word(logits: &[f32], n_labels: usize, pooling: WordPooling) -> Vec<f32> {
    let n_pieces = logits.len() / n_labels;
    let mut pooled = match pooling {
        WordPooling::First => logits[..n_labels].to_vec(),
        WordPooling::Last => logits[(n_pieces - 1) * n_labels..].to_vec(),
        WordPooling::Mean => {
            let mut sum = vec![0f32; n_labels];
            for piece in logits.chunks_exact(n_labels) {
                for (s, &l) in sum.iter_mut().zip(piece) {
                    *s += l;
                }
            }
            sum.iter_mut().for_each(|s| *s /= n_pieces as f32);
            sum
        }
    };
    log_softmax(&mut pooled);
    pooled
}

fn labels_in_id_order(id2label: &BTreeMap<String, String>) -> Result<Vec<String>, String> {
    let mut labels = vec![None; id2label.len()];
    for (id, label) in id2label {
        let i: usize = id
            .parse()
            .map_err(|_| format!("id2label key {id:?} is not an integer"))?;
        let slot = labels
            .get_mut(i)
            .ok_or_else(|| format!("id2label ids are not 0..{}", id2label.len()))?;
        *slot = Some(label.clone());
    }
    labels
        .into_iter()
        .collect::<Option<Vec<_>>>()
        .filter(|l| !l.is_empty())
        .ok_or_else(|| "id2label is empty or has gaps".to_string())
}

fn log_softmax(x: &mut [f32]) {
    let max = x.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let sum: f32 = x.iter().map(|&v| (v - max).exp()).sum();
    let log_sum = max + sum.ln();
    x.iter_mut().for_each(|v| *v -= log_sum);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_follow_ids() {
        let m: BTreeMap<String, String> = [("1", "B-PER"), ("0", "O"), ("2", "I-PER")]
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect();
        assert_eq!(labels_in_id_order(&m).unwrap(), vec!["O", "B-PER", "I-PER"]);
        let gap: BTreeMap<String, String> = [("0", "O"), ("2", "B")]
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect();
        assert!(labels_in_id_order(&gap).is_err());
    }

    #[test]
    fn word_scores_pool_the_right_pieces() {
        // Three pieces, two labels: the proclitic piece says O, the name says B.
        let logits = [3.0, 0.0, 0.0, 2.0, 0.0, 4.0];
        let argmax = |v: Vec<f32>| if v[0] > v[1] { 0 } else { 1 };
        assert_eq!(argmax(pool_word(&logits, 2, WordPooling::First)), 0);
        assert_eq!(argmax(pool_word(&logits, 2, WordPooling::Last)), 1);
        // Mean logits: [1.0, 2.0] → label 1.
        let mean = pool_word(&logits, 2, WordPooling::Mean);
        assert_eq!(argmax(mean.clone()), 1);
        assert!((mean[1] - mean[0] - 1.0).abs() < 1e-5);
        // One piece: all poolings agree.
        for p in [WordPooling::First, WordPooling::Last, WordPooling::Mean] {
            assert_eq!(argmax(pool_word(&[0.5, 0.1], 2, p)), 0);
        }
    }

    #[test]
    fn log_softmax_normalizes() {
        let mut x = vec![1.0, 2.0, 3.0];
        log_softmax(&mut x);
        let total: f32 = x.iter().map(|v| v.exp()).sum();
        assert!((total - 1.0).abs() < 1e-5);
    }
}
