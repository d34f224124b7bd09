//! Entities as entities: the mentions of one article that name the same
//! person, place or organization, grouped, named and ranked by salience.
//!
//! Mentions join a group when they have the same words after [`match_key`]
//! (hamza forms, alef maqsura, taa marbuta, harakat and tatweel do not
//! matter; proclitics have already left the mention's name where the
//! article gave evidence for it), whatever label the model gave each: one
//! name is one row, as a newsroom counts entities, and the group's label is
//! the one most of its mentions carry (the first mention's on a tie). A
//! mention that still starts with a proclitic joins the group of another
//! mention that is its name without it (`ودهب` joins `دهب`). A person
//! named by the end of their name alone (`ترامب`) joins the one full name of
//! the article that ends with it (`دونالد ترامب`); when two full names end
//! that way, the short mention stays a group of its own.
//!
//! Salience, in [0, 1]:
//!
//! ```text
//! 0.40 · mentions / most mentions of any group in the article
//! + 0.20 · (1 − first mention's offset / article length)
//! + 0.15 · named in the request's title
//! + 0.10 · mentioned in the lead (the first sentence)
//! + 0.15 · mentioned in a summary sentence
//! ```

use std::{collections::HashMap, ops::Range};

use super::entities::EntitySpan;
use crate::text::{
    self,
    arabic::{match_key, proclitic_remainders, words_key, Proclitics},
};

/// One real-world entity of the article.
#[derive(Debug, Clone, PartialEq)]
pub struct EntityGroup {
    /// The most complete mention as written, without proclitics.
    pub name: String,
    /// The label most of its mentions carry.
    pub label: String,
    /// How many mentions the group has.
    pub mentions: u32,
    /// How central the entity is to the article, in [0, 1].
    pub salience: f32,
    /// Latin-script form of the name; empty when none is produced.
    pub latin: String,
}

/// Groups sorted by salience, highest first, and each mention's group.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Grouping {
    pub groups: Vec<EntityGroup>,
    /// Index into `groups` for every mention, in the mentions' order.
    pub group_of: Vec<usize>,
}

/// What salience looks at besides the mentions themselves.
#[derive(Debug, Clone)]
pub struct ArticleContext<'a> {
    pub text: &'a str,
    pub title: Option<&'a str>,
    /// The first sentence, as a byte range of `text`.
    pub lead: Range<usize>,
    /// The summary's sentences, as byte ranges of `text`.
    pub summary: &'a [Range<usize>],
}

const W_MENTIONS: f32 = 0.40;
const W_POSITION: f32 = 0.20;
const W_TITLE: f32 = 0.15;
const W_LEAD: f32 = 0.10;
const W_SUMMARY: f32 = 0.15;

