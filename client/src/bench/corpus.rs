//! The benchmark's articles: read once into memory from JSONL, and built to
//! exact lengths for the length-scaling run.

use std::{io::BufRead, path::Path, sync::Arc};

use anyhow::{bail, Context, Result};
use serde_json::Value;

/// One article as sent by every benchmark client.
#[derive(Debug, Clone)]
pub struct Article {
    pub id: String,
    pub text: Arc<str>,
    /// Length in code points, the unit of the server's limits.
    pub chars: u64,
}

impl Article {
    pub fn new(id: String, text: String) -> Self {
        let chars = text.chars().count() as u64;
        Article {
            id,
            text: text.into(),
            chars,
        }
    }
}

/// Reads up to `limit` articles. Lines without usable text (blank, not
/// JSON, no "text") are skipped: every client must send the same valid
/// articles, and the server would refuse those with INVALID_ARGUMENT anyway.
pub fn load(path: &Path, limit: Option<u64>) -> Result<Vec<Article>> {
    let file =
        std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let mut articles = Vec::new();
    for (n, line) in std::io::BufReader::new(file).lines().enumerate() {
        if limit.is_some_and(|l| articles.len() as u64 >= l) {
            break;
        }
        let line =
            line.with_context(|| format!("cannot read {} line {}", path.display(), n + 1))?;
        if let Some(article) = parse(&line, n + 1) {
            articles.push(article);
        }
    }
    if articles.is_empty() {
        bail!(
            "{} holds no article with a non-blank \"text\"",
            path.display()
        );
    }
    Ok(articles)
}

fn parse(line: &str, line_no: usize) -> Option<Article> {
    let Ok(Value::Object(mut obj)) = serde_json::from_str::<Value>(line) else {
        return None;
    };
    let Some(Value::String(text)) = obj.remove("text") else {
        return None;
    };
    if text.trim().is_empty() {
        return None;
    }
    let id = ["id", "docno", "title"]
        .iter()
        .find_map(|k| match obj.get(*k) {
            Some(Value::String(s)) if !s.trim().is_empty() => Some(s.clone()),
            Some(Value::Number(n)) => Some(n.to_string()),
            _ => None,
        })
        .unwrap_or_else(|| format!("line:{line_no}"));
    Some(Article::new(id, text))
}

/// `count` articles of exactly `length` code points each, made by joining
/// consecutive corpus articles with a blank line (so sentences and
/// paragraphs stay natural) and cutting at `length`. Each starts further on
/// in the corpus, so they differ.
pub fn of_length(corpus: &[Article], length: u64, count: u64) -> Vec<Article> {
    let mut next = 0usize;
    (0..count)
        .map(|k| {
            let mut text = String::new();
            let mut chars = 0u64;
            while chars < length {
                let a = &corpus[next % corpus.len()];
                next += 1;
                if !text.is_empty() {
                    text.push_str("\n\n");
                    chars += 2;
                }
                text.push_str(&a.text);
                chars += a.chars;
            }
            let cut = text
                .char_indices()
                .nth(length as usize)
                .map_or(text.len(), |(i, _)| i);
            text.truncate(cut);
            Article::new(format!("len{length}-{k}"), text)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_ids_and_skips_unusable_lines() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.jsonl");
        std::fs::write(
            &path,
            concat!(
                "{\"docno\": \"d1\", \"title\": \"t\", \"text\": \"أهلا بكم\"}\n",
                "\n",
                "not json\n",
                "{\"id\": 7, \"text\": \"  \"}\n",
                "{\"title\": \"عنوان\", \"text\": \"نص\"}\n",
                "{\"text\": \"x\"}\n",
            ),
        )
        .unwrap();
        let all = load(&path, None).unwrap();
        let ids: Vec<_> = all.iter().map(|a| a.id.as_str()).collect();
        assert_eq!(ids, ["d1", "عنوان", "line:6"]);
        assert_eq!(all[0].chars, 8);
        assert_eq!(load(&path, Some(1)).unwrap().len(), 1);
    }

    #[test]
    fn builds_exact_lengths_from_different_articles() {
        let corpus: Vec<_> = ["واحد اثنان.", "ثلاثة أربعة خمسة.", "ستة."]
            .iter()
            .enumerate()
            .map(|(i, t)| Article::new(i.to_string(), t.to_string()))
            .collect();
        let built = of_length(&corpus, 40, 2);
        assert_eq!(built.len(), 2);
        for a in &built {
            assert_eq!(a.chars, 40);
            assert_eq!(a.text.chars().count(), 40);
        }
        assert_ne!(built[0].text, built[1].text);
        assert!(built[0].text.starts_with("واحد اثنان.\n\nثلاثة"));
    }
}
