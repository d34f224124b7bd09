//! The analyzer: the loaded models and the per-article flow through them.

use std::{
    ops::Range,
    path::{Path, PathBuf},
    sync::Arc,
    time::{Duration, Instant},
};

use crate::{
    models::{
        sentence_scorer::SentenceInputs,
        seq2seq::{GenerationError, Seq2SeqModel},
        Batching, InFlight, Manifest, ModelError, ModelKind, Runtime, SentenceEncoder,
        SentenceScorer, SessionLayout, TokenClassifier,
    },
    tasks::{
        entities::{self, ArticleReading, EntitySpan, LabelScheme},
        groups::{self, ArticleContext, Grouping},
        summarize::{Scorer, MIN_SUMMARY_WORDS},
    },
    text::{self, Segmenter},
};

use super::request::{ArticleRequest, SummaryMode};
use crate::stop::{StopSignal, Stopped};

/// The models found in a models directory.
pub struct ModelSet {
    pub readers: Readers,
    /// A learned extractive scorer; without one, v1 centrality ranks.
    pub scorer: Option<SentenceScorer>,
    pub abstractive: Option<(Seq2SeqModel, Manifest)>,
    /// Articles in analysis now; the batchers wait for rows only while
    /// other articles are in flight.
    pub in_flight: Arc<InFlight>,
}

/// Model directories named on their own, outside the models directory.
#[derive(Debug, Clone, Copy, Default)]
pub struct ModelDirs<'a> {
    /// A seq2seq summarizer (an Optimum export).
    pub summarizer: Option<&'a Path>,
    /// The sentence encoder instead of the one found in the models
    /// directory (e.g. an fp32 build, to compare).
    pub encoder: Option<&'a Path>,
    /// The token classifier instead of the one found in the models directory.
    pub entities: Option<&'a Path>,
}

/// Where the summary's sentence vectors come from (`--sentence-vectors`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum VectorSource {
    /// The entity model's sentence head when it has one and no `--encoder`
    /// is named, else the sentence encoder.
    #[default]
    Auto,
    /// A sentence encoder of their own: the models directory's, or
    /// `--encoder`'s. A second encoder pass over the article.
    Encoder,
    /// The entity model's sentence head, from the same encoder pass as the
    /// entities (the model must have one); the sentence encoder is not
    /// loaded.
    EntityHead,
}

/// A token classifier with its labels parsed.
pub struct EntityModel {
    pub classifier: TokenClassifier,
    pub scheme: LabelScheme,
}

/// The encoders that read an article: where the summary's sentence vectors
/// and the entities come from.
pub enum Readers {
    /// A sentence encoder of its own, and a token classifier if one is loaded.
    Separate {
        encoder: Box<SentenceEncoder>,
        entities: Option<EntityModel>,
    },
    /// One encoder pass for both: the token classifier's sentence head gives
    /// the sentence vectors (see [`crate::models::token_classifier`]).
    OnePass(EntityModel),
}

