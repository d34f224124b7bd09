//! Human-readable output. Every function returns a `String` so that the
//! formatting can be tested without a terminal.
//!
//! Spans are shown as code points (the unit the API documents first) and
//! sliced by the response's byte offsets; a span the text cannot hold is
//! shown as missing rather than panicking: a bad server answer should not
//! crash the client.

use std::fmt::Write;

use super::endpoints::{HealthState, SUMMARIZER_SERVICE};
use super::record::{EntityRecord, InfoRecord, SuccessRecord};

const RESET: &str = "\x1b[0m";
const BOLD: &str = "\x1b[1m";

/// `text[start..end]` by the response's byte offsets, if they are a valid
/// range of this text (`str::get` checks bounds and char boundaries).
fn byte_slice(text: &str, start: u32, end: u32) -> Option<&str> {
    text.get(start as usize..end as usize)
}

/// ANSI colour (SGR foreground) of an entity label.
fn label_color(label: &str) -> &'static str {
    match label {
        "PER" => "\x1b[1;35m",
        "LOC" => "\x1b[1;32m",
        "ORG" => "\x1b[1;34m",
        "MISC" => "\x1b[1;33m",
        _ => "\x1b[1;36m",
    }
}

/// The full text report of `analyze`: language, numbered summary sentences
/// with spans, the article with entities marked, the entity groups and the
/// mention table.
pub fn analysis(rec: &SuccessRecord, text: &str, entities_requested: bool, color: bool) -> String {
    let mut out = String::new();
    let (b, r) = if color { (BOLD, RESET) } else { ("", "") };

    let _ = writeln!(
        out,
        "{b}Language:{r} {}",
        if rec.language.is_empty() {
            "?"
        } else {
            &rec.language
        }
    );

    if let Some(summary) = &rec.summary {
        let n = summary.sentences.len();
        let _ = writeln!(
            out,
            "\n{b}Summary{r} ({n} sentence{})",
            if n == 1 { "" } else { "s" }
        );
        for (i, s) in summary.sentences.iter().enumerate() {
            let sentence = byte_slice(text, s.byte_start, s.byte_end)
                .map(str::trim)
                .unwrap_or("<span outside the text>");
            let _ = writeln!(
                out,
                "{:>3}. [{}..{}] ({:.3}) {}",
                i + 1,
                s.start,
                s.end,
                s.score,
                sentence
            );
        }
    }

    if entities_requested {
        let _ = writeln!(out, "\n{b}Article{r}");
        if color {
            let mut legend: Vec<String> = ["PER", "LOC", "ORG", "MISC"]
                .iter()
                .map(|l| format!("{}{l}{RESET}", label_color(l)))
                .collect();
            legend.insert(0, "labels:".into());
            let _ = writeln!(out, "{}", legend.join(" "));
        }
        let _ = writeln!(out, "{}", highlight(text, &rec.entities, color));

        let _ = writeln!(out, "\n{b}Entities{r} ({})", rec.groups.len());
        if !rec.groups.is_empty() {
            // Name and latin last: right-to-left text of any width would
            // break the alignment of any column after it. The servers ship
            // no romanizer today, so the latin column is named only when
            // some group has one.
            let latin_header = if rec.groups.iter().any(|g| !g.latin.is_empty()) {
                "  (LATIN)"
            } else {
                ""
            };
            let _ = writeln!(
                out,
                "{:<6} {:>8} {:>8}  NAME{latin_header}",
                "LABEL", "MENTIONS", "SALIENCE"
            );
            for g in &rec.groups {
                let label = label_cell(&g.label, color);
                let latin = if g.latin.is_empty() {
                    String::new()
                } else {
                    format!("  ({})", g.latin)
                };
                let _ = writeln!(
                    out,
                    "{label} {:>8} {:>8.3}  {}{latin}",
                    g.mentions, g.salience, g.name
                );
            }
        }

        let _ = writeln!(out, "\n{b}Mentions{r} ({})", rec.entities.len());
        if !rec.entities.is_empty() {
            // Text last: it may be right-to-left and of any width, which
            // would break the alignment of any column after it.
            let _ = writeln!(
                out,
                "{:<6} {:>15} {:>6} {:>5}  TEXT",
                "LABEL", "SPAN", "SCORE", "GROUP"
            );
            for e in &rec.entities {
                let span = format!("{}..{}", e.start, e.end);
                let label = label_cell(&e.label, color);
                let _ = writeln!(
                    out,
                    "{label} {span:>15} {:>6.3} {:>5}  {}",
                    e.score, e.group, e.text
                );
            }
        }
    }
    out
}

/// A table's label column, six wide, in the label's colour when `color`.
fn label_cell(label: &str, color: bool) -> String {
    if color {
        format!("{}{label:<6}{RESET}", label_color(label))
    } else {
        format!("{label:<6}")
    }
}

