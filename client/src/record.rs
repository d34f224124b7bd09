//! Serde types for everything the client prints as JSON: `analyze --json`,
//! `info --json` and the lines of a `batch` output file.
//!
//! The same [`OutputRecord`] is written by `batch` and read back when a run
//! resumes, so the shape here *is* the output file format. Field order follows
//! the documented record layout because people read these files with `jq` and
//! by eye.

use serde::{Deserialize, Serialize};

use khulasa::proto;

/// One line of a batch output file: either a result or an error.
///
/// Untagged on purpose: the documented format has no discriminator field, an
/// error record is recognised by its `error` object. `Error` comes first so
/// that deserialization tries the variant with the required `error` field
/// before the one that would accept almost anything.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum OutputRecord {
    /// The item failed; `error` says why.
    Error(ErrorRecord),
    /// The item was analyzed.
    Success(SuccessRecord),
}

impl OutputRecord {
    /// The item id the record belongs to.
    pub fn id(&self) -> &str {
        match self {
            OutputRecord::Error(e) => &e.id,
            OutputRecord::Success(s) => &s.id,
        }
    }

    /// Whether the record reports a success.
    pub fn is_success(&self) -> bool {
        matches!(self, OutputRecord::Success(_))
    }

    /// Converts a server response. A response that carries an in-band
    /// `error` (stream items do) becomes an error record even though the call
    /// itself succeeded.
    pub fn from_response(resp: proto::AnalyzeResponse) -> Self {
        match resp.error {
            Some(err) => OutputRecord::Error(ErrorRecord::new(resp.id, err.code, err.message)),
            None => OutputRecord::Success(SuccessRecord::from(resp)),
        }
    }
}

/// A successful analysis, mirroring `AnalyzeResponse` without `error`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SuccessRecord {
    /// The input item's id (echoed by the server).
    pub id: String,
    /// Detected or given language, BCP-47.
    pub language: String,
    /// `null` when the summary task was not requested.
    pub summary: Option<SummaryRecord>,
    /// Entities in the order the server returned them (article order).
    #[serde(default)]
    pub entities: Vec<EntityRecord>,
    /// The entities grouped by what they name, highest salience first;
    /// each entity's `group` indexes this list. Absent in records written
    /// before groups existed.
    #[serde(default)]
    pub groups: Vec<GroupRecord>,
}

/// One real-world entity: the mentions that name it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupRecord {
    /// The most complete mention as written, without proclitics.
    pub name: String,
    pub label: String,
    pub mentions: u32,
    /// How central the entity is to the article, in [0, 1].
    pub salience: f32,
    /// Latin-script form of the name; empty when none is produced.
    pub latin: String,
}

/// The chosen summary sentences.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SummaryRecord {
    /// The chosen sentences joined by a space.
    pub text: String,
    /// Their spans in the article, in article order.
    pub sentences: Vec<SpanRecord>,
}

/// A half-open range of the article: `start`/`end` in code points,
/// `byte_start`/`byte_end` in UTF-8 bytes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SpanRecord {
    pub start: u32,
    pub end: u32,
    pub score: f32,
    pub byte_start: u32,
    pub byte_end: u32,
}

/// A named entity, `text` being exactly the article's `[start, end)`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EntityRecord {
    pub text: String,
    /// PER, LOC, ORG or MISC.
    pub label: String,
    pub start: u32,
    pub end: u32,
    pub byte_start: u32,
    pub byte_end: u32,
    pub score: f32,
    /// Index of the mention's group in `groups`.
    #[serde(default)]
    pub group: u32,
}

/// A failed item.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorRecord {
    /// The item id, or `line:<n>` when the input line had no readable id.
    pub id: String,
    pub error: ErrorDetail,
}

impl ErrorRecord {
    /// Builds an error record from a numeric gRPC code and a message.
    pub fn new(id: impl Into<String>, code: i32, message: impl Into<String>) -> Self {
        ErrorRecord {
            id: id.into(),
            error: ErrorDetail {
                code,
                status: code_name(code),
                message: message.into(),
            },
        }
    }