/// Groups `mentions` (in text order) into entities.
pub fn group(mentions: &[EntitySpan], article: &ArticleContext<'_>) -> Grouping {
    let (keys, kept_proclitic) = group_keys(mentions);

    // 1. Same words, whatever the label.
    let mut exact: HashMap<&[String], usize> = HashMap::new();
    let mut exact_members: Vec<Vec<usize>> = Vec::new();
    let mut exact_of: Vec<usize> = Vec::with_capacity(mentions.len());
    for (i, key) in keys.iter().enumerate() {
        let id = *exact.entry(key.as_slice()).or_insert_with(|| {
            exact_members.push(Vec::new());
            exact_members.len() - 1
        });
        exact_members[id].push(i);
        exact_of.push(id);
    }
    let first_of: Vec<usize> = exact_members.iter().map(|ms| ms[0]).collect();
    let exact_label: Vec<&str> = exact_members
        .iter()
        .map(|ms| majority_label(mentions, ms))
        .collect();

    // 2. A person's shorter name joins the one longer name that ends with it.
    let mut parent: Vec<usize> = (0..first_of.len()).collect();
    for (g, &i) in first_of.iter().enumerate() {
        if exact_label[g] != "PER" || keys[i].is_empty() {
            continue;
        }
        let mut fits = first_of.iter().enumerate().filter(|&(h, &j)| {
            h != g
                && exact_label[h] == "PER"
                && keys[j].len() > keys[i].len()
                && keys[j].ends_with(&keys[i])
        });
        if let (Some((h, _)), None) = (fits.next(), fits.next()) {
            parent[g] = h;
        }
    }
    let root = |mut g: usize| {
        // Chains are short (a name joins a longer one); a step bound keeps
        // any cycle from looping.
        for _ in 0..parent.len() {
            if parent[g] == g {
                break;
            }
            g = parent[g];
        }
        g
    };

    // 3. Collect members per root, in order of first mention.
    let mut root_index: HashMap<usize, usize> = HashMap::new();
    let mut members: Vec<Vec<usize>> = Vec::new();
    let mut group_of = Vec::with_capacity(mentions.len());
    for (i, &e) in exact_of.iter().enumerate() {
        let r = root(e);
        let idx = *root_index.entry(r).or_insert_with(|| {
            members.push(Vec::new());
            members.len() - 1
        });
        members[idx].push(i);
        group_of.push(idx);
    }

    // 4. Name and salience.
    let title_words = article.title.map(title_keys).unwrap_or_default();
    let text_len = article.text.len().max(1) as f32;
    let most = members.iter().map(Vec::len).max().unwrap_or(1) as f32;
    let mut groups: Vec<(EntityGroup, usize)> = members
        .iter()
        .map(|ms| {
            // The most complete mention, one without a proclitic before one
            // with, the earlier on a tie.
            let completeness = |i: usize| {
                (
                    keys[i].len(),
                    !kept_proclitic[i],
                    mentions[i].name.chars().count(),
                )
            };
            let name_of = ms
                .iter()
                .copied()
                .max_by(|&a, &b| completeness(a).cmp(&completeness(b)).then(b.cmp(&a)))
                .unwrap_or(ms[0]);
            let first = mentions[ms[0]].bytes.start;
            let inside = |ranges: &[Range<usize>]| {
                ms.iter().any(|&i| {
                    let b = &mentions[i].bytes;
                    ranges.iter().any(|r| r.start <= b.start && b.end <= r.end)
                })
            };
            let in_title = ms
                .iter()
                .any(|&i| !keys[i].is_empty() && keys[i].iter().all(|k| title_words.contains(k)));
            let salience = W_MENTIONS * ms.len() as f32 / most
                + W_POSITION * (1.0 - first as f32 / text_len)
                + W_TITLE * f32::from(u8::from(in_title))
                + W_LEAD * f32::from(u8::from(inside(std::slice::from_ref(&article.lead))))
                + W_SUMMARY * f32::from(u8::from(inside(article.summary)));
            let group = EntityGroup {
                name: mentions[name_of].name.clone(),
                label: majority_label(mentions, ms).to_owned(),
                mentions: ms.len() as u32,
                salience: salience.clamp(0.0, 1.0),
                latin: String::new(),
            };
            (group, first)
        })
        .collect();

    // 5. Highest salience first; earlier first mention breaks ties.
    let mut order: Vec<usize> = (0..groups.len()).collect();
    order.sort_by(|&a, &b| {
        groups[b]
            .0
            .salience
            .total_cmp(&groups[a].0.salience)
            .then(groups[a].1.cmp(&groups[b].1))
    });
    let mut new_index = vec![0; order.len()];
    for (new, &old) in order.iter().enumerate() {
        new_index[old] = new;
    }
    let mut sorted: Vec<Option<EntityGroup>> = groups.drain(..).map(|(g, _)| Some(g)).collect();
    Grouping {
        groups: order.iter().filter_map(|&old| sorted[old].take()).collect(),
        group_of: group_of.into_iter().map(|g| new_index[g]).collect(),
    }
}

