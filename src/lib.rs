//! Khulasa: summaries and named entities for news articles, served over gRPC.
//!
//! Data flows top to bottom through the modules:
//! [`transport`] (gRPC) → [`pipeline`] (one article) → [`text`] (segmentation,
//! normalization, offsets) → [`models`] (ONNX sessions) → [`tasks`]
//! (summarize, entities). The `khulasa` command-line client is its own
//! package (`client/`) built on this library. [`stop`], a leaf like
//! [`text`], carries one request's cancellation and deadline through all of
//! them. [`memory`] tunes the C allocator for a long-running server.

pub mod memory;
pub mod models;
pub mod pipeline;
pub mod proto;
pub mod stop;
pub mod tasks;
pub mod text;
pub mod transport;

/// How `khulasa-server <argv>` would run the pipeline (`argv` without the
/// program name; its networking flags are accepted and unused), so the
/// client's in-process bench mirrors a server's flags without depending on
/// the transport layer. Pass the result to [`pipeline::load_analyzer`].
pub fn server_pipeline(argv: &[String]) -> anyhow::Result<pipeline::PipelineConfig> {
    use anyhow::Context;
    use clap::Parser;
    let args = transport::ServerArgs::try_parse_from(
        std::iter::once("khulasa-server").chain(argv.iter().map(String::as_str)),
    )
    .context("the server flags do not parse as khulasa-server's")?;
    Ok(args.pipeline())
}
