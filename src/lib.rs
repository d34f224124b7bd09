//! Khulasa: summaries and named entities for news articles, served over gRPC.
//!
//! Data flows top to bottom through the modules:
//! [`transport`] (gRPC) → [`pipeline`] (one article) → [`text`] (segmentation,
//! normalization, offsets) → [`models`] (ONNX sessions) → [`tasks`]
//! (summarize, entities). [`client`] is the `khulasa` command-line client.
//! [`stop`], a leaf like [`text`], carries one request's cancellation and
//! deadline through all of them.

pub mod client;
pub mod models;
pub mod pipeline;
pub mod proto;
pub mod stop;
pub mod tasks;
pub mod text;
pub mod transport;
