//! Named entities: words → per-word label scores (the token classifier) →
//! a valid IOB2 path (Viterbi) → mentions, with the repeats of the names
//! they tag → entity spans on the original text.

use std::{
    borrow::Cow,
    collections::{HashMap, HashSet},
    ops::Range,
};

use crate::{
    models::{
        token_classifier::{Transitions, WordGroups, WordReadings},
        ModelError, TokenClassifier,
    },
    stop::StopSignal,
    text::{
        self,
        arabic::{match_key, Proclitics},
    },
};

/// One entity mention, as a byte range of the original text.
#[derive(Debug, Clone, PartialEq)]
pub struct EntitySpan {
    /// The mention without a leading proclitic (`ودونالد ترامب` →
    /// `دونالد ترامب`).
    pub bytes: Range<usize>,
    pub label: String,
    /// Mean probability of the entity's word labels; for a repeat of a
    /// name tagged elsewhere, the best score of that name's mentions of the
    /// repeat's label.
    pub score: f32,
    /// The mention as a name: the span's text, except that `لل` + noun
    /// (whose ل cannot leave the span) reads ال + noun (`للأمم المتحدة` →
    /// `الأمم المتحدة`).
    pub name: String,
}

/// An IOB2 tag with its entity type as an index into [`LabelScheme::types`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tag {
    Outside,
    Begin(usize),
    Inside(usize),
}

/// The model's labels parsed into IOB2 tags.
#[derive(Debug, Clone)]
pub struct LabelScheme {
    tags: Vec<Tag>,
    types: Vec<String>,
}

impl LabelScheme {
    /// Parses labels such as `O`, `B-PER`, `I-LOC`. ANERcorp's `PERS` is
    /// reported as `PER`. Anything else is treated as `O`.
    pub fn parse<S: AsRef<str>>(labels: &[S]) -> Self {
        let mut types: Vec<String> = Vec::new();
        let mut type_index = |name: &str| {
            let name = if name == "PERS" { "PER" } else { name };
            match types.iter().position(|t| t == name) {
                Some(i) => i,
                None => {
                    types.push(name.to_string());
                    types.len() - 1
                }
            }
        };
        let tags = labels
            .iter()
            .map(|l| match l.as_ref().split_once('-') {
                Some(("B", t)) if !t.is_empty() => Tag::Begin(type_index(t)),
                Some(("I", t)) if !t.is_empty() => Tag::Inside(type_index(t)),
                _ => Tag::Outside,
            })
            .collect();
        LabelScheme { tags, types }
    }

    pub fn tags(&self) -> &[Tag] {
        &self.tags
    }

    pub fn types(&self) -> &[String] {
        &self.types
    }

    /// IOB2: `I-X` may only continue `B-X` or `I-X`.
    fn allowed(&self, prev: Option<usize>, next: usize) -> bool {
        match self.tags[next] {
            Tag::Inside(t) => matches!(
                prev.map(|p| self.tags[p]),
                Some(Tag::Begin(u) | Tag::Inside(u)) if u == t
            ),
            _ => true,
        }
    }
}

/// The highest-scoring label sequence that is valid IOB2, given per-word
/// log-probabilities and optional learned transitions.
pub fn viterbi(
    log_probs: &[Vec<f32>],
    scheme: &LabelScheme,
    transitions: Option<&Transitions>,
) -> Vec<usize> {
    let n_labels = scheme.tags.len();
    if log_probs.is_empty() || n_labels == 0 {
        return Vec::new();
    }
    let trans = |from: usize, to: usize| transitions.map_or(0.0, |t| t.scores[from][to]);
    let mut score: Vec<f32> = (0..n_labels)
        .map(|l| {
            if scheme.allowed(None, l) {
                log_probs[0][l]
                    + transitions
                        .and_then(|t| t.start.as_ref())
                        .map_or(0.0, |s| s[l])
            } else {
                f32::NEG_INFINITY
            }
        })
        .collect();
    let mut back: Vec<Vec<usize>> = Vec::with_capacity(log_probs.len());
    for word in &log_probs[1..] {
        let mut next = vec![f32::NEG_INFINITY; n_labels];
        let mut from = vec![0; n_labels];
        for to in 0..n_labels {
            for (prev, &prev_score) in score.iter().enumerate() {
                if !scheme.allowed(Some(prev), to) || prev_score == f32::NEG_INFINITY {
                    continue;
                }
                let s = prev_score + trans(prev, to) + word[to];
                if s > next[to] {
                    next[to] = s;
                    from[to] = prev;
                }
            }
        }
        score = next;
        back.push(from);
    }
    let mut best = (0..n_labels)
        .max_by(|&a, &b| score[a].total_cmp(&score[b]))
        .unwrap_or(0);
    let mut path = vec![best; log_probs.len()];
    for (i, from) in back.iter().enumerate().rev() {
        best = from[best];
        path[i] = best;
    }
    path
}

