//! A generic token-classification runner for Hugging Face style model
//! directories (`model.onnx` with a `logits` output, `tokenizer.json`,
//! `config.json` holding `id2label`). It turns a sequence of words into
//! per-word label log-probabilities; decoding them is the entities task's job.
//!
//! A model may also carry a sentence-vector head (`khulasa.sentence_vectors`
//! in `config.json`): a second output with one vector per token, fitted so
//! that a sentence's mean token vector stands in for a sentence encoder's
//! embedding of it. The summary then reads its sentence vectors from the same
//! forward pass as the entities instead of encoding the article again.
//!
//! A model may also read hashed character n-grams of each token's word
//! (`khulasa.char_ngrams`): every piece of a word carries the word's bag, so
//! a name split into many pieces is also seen as one string of letters.

use std::{collections::BTreeMap, iter, num::NonZeroU32, ops::Range, path::Path};

use serde::Deserialize;
use tokenizers::Tokenizer;

use super::{
    batcher::Batching,
    outputs,
    row::{CharBag, Row},
    runner::RowRunner,
    tokenizer, windows, Manifest, ModelError, ModelKind, Runtime, SessionLayout, SessionPool,
};
use crate::{stop::StopSignal, text::char_ngrams};

use tokenizer::special::{BOS as BOS_ID, EOS as EOS_ID, PAD as PAD_ID};

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
    sentence_vectors: Option<SentenceHead>,
    char_ngrams: Option<CharNgramsConfig>,
}

/// The character n-gram input as `config.json` gives it; a misspelt field
/// is an error, not a silent default.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CharNgramsConfig {
    /// The ONNX input, `[batch, tokens, bag]` int64 bucket ids plus one.
    input: String,
    buckets: u32,
    #[serde(default = "default_min_n")]
    min_n: usize,
    #[serde(default = "default_max_n")]
    max_n: usize,
}

fn default_min_n() -> usize {
    char_ngrams::DEFAULT_MIN_N
}

fn default_max_n() -> usize {
    char_ngrams::DEFAULT_MAX_N
}

/// A checked [`CharNgramsConfig`]: the n-grams each word's bag holds.
#[derive(Debug)]
struct CharNgrams {
    input: String,
    buckets: NonZeroU32,
    min_n: usize,
    max_n: usize,
}

/// The longest n-gram a model may ask for: each length adds a pass over
/// every word, and models use 2 to 4.
const MAX_NGRAM_CHARS: usize = 8;

impl CharNgrams {
    fn new(config: CharNgramsConfig) -> Result<Self, String> {
        let buckets = NonZeroU32::new(config.buckets)
            .ok_or_else(|| "char_ngrams.buckets must be positive".to_string())?;
        if config.min_n == 0 || config.min_n > config.max_n || config.max_n > MAX_NGRAM_CHARS {
            return Err(format!(
                "char_ngrams needs 1 <= min_n <= max_n <= {MAX_NGRAM_CHARS}, \
                 got min_n {} and max_n {}",
                config.min_n, config.max_n
            ));
        }
        Ok(CharNgrams {
            input: config.input,
            buckets,
            min_n: config.min_n,
            max_n: config.max_n,
        })
    }

    fn bag(&self, word: &str) -> CharBag {
        CharBag::new(char_ngrams::word_ngrams(
            word,
            self.buckets,
            self.min_n,
            self.max_n,
        ))
    }
}

/// The sentence-vector head of a token classifier.
#[derive(Debug, Clone, Deserialize)]
pub struct SentenceHead {
    /// The ONNX output with one vector per token, `[batch, tokens, dim]`.
    pub output: String,
    pub dim: usize,
    /// The manifest name of the sentence encoder the head was fitted to
    /// reproduce (its summary scorer expects that encoder's vectors).
    pub mimics: String,
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
            sentence_vectors: None,
            char_ngrams: None,
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
    sentence_head: Option<SentenceHead>,
    char_ngrams: Option<CharNgrams>,
}

/// What one pass of the classifier read from a sequence of words.
#[derive(Debug, Clone)]
pub struct WordReadings {
    /// Per word, label log-probabilities over [`TokenClassifier::labels`].
    pub log_probs: Vec<Vec<f32>>,
    /// With a sentence head and groups asked for: per group, the mean head
    /// vector over the pieces of its words, L2-normalized (zeros for a group
    /// without pieces).
    pub group_vectors: Option<Vec<Vec<f32>>>,
}

