//! Arabic names: the key two spellings of one name share, and the leading
//! conjunction or preposition (proclitic) that is not part of a name.
//!
//! `ودونالد ترامب` and `لروسيا` carry a proclitic (و ف ب ل ك, or و/ف followed
//! by ب ل ك); `واشنطن`, `وليد` and `لبنان` start with the same letters and are
//! whole. [`Proclitics::split`] cuts one off only on evidence, strongest
//! first:
//!
//! 1. the remainder occurs as a word of its own in the same article and has
//!    four letters or more, or is a name at least three times in the
//!    annotated corpus below (a short remainder is a common word too often);
//! 2. the remainder is a name in a hand-annotated, clitic-segmented corpus
//!    (WikiFANEGold), clearly more often than the whole word, and at least
//!    as common in the news;
//! 3. the remainder starts with the article `ال` and is at least as common in
//!    the news as the whole word (`بالعراق`; `للأمم` is ل + الأمم);
//! 4. و/ف before a hamza on alef (`وإيران`): transliterations of W carry none;
//! 5. و before a consonant when neither the word nor any name evidence was
//!    ever seen (unknown foreign names after a conjunction).
//!
//! The counts come from `models/lexicon/ar_words.tsv` (built from the ANT
//! news corpus and WikiFANEGold by `models/lexicon/build.py`), compiled into
//! the binary. `models/lexicon/clitics.py` is the Python twin; the golden
//! file `tests/data/proclitics_golden.tsv` pins the two together.

use std::{collections::HashMap, sync::LazyLock};

use super::normalize::is_stripped;

/// The lexicon's text, compiled in so the rules never depend on a file
/// being deployed next to the binary.
const LEXICON_TSV: &str = include_str!("../../models/lexicon/ar_words.tsv");

/// Proclitic letter sequences, longest first so `وب` is tried before `و`.
const PROCLITICS: [&str; 11] = ["وب", "ول", "وك", "فب", "فل", "فك", "و", "ف", "ب", "ل", "ك"];

/// The key two spellings of one Arabic word share: the chars the models never
/// see removed (harakat, tatweel, invisible marks), alef with hamza or madda
/// → alef, alef maqsura → yaa, taa marbuta → haa. Other scripts pass
/// through unchanged.
pub fn match_key(word: &str) -> String {
    word.chars()
        .filter(|&c| !is_stripped(c))
        .map(|c| match c {
            'أ' | 'إ' | 'آ' | 'ٱ' => 'ا',
            'ى' => 'ي',
            'ة' => 'ه',
            c => c,
        })
        .collect()
}

/// The [`match_key`]s of the words of `text`, punctuation left out: two
/// texts with equal keys say the same thing in the same words (a headline
/// repeated as the first sentence, with or without its full stop).
pub fn words_key(text: &str) -> Vec<String> {
    super::words(text)
        .into_iter()
        .map(|w| match_key(&text[w]))
        .filter(|k| k.chars().any(char::is_alphanumeric))
        .collect()
}

/// What the [`match_key`] `key` would be without each proclitic it starts
/// with, two-letter proclitics first, keeping remainders of two letters or
/// more (`لل` + rest gives `ال` + rest, the article's elided alef back).
/// For callers with evidence of their own that the remainder is the name,
/// as entity grouping has when it is another mention of the article.
pub fn proclitic_remainders(key: &str) -> Vec<String> {
    proclitic_splits(key)
        .filter(|s| s.rest_len >= 2)
        .map(|s| s.remainder)
        .collect()
}

/// One way `key` can start with a proclitic.
struct ProcliticSplit {
    proclitic: &'static str,
    /// Letters of `key` after the proclitic.
    rest_len: usize,
    /// The name it leaves: the rest, with the article's alef back after
    /// ل + ل (`للامم` → `الامم`).
    remainder: String,
    elided_alef: bool,
}

/// Every proclitic `key` starts with, two-letter ones first.
fn proclitic_splits(key: &str) -> impl Iterator<Item = ProcliticSplit> + '_ {
    PROCLITICS.into_iter().filter_map(move |proclitic| {
        let rest = key.strip_prefix(proclitic)?;
        let elided_alef = proclitic.ends_with('ل') && rest.starts_with('ل');
        Some(ProcliticSplit {
            proclitic,
            rest_len: rest.chars().count(),
            remainder: if elided_alef {
                format!("ا{rest}")
            } else {
                rest.to_string()
            },
            elided_alef,
        })
    })
}