    /// Builds an error record from a failed call.
    pub fn from_status(id: impl Into<String>, status: &tonic::Status) -> Self {
        ErrorRecord::new(id, status.code() as i32, status.message())
    }
}

/// Why an item failed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorDetail {
    /// google.rpc.Code number, e.g. 3.
    pub code: i32,
    /// The code's canonical name, e.g. `INVALID_ARGUMENT`, so that people and
    /// `jq` filters need not remember the numbers.
    pub status: String,
    pub message: String,
}

/// The canonical name of a gRPC status code, `CODE_<n>` for unknown ones.
pub fn code_name(code: i32) -> String {
    proto::status_name(code).map_or_else(|| format!("CODE_{code}"), str::to_string)
}

impl From<proto::AnalyzeResponse> for SuccessRecord {
    fn from(resp: proto::AnalyzeResponse) -> Self {
        SuccessRecord {
            id: resp.id,
            language: resp.language,
            summary: resp.summary.map(SummaryRecord::from),
            entities: resp.entities.into_iter().map(EntityRecord::from).collect(),
            groups: resp.groups.into_iter().map(GroupRecord::from).collect(),
        }
    }
}

impl From<proto::EntityGroup> for GroupRecord {
    fn from(g: proto::EntityGroup) -> Self {
        GroupRecord {
            name: g.name,
            label: g.label,
            mentions: g.mentions,
            salience: g.salience,
            latin: g.latin,
        }
    }
}

impl From<proto::Summary> for SummaryRecord {
    fn from(s: proto::Summary) -> Self {
        SummaryRecord {
            text: s.text,
            sentences: s.sentences.into_iter().map(SpanRecord::from).collect(),
        }
    }
}

impl From<proto::Span> for SpanRecord {
    fn from(s: proto::Span) -> Self {
        SpanRecord {
            start: s.start,
            end: s.end,
            score: s.score,
            byte_start: s.byte_start,
            byte_end: s.byte_end,
        }
    }
}

impl From<proto::Entity> for EntityRecord {
    fn from(e: proto::Entity) -> Self {
        EntityRecord {
            text: e.text,
            label: e.label,
            start: e.start,
            end: e.end,
            byte_start: e.byte_start,
            byte_end: e.byte_end,
            score: e.score,
            group: e.group,
        }
    }
}

/// `info --json`: `GetInfoResponse` as JSON, plus the endpoint that answered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InfoRecord {
    pub endpoint: String,
    pub server_version: String,
    pub models: Vec<ModelRecord>,
    pub limits: Option<LimitsRecord>,
    pub languages: Vec<String>,
    pub entity_languages: Vec<String>,
    /// The summarizer a request gets by default (`learned-scorer`,
    /// `lexrank`, `abstractive`); empty from servers that do not say.
    #[serde(default)]
    pub summarizer: String,
}

/// One loaded model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelRecord {
    pub name: String,
    pub kind: String,
    pub version: String,
    pub sha256: String,
    pub labels: Vec<String>,
    pub max_tokens: u32,
    pub source: String,
    pub license: String,
}

/// Server-side limits on one request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LimitsRecord {
    pub max_article_chars: u32,
    pub max_message_bytes: u32,
}