/// The article with each entity marked: coloured when `color`, otherwise
/// `[text](LABEL)`. Overlapping or out-of-range entities are left unmarked
/// (they are still in the table).
fn highlight(text: &str, entities: &[EntityRecord], color: bool) -> String {
    let mut sorted: Vec<&EntityRecord> = entities.iter().collect();
    sorted.sort_by_key(|e| (e.byte_start, std::cmp::Reverse(e.byte_end)));
    let mut out = String::with_capacity(text.len() + 16 * entities.len());
    let mut cursor = 0u32;
    for e in sorted {
        if e.byte_start < cursor || e.byte_start >= e.byte_end {
            continue;
        }
        let (Some(before), Some(span)) = (
            byte_slice(text, cursor, e.byte_start),
            byte_slice(text, e.byte_start, e.byte_end),
        ) else {
            continue;
        };
        out.push_str(before);
        if color {
            let _ = write!(out, "{}{span}{RESET}", label_color(&e.label));
        } else {
            let _ = write!(out, "[{span}]({})", e.label);
        }
        cursor = e.byte_end;
    }
    out.push_str(text.get(cursor as usize..).unwrap_or(""));
    out.trim_end().to_string()
}

/// One line per endpoint: overall server health and the Summarizer's.
pub fn health(rows: &[(String, HealthState, HealthState)]) -> String {
    let width = rows.iter().map(|(u, _, _)| u.len()).max().unwrap_or(0);
    let mut out = String::new();
    for (url, overall, service) in rows {
        let _ = writeln!(
            out,
            "{url:<width$}  server: {overall}  {SUMMARIZER_SERVICE}: {service}"
        );
    }
    out
}

