//! Greedy and beam search with the semantics of Hugging Face `transformers`
//! (`GenerationMixin._sample` without sampling, and the vectorised
//! `_beam_search`), so that an ONNX export decodes to the same token ids as
//! the PyTorch model it came from.
//!
//! Differences in order matter for equality, so they are kept as in
//! `transformers`: greedy applies the logits processors to raw logits,
//! beam search to log-softmaxed ones; the processors run as no-repeat-ngram,
//! forced BOS, forced EOS; beam scores are accumulated in `f32`; "very bad"
//! scores are `-1e9` added in `f32`, not `-inf`.

use super::config::EarlyStopping;

/// `transformers`' stand-in for minus infinity in beam bookkeeping.
const NEG_LARGE: f32 = -1.0e9;

/// One decoder forward step over `rows` hypotheses.
pub(crate) trait StepModel {
    type Error;
    /// Feeds each row's newest token (the cache holds the rest) and returns
    /// the next-token logits, `rows × vocab`, row-major.
    fn step(&mut self, last_tokens: &[u32]) -> Result<Vec<f32>, Self::Error>;
    /// Makes row `i` of the cache a copy of old row `rows[i]`.
    fn reorder(&mut self, rows: &[usize]) -> Result<(), Self::Error>;
    /// Called before every step; an error stops the search.
    fn check_stop(&self) -> Result<(), Self::Error>;
}

/// The settings one search runs with, all resolved.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct SearchSettings {
    pub vocab_size: usize,
    pub decoder_start_token_id: u32,
    pub eos_token_ids: Vec<u32>,
    pub forced_bos_token_id: Option<u32>,
    pub forced_eos_token_ids: Vec<u32>,
    pub max_new_tokens: usize,
    pub num_beams: usize,
    pub length_penalty: f32,
    pub no_repeat_ngram_size: usize,
    pub early_stopping: EarlyStopping,
}

impl SearchSettings {
    /// `max_length` of `transformers`: the decoder prompt (start token) plus
    /// the new tokens.
    fn max_length(&self) -> usize {
        PROMPT_LEN + self.max_new_tokens
    }
}

/// The decoder prompt is the start token alone.
const PROMPT_LEN: usize = 1;

/// Runs greedy search (`num_beams == 1`) or beam search. Returns the new
/// tokens (without the start token; with the EOS token if one ended it).
pub(crate) fn generate<M: StepModel>(
    model: &mut M,
    s: &SearchSettings,
) -> Result<Vec<u32>, M::Error> {
    let tokens = if s.num_beams <= 1 {
        greedy(model, s)?
    } else {
        beam_search(model, s)?
    };
    Ok(tokens
        .get(PROMPT_LEN..)
        .map(<[u32]>::to_vec)
        .unwrap_or_default())
}

/// Applies the logits processors in `transformers`' order to the scores of
/// one hypothesis whose tokens so far (start token included) are `seq`.
pub(crate) fn process_scores(scores: &mut [f32], seq: &[u32], s: &SearchSettings) {
    if s.no_repeat_ngram_size > 0 {
        for t in banned_ngram_tokens(seq, s.no_repeat_ngram_size) {
            if let Some(x) = scores.get_mut(t as usize) {
                *x = f32::NEG_INFINITY;
            }
        }
    }
    let cur_len = seq.len();
    if let Some(bos) = s.forced_bos_token_id {
        if cur_len == 1 {
            force(scores, &[bos]);
        }
    }
    if !s.forced_eos_token_ids.is_empty() && cur_len + 1 == s.max_length() {
        force(scores, &s.forced_eos_token_ids);
    }
}

/// Everything `-inf` except `allowed`, which get 0.
fn force(scores: &mut [f32], allowed: &[u32]) {
    scores.fill(f32::NEG_INFINITY);
    for &t in allowed {
        if let Some(x) = scores.get_mut(t as usize) {
            *x = 0.0;
        }
    }
}