/// Each mention's word keys, and whether its first word keeps a proclitic:
/// a mention whose first word, without a proclitic, makes it another
/// mention's name takes that name's keys (`ودهب` → `دهب`). A one-word
/// remainder needs three letters at least, so `ولي` never becomes `لي`.
fn group_keys(mentions: &[EntitySpan]) -> (Vec<Vec<String>>, Vec<bool>) {
    let mut keys: Vec<Vec<String>> = mentions.iter().map(|m| words_key(&m.name)).collect();
    let names: std::collections::HashSet<Vec<String>> = keys.iter().cloned().collect();
    let mut kept_proclitic = vec![false; keys.len()];
    for (key, kept) in keys.iter_mut().zip(&mut kept_proclitic) {
        let Some((first, rest)) = key.split_first() else {
            continue;
        };
        let bare = proclitic_remainders(first).into_iter().find_map(|start| {
            let long_enough = !rest.is_empty() || start.chars().count() >= 3;
            let name: Vec<String> = std::iter::once(start).chain(rest.iter().cloned()).collect();
            (long_enough && names.contains(&name)).then_some(name)
        });
        if let Some(name) = bare {
            *key = name;
            *kept = true;
        }
    }
    (keys, kept_proclitic)
}

/// The label most of the mentions `members` carry; the first one's on a tie.
fn majority_label<'m>(mentions: &'m [EntitySpan], members: &[usize]) -> &'m str {
    let mut counts: Vec<(&str, usize)> = Vec::new();
    for &i in members {
        let label = mentions[i].label.as_str();
        match counts.iter_mut().find(|(l, _)| *l == label) {
            Some((_, n)) => *n += 1,
            None => counts.push((label, 1)),
        }
    }
    // `max_by_key` keeps the last of equal counts: scan from the end so the
    // first label seen wins a tie.
    counts
        .into_iter()
        .rev()
        .max_by_key(|&(_, n)| n)
        .map_or("", |(l, _)| l)
}

