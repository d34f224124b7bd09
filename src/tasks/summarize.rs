//! Extractive summaries: score sentences by centrality in a similarity graph
//! of their embeddings (LexRank) blended with a lead-position prior, then pick
//! them with maximal marginal relevance so the summary does not repeat itself.

use std::num::NonZeroUsize;

/// Sentences in a summary when the request sets no length.
pub const DEFAULT_SENTENCES: usize = 3;

/// Sentences shorter than this many words (bylines, datelines, captions)
/// are only used when the article has too few longer ones for the count
/// asked for, never to fill room that `max_chars` leaves.
pub const MIN_SUMMARY_WORDS: usize = 4;

/// A summary length request, already validated.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct SummaryLength {
    max_sentences: Option<NonZeroUsize>,
    ratio: Option<Ratio>,
    max_chars: Option<NonZeroUsize>,
}

/// A fraction in (0, 1].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Ratio(f32);

#[derive(Debug, Clone, Copy, PartialEq, thiserror::Error)]
#[error("summary ratio must be in (0, 1], got {0}")]
pub struct InvalidRatio(pub f32);

impl Ratio {
    pub fn new(value: f32) -> Result<Self, InvalidRatio> {
        if value > 0.0 && value <= 1.0 {
            Ok(Ratio(value))
        } else {
            Err(InvalidRatio(value))
        }
    }

    /// `ceil(ratio × n)`, at least 1. The ratio arrives as an f32, so 0.3 is
    /// really 0.300000012; a relative tolerance of f32 precision keeps
    /// 0.3 × 10 at 3 rather than 4.
    pub fn of(self, n: usize) -> usize {
        let exact = f64::from(self.0) * n as f64;
        let k = (exact * (1.0 - 1e-6)).ceil() as usize;
        k.clamp(1, n.max(1))
    }
}

impl SummaryLength {
    /// Zero means "not set" for each option; a ratio, when set, must be in (0, 1].
    pub fn new(max_sentences: u32, ratio: f32, max_chars: u32) -> Result<Self, InvalidRatio> {
        let ratio = if ratio == 0.0 {
            None
        } else {
            Some(Ratio::new(ratio)?)
        };
        Ok(SummaryLength {
            max_sentences: NonZeroUsize::new(max_sentences as usize),
            ratio,
            max_chars: NonZeroUsize::new(max_chars as usize),
        })
    }

    /// How many sentences of an `n`-sentence article to keep; the tightest
    /// of the set options wins. With only `max_chars` set, the character
    /// budget alone limits the summary.
    pub fn sentence_budget(&self, n: usize) -> usize {
        let by_count = self.max_sentences.map(NonZeroUsize::get);
        let by_ratio = self.ratio.map(|r| r.of(n));
        let k = match (by_count, by_ratio, self.max_chars) {
            (None, None, None) => DEFAULT_SENTENCES,
            (None, None, Some(_)) => n,
            (a, b, _) => a.into_iter().chain(b).min().unwrap_or(DEFAULT_SENTENCES),
        };
        k.min(n)
    }

    pub fn max_chars(&self) -> Option<usize> {
        self.max_chars.map(NonZeroUsize::get)
    }

    /// Whether a sentence count limits the summary: `max_sentences`, a
    /// ratio, or the default of [`DEFAULT_SENTENCES`]; not `max_chars` alone.
    fn counts_sentences(&self) -> bool {
        self.max_sentences.is_some() || self.ratio.is_some() || self.max_chars.is_none()
    }
}

/// Knobs of the v1 scorer.
#[derive(Debug, Clone, Copy)]
pub struct Scorer {
    /// Weight of the position prior against centrality, in [0, 1].
    pub position_weight: f32,
    /// PageRank damping of LexRank.
    pub damping: f32,
    /// MMR trade-off: 1 = relevance only, 0 = novelty only.
    pub mmr_lambda: f32,
}

impl Default for Scorer {
    fn default() -> Self {
        Scorer {
            position_weight: 0.5,
            damping: 0.85,
            mmr_lambda: 0.7,
        }
    }
}

/// A chosen sentence: its index in the article and its score in [0, 1].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Chosen {
    pub index: usize,
    pub score: f32,
}