impl InfoRecord {
    /// Converts a `GetInfo` answer from `endpoint`.
    pub fn from_response(endpoint: impl Into<String>, info: proto::GetInfoResponse) -> Self {
        InfoRecord {
            endpoint: endpoint.into(),
            server_version: info.server_version,
            models: info
                .models
                .into_iter()
                .map(|m| ModelRecord {
                    name: m.name,
                    kind: m.kind,
                    version: m.version,
                    sha256: m.sha256,
                    labels: m.labels,
                    max_tokens: m.max_tokens,
                    source: m.source,
                    license: m.license,
                })
                .collect(),
            limits: info.limits.map(|l| LimitsRecord {
                max_article_chars: l.max_article_chars,
                max_message_bytes: l.max_message_bytes,
            }),
            languages: info.languages,
            entity_languages: info.entity_languages,
            summarizer: info.summarizer,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response() -> proto::AnalyzeResponse {
        proto::AnalyzeResponse {
            id: "a1".into(),
            language: "ar".into(),
            summary: Some(proto::Summary {
                text: "جملة.".into(),
                sentences: vec![proto::Span {
                    start: 0,
                    end: 5,
                    score: 0.5,
                    byte_start: 0,
                    byte_end: 9,
                }],
            }),
            entities: vec![proto::Entity {
                text: "القاهرة".into(),
                label: "LOC".into(),
                start: 10,
                end: 17,
                byte_start: 18,
                byte_end: 32,
                score: 0.75,
                group: 0,
            }],
            error: None,
            groups: vec![proto::EntityGroup {
                name: "القاهرة".into(),
                label: "LOC".into(),
                mentions: 1,
                salience: 0.5,
                latin: String::new(),
            }],
        }
    }

    #[test]
    fn success_record_has_documented_shape() {
        let rec = OutputRecord::from_response(response());
        assert!(rec.is_success());
        assert_eq!(rec.id(), "a1");
        let json = serde_json::to_string(&rec).unwrap();
        assert_eq!(
            json,
            r#"{"id":"a1","language":"ar","summary":{"text":"جملة.","sentences":[{"start":0,"end":5,"score":0.5,"byte_start":0,"byte_end":9}]},"entities":[{"text":"القاهرة","label":"LOC","start":10,"end":17,"byte_start":18,"byte_end":32,"score":0.75,"group":0}],"groups":[{"name":"القاهرة","label":"LOC","mentions":1,"salience":0.5,"latin":""}]}"#
        );
        let back: OutputRecord = serde_json::from_str(&json).unwrap();
        assert_eq!(back, rec);
    }

    #[test]
    fn missing_summary_is_null() {
        let mut resp = response();
        resp.summary = None;
        let json = serde_json::to_value(OutputRecord::from_response(resp)).unwrap();
        assert!(json["summary"].is_null());
        assert_eq!(json["entities"][0]["label"], "LOC");
    }

    #[test]
    fn in_band_error_becomes_error_record() {
        let mut resp = response();
        resp.error = Some(proto::Error {
            code: 3,
            message: "empty text".into(),
        });
        let rec = OutputRecord::from_response(resp);
        assert!(!rec.is_success());
        let json = serde_json::to_string(&rec).unwrap();
        assert_eq!(
            json,
            r#"{"id":"a1","error":{"code":3,"status":"INVALID_ARGUMENT","message":"empty text"}}"#
        );
        let back: OutputRecord = serde_json::from_str(&json).unwrap();
        assert_eq!(back, rec);
    }

    #[test]
    fn status_becomes_error_record() {
        let status = tonic::Status::resource_exhausted("busy");
        let rec = ErrorRecord::from_status("x", &status);
        assert_eq!(rec.error.code, 8);
        assert_eq!(rec.error.status, "RESOURCE_EXHAUSTED");
        assert_eq!(rec.error.message, "busy");
    }

    #[test]
    fn code_names() {
        assert_eq!(code_name(0), "OK");
        assert_eq!(code_name(14), "UNAVAILABLE");
        assert_eq!(code_name(16), "UNAUTHENTICATED");
        assert_eq!(code_name(42), "CODE_42");
    }

    #[test]
    fn info_conversion() {
        let info = proto::GetInfoResponse {
            server_version: "0.1.0".into(),
            models: vec![proto::ModelInfo {
                name: "e5-small".into(),
                kind: "sentence-embedding".into(),
                sha256: "ab".repeat(32),
                max_tokens: 512,
                ..Default::default()
            }],
            limits: Some(proto::Limits {
                max_article_chars: 100_000,
                max_message_bytes: 4 << 20,
            }),
            languages: vec!["ar".into(), "en".into()],
            entity_languages: vec!["ar".into()],
            summarizer: "learned-scorer".into(),
        };
        let rec = InfoRecord::from_response("http://h:1", info);
        assert_eq!(rec.endpoint, "http://h:1");
        assert_eq!(rec.models[0].max_tokens, 512);
        assert_eq!(rec.summarizer, "learned-scorer");
        assert_eq!(rec.limits.as_ref().unwrap().max_article_chars, 100_000);
    }
}
