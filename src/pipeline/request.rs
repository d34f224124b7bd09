//! A validated request: once an [`ArticleRequest`] exists, its text is
//! non-empty and within limits, its summary options are coherent and it asks
//! for at least one task.

use crate::{
    tasks::summarize::{InvalidRatio, SummaryLength},
    text,
};

/// Server-side limits a request must respect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Longest accepted article, in Unicode code points.
    pub max_article_chars: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_article_chars: 200_000,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Task {
    Summary,
    Entities,
}

/// Which tasks to run. A request names at least one task or none; "named
/// but neither" has no variant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskSet {
    /// No task named: every task the loaded models can do.
    All,
    /// Only the summary.
    Summary,
    /// Only the entities; an error when no entity model is loaded.
    Entities,
    /// Both named; the entities are an error when no entity model is loaded.
    SummaryAndEntities,
}

impl TaskSet {
    /// An empty list means every task.
    pub fn from_requested(tasks: &[Task]) -> Self {
        let summary = tasks.contains(&Task::Summary);
        let entities = tasks.contains(&Task::Entities);
        match (summary, entities) {
            (true, true) => TaskSet::SummaryAndEntities,
            (true, false) => TaskSet::Summary,
            (false, true) => TaskSet::Entities,
            (false, false) => TaskSet::All,
        }
    }

    pub fn wants_summary(self) -> bool {
        !matches!(self, TaskSet::Entities)
    }

    /// Whether entities are wanted, given whether an entity model is loaded;
    /// `None` when they were asked for explicitly and no model can give them.
    pub fn wants_entities(self, model_loaded: bool) -> Option<bool> {
        match self {
            TaskSet::All => Some(model_loaded),
            TaskSet::Summary => Some(false),
            TaskSet::Entities | TaskSet::SummaryAndEntities => model_loaded.then_some(true),
        }
    }
}