impl ModelSet {
    /// Loads every model directory under `models_dir` (each holding a
    /// `manifest.json`), with `named` replacing or adding the ones it names.
    /// The sentence vectors come from where `vectors` says: the one sentence
    /// encoder (`named.encoder`, else the directory's), or the token
    /// classifier's sentence head (the sentence encoder is then not loaded);
    /// [`VectorSource::Auto`] takes the head when the classifier has one and
    /// no encoder is named.
    /// A token classifier and a seq2seq summarizer are optional.
    pub fn load(
        runtime: &Runtime,
        models_dir: &Path,
        named: ModelDirs<'_>,
        vectors: VectorSource,
        layout: SessionLayout,
        batching: &Batching,
    ) -> Result<Self, ModelError> {
        let mut encoders = Vec::new();
        let mut classifiers = Vec::new();
        let mut scorers = Vec::new();
        let mut seq2seq: Vec<PathBuf> = named
            .summarizer
            .map(Path::to_path_buf)
            .into_iter()
            .collect();
        let entries = std::fs::read_dir(models_dir)
            .map_err(|e| ModelError::dir(models_dir, format!("cannot list models: {e}")))?;
        let mut dirs: Vec<PathBuf> = entries
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.join("manifest.json").is_file())
            .collect();
        dirs.sort();
        for dir in dirs {
            match Manifest::read(&dir)?.kind {
                ModelKind::SentenceEmbedding => encoders.push(dir),
                ModelKind::TokenClassification => classifiers.push(dir),
                ModelKind::SentenceScoring => scorers.push(dir),
                ModelKind::Seq2seq => seq2seq.push(dir),
            }
        }
        if let Some(dir) = named.encoder {
            encoders = vec![dir.to_path_buf()];
        }
        if let Some(dir) = named.entities {
            classifiers = vec![dir.to_path_buf()];
        }
        let entities = match classifiers.as_slice() {
            [] => None,
            [one] => {
                let classifier = TokenClassifier::load(runtime, one, layout, batching)?;
                let scheme = LabelScheme::parse(classifier.labels());
                Some(EntityModel { classifier, scheme })
            }
            many => {
                return Err(ModelError::dir(
                    models_dir,
                    format!("several token-classification models: {many:?}; keep one"),
                ))
            }
        };
        let vectors = match vectors {
            VectorSource::Auto
                if named.encoder.is_none()
                    && entities
                        .as_ref()
                        .is_some_and(|m| m.classifier.sentence_head().is_some()) =>
            {
                VectorSource::EntityHead
            }
            VectorSource::Auto => VectorSource::Encoder,
            chosen => chosen,
        };
        let readers = match (vectors, entities) {
            (VectorSource::EntityHead, Some(model)) => {
                if model.classifier.sentence_head().is_none() {
                    return Err(ModelError::dir(
                        models_dir,
                        format!(
                            "--sentence-vectors entity-head: the entity model {} has no sentence head (models/ner/sentence_head.py adds one)",
                            model.classifier.manifest().name
                        ),
                    ));
                }
                Readers::OnePass(model)
            }
            (VectorSource::EntityHead, None) => {
                return Err(ModelError::dir(
                    models_dir,
                    "--sentence-vectors entity-head needs a token-classification model",
                ))
            }
            (_, entities) => {
                let encoder_dir = match encoders.as_slice() {
                    [one] => one,
                    [] => {
                        return Err(ModelError::dir(
                            models_dir,
                            "no sentence-embedding model (run `make models`)",
                        ))
                    }
                    many => {
                        return Err(ModelError::dir(
                            models_dir,
                            format!("several sentence-embedding models: {many:?}; keep one"),
                        ))
                    }
                };
                Readers::Separate {
                    encoder: Box::new(SentenceEncoder::load(
                        runtime,
                        encoder_dir,
                        layout,
                        batching,
                    )?),
                    entities,
                }
            }
        };
        let scorer = match scorers.as_slice() {
            [] => None,
            [one] => Some(SentenceScorer::load(runtime, one, layout)?),
            many => {
                return Err(ModelError::dir(
                    models_dir,
                    format!("several sentence-scoring models: {many:?}; keep one"),
                ))
            }
        };
        let abstractive = match seq2seq.as_slice() {
            [] => None,
            [one] => {
                let model = Seq2SeqModel::load(runtime, one, layout)?;
                let config = model.config();
                let manifest =
                    Manifest::for_seq2seq(one, &config.model_type, config.max_input_tokens)?;
                Some((model, manifest))
            }
            many => {
                return Err(ModelError::dir(
                    models_dir,
                    format!("several seq2seq models: {many:?}; keep one"),
                ))
            }
        };
        Ok(ModelSet {
            readers,
            scorer,
            abstractive,
            in_flight: Arc::clone(&batching.in_flight),
        })
    }

    /// The summarizer a request gets by default: `abstractive` with a seq2seq
    /// model, else `learned-scorer` with a sentence-scoring model, else
    /// `lexrank` (v1 centrality and the position prior).
    pub fn default_summarizer(&self) -> &'static str {
        match (&self.abstractive, &self.scorer) {
            (Some(_), _) => "abstractive",
            (None, Some(_)) => "learned-scorer",
            (None, None) => "lexrank",
        }
    }

    /// The entity model, if one is loaded.
    pub fn entities(&self) -> Option<&EntityModel> {
        match &self.readers {
            Readers::Separate { entities, .. } => entities.as_ref(),
            Readers::OnePass(model) => Some(model),
        }
    }

    pub fn manifests(&self) -> Vec<&Manifest> {
        let encoder = match &self.readers {
            Readers::Separate { encoder, .. } => Some(encoder.manifest()),
            Readers::OnePass(_) => None,
        };
        encoder
            .into_iter()
            .chain(self.entities().map(|m| m.classifier.manifest()))
            .chain(self.scorer.as_ref().map(SentenceScorer::manifest))
            .chain(self.abstractive.as_ref().map(|(_, m)| m))
            .collect()
    }
}