/// `GetInfo` as text.
pub fn info(rec: &InfoRecord) -> String {
    let mut out = String::new();
    let or_none = |v: &[String]| {
        if v.is_empty() {
            "-".to_string()
        } else {
            v.join(", ")
        }
    };
    let _ = writeln!(
        out,
        "server:           {} (version {})",
        rec.endpoint, rec.server_version
    );
    let _ = writeln!(out, "languages:        {}", or_none(&rec.languages));
    let _ = writeln!(out, "entity languages: {}", or_none(&rec.entity_languages));
    if !rec.summarizer.is_empty() {
        let _ = writeln!(out, "summarizer: {}", rec.summarizer);
    }
    match &rec.limits {
        Some(l) => {
            let _ = writeln!(
                out,
                "limits:           {} chars per article, {} bytes per message",
                l.max_article_chars, l.max_message_bytes
            );
        }
        None => {
            let _ = writeln!(out, "limits:           -");
        }
    }
    let _ = writeln!(out, "models:           {}", rec.models.len());
    for m in &rec.models {
        let sha: String = m.sha256.chars().take(12).collect();
        let _ = writeln!(
            out,
            "  {} ({}), version {}",
            m.name,
            m.kind,
            if m.version.is_empty() {
                "-"
            } else {
                &m.version
            }
        );
        let _ = writeln!(
            out,
            "    sha256 {}  max tokens {}  license {}",
            if sha.is_empty() { "-" } else { &sha },
            m.max_tokens,
            if m.license.is_empty() {
                "-"
            } else {
                &m.license
            }
        );
        if !m.labels.is_empty() {
            let _ = writeln!(out, "    labels {}", m.labels.join(", "));
        }
        if !m.source.is_empty() {
            let _ = writeln!(out, "    source {}", m.source);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::{GroupRecord, LimitsRecord, ModelRecord, SpanRecord, SummaryRecord};
    use tonic_health::pb::health_check_response::ServingStatus;

    const TEXT: &str = "زار محمد القاهرة أمس. وعاد اليوم.";

    /// Byte offset of code point `i` of TEXT (past the end for i > len).
    fn byte(i: u32) -> u32 {
        TEXT.char_indices()
            .map(|(b, _)| b)
            .chain([TEXT.len()])
            .nth(i as usize)
            .map_or(u32::MAX, |b| b as u32)
    }

    fn entity(text: &str, label: &str, start: u32, end: u32) -> EntityRecord {
        EntityRecord {
            text: text.into(),
            label: label.into(),
            start,
            end,
            byte_start: byte(start),
            byte_end: byte(end),
            score: 0.9,
            group: 0,
        }
    }

    fn record() -> SuccessRecord {
        SuccessRecord {
            id: "x".into(),
            language: "ar".into(),
            summary: Some(SummaryRecord {
                text: "زار محمد القاهرة أمس.".into(),
                sentences: vec![SpanRecord {
                    start: 0,
                    end: 21,
                    score: 0.8,
                    byte_start: byte(0),
                    byte_end: byte(21),
                }],
            }),
            entities: vec![
                EntityRecord {
                    group: 1,
                    ..entity("القاهرة", "LOC", 9, 16)
                },
                entity("محمد", "PER", 4, 8),
            ],
            groups: vec![
                GroupRecord {
                    name: "محمد".into(),
                    label: "PER".into(),
                    mentions: 1,
                    salience: 0.75,
                    latin: String::new(),
                },
                GroupRecord {
                    name: "القاهرة".into(),
                    label: "LOC".into(),
                    mentions: 1,
                    salience: 0.5,
                    latin: "Cairo".into(),
                },
            ],
        }
    }

    #[test]
    fn plain_analysis() {
        let out = analysis(&record(), TEXT, true, false);
        assert!(out.contains("Language: ar"), "{out}");
        assert!(
            out.contains("  1. [0..21] (0.800) زار محمد القاهرة أمس."),
            "{out}"
        );
        assert!(
            out.contains("زار [محمد](PER) [القاهرة](LOC) أمس. وعاد اليوم."),
            "{out}"
        );
        assert!(
            out.contains("LOC              9..16  0.900     1  القاهرة"),
            "{out}"
        );
        assert!(out.contains("Entities (2)\nLABEL"), "{out}");
        assert!(out.contains("PER           1    0.750  محمد\n"), "{out}");
        assert!(
            out.contains("LOC           1    0.500  القاهرة  (Cairo)"),
            "{out}"
        );
        assert!(out.contains("SALIENCE  NAME  (LATIN)\n"), "{out}");
        assert!(
            out.find("Entities (2)") < out.find("Mentions (2)"),
            "groups come before the mention table: {out}"
        );
        assert!(out.contains("Summary (1 sentence)\n"), "{out}");
        assert!(!out.contains('\x1b'));
    }

    #[test]
    fn no_latin_column_without_romanizations() {
        let mut rec = record();
        for g in &mut rec.groups {
            g.latin.clear();
        }
        let out = analysis(&rec, TEXT, true, false);
        assert!(out.contains("SALIENCE  NAME\n"), "{out}");
        assert!(!out.contains("LATIN"), "{out}");
    }

    #[test]
    fn coloured_analysis() {
        let out = analysis(&record(), TEXT, true, true);
        assert!(out.contains("\x1b[1;35mمحمد\x1b[0m"), "{out}");
        assert!(!out.contains("](PER)"));
    }

    #[test]
    fn bad_spans_do_not_panic() {
        let mut rec = record();
        rec.entities.push(entity("x", "ORG", 5, 7)); // overlaps محمد
        rec.entities.push(entity("y", "ORG", 30, 999)); // past the end
        rec.summary.as_mut().unwrap().sentences.push(SpanRecord {
            start: 50,
            end: 60,
            score: 0.1,
            byte_start: byte(50),
            byte_end: byte(60),
        });
        let out = analysis(&rec, TEXT, true, false);
        assert!(out.contains("<span outside the text>"));
        assert!(out.contains("[محمد](PER)"));
        assert_eq!(
            out.matches("ORG").count(),
            2,
            "both still in the table: {out}"
        );
    }

    #[test]
    fn summary_only() {
        let mut rec = record();
        rec.entities.clear();
        let out = analysis(&rec, TEXT, false, false);
        assert!(!out.contains("Entities") && !out.contains("Mentions"));
    }

    #[test]
    fn health_lines() {
        let rows = vec![(
            "http://a:1".to_string(),
            HealthState::Status(ServingStatus::Serving),
            HealthState::Status(ServingStatus::NotServing),
        )];
        assert_eq!(
            health(&rows),
            "http://a:1  server: SERVING  khulasa.v1.Summarizer: NOT_SERVING\n"
        );
    }

    #[test]
    fn info_text() {
        let rec = InfoRecord {
            endpoint: "http://a:1".into(),
            server_version: "0.1.0".into(),
            models: vec![ModelRecord {
                name: "ner".into(),
                kind: "token-classification".into(),
                version: "1".into(),
                sha256: "0123456789abcdef".into(),
                labels: vec!["O".into(), "B-PER".into()],
                max_tokens: 512,
                source: String::new(),
                license: "MIT".into(),
            }],
            limits: Some(LimitsRecord {
                max_article_chars: 100,
                max_message_bytes: 200,
            }),
            languages: vec!["ar".into()],
            entity_languages: vec![],
            summarizer: "learned-scorer".into(),
        };
        let out = info(&rec);
        assert!(
            out.contains("sha256 0123456789ab  max tokens 512  license MIT"),
            "{out}"
        );
        assert!(out.contains("labels O, B-PER"));
        assert!(out.contains("entity languages: -"));
        assert!(out.contains("summarizer: learned-scorer"), "{out}");
    }
}