/// Tokens that would repeat an n-gram of `seq` (fairseq's rule, as in
/// `transformers`' `NoRepeatNGramLogitsProcessor`: the whole decoder
/// sequence counts, start token included).
pub(crate) fn banned_ngram_tokens(seq: &[u32], n: usize) -> Vec<u32> {
    let cur_len = seq.len();
    if n == 0 || cur_len + 1 < n {
        return Vec::new();
    }
    let prefix = &seq[cur_len + 1 - n..];
    seq.windows(n)
        .filter(|w| &w[..n - 1] == prefix)
        .map(|w| w[n - 1])
        .collect()
}

/// `torch.log_softmax` in `f32`: `x - max - log(sum(exp(x - max)))`.
fn log_softmax(row: &mut [f32]) {
    let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    if !max.is_finite() {
        return;
    }
    let sum: f32 = row.iter().map(|&x| (x - max).exp()).sum();
    let log_sum = sum.ln();
    for x in row.iter_mut() {
        *x = *x - max - log_sum;
    }
}

/// Index of the largest value; the first one on ties, like `torch.argmax`.
fn argmax(row: &[f32]) -> usize {
    let mut best = 0;
    for (i, &x) in row.iter().enumerate() {
        if x > row[best] || (row[best].is_nan() && !x.is_nan()) {
            best = i;
        }
    }
    best
}

/// Indices of the `k` largest values, best first; lower index first on
/// ties (NaN counts as smallest).
fn top_k(values: &[f32], k: usize) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..values.len()).collect();
    let cmp = |a: &usize, b: &usize| {
        values[*b]
            .partial_cmp(&values[*a])
            .unwrap_or_else(|| values[*a].is_nan().cmp(&values[*b].is_nan()))
            .then(a.cmp(b))
    };
    if k < idx.len() {
        idx.select_nth_unstable_by(k, cmp);
        idx.truncate(k);
    }
    idx.sort_by(cmp);
    idx
}

fn greedy<M: StepModel>(model: &mut M, s: &SearchSettings) -> Result<Vec<u32>, M::Error> {
    let mut seq = vec![s.decoder_start_token_id];
    while seq.len() < s.max_length() {
        model.check_stop()?;
        let last = seq[seq.len() - 1];
        let mut scores = model.step(&[last])?;
        scores.truncate(s.vocab_size);
        process_scores(&mut scores, &seq, s);
        let next = argmax(&scores) as u32;
        seq.push(next);
        if s.eos_token_ids.contains(&next) {
            break;
        }
    }
    Ok(seq)
}

/// A finished-hypothesis slot: `transformers` keeps `num_beams` of them,
/// starting as placeholders scored `-1e9`.
#[derive(Debug, Clone)]
struct Slot {
    tokens: Vec<u32>,
    score: f32,
    finished: bool,
}

/// One of the top-K continuations of a step.
struct Candidate {
    beam: usize,
    tokens: Vec<u32>,
    score: f32,
    hits_stop: bool,
}

