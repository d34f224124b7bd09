//! One article in, one analysis out: segmentation, language, summary and
//! entities, with per-stage timings. Everything here is blocking; the
//! transport layer runs it on the blocking pool.

mod analyzer;
mod load;
mod request;

// The types of the pipeline's own API that come from the layers below, so
// its callers (the transport, the client's bench) need no path past it.
pub use crate::models::{BatchConfig, SessionLayout};
pub use crate::stop::{StopSignal, Stopped};
pub use crate::tasks::summarize::SummaryLength;
pub use analyzer::{
    Analysis, AnalyzeError, Analyzer, Entities, EntityModel, ModelDirs, ModelSet, Readers,
    StageTimings, SummaryResult, VectorSource, MAX_RANKED_SENTENCES,
};
pub use load::{load_analyzer, PipelineConfig};
pub use request::{ArticleRequest, InvalidRequest, Limits, SummaryMode, Task, TaskSet};