impl Scorer {
    /// Picks sentences given the candidates' L2-normalized embeddings and
    /// their lengths in code points and in words; `article_sentences` is the
    /// article's sentence count, which ratios refer to. Returns indices into
    /// the candidates, in article order. `learned` holds a learned scorer's
    /// relevance per candidate; without it, relevance is v1 centrality
    /// blended with the position prior. MMR works on top of either.
    pub fn summarize(
        &self,
        embeddings: &[Vec<f32>],
        char_lens: &[usize],
        word_counts: &[usize],
        article_sentences: usize,
        length: &SummaryLength,
        learned: Option<&[f32]>,
    ) -> Vec<Chosen> {
        let n = embeddings.len();
        if n == 0 {
            return Vec::new();
        }
        let similarity = Similarity::new(embeddings);
        let scores = match learned {
            Some(learned) if learned.len() == n => min_max(learned),
            _ => {
                let centrality = lexrank(&similarity, self.damping);
                (0..n)
                    .map(|i| {
                        (1.0 - self.position_weight) * centrality[i]
                            + self.position_weight * position_prior(i)
                    })
                    .collect()
            }
        };
        // The budget counts the whole article, even when only some of its
        // sentences are candidates.
        let budget = length.sentence_budget(article_sentences.max(n)).min(n);
        let mut chosen = Vec::with_capacity(budget);
        // Full sentences first; short ones only stand in for full ones the
        // article lacks (a byline is not a summary of what fits).
        let full: Vec<bool> = word_counts
            .iter()
            .map(|&w| w >= MIN_SUMMARY_WORDS)
            .collect();
        let full_sentences = full.iter().filter(|&&f| f).count();
        let short_needed = if length.counts_sentences() {
            full_sentences < budget
        } else {
            full_sentences == 0
        };
        let short: Vec<bool> = full.iter().map(|f| !f).collect();
        let passes = if short_needed {
            vec![full, short]
        } else {
            vec![full]
        };
        for available in passes {
            self.mmr(
                &scores,
                &similarity,
                char_lens,
                budget,
                length.max_chars(),
                available,
                &mut chosen,
            );
        }
        chosen.sort_by_key(|c| c.index);
        chosen
    }

    /// Adds sentences among `available` to `chosen` by maximal marginal
    /// relevance until the budget is met.
    #[allow(clippy::too_many_arguments)]
    fn mmr(
        &self,
        scores: &[f32],
        similarity: &Similarity,
        char_lens: &[usize],
        budget: usize,
        max_chars: Option<usize>,
        mut available: Vec<bool>,
        chosen: &mut Vec<Chosen>,
    ) {
        let n = scores.len();
        let mut used_chars: usize = chosen.iter().map(|c| char_lens[c.index]).sum::<usize>()
            + chosen.len().saturating_sub(1);
        // Each sentence's redundancy with what is chosen so far, updated
        // after each pick: O(n) per pick instead of O(n × chosen).
        let mut redundancy = vec![0f32; n];
        for c in chosen.iter() {
            for (i, r) in redundancy.iter_mut().enumerate() {
                *r = r.max(similarity.weight(i, c.index));
            }
        }
        while chosen.len() < budget {
            let mut best: Option<(usize, f32)> = None;
            for i in (0..n).filter(|&i| available[i]) {
                let value = self.mmr_lambda * scores[i] - (1.0 - self.mmr_lambda) * redundancy[i];
                if best.is_none_or(|(_, v)| value > v) {
                    best = Some((i, value));
                }
            }
            let Some((pick, _)) = best else { break };
            available[pick] = false;
            // Sentences are joined by one space in the summary text.
            let extra = char_lens[pick] + usize::from(!chosen.is_empty());
            if max_chars.is_some_and(|limit| used_chars + extra > limit) {
                continue;
            }
            used_chars += extra;
            chosen.push(Chosen {
                index: pick,
                score: scores[pick],
            });
            for (i, r) in redundancy.iter_mut().enumerate() {
                *r = r.max(similarity.weight(i, pick));
            }
        }
    }
}

/// Scales scores to [0, 1] so they trade off against redundancy in MMR.
fn min_max(scores: &[f32]) -> Vec<f32> {
    let lo = scores.iter().copied().fold(f32::INFINITY, f32::min);
    let hi = scores.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let span = hi - lo;
    scores
        .iter()
        .map(|&s| if span > 0.0 { (s - lo) / span } else { 1.0 })
        .collect()
}