/// Time spent in each stage of one article.
#[derive(Debug, Clone, Copy, Default)]
pub struct StageTimings {
    pub language: Duration,
    pub segment: Duration,
    pub embed: Duration,
    pub rank: Duration,
    pub generate: Duration,
    pub entities: Duration,
    pub groups: Duration,
}

/// Summary sentences as byte ranges of the article, in article order; or,
/// for an abstractive summary, the generated text.
#[derive(Debug, Clone, Default)]
pub struct SummaryResult {
    pub sentences: Vec<(Range<usize>, f32)>,
    pub generated: Option<String>,
    /// Sentences the article was segmented into.
    pub article_sentences: usize,
}

#[derive(Debug, Clone)]
pub struct Analysis {
    pub language: String,
    pub summary: Option<SummaryResult>,
    pub entities: Option<Entities>,
    pub timings: StageTimings,
}

/// The article's mentions and the entities they name, together, so a
/// response never has one without the other.
#[derive(Debug, Clone, Default)]
pub struct Entities {
    /// In article order.
    pub mentions: Vec<EntitySpan>,
    /// `group_of` has one group index per mention.
    pub grouping: Grouping,
}

#[derive(Debug, thiserror::Error)]
pub enum AnalyzeError {
    #[error("no entity model is loaded; ask for TASK_SUMMARY only")]
    NoEntityModel,
    #[error("no abstractive summarizer is loaded (start the server with --summarizer DIR); use MODE_EXTRACTIVE")]
    NoAbstractiveModel,
    #[error("abstractive summary: {0}")]
    Generation(String),
    #[error(transparent)]
    Stopped(#[from] Stopped),
    #[error(transparent)]
    Model(ModelError),
}

/// A model call that stopped on the signal answers as the stop itself
/// (CANCELLED or DEADLINE_EXCEEDED), not as a model failure.
impl From<ModelError> for AnalyzeError {
    fn from(e: ModelError) -> Self {
        match e {
            ModelError::Stopped(why) => AnalyzeError::Stopped(why),
            e => AnalyzeError::Model(e),
        }
    }
}

impl From<GenerationError> for AnalyzeError {
    fn from(e: GenerationError) -> Self {
        match e {
            GenerationError::Stopped(why) => AnalyzeError::Stopped(why),
            GenerationError::Model(e) => e.into(),
            e @ GenerationError::InvalidParams(_) => AnalyzeError::Generation(e.to_string()),
        }
    }
}

/// What makes one request's summary.
#[derive(Clone, Copy)]
enum SummaryBy<'m> {
    Abstractive(&'m Seq2SeqModel),
    /// Sentences of the article, picked by the scorer.
    Extractive,
}

/// Articles with more sentences than this are summarized from this many
/// candidates (full sentences first, in article order): it bounds the
/// embedding work and the n² similarity graph of one request.
pub const MAX_RANKED_SENTENCES: usize = 2048;

pub struct Analyzer {
    models: ModelSet,
    segmenter: Segmenter,
    scorer: Scorer,
}

impl Analyzer {
    pub fn new(models: ModelSet) -> Self {
        Analyzer {
            models,
            segmenter: Segmenter::default(),
            scorer: Scorer::default(),
        }
    }

    pub fn models(&self) -> &ModelSet {
        &self.models
    }

    /// Fails fast, before any queueing, when the request asks for a task no
    /// loaded model can do.
    pub fn check_tasks(&self, request: &ArticleRequest) -> Result<(), AnalyzeError> {
        request
            .tasks
            .wants_entities(self.models.entities().is_some())
            .ok_or(AnalyzeError::NoEntityModel)?;
        self.summary_by(request)?;
        Ok(())
    }

    /// What makes the request's summary, given its tasks and mode and the
    /// loaded models; `None` when no summary is wanted.
    fn summary_by(&self, request: &ArticleRequest) -> Result<Option<SummaryBy<'_>>, AnalyzeError> {
        if !request.tasks.wants_summary() {
            return Ok(None);
        }
        match (&self.models.abstractive, request.mode) {
            (Some((model, _)), SummaryMode::Auto | SummaryMode::Abstractive) => {
                Ok(Some(SummaryBy::Abstractive(model)))
            }
            (None, SummaryMode::Abstractive) => Err(AnalyzeError::NoAbstractiveModel),
            (_, SummaryMode::Auto | SummaryMode::Extractive) => Ok(Some(SummaryBy::Extractive)),
        }
    }