/// Groups of words (e.g. sentences) to pool the sentence head over.
#[derive(Debug, Clone, Copy)]
pub struct WordGroups<'a> {
    /// Per word, the group its pieces count towards, if any.
    pub of_word: &'a [Option<usize>],
    pub count: usize,
}

/// Running sums of head vectors per group: the per-token outputs are added
/// in as each batch of windows returns, so no more than one batch of them is
/// held at a time, however long the article.
struct GroupSums {
    dim: usize,
    /// `groups × dim`, row-major.
    sums: Vec<f32>,
}

impl GroupSums {
    fn new(count: usize, dim: usize) -> Self {
        GroupSums {
            dim,
            sums: vec![0.0; count * dim],
        }
    }

    fn add(&mut self, group: usize, vector: &[f32]) {
        for (s, &x) in self.sums[group * self.dim..][..self.dim]
            .iter_mut()
            .zip(vector)
        {
            *s += x;
        }
    }

    /// Each group's sum L2-normalized: the normalized mean, as the mean's
    /// scale cancels.
    fn into_normalized(self) -> Vec<Vec<f32>> {
        self.sums
            .chunks_exact(self.dim.max(1))
            .map(|sum| {
                let norm = sum.iter().map(|v| v * v).sum::<f32>().sqrt();
                sum.iter()
                    .map(|v| if norm > 0.0 { v / norm } else { 0.0 })
                    .collect()
            })
            .collect()
    }
}