/// A lead prior: news puts the gist first.
fn position_prior(i: usize) -> f32 {
    1.0 / ((i + 1) as f32).sqrt()
}

/// Pairwise cosine similarities, recentred: e5 embeddings of any two
/// sentences have a high baseline cosine, so similarity is measured above
/// the article's mean off-diagonal cosine.
struct Similarity {
    n: usize,
    centred: Vec<f32>,
}

impl Similarity {
    fn new(embeddings: &[Vec<f32>]) -> Self {
        let n = embeddings.len();
        let mut cos = vec![0f32; n * n];
        let mut total = 0f64;
        for i in 0..n {
            for j in (i + 1)..n {
                let c: f32 = embeddings[i]
                    .iter()
                    .zip(&embeddings[j])
                    .map(|(a, b)| a * b)
                    .sum();
                cos[i * n + j] = c;
                cos[j * n + i] = c;
                total += 2.0 * f64::from(c);
            }
        }
        let pairs = (n * n.saturating_sub(1)) as f64;
        let mean = if pairs > 0.0 {
            (total / pairs) as f32
        } else {
            0.0
        };
        let scale = (1.0 - mean).max(1e-6);
        // Recentre in place: one n × n matrix, however long the article.
        for (k, c) in cos.iter_mut().enumerate() {
            *c = if k / n == k % n {
                0.0
            } else {
                ((*c - mean) / scale).max(0.0)
            };
        }
        Similarity { n, centred: cos }
    }

    fn weight(&self, i: usize, j: usize) -> f32 {
        self.centred[i * self.n + j]
    }
}

