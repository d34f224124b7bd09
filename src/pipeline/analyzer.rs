//! The analyzer: the loaded models and the per-article flow through them.

use std::{
    ops::Range,
    path::{Path, PathBuf},
    time::{Duration, Instant},
};

use crate::{
    models::{
        Manifest, ModelError, ModelKind, Runtime, SentenceEncoder, SessionLayout, TokenClassifier,
    },
    tasks::{
        entities::{self, EntitySpan, LabelScheme},
        summarize::{Scorer, MIN_SUMMARY_WORDS},
    },
    text::{self, Segmenter},
};

use super::{
    request::ArticleRequest,
    stop::{StopSignal, Stopped},
};

/// The models found in a models directory.
pub struct ModelSet {
    pub encoder: SentenceEncoder,
    pub entities: Option<(TokenClassifier, LabelScheme)>,
}

impl ModelSet {
    /// Loads every model directory under `models_dir` (each holding a
    /// `manifest.json`): exactly one sentence encoder is required; a token
    /// classifier is optional.
    pub fn load(
        runtime: &Runtime,
        models_dir: &Path,
        layout: SessionLayout,
    ) -> Result<Self, ModelError> {
        let mut encoders = Vec::new();
        let mut classifiers = Vec::new();
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
            }
        }
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
        let encoder = SentenceEncoder::load(runtime, encoder_dir, layout)?;
        let entities = match classifiers.as_slice() {
            [] => None,
            [one] => {
                let classifier = TokenClassifier::load(runtime, one, layout)?;
                let scheme = LabelScheme::parse(classifier.labels());
                Some((classifier, scheme))
            }
            many => {
                return Err(ModelError::dir(
                    models_dir,
                    format!("several token-classification models: {many:?}; keep one"),
                ))
            }
        };
        Ok(ModelSet { encoder, entities })
    }

    pub fn manifests(&self) -> Vec<&Manifest> {
        std::iter::once(self.encoder.manifest())
            .chain(self.entities.as_ref().map(|(c, _)| c.manifest()))
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
    pub entities: Duration,
}

/// Summary sentences as byte ranges of the article, in article order.
#[derive(Debug, Clone, Default)]
pub struct SummaryResult {
    pub sentences: Vec<(Range<usize>, f32)>,
    /// Sentences the article was segmented into.
    pub article_sentences: usize,
}

#[derive(Debug, Clone)]
pub struct Analysis {
    pub language: String,
    pub summary: Option<SummaryResult>,
    pub entities: Option<Vec<EntitySpan>>,
    pub timings: StageTimings,
}

#[derive(Debug, thiserror::Error)]
pub enum AnalyzeError {
    #[error("no entity model is loaded; ask for TASK_SUMMARY only")]
    NoEntityModel,
    #[error(transparent)]
    Stopped(#[from] Stopped),
    #[error(transparent)]
    Model(ModelError),
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
            .wants_entities(self.models.entities.is_some())
            .map(drop)
            .ok_or(AnalyzeError::NoEntityModel)
    }

    /// Analyzes one article. Blocking; stops early when `stop` fires.
    pub fn analyze(
        &self,
        request: &ArticleRequest,
        stop: &StopSignal,
    ) -> Result<Analysis, AnalyzeError> {
        let text = request.text.as_str();
        let mut timings = StageTimings::default();
        let want_entities = request
            .tasks
            .wants_entities(self.models.entities.is_some())
            .ok_or(AnalyzeError::NoEntityModel)?;
        stop.check()?;

        let started = Instant::now();
        let language = match &request.language {
            Some(hint) => hint.clone(),
            None => text::lang::detect(text).unwrap_or("und").to_string(),
        };
        timings.language = started.elapsed();

        let summary = if request.tasks.wants_summary() {
            Some(self.summarize(request, &mut timings, stop)?)
        } else {
            None
        };

        let entities = match (&self.models.entities, want_entities) {
            (Some((classifier, scheme)), true) => {
                stop.check()?;
                let started = Instant::now();
                let found = entities::find(classifier, scheme, text, &|| stop.is_stopped())
                    .map_err(|e| model_error(e, stop))?;
                timings.entities = started.elapsed();
                Some(found)
            }
            _ => None,
        };

        Ok(Analysis {
            language,
            summary,
            entities,
            timings,
        })
    }

    fn summarize(
        &self,
        request: &ArticleRequest,
        timings: &mut StageTimings,
        stop: &StopSignal,
    ) -> Result<SummaryResult, AnalyzeError> {
        let text = request.text.as_str();
        let started = Instant::now();
        let sentences = self.segmenter.sentences(text);
        let pieces: Vec<&str> = sentences.iter().map(|r| &text[r.clone()]).collect();
        let word_counts: Vec<usize> = pieces
            .iter()
            .map(|s| s.split_whitespace().count())
            .collect();
        let candidates = candidates(&word_counts, MAX_RANKED_SENTENCES);
        timings.segment = started.elapsed();

        let started = Instant::now();
        let candidate_texts: Vec<&str> = candidates.iter().map(|&i| pieces[i]).collect();
        let embeddings = self
            .models
            .encoder
            .embed(&candidate_texts, &|| stop.is_stopped())
            .map_err(|e| model_error(e, stop))?;
        timings.embed = started.elapsed();

        let started = Instant::now();
        let char_lens: Vec<usize> = candidates
            .iter()
            .map(|&i| pieces[i].chars().count())
            .collect();
        let candidate_words: Vec<usize> = candidates.iter().map(|&i| word_counts[i]).collect();
        let chosen = self.scorer.summarize(
            &embeddings,
            &char_lens,
            &candidate_words,
            sentences.len(),
            &request.length,
        );
        timings.rank = started.elapsed();

        Ok(SummaryResult {
            sentences: chosen
                .into_iter()
                .map(|c| (sentences[candidates[c.index]].clone(), c.score))
                .collect(),
            article_sentences: sentences.len(),
        })
    }
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

/// An interrupted model call means the stop signal fired.
fn model_error(e: ModelError, stop: &StopSignal) -> AnalyzeError {
    match (e, stop.check()) {
        (ModelError::Interrupted, Err(why)) => AnalyzeError::Stopped(why),
        (e, _) => AnalyzeError::Model(e),
    }
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