    /// Analyzes one article. Blocking; stops early when `stop` fires.
    pub fn analyze(
        &self,
        request: &ArticleRequest,
        stop: &StopSignal,
    ) -> Result<Analysis, AnalyzeError> {
        let _in_flight = self.models.in_flight.enter();
        let text = request.text.as_str();
        let mut timings = StageTimings::default();
        let want_entities = request
            .tasks
            .wants_entities(self.models.entities().is_some())
            .ok_or(AnalyzeError::NoEntityModel)?;
        stop.check()?;

        let language = stage("language", &mut timings.language, || {
            match &request.language {
                Some(hint) => hint.clone(),
                None => text::lang::detect(text).unwrap_or("und").to_string(),
            }
        });

        // An extractive summary picks sentences, the entity model reads them
        // (its windows never cross one) and the groups look for the lead; a
        // request for an abstractive summary alone needs none.
        let summary_by = self.summary_by(request)?;
        let sentences = if want_entities || matches!(summary_by, Some(SummaryBy::Extractive)) {
            stage("segment", &mut timings.segment, || {
                self.segmenter.sentences(text)
            })
        } else {
            Vec::new()
        };

        // The token classifier's pass over the article, made at most once:
        // by the summary when it reads its sentence vectors from it, else
        // here for the entities.
        let mut reading = None;
        let summary = match summary_by {
            None => None,
            Some(SummaryBy::Abstractive(model)) => Some(generate(model, text, &mut timings, stop)?),
            Some(SummaryBy::Extractive) => {
                Some(self.summarize(request, &sentences, &mut reading, &mut timings, stop)?)
            }
        };

        let entities = match (self.models.entities(), want_entities) {
            (Some(model), true) => {
                let reading = match reading {
                    Some(reading) => reading,
                    None => read(model, text, &sentences, None, &mut timings, stop)?,
                };
                let transitions = model.classifier.transitions();
                // Decoding (Viterbi, repeats, proclitics) counts towards the
                // entities stage, after the pass itself.
                Some(stage("entities", &mut timings.entities, || {
                    reading.entities(&model.scheme, transitions, text)
                }))
            }
            _ => None,
        };

        let entities = entities.map(|mentions| {
            let grouping = stage("groups", &mut timings.groups, || {
                let lead = sentences.first().cloned();
                let summary: Vec<Range<usize>> = summary
                    .iter()
                    .flat_map(|s| s.sentences.iter().map(|(r, _)| r.clone()))
                    .collect();
                groups::group(
                    &mentions,
                    &ArticleContext {
                        text,
                        title: request.title.as_deref(),
                        lead: lead.unwrap_or(0..text.len()),
                        summary: &summary,
                    },
                )
            });
            Entities { mentions, grouping }
        });

        Ok(Analysis {
            language,
            summary,
            entities,
            timings,
        })
    }