fn beam_search<M: StepModel>(model: &mut M, s: &SearchSettings) -> Result<Vec<u32>, M::Error> {
    let n = s.num_beams;
    let vocab = s.vocab_size;
    let max_length = s.max_length();
    // Top-K keeps enough candidates that `n` can go on even if the best
    // ones all end with an EOS token.
    let keep = 2usize.max(1 + s.eos_token_ids.len()) * n;

    let mut running: Vec<Vec<u32>> = vec![vec![s.decoder_start_token_id]; n];
    // Only the first beam is live at first, so the identical beams do not
    // all pick the same tokens.
    let mut running_scores = vec![NEG_LARGE; n];
    running_scores[0] = 0.0;
    let mut slots = vec![
        Slot {
            tokens: Vec::new(),
            score: NEG_LARGE,
            finished: false,
        };
        n
    ];
    let mut improvable = true;
    let mut cur_len = PROMPT_LEN;

    loop {
        model.check_stop()?;
        let last: Vec<u32> = running.iter().map(|r| r[r.len() - 1]).collect();
        let logits = model.step(&last)?;
        let row_len = logits.len() / n;
        let mut scores = Vec::with_capacity(n * vocab);
        for (b, row) in logits.chunks(row_len.max(1)).take(n).enumerate() {
            let mut row = row[..vocab.min(row.len())].to_vec();
            log_softmax(&mut row);
            process_scores(&mut row, &running[b], s);
            scores.extend(row.iter().map(|&x| x + running_scores[b]));
        }

        // c. top-K continuations over all beams
        let candidates: Vec<Candidate> = top_k(&scores, keep)
            .into_iter()
            .map(|i| {
                let (beam, token) = (i / vocab, (i % vocab) as u32);
                let mut tokens = running[beam].clone();
                tokens.push(token);
                Candidate {
                    beam,
                    hits_stop: s.eos_token_ids.contains(&token) || tokens.len() >= max_length,
                    tokens,
                    score: scores[i],
                }
            })
            .collect();

        // e. the best `n` candidates that did not stop run on
        let live: Vec<f32> = candidates
            .iter()
            .map(|c| c.score + if c.hits_stop { NEG_LARGE } else { 0.0 })
            .collect();
        let next = top_k(&live, n);
        let source_rows: Vec<usize> = next.iter().map(|&i| candidates[i].beam).collect();
        running = next.iter().map(|&i| candidates[i].tokens.clone()).collect();
        running_scores = next.iter().map(|&i| live[i]).collect();

        // f. candidates among the top `n` that stopped may enter the slots
        slots = update_finished(slots, &candidates, s, cur_len, improvable);

        cur_len += 1;
        improvable = improvable && still_improvable(&running_scores, &slots, s, cur_len);
        let all_finished = slots.iter().all(|x| x.finished);
        let open = !(all_finished && s.early_stopping == EarlyStopping::True);
        let can_continue = !candidates.iter().all(|c| c.hits_stop);
        if !(improvable && open && can_continue) {
            break;
        }
        model.reorder(&source_rows)?;
    }
    Ok(slots.swap_remove(0).tokens)
}

/// `_update_finished_beams`: merges the slots with this step's candidates
/// and keeps the best `n`; only candidates among the top `n` that just
/// stopped count, scored `score / new_len^length_penalty`.
fn update_finished(
    slots: Vec<Slot>,
    candidates: &[Candidate],
    s: &SearchSettings,
    cur_len: usize,
    improvable: bool,
) -> Vec<Slot> {
    let n = s.num_beams;
    let full = slots.iter().all(|x| x.finished) && s.early_stopping == EarlyStopping::True;
    let penalty = ((cur_len + 1 - PROMPT_LEN) as f64).powf(f64::from(s.length_penalty)) as f32;
    let mut merged = slots;
    for (i, c) in candidates.iter().enumerate() {
        let just_finished = c.hits_stop && i < n;
        let mut score = c.score / penalty;
        if full {
            score += NEG_LARGE;
        }
        if !improvable {
            score += NEG_LARGE;
        }
        if !just_finished {
            score += NEG_LARGE;
        }
        merged.push(Slot {
            tokens: c.tokens.clone(),
            score,
            finished: just_finished,
        });
    }
    let scores: Vec<f32> = merged.iter().map(|x| x.score).collect();
    top_k(&scores, n)
        .into_iter()
        .map(|i| merged[i].clone())
        .collect()
}