/// Entity chunks (word ranges with their type index), conlleval-style: a
/// `B-X` always opens a chunk, and so does an `I-X` that does not continue a
/// chunk of type X.
pub fn chunks(tags: &[Tag]) -> Vec<(Range<usize>, usize)> {
    let mut out: Vec<(Range<usize>, usize)> = Vec::new();
    let mut open: Option<(usize, usize)> = None; // (start, type)
    for (i, &tag) in tags.iter().enumerate() {
        match (tag, open) {
            (Tag::Inside(t), Some((_, u))) if t == u => {}
            (Tag::Begin(t) | Tag::Inside(t), _) => {
                if let Some((start, u)) = open {
                    out.push((start..i, u));
                }
                open = Some((i, t));
            }
            (Tag::Outside, _) => {
                if let Some((start, u)) = open.take() {
                    out.push((start..i, u));
                }
            }
        }
    }
    if let Some((start, u)) = open {
        out.push((start..tags.len(), u));
    }
    out
}

/// One pass of the token classifier over an article: its words (byte
/// ranges and normalized forms) and what the model read from them. The
/// entities come from it, and with a sentence head the summary's sentence
/// vectors too.
pub struct ArticleReading<'t> {
    spans: Vec<Range<usize>>,
    forms: Vec<Cow<'t, str>>,
    words: WordReadings,
}

/// Runs the token classifier over the words of `text`, its windows kept
/// inside the article's `sentences` (byte ranges, in order, as the segmenter
/// gives them); with `pooled` (indices into `sentences`) and a model with a
/// sentence head, it also pools one vector per pooled sentence over the
/// words that start inside it. Blocking; stops between batches when `stop`
/// fires.
pub fn read<'t>(
    classifier: &TokenClassifier,
    text: &'t str,
    sentences: &[Range<usize>],
    pooled: Option<&[usize]>,
    stop: &StopSignal,
) -> Result<ArticleReading<'t>, ModelError> {
    let mut spans: Vec<Range<usize>> = Vec::new();
    let mut forms = Vec::new();
    for word in text::words(text) {
        let form = text::strip(&text[word.clone()]);
        if !form.is_empty() {
            spans.push(word);
            forms.push(form);
        }
    }
    // Each sentence's words: where windows are cut, and what a pooled
    // sentence's vector sums.
    let sentence_words: Vec<Range<usize>> = sentences
        .iter()
        .map(|sentence| words_starting_in(&spans, sentence))
        .collect();
    let segment_starts: Vec<usize> = sentence_words.iter().map(|w| w.start).collect();
    let sentence_of_word = pooled.map(|pooled| {
        let mut of_word = vec![None; spans.len()];
        for (i, &sentence) in pooled.iter().enumerate() {
            let Some(words) = sentence_words.get(sentence) else {
                continue;
            };
            for slot in &mut of_word[words.clone()] {
                *slot = Some(i);
            }
        }
        (of_word, pooled.len())
    });
    let groups = sentence_of_word
        .as_ref()
        .map(|(of_word, count)| WordGroups {
            of_word,
            count: *count,
        });
    let words = classifier.read(&forms, &segment_starts, groups, stop)?;
    Ok(ArticleReading {
        spans,
        forms,
        words,
    })
}

