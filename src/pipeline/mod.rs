//! One article in, one analysis out: segmentation, language, summary and
//! entities, with per-stage timings. Everything here is blocking; the
//! transport layer runs it on the blocking pool.

mod analyzer;
mod load;
mod request;

pub use crate::stop::{StopSignal, Stopped};
pub use analyzer::{
    Analysis, AnalyzeError, Analyzer, Entities, EntityModel, ModelDirs, ModelSet, Readers,
    StageTimings, SummaryResult, VectorSource, MAX_RANKED_SENTENCES,
};
pub use load::{load_analyzer, PipelineConfig};
pub use request::{ArticleRequest, InvalidRequest, Limits, SummaryMode, Task, TaskSet};