/// How a word starts a name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameStart {
    /// Bytes of the word that are a proclitic and can leave the span
    /// (0: the span keeps the whole word).
    pub cut: usize,
    /// The name as written: the word without its proclitic, with the
    /// article restored where `لل` elided its alef (`للأمم` → `الأمم`).
    pub name: String,
}

/// News and name counts of one word (see `models/lexicon/build.py`).
#[derive(Debug, Clone, Copy, Default)]
struct Counts {
    news: u32,
    name: u32,
}

/// The proclitic rules with their lexicon.
pub struct Proclitics {
    counts: HashMap<&'static str, Counts>,
}

static SHARED: LazyLock<Proclitics> = LazyLock::new(|| Proclitics::parse(LEXICON_TSV));

impl Proclitics {
    /// The rules with the compiled-in lexicon (parsed once per process).
    pub fn shared() -> &'static Proclitics {
        &SHARED
    }

    fn parse(tsv: &'static str) -> Self {
        let counts = tsv
            .lines()
            .filter(|l| !l.starts_with('#'))
            .filter_map(|l| {
                let mut cols = l.split('\t');
                let word = cols.next()?;
                let news = cols.next()?.parse().ok()?;
                let name = cols.next()?.parse().ok()?;
                Some((word, Counts { news, name }))
            })
            .collect();
        Proclitics { counts }
    }

    fn counts(&self, key: &str) -> Counts {
        self.counts.get(key).copied().unwrap_or_default()
    }

    /// Decides whether `word` (as written) starts with a proclitic that is
    /// not part of the name. `article_words` holds the [`match_key`] of
    /// every word of the article.
    pub fn split(&self, word: &str, article_words: &dyn Fn(&str) -> bool) -> NameStart {
        let whole = || NameStart {
            cut: 0,
            name: word.to_string(),
        };
        let key = match_key(word);
        let Some(choice) = self.best_split(word, &key, article_words) else {
            return whole();
        };
        // `key` and the word's kept chars correspond one to one.
        let kept: Vec<(usize, char)> = word
            .char_indices()
            .filter(|&(_, c)| !is_stripped(c))
            .collect();
        let Some(&(rest_at, _)) = kept.get(choice.letters) else {
            return whole();
        };
        let rest = &word[rest_at..];
        if choice.elided_alef {
            // ل + ال: the second ل is the article's; the span keeps the ل.
            let after_lam = kept.get(choice.letters + 2).map_or(word.len(), |&(i, _)| i);
            NameStart {
                cut: rest_at,
                name: format!("ال{}", &word[after_lam..]),
            }
        } else {
            NameStart {
                cut: rest_at,
                name: rest.to_string(),
            }
        }
    }

    fn best_split(
        &self,
        word: &str,
        key: &str,
        article_words: &dyn Fn(&str) -> bool,
    ) -> Option<Split> {
        let whole = self.counts(key);
        let second = word.chars().filter(|&c| !is_stripped(c)).nth(1);
        let mut best: Option<(u8, Split)> = None;
        for split in proclitic_splits(key).filter(|s| s.rest_len >= 3) {
            let ProcliticSplit {
                proclitic: p,
                remainder,
                elided_alef,
                ..
            } = split;
            let p_len = p.chars().count();
            let r_len = remainder.chars().count();
            let r = self.counts(&remainder);
            let conj = p == "و" || p == "ف";
            let strength = if article_words(&remainder) && (r_len >= 4 || r.name >= 3) {
                5
            } else if r.name >= 3 && r.name >= 3 * (whole.name + 1) && r.news >= whole.news {
                4
            } else if remainder.starts_with("ال")
                && whole.name == 0
                && r.news >= whole.news
                && (r.news >= 1 || (conj && r_len >= 6))
            {
                3
            } else if conj && matches!(second, Some('أ' | 'إ' | 'آ')) && whole.name == 0 {
                2
            } else if p == "و"
                && whole.news == 0
                && whole.name == 0
                && r_len >= 4
                && !remainder.starts_with(['ا', 'و', 'ي'])
            {
                1
            } else {
                continue;
            };
            if best.as_ref().is_none_or(|(s, _)| strength > *s) {
                // The span loses the proclitic's letters, except the ل of ل + ال.
                let letters = if elided_alef { p_len - 1 } else { p_len };
                best = Some((
                    strength,
                    Split {
                        letters,
                        elided_alef,
                    },
                ));
            }
        }
        best.map(|(_, s)| s)
    }
}