    fn summarize<'r>(
        &self,
        request: &'r ArticleRequest,
        sentences: &[Range<usize>],
        reading: &mut Option<ArticleReading<'r>>,
        timings: &mut StageTimings,
        stop: &StopSignal,
    ) -> Result<SummaryResult, AnalyzeError> {
        let text = request.text.as_str();
        let (pieces, word_counts, candidates) = stage("segment", &mut timings.segment, || {
            let pieces: Vec<&str> = sentences.iter().map(|r| &text[r.clone()]).collect();
            let word_counts: Vec<usize> = pieces
                .iter()
                .map(|s| s.split_whitespace().count())
                .collect();
            let mut candidates = candidates(&word_counts, MAX_RANKED_SENTENCES);
            // The summary never repeats the headline the client sent.
            if let Some(title) = request.title.as_deref().map(text::arabic::words_key) {
                candidates.retain(|&i| text::arabic::words_key(pieces[i]) != title);
            }
            (pieces, word_counts, candidates)
        });

        let embeddings = match &self.models.readers {
            Readers::Separate { encoder, .. } => {
                let candidate_texts: Vec<&str> = candidates.iter().map(|&i| pieces[i]).collect();
                stage("embed", &mut timings.embed, || {
                    encoder.embed(&candidate_texts, stop)
                })?
            }
            Readers::OnePass(model) => {
                // The summary runs first, so this pass is the article's only one.
                let reading = reading.insert(read(
                    model,
                    text,
                    sentences,
                    Some(&candidates),
                    timings,
                    stop,
                )?);
                stage("embed", &mut timings.embed, || {
                    reading.take_sentence_vectors()
                })
                .ok_or_else(|| {
                    AnalyzeError::Model(ModelError::Output {
                        name: "sentence vectors".into(),
                        reason: "the entity model has no sentence head".into(),
                    })
                })?
            }
        };

        let chosen = stage("rank", &mut timings.rank, || {
            let char_lens: Vec<usize> = candidates
                .iter()
                .map(|&i| pieces[i].chars().count())
                .collect();
            let candidate_words: Vec<usize> = candidates.iter().map(|&i| word_counts[i]).collect();
            let learned = match &self.models.scorer {
                Some(scorer) => Some(scorer.score(
                    &SentenceInputs {
                        embeddings: &embeddings,
                        char_lens: &char_lens,
                        word_counts: &candidate_words,
                    },
                    stop,
                )?),
                None => None,
            };
            Ok::<_, AnalyzeError>(self.scorer.summarize(
                &embeddings,
                &char_lens,
                &candidate_words,
                sentences.len(),
                &request.length,
                learned.as_deref(),
            ))
        })?;

        Ok(SummaryResult {
            sentences: chosen
                .into_iter()
                .map(|c| (sentences[candidates[c.index]].clone(), c.score))
                .collect(),
            generated: None,
            article_sentences: sentences.len(),
        })
    }
}

/// Runs (a part of) one stage of an article: its time is added to `slot`
/// for the log line and metrics, and it is traced as a span (named after
/// the stage in exported traces).
fn stage<T>(name: &'static str, slot: &mut Duration, run: impl FnOnce() -> T) -> T {
    let span = tracing::info_span!("stage", otel.name = name);
    let _entered = span.enter();
    let started = Instant::now();
    let out = run();
    *slot += started.elapsed();
    out
}

/// The entity model's pass over `text`, read sentence by sentence and
/// timed as the entities stage; with `pooled`, those sentences' vectors too.
fn read<'t>(
    model: &EntityModel,
    text: &'t str,
    sentences: &[Range<usize>],
    pooled: Option<&[usize]>,
    timings: &mut StageTimings,
    stop: &StopSignal,
) -> Result<ArticleReading<'t>, AnalyzeError> {
    stop.check()?;
    stage("entities", &mut timings.entities, || {
        entities::read(&model.classifier, text, sentences, pooled, stop)
    })
    .map_err(AnalyzeError::from)
}

/// An abstractive summary from the seq2seq model, with its settings from
/// `generation_config.json`.
fn generate(
    model: &Seq2SeqModel,
    text: &str,
    timings: &mut StageTimings,
    stop: &StopSignal,
) -> Result<SummaryResult, AnalyzeError> {
    let generated = stage("generate", &mut timings.generate, || {
        model.generate(text, &model.default_params(), stop)
    })?;
    if generated.truncated {
        tracing::info!(
            input_tokens = generated.input_tokens,
            "the abstractive summary read only the start of the article: it is longer than the model's input"
        );
    }
    Ok(SummaryResult {
        sentences: Vec::new(),
        generated: Some(generated.text),
        article_sentences: 0,
    })
}

/// Indices of the sentences to rank, in article order: all of them when
/// there are at most `cap`, else full sentences first, then short ones.
fn candidates(word_counts: &[usize], cap: usize) -> Vec<usize> {
    if word_counts.len() <= cap {
        return (0..word_counts.len()).collect();
    }
    let full = (0..word_counts.len()).filter(|&i| word_counts[i] >= MIN_SUMMARY_WORDS);
    let short = (0..word_counts.len()).filter(|&i| word_counts[i] < MIN_SUMMARY_WORDS);
    let mut picked: Vec<usize> = full.chain(short).take(cap).collect();
    picked.sort_unstable();
    picked
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn candidates_prefer_full_sentences_and_keep_order() {
        assert_eq!(candidates(&[1, 5, 6], 5), vec![0, 1, 2]);
        assert_eq!(candidates(&[1, 5, 1, 6, 9], 3), vec![1, 3, 4]);
        assert_eq!(candidates(&[1, 5, 1, 1], 2), vec![0, 1]);
    }
}