/// `_check_early_stop_heuristic`: can the best running beam still beat the
/// worst finished hypothesis?
fn still_improvable(
    running_scores: &[f32],
    slots: &[Slot],
    s: &SearchSettings,
    cur_len: usize,
) -> bool {
    let best_len = if s.early_stopping == EarlyStopping::Never && s.length_penalty > 0.0 {
        s.max_length() - PROMPT_LEN
    } else {
        cur_len - PROMPT_LEN
    };
    let penalty = (best_len as f64).powf(f64::from(s.length_penalty)) as f32;
    let best_running = running_scores.first().copied().unwrap_or(NEG_LARGE) / penalty;
    let worst_finished = slots.iter().map(|x| x.score).fold(f32::INFINITY, f32::min);
    slots.iter().any(|slot| {
        let worst = if slot.finished {
            worst_finished
        } else {
            NEG_LARGE
        };
        best_running > worst
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(num_beams: usize, max_new_tokens: usize) -> SearchSettings {
        SearchSettings {
            vocab_size: 4,
            decoder_start_token_id: 0,
            eos_token_ids: vec![1],
            forced_bos_token_id: None,
            forced_eos_token_ids: Vec::new(),
            max_new_tokens,
            num_beams,
            length_penalty: 1.0,
            no_repeat_ngram_size: 0,
            early_stopping: EarlyStopping::False,
        }
    }

    /// Log-probabilities as a function of the hypothesis so far.
    struct Table<F: Fn(&[u32]) -> [f32; 4]> {
        f: F,
        rows: Vec<Vec<u32>>,
        steps: usize,
        stop_after: usize,
    }

    impl<F: Fn(&[u32]) -> [f32; 4]> StepModel for Table<F> {
        type Error = ();
        fn step(&mut self, last: &[u32]) -> Result<Vec<f32>, ()> {
            if self.rows.len() != last.len() {
                self.rows = vec![vec![0]; last.len()];
            } else {
                for (r, &t) in self.rows.iter_mut().zip(last) {
                    r.push(t);
                }
            }
            self.steps += 1;
            Ok(self.rows.iter().flat_map(|r| (self.f)(r)).collect())
        }
        fn reorder(&mut self, rows: &[usize]) -> Result<(), ()> {
            self.rows = rows.iter().map(|&i| self.rows[i].clone()).collect();
            Ok(())
        }
        fn check_stop(&self) -> Result<(), ()> {
            if self.steps >= self.stop_after {
                Err(())
            } else {
                Ok(())
            }
        }
    }

    fn table<F: Fn(&[u32]) -> [f32; 4]>(f: F) -> Table<F> {
        Table {
            f,
            rows: Vec::new(),
            steps: 0,
            stop_after: usize::MAX,
        }
    }

    #[test]
    fn ngram_bans_the_continuations_of_a_seen_prefix() {
        // bigrams (5,6), (6,5), (5,7): after ...5 the tokens 6 and 7 are banned
        assert_eq!(banned_ngram_tokens(&[5, 6, 5, 7, 5], 2), vec![6, 7]);
        // trigram (5,6,5) seen; the sequence now ends in 5,6
        assert_eq!(banned_ngram_tokens(&[5, 6, 5, 8, 5, 6], 3), vec![5]);
        // too short for any 3-gram to be completed
        assert!(banned_ngram_tokens(&[5], 3).is_empty());
        // unigrams: everything seen is banned
        assert_eq!(banned_ngram_tokens(&[2, 3], 1), vec![2, 3]);
    }

    #[test]
    fn processors_force_bos_first_and_eos_last() {
        let mut s = settings(1, 3);
        s.forced_bos_token_id = Some(3);
        s.forced_eos_token_ids = vec![1];
        let mut x = [0.5f32, 0.1, 0.9, 0.2];
        process_scores(&mut x, &[0], &s);
        assert_eq!(
            x,
            [f32::NEG_INFINITY, f32::NEG_INFINITY, f32::NEG_INFINITY, 0.0]
        );
        // max_length = 4: the token at position 3 (cur_len 3) must be EOS
        let mut x = [0.5f32, 0.1, 0.9, 0.2];
        process_scores(&mut x, &[0, 3, 2], &s);
        assert_eq!(x[1], 0.0);
        assert_eq!(x.iter().filter(|v| v.is_finite()).count(), 1);
    }

    #[test]
    fn greedy_stops_at_eos_or_max_new_tokens() {
        let mut m = table(|r| {
            if r.len() < 3 {
                [0.0, 0.0, 1.0, 0.0]
            } else {
                [0.0, 2.0, 1.0, 0.0]
            }
        });
        assert_eq!(generate(&mut m, &settings(1, 10)).unwrap(), vec![2, 2, 1]);
        let mut m = table(|_| [0.0, 0.0, 0.0, 1.0]);
        assert_eq!(generate(&mut m, &settings(1, 4)).unwrap(), vec![3, 3, 3, 3]);
    }

    #[test]
    fn beam_prefers_a_better_finished_hypothesis_over_greedy() {
        // Greedy takes 2 (p 0.6) then is stuck with a flat distribution;
        // beam search finds 3 (p 0.4) followed by a certain EOS.
        let ln = |p: f32| p.ln();
        let f = move |r: &[u32]| match r {
            [0] => [ln(1e-6), ln(1e-6), ln(0.6), ln(0.4)],
            [0, 2] => [ln(0.25); 4],
            [0, 3] => [ln(1e-6), ln(0.999), ln(1e-6), ln(1e-6)],
            _ => [ln(0.25); 4],
        };
        let mut s = settings(1, 2);
        assert_eq!(generate(&mut table(f), &s).unwrap(), vec![2, 0]);
        s.num_beams = 2;
        assert_eq!(generate(&mut table(f), &s).unwrap(), vec![3, 1]);
    }

    #[test]
    fn beam_finalization_applies_length_penalty() {
        // A short hypothesis ends at step 2 (0 -> 3 -> EOS); a long one keeps
        // going with high probability. With a strong length penalty the
        // longer one (ended by max_new_tokens) wins; without, the short one.
        let ln = |p: f32| p.ln();
        let f = move |r: &[u32]| match r {
            [0] => [ln(1e-6), ln(1e-6), ln(0.5), ln(0.5)],
            [0, 3] => [ln(1e-6), ln(0.5), ln(0.5), ln(1e-6)],
            _ => [ln(1e-6), ln(1e-6), ln(0.8), ln(0.2)],
        };
        let mut s = settings(2, 6);
        s.length_penalty = 0.0;
        assert_eq!(generate(&mut table(f), &s).unwrap(), vec![3, 1]);
        s.length_penalty = 3.0;
        s.early_stopping = EarlyStopping::Never;
        assert_eq!(generate(&mut table(f), &s).unwrap(), vec![2, 2, 2, 2, 2, 2]);
    }

    #[test]
    fn early_stopping_true_stops_once_the_slots_are_full() {
        let ln = |p: f32| p.ln();
        // Every hypothesis may end right away: with early stopping the
        // search ends as soon as two finished ones exist.
        let f = move |_: &[u32]| [ln(1e-3), ln(0.5), ln(0.3), ln(0.2)];
        let mut s = settings(2, 8);
        s.early_stopping = EarlyStopping::True;
        let mut m = table(f);
        assert_eq!(generate(&mut m, &s).unwrap(), vec![1]);
        assert!(m.steps <= 2, "{} steps", m.steps);
    }

    #[test]
    fn a_stop_request_ends_both_searches_between_steps() {
        for beams in [1, 3] {
            let mut m = table(|_| [0.0, 0.0, 0.0, 1.0]);
            m.stop_after = 3;
            assert!(generate(&mut m, &settings(beams, 50)).is_err());
            assert_eq!(m.steps, 3);
        }
    }

    #[test]
    fn top_k_is_stable_and_descending() {
        assert_eq!(
            top_k(&[1.0, 3.0, 3.0, f32::NEG_INFINITY, 2.0], 3),
            vec![1, 2, 4]
        );
        assert_eq!(argmax(&[1.0, 3.0, 3.0]), 1);
    }
}
