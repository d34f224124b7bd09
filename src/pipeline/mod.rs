//! One article in, one analysis out: segmentation, language, summary and
//! entities, with per-stage timings. Everything here is blocking; the
//! transport layer runs it on the blocking pool.

mod analyzer;
mod request;

pub use analyzer::{Analysis, AnalyzeError, Analyzer, ModelSet, StageTimings, SummaryResult};
pub use request::{ArticleRequest, InvalidRequest, Limits, Task, TaskSet};