impl ArticleReading<'_> {
    /// Takes the sentence vectors of the sentences the reading was asked
    /// for, in their order; `None` when none were asked for, the model has
    /// no sentence head, or they were taken already.
    pub fn take_sentence_vectors(&mut self) -> Option<Vec<Vec<f32>>> {
        self.words.group_vectors.take()
    }

    /// The entity mentions of `text` (the article this reading was made
    /// from): a valid IOB2 path through the word scores and the repeats of
    /// the names it tags ([`with_repeats`]), as spans.
    pub fn entities(
        &self,
        scheme: &LabelScheme,
        transitions: Option<&Transitions>,
        text: &str,
    ) -> Vec<EntitySpan> {
        let log_probs = &self.words.log_probs;
        let path = viterbi(log_probs, scheme, transitions);
        let tags: Vec<Tag> = path.iter().map(|&l| scheme.tags[l]).collect();
        let article_words: HashSet<String> = self.forms.iter().map(|f| match_key(f)).collect();
        let proclitics = Proclitics::shared();
        let found = chunks(&tags)
            .into_iter()
            .map(|(words, kind)| {
                let score = words
                    .clone()
                    .map(|w| log_probs[w][path[w]].exp())
                    .sum::<f32>()
                    / words.len() as f32;
                Mention { words, kind, score }
            })
            .collect();
        with_repeats(found, &self.forms)
            .into_iter()
            .map(|Mention { words, kind, score }| {
                let first = self.spans[words.start].clone();
                let end = self.spans[words.end - 1].end;
                let start = proclitics.split(&text[first.clone()], &|k| article_words.contains(k));
                let bytes = first.start + start.cut..end;
                EntitySpan {
                    name: format!("{}{}", start.name, &text[first.end..end]),
                    bytes,
                    label: scheme.types[kind].clone(),
                    score,
                }
            })
            .collect()
    }
}

/// An entity mention as word indices, its type an index into
/// [`LabelScheme::types`].
#[derive(Debug, Clone, PartialEq)]
struct Mention {
    words: Range<usize>,
    kind: usize,
    score: f32,
}

/// Names longer than this (words) are not repeated: a recurrence of a long
/// name is rare, and the bound keeps the search to a few passes over the
/// article's words, however many names it has.
const MAX_REPEATED_WORDS: usize = 8;

/// One type's tally among a name's mentions: the sum of their scores decides
/// the type of the name's repeats, the best of them is the repeats' score.
#[derive(Debug, Clone, Copy)]
struct TypeTally {
    kind: usize,
    sum: f32,
    best: f32,
}

impl TypeTally {
    /// The sum at the precision tallies are compared at, so that this
    /// float32 sum and the Python twin's float64 one tie alike.
    fn rounded_sum(&self) -> i64 {
        (f64::from(self.sum) * 1000.0).round() as i64
    }
}

/// A distinct name among an article's mentions: its words, the position of
/// its first mention, and the types its mentions have.
struct TaggedName<'f> {
    words: &'f [&'f str],
    first: usize,
    tallies: Vec<TypeTally>,
}

impl TaggedName<'_> {
    /// The type whose mentions' scores sum highest (on a tie, the one listed
    /// first) and the best score among those mentions.
    fn verdict(&self) -> Option<(usize, f32)> {
        self.tallies
            .iter()
            .max_by(|a, b| {
                a.rounded_sum()
                    .cmp(&b.rounded_sum())
                    .then(b.kind.cmp(&a.kind))
            })
            .map(|t| (t.kind, t.best))
    }
}

/// Document-level consistency: a name the model tagged somewhere in the
/// article is also a mention wherever the same words (normalized forms)
/// recur outside every other mention. A window sees a few sentences; a name
/// is often clear in one of them (a full name, a title before it) and bare
/// in the others, where the model alone may miss it. Longer names are placed
/// first, so `محمد علي` is not cut to a tagged `محمد`. A repeat takes the type
/// whose mentions' scores sum highest and the best score of those mentions;
/// the model's own mentions keep theirs. `models/ner/infer.py`'s
/// `with_repeats` is the Python twin.
fn with_repeats<S: AsRef<str>>(mut mentions: Vec<Mention>, forms: &[S]) -> Vec<Mention> {
    let words: Vec<&str> = forms.iter().map(AsRef::as_ref).collect();
    let mut names = tagged_names(&mentions, &words);
    names.sort_by(|a, b| {
        b.words
            .len()
            .cmp(&a.words.len())
            .then(a.first.cmp(&b.first))
    });
    let places = recurrences(&names, &words);
    let mut covered = vec![false; words.len()];
    for m in &mentions {
        covered[m.words.clone()].fill(true);
    }
    let mut repeats = Vec::new();
    for (name, starts) in names.iter().zip(&places) {
        let Some((kind, score)) = name.verdict() else {
            continue;
        };
        for &start in starts {
            let at = start..start + name.words.len();
            if !covered[at.clone()].contains(&true) {
                covered[at.clone()].fill(true);
                repeats.push(Mention {
                    words: at,
                    kind,
                    score,
                });
            }
        }
    }
    mentions.extend(repeats);
    mentions.sort_by_key(|m| m.words.start);
    mentions
}