/// A decided split, in letters of the word's kept chars.
#[derive(Debug, Clone, Copy)]
struct Split {
    /// Letters that leave the span.
    letters: usize,
    /// `لل` + noun: the name gets its article's alef back.
    elided_alef: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(word: &str, article: &[&str]) -> (String, String) {
        let keys: Vec<String> = article.iter().map(|w| match_key(w)).collect();
        let s = Proclitics::shared().split(word, &|k| keys.iter().any(|w| w == k));
        (word[..s.cut].to_string(), s.name)
    }

    #[test]
    fn match_key_folds_spellings() {
        assert_eq!(match_key("أُسامة"), match_key("اسامه"));
        assert_eq!(match_key("مصطفى"), "مصطفي");
        assert_eq!(match_key("إيـران"), "ايران");
        assert_eq!(match_key("Trump"), "Trump");
    }

    #[test]
    fn words_key_ignores_punctuation_and_spelling() {
        assert_eq!(words_key("«إيران» تعلن."), words_key("ايران تعلن"));
        assert_ne!(words_key("إيران تعلن"), words_key("إيران لا تعلن"));
    }

    #[test]
    fn names_that_start_with_proclitic_letters_stay_whole() {
        for name in [
            "واشنطن",
            "وليد",
            "وائل",
            "بغداد",
            "لبنان",
            "كندا",
            "فلسطين",
            "فرنسا",
            "باريس",
            "كوفي",
        ] {
            assert_eq!(
                split(name, &[]),
                (String::new(), name.to_string()),
                "{name}"
            );
        }
    }

    #[test]
    fn proclitics_leave_the_name() {
        assert_eq!(split("لروسيا", &[]), ("ل".into(), "روسيا".into()));
        assert_eq!(split("وموسكو", &[]), ("و".into(), "موسكو".into()));
        assert_eq!(split("بالعراق", &[]), ("ب".into(), "العراق".into()));
        assert_eq!(split("وإيران", &[]), ("و".into(), "إيران".into()));
        assert_eq!(split("ولبنان", &[]), ("و".into(), "لبنان".into()));
        // Evidence from the article itself: an unseen name after و.
        assert_eq!(
            split("ودارتشييف", &["قال", "دارتشييف"]),
            ("و".into(), "دارتشييف".into())
        );
        // Diacritics on the proclitic go with it.
        assert_eq!(split("وَموسكو", &[]), ("وَ".into(), "موسكو".into()));
    }

    /// The Python twin's decisions (models/lexicon/golden.py) on 600 frequent
    /// news words and the names of the tests.
    #[test]
    fn agrees_with_the_python_rules() {
        let golden = include_str!("../../tests/data/proclitics_golden.tsv");
        let mut rows = 0;
        for line in golden.lines().filter(|l| !l.starts_with('#')) {
            let cols: Vec<&str> = line.split('\t').collect();
            let [word, article, letters, key] = cols[..] else {
                panic!("bad golden line {line:?}");
            };
            let article: Vec<&str> = article.split_whitespace().collect();
            let keys: Vec<String> = article.iter().map(|w| match_key(w)).collect();
            let got = Proclitics::shared().split(word, &|k| keys.iter().any(|w| w == k));
            let cut_letters = word[..got.cut].chars().filter(|&c| !is_stripped(c)).count();
            assert_eq!(
                (cut_letters.to_string(), match_key(&got.name)),
                (letters.to_string(), key.to_string()),
                "{word} with article {article:?}"
            );
            rows += 1;
        }
        assert!(rows >= 600, "{rows} golden rows");
    }

    #[test]
    fn lam_before_the_article_keeps_its_span_and_restores_the_name() {
        assert_eq!(split("للأمم", &[]), (String::new(), "الأمم".into()));
        assert_eq!(split("وللأمم", &[]), ("و".into(), "الأمم".into()));
    }

    #[test]
    fn proclitic_remainders_of_a_key() {
        assert_eq!(proclitic_remainders("ودهب"), vec!["دهب"]);
        assert_eq!(proclitic_remainders("لبي"), vec!["بي"]);
        assert_eq!(proclitic_remainders("وبكين"), vec!["كين", "بكين"]);
        assert_eq!(proclitic_remainders("للامم"), vec!["الامم"]);
        assert!(proclitic_remainders("وا").is_empty(), "one letter left");
        assert!(proclitic_remainders("دهب").is_empty());
    }
}