/// Continuous LexRank: PageRank over the similarity graph, scaled to [0, 1].
fn lexrank(similarity: &Similarity, damping: f32) -> Vec<f32> {
    let n = similarity.n;
    let row_sums: Vec<f32> = (0..n)
        .map(|i| (0..n).map(|j| similarity.weight(i, j)).sum())
        .collect();
    let mut rank = vec![1.0 / n as f32; n];
    for _ in 0..100 {
        let mut next = vec![(1.0 - damping) / n as f32; n];
        for i in 0..n {
            if row_sums[i] > 0.0 {
                let share = damping * rank[i] / row_sums[i];
                for (j, next_j) in next.iter_mut().enumerate() {
                    *next_j += share * similarity.weight(i, j);
                }
            } else {
                // A sentence like no other spreads its rank evenly.
                next.iter_mut()
                    .for_each(|v| *v += damping * rank[i] / n as f32);
            }
        }
        let change: f32 = next.iter().zip(&rank).map(|(a, b)| (a - b).abs()).sum();
        rank = next;
        if change < 1e-6 {
            break;
        }
    }
    let max = rank.iter().copied().fold(0.0f32, f32::max);
    if max > 0.0 {
        rank.iter_mut().for_each(|r| *r /= max);
    }
    rank
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ratio_rounds_up_without_float_noise() {
        assert_eq!(Ratio::new(0.3).unwrap().of(10), 3);
        assert_eq!(Ratio::new(0.31).unwrap().of(10), 4);
        assert_eq!(Ratio::new(0.01).unwrap().of(10), 1);
        assert_eq!(Ratio::new(1.0).unwrap().of(7), 7);
        assert_eq!(Ratio::new(0.7).unwrap().of(10), 7);
        assert_eq!(Ratio::new(0.1).unwrap().of(30), 3);
        assert!(Ratio::new(0.0).is_err());
        assert!(Ratio::new(1.5).is_err());
        assert!(Ratio::new(-0.2).is_err());
        assert!(Ratio::new(f32::NAN).is_err());
    }

    #[test]
    fn budget_takes_the_tightest_option() {
        let l = |s, r, c| SummaryLength::new(s, r, c).unwrap();
        assert_eq!(l(0, 0.0, 0).sentence_budget(10), 3);
        assert_eq!(l(0, 0.0, 0).sentence_budget(2), 2);
        assert_eq!(l(5, 0.0, 0).sentence_budget(10), 5);
        assert_eq!(l(5, 0.2, 0).sentence_budget(10), 2);
        assert_eq!(l(1, 0.5, 0).sentence_budget(10), 1);
        assert_eq!(l(0, 0.0, 100).sentence_budget(10), 10);
    }

    fn unit(v: &[f32]) -> Vec<f32> {
        let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        v.iter().map(|x| x / n).collect()
    }

    #[test]
    fn picks_central_sentences_in_article_order_without_repeats() {
        // Sentences 1 and 2 are duplicates; 0 and 3 are on the same topic.
        let e = vec![
            unit(&[1.0, 0.2, 0.0]),
            unit(&[0.0, 1.0, 0.1]),
            unit(&[0.0, 1.0, 0.1]),
            unit(&[0.9, 0.3, 0.1]),
            unit(&[0.1, 0.0, 1.0]),
        ];
        let lens = vec![10; 5];
        let chosen = Scorer::default().summarize(
            &e,
            &lens,
            &[10; 5],
            e.len(),
            &SummaryLength::new(2, 0.0, 0).unwrap(),
            None,
        );
        let idx: Vec<usize> = chosen.iter().map(|c| c.index).collect();
        assert_eq!(idx.len(), 2);
        assert!(idx.windows(2).all(|w| w[0] < w[1]));
        assert!(!(idx.contains(&1) && idx.contains(&2)), "{idx:?}");
    }

    #[test]
    fn char_budget_is_never_exceeded() {
        let e: Vec<Vec<f32>> = (0..6).map(|i| unit(&[1.0, i as f32, 0.5])).collect();
        let lens = vec![40, 10, 25, 10, 60, 5];
        for limit in [1, 5, 9, 10, 21, 50, 200] {
            let chosen = Scorer::default().summarize(
                &e,
                &lens,
                &[5; 6],
                e.len(),
                &SummaryLength::new(0, 0.0, limit).unwrap(),
                None,
            );
            let used: usize = chosen.iter().map(|c| lens[c.index]).sum::<usize>()
                + chosen.len().saturating_sub(1);
            assert!(used <= limit as usize, "limit {limit}: used {used}");
        }
    }

    #[test]
    fn single_sentence_article() {
        let chosen = Scorer::default().summarize(
            &[unit(&[1.0, 0.0])],
            &[12],
            &[2],
            1,
            &SummaryLength::default(),
            None,
        );
        assert_eq!(
            chosen,
            vec![Chosen {
                index: 0,
                score: 1.0
            }]
        );
    }

    #[test]
    fn learned_scores_replace_centrality() {
        let e: Vec<Vec<f32>> = (0..4).map(|i| unit(&[1.0, i as f32, 0.3])).collect();
        let chosen = Scorer::default().summarize(
            &e,
            &[20; 4],
            &[8; 4],
            4,
            &SummaryLength::new(1, 0.0, 0).unwrap(),
            Some(&[-2.0, 0.5, 3.0, 1.0]),
        );
        assert_eq!(chosen.len(), 1);
        assert_eq!(chosen[0].index, 2);
        assert_eq!(chosen[0].score, 1.0);
    }

    #[test]
    fn short_lines_are_used_only_when_needed() {
        // Sentence 0 is a byline: first, but only two words.
        let e: Vec<Vec<f32>> = (0..4).map(|i| unit(&[1.0, i as f32 * 0.3, 0.2])).collect();
        let words = [2, 12, 15, 9];
        let pick = |k| {
            Scorer::default()
                .summarize(
                    &e,
                    &[30; 4],
                    &words,
                    e.len(),
                    &SummaryLength::new(k, 0.0, 0).unwrap(),
                    None,
                )
                .iter()
                .map(|c| c.index)
                .collect::<Vec<_>>()
        };
        assert!(!pick(3).contains(&0));
        assert_eq!(pick(4), vec![0, 1, 2, 3]);
        // With max_chars alone, the byline never fills the room left.
        let by_chars = |max_chars| {
            Scorer::default()
                .summarize(
                    &e,
                    &[30, 80, 80, 80],
                    &words,
                    e.len(),
                    &SummaryLength::new(0, 0.0, max_chars).unwrap(),
                    None,
                )
                .iter()
                .map(|c| c.index)
                .collect::<Vec<_>>()
        };
        assert!(by_chars(60).is_empty(), "only the byline would fit");
        assert_eq!(by_chars(120).len(), 1);
        assert!(!by_chars(120).contains(&0));
        // An article of short lines only still gets a summary.
        let lines = Scorer::default().summarize(
            &e,
            &[30; 4],
            &[2, 3, 2, 3],
            e.len(),
            &SummaryLength::new(0, 0.0, 70).unwrap(),
            None,
        );
        assert_eq!(lines.len(), 2);
    }
}