/// The distinct names of `mentions` (by their words), in order of first
/// mention, with their type tallies.
fn tagged_names<'f>(mentions: &[Mention], words: &'f [&'f str]) -> Vec<TaggedName<'f>> {
    let mut names: Vec<TaggedName> = Vec::new();
    let mut index: HashMap<&[&str], usize> = HashMap::new();
    for m in mentions {
        let name = &words[m.words.clone()];
        let i = *index.entry(name).or_insert_with(|| {
            names.push(TaggedName {
                words: name,
                first: m.words.start,
                tallies: Vec::new(),
            });
            names.len() - 1
        });
        let tallies = &mut names[i].tallies;
        match tallies.iter_mut().find(|t| t.kind == m.kind) {
            Some(t) => {
                t.sum += m.score;
                t.best = t.best.max(m.score);
            }
            None => tallies.push(TypeTally {
                kind: m.kind,
                sum: m.score,
                best: m.score,
            }),
        }
    }
    names
}

/// For each name, the word positions where its words occur, ascending (empty
/// for a name over [`MAX_REPEATED_WORDS`]): one pass over the article per
/// distinct name length.
fn recurrences(names: &[TaggedName], words: &[&str]) -> Vec<Vec<usize>> {
    let index: HashMap<&[&str], usize> = names
        .iter()
        .enumerate()
        .filter(|(_, n)| (1..=MAX_REPEATED_WORDS).contains(&n.words.len()))
        .map(|(i, n)| (n.words, i))
        .collect();
    let mut lengths: Vec<usize> = index.keys().map(|w| w.len()).collect();
    lengths.sort_unstable();
    lengths.dedup();
    let mut places = vec![Vec::new(); names.len()];
    for len in lengths {
        for (start, window) in words.windows(len).enumerate() {
            if let Some(&i) = index.get(window) {
                places[i].push(start);
            }
        }
    }
    places
}

/// The indices of the words (byte ranges in article order) that start
/// inside `range`.
fn words_starting_in(words: &[Range<usize>], range: &Range<usize>) -> Range<usize> {
    let first = words.partition_point(|w| w.start < range.start);
    let end = words.partition_point(|w| w.start < range.end);
    first..end.max(first)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sentences_take_the_words_that_start_in_them() {
        let words = [0..3, 4..8, 9..12, 14..20];
        assert_eq!(words_starting_in(&words, &(0..8)), 0..2);
        assert_eq!(words_starting_in(&words, &(9..20)), 2..4);
        // A sentence boundary inside a word: the word goes where it starts.
        assert_eq!(words_starting_in(&words, &(5..13)), 2..3);
        assert_eq!(words_starting_in(&words, &(12..14)), 3..3);
    }

    const LABELS: [&str; 9] = [
        "O", "B-PER", "I-PER", "B-LOC", "I-LOC", "B-ORG", "I-ORG", "B-MISC", "I-MISC",
    ];

    fn tags(s: &str) -> Vec<Tag> {
        let scheme = LabelScheme::parse(&LABELS);
        s.split_whitespace()
            .map(|l| scheme.tags()[LABELS.iter().position(|x| *x == l).unwrap()])
            .collect()
    }

    #[test]
    fn parses_iob2_labels_and_renames_pers() {
        let scheme = LabelScheme::parse(&["O", "B-PERS", "I-PERS", "B-LOC"]);
        assert_eq!(scheme.types(), ["PER", "LOC"]);
        assert_eq!(scheme.tags()[2], Tag::Inside(0));
    }

    #[test]
    fn chunks_follow_conlleval() {
        // B I O B
        assert_eq!(
            chunks(&tags("B-PER I-PER O B-LOC")),
            vec![(0..2, 0), (3..4, 1)]
        );
        // An I- after O opens a chunk.
        assert_eq!(chunks(&tags("O I-ORG I-ORG O")), vec![(1..3, 2)]);
        // An I- of another type opens a new chunk.
        assert_eq!(chunks(&tags("B-PER I-LOC")), vec![(0..1, 0), (1..2, 1)]);
        // Two B- in a row are two entities.
        assert_eq!(chunks(&tags("B-LOC B-LOC")), vec![(0..1, 1), (1..2, 1)]);
        assert!(chunks(&tags("O O")).is_empty());
        assert!(chunks(&[]).is_empty());
    }

    fn lp(best: &[usize]) -> Vec<Vec<f32>> {
        best.iter()
            .map(|&b| (0..9).map(|l| if l == b { -0.1 } else { -3.0 }).collect())
            .collect()
    }

    #[test]
    fn viterbi_keeps_valid_paths() {
        let scheme = LabelScheme::parse(&LABELS);
        assert_eq!(viterbi(&lp(&[1, 2, 0, 3]), &scheme, None), vec![1, 2, 0, 3]);
    }

    #[test]
    fn viterbi_repairs_i_after_o() {
        let scheme = LabelScheme::parse(&LABELS);
        // Locally: O, I-PER → must become O, B-PER or O, O.
        let path = viterbi(&lp(&[0, 2]), &scheme, None);
        assert_ne!(path[1], 2);
        // A sequence may not start with I-.
        let path = viterbi(&lp(&[4, 4]), &scheme, None);
        assert_ne!(path[0], 4);
    }

    fn mention(words: Range<usize>, kind: usize, score: f32) -> Mention {
        Mention { words, kind, score }
    }

    #[test]
    fn a_tagged_name_is_tagged_where_it_recurs() {
        //            0     1       2      3     4     5       6     7
        let forms = ["قال", "بركات", "إن", "بركات", "و", "بركات", "علي", "بركات"];
        let found = vec![mention(5..7, 0, 0.9), mention(1..2, 0, 0.8)];
        let got = with_repeats(found, &forms);
        // The two-word name first (nowhere else), then بركات at 3 and 7,
        // not inside the mention 5..7.
        assert_eq!(
            got,
            vec![
                mention(1..2, 0, 0.8),
                mention(3..4, 0, 0.8),
                mention(5..7, 0, 0.9),
                mention(7..8, 0, 0.8),
            ]
        );
    }

    #[test]
    fn a_repeat_takes_the_type_its_mentions_favour() {
        let forms = [
            "البيت",
            "الأبيض",
            "و",
            "البيت",
            "الأبيض",
            "ثم",
            "البيت",
            "الأبيض",
            "و",
            "البيت",
            "الأبيض",
        ];
        // ORG (2) at 0.6 and 0.5 outweighs LOC (1) once at 0.9: the repeat
        // is ORG, with ORG's best score.
        let found = vec![
            mention(0..2, 2, 0.6),
            mention(3..5, 2, 0.5),
            mention(6..8, 1, 0.9),
        ];
        let got = with_repeats(found.clone(), &forms);
        assert_eq!(got[..3], found[..]);
        assert_eq!(got[3..], [mention(9..11, 2, 0.6)]);
        // Equal sums: the type listed first (LOC before ORG).
        let tied = vec![mention(0..2, 2, 0.5), mention(3..5, 1, 0.5)];
        assert_eq!(with_repeats(tied, &forms)[2].kind, 1);
    }

    #[test]
    fn repeats_do_not_overlap_and_long_names_are_not_repeated() {
        // "X X" tagged at 0..2 recurs at 2..4 and, overlapping it, at 3..5.
        let forms = ["X", "X", "X", "X", "X"];
        let got = with_repeats(vec![mention(0..2, 0, 0.5)], &forms);
        assert_eq!(got, vec![mention(0..2, 0, 0.5), mention(2..4, 0, 0.5)]);
        // A name of MAX_REPEATED_WORDS + 1 words is left where it is.
        let long = MAX_REPEATED_WORDS + 1;
        let forms: Vec<String> = (0..2 * long).map(|i| format!("w{}", i % long)).collect();
        let found = vec![mention(0..long, 3, 0.9)];
        assert_eq!(with_repeats(found.clone(), &forms), found);
        let short = vec![mention(0..long - 1, 3, 0.9)];
        assert_eq!(with_repeats(short, &forms).len(), 2);
    }

    #[test]
    fn nothing_to_repeat_changes_nothing() {
        let forms = ["في", "تونس", "اليوم"];
        let found = vec![mention(1..2, 1, 0.9)];
        assert_eq!(with_repeats(found.clone(), &forms), found);
        assert!(with_repeats(Vec::new(), &forms).is_empty());
    }

    #[test]
    fn transitions_shift_the_path() {
        let scheme = LabelScheme::parse(&LABELS);
        let mut scores = vec![vec![0.0; 9]; 9];
        scores[1][1] = -100.0; // B-PER B-PER forbidden
        let t = Transitions {
            scores,
            start: None,
        };
        let path = viterbi(&lp(&[1, 1]), &scheme, Some(&t));
        assert_ne!(path, vec![1, 1]);
    }
}