/// The title's word keys, each also without a proclitic the title itself
/// gives evidence for (`لروسيا` counts as `روسيا`).
fn title_keys(title: &str) -> Vec<String> {
    let words: Vec<String> = text::words(title)
        .into_iter()
        .map(|w| match_key(&title[w]))
        .collect();
    let proclitics = Proclitics::shared();
    let mut keys = words.clone();
    for w in &words {
        let start = proclitics.split(w, &|k| words.iter().any(|x| x == k));
        keys.push(match_key(&start.name));
    }
    keys
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Mentions at the positions where their text occurs in `text`.
    fn mentions(text: &str, found: &[(&str, &str)]) -> Vec<EntitySpan> {
        let mut from = 0;
        found
            .iter()
            .map(|&(name, label)| {
                let at = from + text[from..].find(name).expect("mention in text");
                from = at + name.len();
                EntitySpan {
                    bytes: at..at + name.len(),
                    label: label.into(),
                    score: 0.9,
                    name: name.into(),
                }
            })
            .collect()
    }

    fn article(text: &str) -> ArticleContext<'_> {
        ArticleContext {
            text,
            title: None,
            lead: 0..text.find('.').unwrap_or(text.len()),
            summary: &[],
        }
    }

    #[test]
    fn family_name_joins_the_full_name() {
        let text = "قال دونالد ترامب إن روسيا تهدد. وأضاف ترامب أن موسكو ترد.";
        let m = mentions(
            text,
            &[
                ("دونالد ترامب", "PER"),
                ("روسيا", "LOC"),
                ("ترامب", "PER"),
                ("موسكو", "LOC"),
            ],
        );
        let g = group(&m, &article(text));
        assert_eq!(g.groups.len(), 3);
        let trump = g.group_of[0];
        assert_eq!(g.group_of[2], trump);
        assert_eq!(g.groups[trump].name, "دونالد ترامب");
        assert_eq!(g.groups[trump].mentions, 2);
        assert_eq!(trump, 0, "two mentions, first in the lead: most salient");
    }

    #[test]
    fn spellings_that_differ_in_hamza_or_taa_marbuta_are_one_group() {
        let text = "زار أسامة القاهرة ثم زار اسامه القاهره.";
        let m = mentions(
            text,
            &[
                ("أسامة", "PER"),
                ("القاهرة", "LOC"),
                ("اسامه", "PER"),
                ("القاهره", "LOC"),
            ],
        );
        let g = group(&m, &article(text));
        assert_eq!(g.groups.len(), 2);
        assert_eq!(g.group_of[0], g.group_of[2]);
        assert_eq!(g.group_of[1], g.group_of[3]);
    }

    #[test]
    fn a_shared_family_name_stays_apart_when_two_full_names_fit() {
        let text = "التقى جورج بوش ولورا بوش، ثم قال بوش إن الزيارة انتهت.";
        let m = mentions(
            text,
            &[("جورج بوش", "PER"), ("لورا بوش", "PER"), ("بوش", "PER")],
        );
        let g = group(&m, &article(text));
        assert_eq!(g.groups.len(), 3);
        let ids: std::collections::HashSet<usize> = g.group_of.iter().copied().collect();
        assert_eq!(ids.len(), 3);
    }

    #[test]
    fn one_name_is_one_group_whatever_the_labels() {
        let text = "زار الوفد موسكو. وقالت موسكو إنها ترفض. وغادر موسكو أمس.";
        let m = mentions(
            text,
            &[("موسكو", "LOC"), ("موسكو", "ORG"), ("موسكو", "LOC")],
        );
        let g = group(&m, &article(text));
        assert_eq!(g.groups.len(), 1);
        assert_eq!(
            (g.groups[0].label.as_str(), g.groups[0].mentions),
            ("LOC", 3)
        );
        // A tie goes to the first mention's label.
        let g = group(&m[1..], &article(text));
        assert_eq!(g.groups.len(), 1);
        assert_eq!(g.groups[0].label, "ORG");
    }

    #[test]
    fn a_mention_that_kept_its_proclitic_joins_its_bare_name() {
        let text =
            "ارتفع الذهب. وقال البنك المركزي ودهب إن دهب ارتفع. ونقلت لبي بي سي عن بي بي سي.";
        let m = mentions(
            text,
            &[
                ("ودهب", "ORG"),
                ("دهب", "ORG"),
                ("لبي بي سي", "ORG"),
                ("بي بي سي", "ORG"),
            ],
        );
        let g = group(&m, &article(text));
        assert_eq!(g.groups.len(), 2, "{g:?}");
        assert_eq!(g.group_of[0], g.group_of[1]);
        assert_eq!(g.group_of[2], g.group_of[3]);
        assert_eq!(g.groups[g.group_of[0]].name, "دهب");
        assert_eq!(g.groups[g.group_of[2]].name, "بي بي سي");
        // Without the bare name elsewhere, a mention keeps its words.
        let alone = group(&m[..1], &article(text));
        assert_eq!(alone.groups[0].name, "ودهب");
        // A one-word remainder of two letters is not taken for a name.
        let text = "قال ولي العهد إن لي رأيا.";
        let m = mentions(text, &[("ولي", "PER"), ("لي", "PER")]);
        assert_eq!(group(&m, &article(text)).groups.len(), 2);
    }

    #[test]
    fn title_raises_salience_and_groups_are_sorted() {
        let text = "قالت فرنسا كلاما. ثم تحدثت ألمانيا. وعادت ألمانيا فقالت.";
        let m = mentions(
            text,
            &[("فرنسا", "LOC"), ("ألمانيا", "LOC"), ("ألمانيا", "LOC")],
        );
        let mut a = article(text);
        let plain = group(&m, &a);
        assert_eq!(plain.groups[0].name, "ألمانيا");
        a.title = Some("ماذا تريد لفرنسا؟");
        let titled = group(&m, &a);
        assert_eq!(titled.groups[0].name, "فرنسا", "{titled:?}");
        for g in [&plain, &titled] {
            assert!(g.groups.windows(2).all(|w| w[0].salience >= w[1].salience));
            assert!(g.groups.iter().all(|x| (0.0..=1.0).contains(&x.salience)));
        }
    }

    #[test]
    fn no_mentions_no_groups() {
        let g = group(&[], &article("نص."));
        assert!(g.groups.is_empty() && g.group_of.is_empty());
    }
}