/// Which kind of summary to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SummaryMode {
    /// Abstractive when an abstractive model is loaded, else extractive.
    #[default]
    Auto,
    Extractive,
    Abstractive,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum InvalidRequest {
    #[error("text is empty or has nothing to read: only whitespace, invisible format characters, joiners, tatweel or lone diacritics")]
    EmptyText,
    #[error("text is {chars} characters long; the limit is {limit} characters")]
    TextTooLong { chars: usize, limit: usize },
    #[error(transparent)]
    Ratio(#[from] InvalidRatio),
    #[error("unknown task {0}; known tasks are TASK_SUMMARY (1) and TASK_ENTITIES (2)")]
    UnknownTask(i32),
    #[error("unknown summary mode {0}; known modes are MODE_UNSPECIFIED (0), MODE_EXTRACTIVE (1) and MODE_ABSTRACTIVE (2)")]
    UnknownMode(i32),
    #[error("title is {chars} characters long; the limit is {limit} characters")]
    TitleTooLong { chars: usize, limit: usize },
    #[error("language hint: {0}; expected a BCP-47 tag such as \"ar\" or \"ar-TN\"")]
    Language(#[from] text::lang::InvalidLanguageTag),
}

#[derive(Debug, Clone)]
pub struct ArticleRequest {
    pub id: String,
    pub text: String,
    /// The client's language hint, normalized; `None` means detect.
    pub language: Option<String>,
    pub length: SummaryLength,
    pub mode: SummaryMode,
    pub tasks: TaskSet,
    /// The article's headline, when the client sends one.
    pub title: Option<String>,
}

/// Longest accepted title, in Unicode code points: a headline, not a second
/// article.
pub const MAX_TITLE_CHARS: usize = 1_000;

impl ArticleRequest {
    pub fn new(
        id: String,
        text: String,
        language_hint: &str,
        length: SummaryLength,
        mode: SummaryMode,
        tasks: TaskSet,
        limits: &Limits,
    ) -> Result<Self, InvalidRequest> {
        if text::nothing_to_read(&text) {
            return Err(InvalidRequest::EmptyText);
        }
        // Cheap bound first: a string never has more chars than bytes.
        if text.len() > limits.max_article_chars {
            let chars = text.chars().count();
            if chars > limits.max_article_chars {
                return Err(InvalidRequest::TextTooLong {
                    chars,
                    limit: limits.max_article_chars,
                });
            }
        }
        let language = match language_hint.trim() {
            "" => None,
            hint => Some(text::lang::normalize_hint(hint)?),
        };
        Ok(ArticleRequest {
            id,
            text,
            language,
            length,
            mode,
            tasks,
            title: None,
        })
    }

    /// Adds the article's headline; a blank one means none.
    pub fn with_title(mut self, title: String) -> Result<Self, InvalidRequest> {
        if text::nothing_to_read(&title) {
            return Ok(self);
        }
        let chars = title.chars().count();
        if chars > MAX_TITLE_CHARS {
            return Err(InvalidRequest::TitleTooLong {
                chars,
                limit: MAX_TITLE_CHARS,
            });
        }
        self.title = Some(title);
        Ok(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(text: &str, limit: usize) -> Result<ArticleRequest, InvalidRequest> {
        ArticleRequest::new(
            "id".into(),
            text.into(),
            "",
            SummaryLength::default(),
            SummaryMode::Auto,
            TaskSet::All,
            &Limits {
                max_article_chars: limit,
            },
        )
    }

    #[test]
    fn rejects_empty_and_whitespace() {
        assert_eq!(req("", 10).unwrap_err(), InvalidRequest::EmptyText);
        assert_eq!(
            req(" \n\t\u{200f} ", 10).unwrap_err(),
            InvalidRequest::EmptyText
        );
        for nothing_to_read in ["\u{200c}\u{200d}", "ـــــ", "ًٌٍَُِ", " \u{200d}ـ َ "]
        {
            assert_eq!(
                req(nothing_to_read, 10).unwrap_err(),
                InvalidRequest::EmptyText,
                "{nothing_to_read:?}"
            );
        }
        assert!(req("بَ", 10).is_ok(), "a letter with its haraka");
        assert!(req("🙂", 10).is_ok(), "a symbol is something to read");
    }

    #[test]
    fn limit_counts_code_points_not_bytes() {
        // 5 Arabic letters are 10 bytes but 5 characters.
        assert!(req("سلامع", 5).is_ok());
        assert_eq!(
            req("سلامعل", 5).unwrap_err(),
            InvalidRequest::TextTooLong { chars: 6, limit: 5 }
        );
    }

    #[test]
    fn title_is_optional_and_bounded() {
        let r = req("نص", 10).unwrap();
        assert_eq!(r.clone().with_title("  ".into()).unwrap().title, None);
        assert_eq!(
            r.clone()
                .with_title("عنوان".into())
                .unwrap()
                .title
                .as_deref(),
            Some("عنوان")
        );
        assert_eq!(
            r.with_title("ع".repeat(MAX_TITLE_CHARS + 1)).unwrap_err(),
            InvalidRequest::TitleTooLong {
                chars: MAX_TITLE_CHARS + 1,
                limit: MAX_TITLE_CHARS
            }
        );
    }

    #[test]
    fn empty_task_list_means_all() {
        assert_eq!(TaskSet::from_requested(&[]), TaskSet::All);
        let only = TaskSet::from_requested(&[Task::Entities]);
        assert!(!only.wants_summary());
        assert_eq!(only.wants_entities(true), Some(true));
        assert_eq!(only.wants_entities(false), None);
        assert_eq!(TaskSet::All.wants_entities(false), Some(false));
        let both = TaskSet::from_requested(&[Task::Entities, Task::Summary, Task::Summary]);
        assert_eq!(both, TaskSet::SummaryAndEntities);
        assert!(both.wants_summary());
        assert_eq!(both.wants_entities(false), None);
        let summary = TaskSet::from_requested(&[Task::Summary]);
        assert!(summary.wants_summary());
        assert_eq!(summary.wants_entities(true), Some(false));
    }
}