/// Windows handed to the runner at once: enough rows to keep every session
/// busy, few enough that the per-token outputs (logits and, with a head,
/// 384-wide vectors) of a 200,000-character article are never all in memory.
const WINDOWS_PER_RUN: usize = 16;

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
        let sentence_head = k.sentence_vectors;
        if sentence_head.as_ref().is_some_and(|h| h.dim == 0) {
            return Err(ModelError::dir(
                dir,
                "sentence_vectors.dim must be positive",
            ));
        }
        let char_ngrams = k
            .char_ngrams
            .map(CharNgrams::new)
            .transpose()
            .map_err(|reason| ModelError::dir(dir, reason))?;
        let pool = SessionPool::load(runtime, &dir.join("model.onnx"), layout)?;
        let fed: Vec<&str> = tokenizer::TOKEN_INPUTS
            .into_iter()
            .chain(char_ngrams.as_ref().map(|c| c.input.as_str()))
            .collect();
        check_inputs(pool.input_names(), &fed).map_err(|reason| ModelError::dir(dir, reason))?;
        let outputs = RowOutputs {
            n_labels: labels.len(),
            head: sentence_head.as_ref().map(|h| (h.output.clone(), h.dim)),
            char_input: char_ngrams.as_ref().map(|c| c.input.clone()),
        };
        let runner = RowRunner::start(
            &manifest.name,
            pool,
            layout.sessions,
            batching,
            usize::MAX,
            move |session, rows| outputs.run(session, rows),
        )?;
        let classifier = TokenClassifier {
            tokenizer: tokenizer::load_encoder(dir)?,
            runner,
            labels,
            pooling: k.word_pooling,
            max_tokens: k.max_tokens.clamp(8, manifest.max_tokens.max(8)),
            max_pieces_per_word: k.max_pieces_per_word.max(2),
            transitions,
            sentence_head,
            char_ngrams,
            manifest,
        };
        classifier.check_top_bucket(dir)?;
        // Through the same path as every article, n-gram input included.
        let warm_up = WordGroups {
            of_word: &[Some(0), Some(0)],
            count: 1,
        };
        classifier.read(
            &["تجربة", "warm-up"],
            &[],
            Some(warm_up),
            &StopSignal::never(),
        )?;
        Ok(classifier)
    }

    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// Feeds the highest bucket `config.json` promises: a model whose n-gram
    /// table is smaller fails here, at load, rather than on the rare word of
    /// a request that hashes that high.
    fn check_top_bucket(&self, dir: &Path) -> Result<(), ModelError> {
        let Some(c) = &self.char_ngrams else {
            return Ok(());
        };
        let top = CharBag::new(vec![c.buckets.get() - 1]);
        let row = Row::with_char_bags([
            (BOS_ID, CharBag::default()),
            (EOS_ID, top),
            (EOS_ID, CharBag::default()),
        ]);
        self.runner
            .run(vec![row], &StopSignal::never())
            .map(drop)
            .map_err(|e| {
                ModelError::dir(
                    dir,
                    format!(
                        "model.onnx does not take bucket {} of char_ngrams.buckets {}: {e}",
                        c.buckets.get() - 1,
                        c.buckets
                    ),
                )
            })
    }

    /// Labels in model output order, e.g. `O`, `B-PER`, `I-PER`, ...
    pub fn labels(&self) -> &[String] {
        &self.labels
    }

    pub fn transitions(&self) -> Option<&Transitions> {
        self.transitions.as_ref()
    }

    /// The sentence-vector head, when the model has one.
    pub fn sentence_head(&self) -> Option<&SentenceHead> {
        self.sentence_head.as_ref()
    }

    /// Per-word log-probabilities over [`Self::labels`] and, with a sentence
    /// head and `groups`, each group's sentence vector. Words must be
    /// non-empty and already normalized. No window crosses the start of a
    /// segment (`segment_starts`, word indices, e.g. of sentences): the
    /// model was trained on single sentences and reads them best alone.
    /// Blocking; stops between batches when `stop` fires.
    pub fn read<S: AsRef<str>>(
        &self,
        words: &[S],
        segment_starts: &[usize],
        groups: Option<WordGroups<'_>>,
        stop: &StopSignal,
    ) -> Result<WordReadings, ModelError> {
        let dim = self.sentence_head.as_ref().map_or(0, |h| h.dim);
        let mut sums = groups
            .filter(|_| dim > 0)
            .map(|g| (g, GroupSums::new(g.count, dim)));
        if words.is_empty() {
            return Ok(WordReadings {
                log_probs: Vec::new(),
                group_vectors: sums.map(|(_, s)| s.into_normalized()),
            });
        }
        let tokenizing = std::time::Instant::now();
        let pieces = self.word_pieces(words)?;
        super::record_tokenize(&self.manifest.name, tokenizing.elapsed());
        let counts: Vec<usize> = pieces.iter().map(Vec::len).collect();
        let bags: Option<Vec<CharBag>> = self
            .char_ngrams
            .as_ref()
            .map(|c| words.iter().map(|w| c.bag(w.as_ref())).collect());
        let plan = windows::plan_within(&counts, segment_starts, self.max_tokens - 2);
        let owners = windows::owners(&plan, words.len());

        let n_labels = self.labels.len();
        let stride = n_labels + dim;
        let mut log_probs: Vec<Vec<f32>> = vec![Vec::new(); words.len()];
        for (batch, ranges) in plan.chunks(WINDOWS_PER_RUN).enumerate() {
            let rows: Vec<Row> = ranges
                .iter()
                .map(|range| window_row(&pieces, range.clone(), bags.as_deref()))
                .collect();
            let outputs = self.runner.run(rows, stop)?;
            for (i, (range, row)) in ranges.iter().zip(&outputs).enumerate() {
                let window = batch * WINDOWS_PER_RUN + i;
                let mut position = 1; // after <s>
                for word in range.clone() {
                    let n = counts[word];
                    if owners[word] == window {
                        let tokens = &row[position * stride..][..n * stride];
                        log_probs[word] = pool_word(tokens, stride, n_labels, self.pooling);
                        if let Some((groups, sums)) = sums.as_mut() {
                            if let Some(&Some(group)) = groups.of_word.get(word) {
                                for token in tokens.chunks_exact(stride) {
                                    sums.add(group, &token[n_labels..]);
                                }
                            }
                        }
                    }
                    position += n;
                }
            }
        }
        Ok(WordReadings {
            log_probs,
            group_vectors: sums.map(|(_, s)| s.into_normalized()),
        })
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

/// The model's inputs must be those the classifier feeds: a `char_ngrams`
/// block for a model without that input, or a model input that config.json
/// does not name, is a mismatch between config.json and model.onnx.
fn check_inputs(model: &[String], fed: &[&str]) -> Result<(), String> {
    let same = model.len() == fed.len() && fed.iter().all(|f| model.iter().any(|m| m == f));
    if same {
        return Ok(());
    }
    Err(format!(
        "model.onnx reads inputs {model:?} but config.json implies {fed:?} \
         (khulasa.char_ngrams names the n-gram input)"
    ))
}

/// The row of the window over `words`: `<s>`, the words' pieces, `</s>`.
/// With `bags` (one per word), each piece carries its word's bag and the
/// special tokens an empty one.
fn window_row(pieces: &[Vec<u32>], words: Range<usize>, bags: Option<&[CharBag]>) -> Row {
    let tokens = words.flat_map(|w| pieces[w].iter().map(move |&p| (p, w)));
    match bags {
        None => Row::from(
            iter::once(BOS_ID)
                .chain(tokens.map(|(p, _)| p))
                .chain(iter::once(EOS_ID))
                .collect::<Vec<_>>(),
        ),
        Some(bags) => Row::with_char_bags(
            iter::once((BOS_ID, CharBag::default()))
                .chain(tokens.map(|(p, w)| (p, bags[w].clone())))
                .chain(iter::once((EOS_ID, CharBag::default()))),
        ),
    }
}

/// The inputs and outputs of one ONNX call of the classifier.
struct RowOutputs {
    n_labels: usize,
    /// The sentence head's output name and width.
    head: Option<(String, usize)>,
    /// The character n-gram input's name, for a model that reads one.
    char_input: Option<String>,
}

impl RowOutputs {
    /// One padded ONNX call; per row, one record per token (its
    /// `n_labels` logits, then its head vector if any), without the padding.
    fn run(
        &self,
        session: &mut ort::session::Session,
        rows: &[&Row],
    ) -> Result<Vec<Vec<f32>>, ModelError> {
        let (width, outputs) =
            tokenizer::run_padded(session, rows, PAD_ID, self.char_input.as_deref())?;
        let logits = per_token(&outputs, "logits", rows, width, self.n_labels)?;
        let Some((name, dim)) = &self.head else {
            return Ok(logits);
        };
        let vectors = per_token(&outputs, name, rows, width, *dim)?;
        Ok(logits
            .into_iter()
            .zip(vectors)
            .map(|(l, v)| {
                l.chunks_exact(self.n_labels)
                    .zip(v.chunks_exact(*dim))
                    .flat_map(|(l, v)| l.iter().chain(v).copied())
                    .collect()
            })
            .collect())
    }
}

/// Output `name` (`[rows, width, dim]`) split into each row's tokens
/// (`row tokens × dim`), without the padding.
fn per_token(
    outputs: &ort::session::SessionOutputs<'_>,
    name: &str,
    rows: &[&Row],
    width: usize,
    dim: usize,
) -> Result<Vec<Vec<f32>>, ModelError> {
    let (shape, data) = outputs::f32_tensor(outputs, name)?;
    match shape {
        [b, w, d] if *b as usize == rows.len() && *w as usize == width && *d as usize == dim => {
            Ok(rows
                .iter()
                .enumerate()
                .map(|(i, row)| data[i * width * dim..][..row.len() * dim].to_vec())
                .collect())
        }
        other => Err(ModelError::Output {
            name: name.into(),
            reason: format!(
                "unexpected shape {other:?}, expected [{}, {width}, {dim}]",
                rows.len()
            ),
        }),
    }
}

/// A word's label log-probabilities from its pieces' records (`n_pieces ×
/// stride`, row-major, the logits first in each), pooled as the model was
/// trained.
fn pool_word(tokens: &[f32], stride: usize, n_labels: usize, pooling: WordPooling) -> Vec<f32> {
    let mut pieces = tokens.chunks_exact(stride).map(|t| &t[..n_labels]);
    let n_pieces = tokens.len() / stride;
    let mut pooled = match pooling {
        WordPooling::First => pieces.next().map(<[f32]>::to_vec).unwrap_or_default(),
        WordPooling::Last => pieces.next_back().map(<[f32]>::to_vec).unwrap_or_default(),
        WordPooling::Mean => {
            let mut sum = vec![0f32; n_labels];
            for piece in pieces {
                for (s, &l) in sum.iter_mut().zip(piece) {
                    *s += l;
                }
            }
            sum.iter_mut().for_each(|s| *s /= n_pieces.max(1) as f32);
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
        assert_eq!(argmax(pool_word(&logits, 2, 2, WordPooling::First)), 0);
        assert_eq!(argmax(pool_word(&logits, 2, 2, WordPooling::Last)), 1);
        // Mean logits: [1.0, 2.0] → label 1.
        let mean = pool_word(&logits, 2, 2, WordPooling::Mean);
        assert_eq!(argmax(mean.clone()), 1);
        assert!((mean[1] - mean[0] - 1.0).abs() < 1e-5);
        // One piece: all poolings agree.
        for p in [WordPooling::First, WordPooling::Last, WordPooling::Mean] {
            assert_eq!(argmax(pool_word(&[0.5, 0.1], 2, 2, p)), 0);
        }
    }

    #[test]
    fn head_vectors_after_the_logits_do_not_change_the_labels() {
        // Two pieces, two labels, a 3-wide head vector after each piece's logits.
        let tokens = [3.0, 0.0, 9.0, 9.0, 9.0, 0.0, 2.0, -9.0, -9.0, -9.0];
        let plain = [3.0, 0.0, 0.0, 2.0];
        for p in [WordPooling::First, WordPooling::Last, WordPooling::Mean] {
            assert_eq!(pool_word(&tokens, 5, 2, p), pool_word(&plain, 2, 2, p));
        }
    }

    #[test]
    fn group_vectors_are_piece_means_normalized() {
        // Group 0: one piece [2, 0]; group 1: pieces [0, 1] and [3, 1];
        // group 2: no pieces.
        let mut sums = GroupSums::new(3, 2);
        sums.add(0, &[2.0, 0.0]);
        sums.add(1, &[0.0, 1.0]);
        sums.add(1, &[3.0, 1.0]);
        let v = sums.into_normalized();
        assert_eq!(v[0], vec![1.0, 0.0]);
        assert!((v[1][0] - 3.0 / 13f32.sqrt()).abs() < 1e-6);
        assert!((v[1][1] - 2.0 / 13f32.sqrt()).abs() < 1e-6);
        assert_eq!(v[2], vec![0.0, 0.0]);
    }

    #[test]
    fn every_piece_carries_its_words_bag() {
        let pieces = vec![vec![10], vec![20, 21], vec![30]];
        let plain = window_row(&pieces, 1..3, None);
        assert_eq!(plain, Row::from(vec![BOS_ID, 20, 21, 30, EOS_ID]));
        let bags = [1, 2, 3].map(|b| CharBag::new(vec![b]));
        let row = window_row(&pieces, 1..3, Some(&bags));
        let none = CharBag::default();
        let want = Row::with_char_bags([
            (BOS_ID, none.clone()),
            (20, bags[1].clone()),
            (21, bags[1].clone()),
            (30, bags[2].clone()),
            (EOS_ID, none),
        ]);
        assert_eq!(row, want);
    }

    #[test]
    fn char_ngrams_config_is_checked() {
        let parse = |json: &str| {
            let config: KhulasaConfig = serde_json::from_str(json).expect("valid JSON");
            CharNgrams::new(config.char_ngrams.expect("a char_ngrams block"))
        };
        let ok = parse(r#"{"char_ngrams": {"input": "char_ngrams", "buckets": 8192}}"#).unwrap();
        assert_eq!((ok.input.as_str(), ok.buckets.get()), ("char_ngrams", 8192));
        assert_eq!((ok.min_n, ok.max_n), (2, 4));
        let zero = parse(r#"{"char_ngrams": {"input": "c", "buckets": 0}}"#);
        assert!(zero.unwrap_err().contains("buckets"));
        for (min_n, max_n) in [(0, 4), (3, 2), (2, 9), (2, usize::MAX)] {
            let json = format!(
                r#"{{"char_ngrams": {{"input": "c", "buckets": 8, "min_n": {min_n}, "max_n": {max_n}}}}}"#
            );
            assert!(parse(&json).unwrap_err().contains("min_n"), "{json}");
        }
        let absent: KhulasaConfig = serde_json::from_str("{}").unwrap();
        assert!(absent.char_ngrams.is_none());
        // A misspelt field is an error, not the default.
        let typo = r#"{"char_ngrams": {"input": "c", "buckets": 8, "max-n": 3}}"#;
        let err = serde_json::from_str::<KhulasaConfig>(typo).unwrap_err();
        assert!(err.to_string().contains("max-n"), "{err}");
    }

    #[test]
    fn model_inputs_must_match_the_config() {
        let model = |names: &[&str]| names.iter().map(|n| n.to_string()).collect::<Vec<_>>();
        let plain = ["input_ids", "attention_mask"];
        let chars = ["input_ids", "attention_mask", "char_ngrams"];
        assert!(check_inputs(&model(&plain), &plain).is_ok());
        assert!(check_inputs(&model(&chars), &chars).is_ok());
        // A char model without the config block, and the block without the input.
        assert!(check_inputs(&model(&chars), &plain).is_err());
        assert!(check_inputs(&model(&plain), &chars).is_err());
    }

    #[test]
    fn log_softmax_normalizes() {
        let mut x = vec![1.0, 2.0, 3.0];
        log_softmax(&mut x);
        let total: f32 = x.iter().map(|v| v.exp()).sum();
        assert!((total - 1.0).abs() < 1e-5);
    }
}
